// Constrained decoding: the JSON-schema grammar on byte strings, the token mask on toy and real
// (Qwen3, 151k) vocabularies, and generate() with a constraint (greedy, sampling, beams).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "autolm/auto.h"
#include "autolm/structured_output.h"
#include "fixture_paths.h"
#include "generate/fake_model.h"
#include "generate/grammar/json_schema.h"
#include "generate/grammar/matcher.h"
#include "generate/json_validator.h"
#include "tokenizer/test_util.h"

namespace autolm {
namespace {

using grammar::BranchList;
using grammar::Matcher;
using test::ojson;

// Whether `text` is accepted in full by the schema's grammar (and, with prefix, whether it is a
// prefix of some accepted text).
bool matches(const ojson& schema, const std::string& text, bool prefix = false) {
  static std::map<std::string, grammar::Grammar> cache;  // compiled once per schema
  auto it = cache.find(schema.dump());
  if (it == cache.end()) it = cache.emplace(schema.dump(), grammar::compile_json_schema(schema)).first;
  Matcher m(it->second);
  BranchList cur, next;
  m.start(cur);
  for (char c : text) {
    m.feed_all(cur, static_cast<uint8_t>(c), next);
    std::swap(cur, next);
    if (cur.empty()) return false;
  }
  if (prefix) return true;
  for (size_t i = 0; i < cur.size(); ++i)
    if (m.accepting(cur[i])) return true;
  return false;
}

const ojson kPerson = ojson::parse(R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 12},
    "age": {"type": "integer"},
    "score": {"type": "number"},
    "role": {"enum": ["admin", "user", null]},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
    "ok": {"type": "boolean"},
    "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": ["string", "null"]}},
                "required": ["city"]}
  },
  "required": ["name", "age", "tags"]
})");

TEST(Grammar, AcceptsValidObjects) {
  EXPECT_TRUE(matches(kPerson, R"({"name":"Ann","age":3,"tags":["x"]})"));
  EXPECT_TRUE(matches(kPerson, R"({ "name" : "A\"n\\n\u00e9" , "age" : -0, "score": 1.5e-3, "role": null,)"
                               R"( "tags": ["a", "b", "c"], "ok": true, "address": {"city": "Zürich", "zip": null}})"));
  EXPECT_TRUE(matches(kPerson, "{\n  \"name\": \"日本語\",\n  \"age\": 12,\n  \"tags\": [\"\"]\n}"));
  EXPECT_TRUE(matches(kPerson, R"({"name":"x","age":1,"score":0,"tags":["t"],"address":{"city":"c"}})"));
}

TEST(Grammar, RejectsInvalidObjects) {
  EXPECT_FALSE(matches(kPerson, R"({"age":3,"name":"Ann","tags":["x"]})"));      // schema order
  EXPECT_FALSE(matches(kPerson, R"({"name":"Ann","tags":["x"]})"));              // missing required
  EXPECT_FALSE(matches(kPerson, R"({"name":"","age":3,"tags":["x"]})"));          // minLength
  EXPECT_FALSE(matches(kPerson, R"({"name":"abcdefghijklm","age":3,"tags":["x"]})"));  // maxLength
  EXPECT_FALSE(matches(kPerson, R"({"name":"A","age":3.5,"tags":["x"]})"));       // integer
  EXPECT_FALSE(matches(kPerson, R"({"name":"A","age":01,"tags":["x"]})"));        // leading zero
  EXPECT_FALSE(matches(kPerson, R"({"name":"A","age":1,"tags":[]})"));            // minItems
  EXPECT_FALSE(matches(kPerson, R"({"name":"A","age":1,"tags":["a","b","c","d"]})"));  // maxItems
  EXPECT_FALSE(matches(kPerson, R"({"name":"A","age":1,"tags":["a",]})"));        // trailing comma
  EXPECT_FALSE(matches(kPerson, R"({"name":"A","age":1,"tags":["a"],"role":"root"})"));  // enum
  EXPECT_FALSE(matches(kPerson, R"({"name":"A","age":1,"tags":["a"],"extra":1})"));      // additionalProperties
  EXPECT_FALSE(matches(kPerson, R"({"name":"A","age":1,"tags":["a"],"ok":tru})"));
  EXPECT_FALSE(matches(kPerson, R"({"name":"A\x","age":1,"tags":["a"]})"));       // bad escape
  EXPECT_FALSE(matches(kPerson, R"({"name":"\ud800","age":1,"tags":["a"]})"));    // lone surrogate escape
  EXPECT_FALSE(matches(kPerson, "{\"name\":\"a\nb\",\"age\":1,\"tags\":[\"a\"]}"));  // raw control char
  EXPECT_FALSE(matches(kPerson, "{\"name\":\"\xC3\",\"age\":1,\"tags\":[\"a\"]}"));   // cut UTF-8
  EXPECT_FALSE(matches(kPerson, "{\"name\":\"\xED\xA0\x80\",\"age\":1,\"tags\":[\"a\"]}"));  // UTF-8 surrogate
  EXPECT_FALSE(matches(kPerson, R"({"name":"A","age":1,"tags":["a"]} )"));        // nothing after the value
  EXPECT_FALSE(matches(kPerson, R"({"name":"A","age":1,"tags":["a"],"address":{}})"));  // nested required
}

TEST(Grammar, PrefixesStayOpen) {
  EXPECT_TRUE(matches(kPerson, R"({"name":"An)", true));
  EXPECT_TRUE(matches(kPerson, R"({"na)", true));
  EXPECT_FALSE(matches(kPerson, R"({"nb)", true));
  EXPECT_FALSE(matches(kPerson, R"({"name":"Ann","age":3)", false));
  EXPECT_TRUE(matches(ojson::parse(R"({"type":"number"})"), "12"));  // top-level number ends at EOS
  EXPECT_TRUE(matches(ojson::parse(R"({"type":"number"})"), "-1.25E+7"));
  EXPECT_FALSE(matches(ojson::parse(R"({"type":"number"})"), "1."));
  EXPECT_FALSE(matches(ojson::parse(R"({"type":"number"})"), "1234567890123456"));  // 15 digits at most
}

TEST(Grammar, AnyOfRefsAndRecursion) {
  const ojson tree = ojson::parse(R"({
    "$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
                        "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v"]}},
    "$ref": "#/$defs/node"})");
  EXPECT_TRUE(matches(tree, R"({"v":1,"kids":[{"v":2},{"v":3,"kids":[]}]})"));
  EXPECT_FALSE(matches(tree, R"({"v":1,"kids":[{"w":2}]})"));
  const ojson alt = ojson::parse(R"({"anyOf": [{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},
                                               {"type":"object","properties":{"a":{"type":"integer"}, "b":{"const": 2}},
                                                "required":["a","b"]}]})");
  EXPECT_TRUE(matches(alt, R"({"a":"x"})"));
  EXPECT_TRUE(matches(alt, R"({"a":5,"b":2})"));
  EXPECT_FALSE(matches(alt, R"({"a":5})"));
  EXPECT_FALSE(matches(alt, R"({"a":"x","b":2})"));
  // A $ref cycle with no value in between (hostile): bounded, matches nothing.
  const ojson loop = ojson::parse(R"({"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"$ref":"#/$defs/a"}]}},
                                      "$ref":"#/$defs/a"})");
  EXPECT_FALSE(matches(loop, "{}"));
}

TEST(Grammar, JsonObjectMode) {
  grammar::Grammar g = grammar::json_object_grammar();
  const ojson any_object = ojson::parse(R"({"type":"object"})");
  EXPECT_TRUE(matches(any_object, R"({})"));
  EXPECT_TRUE(matches(any_object, R"({"a":[1,{"b":null}],"c":"d","e":-2.5,"f":false})"));
  EXPECT_FALSE(matches(any_object, R"([1])"));
  EXPECT_FALSE(matches(any_object, R"("x")"));
  EXPECT_FALSE(matches(any_object, R"({"a":1,"a\n":2})"));  // extra keys are written without escapes
}

TEST(Grammar, RefusesUnsupportedKeywords) {
  for (const char* s : {R"({"type":"string","pattern":"^a$"})", R"({"type":"object","minProperties":1})",
                        R"({"not":{"type":"string"}})", R"({"$ref":"other.json#/x"})",
                        R"({"type":"array","prefixItems":[{"type":"string"}]})"}) {
    try {
      grammar::compile_json_schema(ojson::parse(s));
      ADD_FAILURE() << "accepted " << s;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << s;
      EXPECT_NE(std::string(e.what()).find("json schema"), std::string::npos) << e.what();
    }
  }
  try {
    grammar::compile_json_schema(ojson::parse(R"({"properties":{"a":{"type":"string","pattern":"x"}}})"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/properties/a/pattern"), std::string::npos) << e.what();
  }
  EXPECT_THROW(grammar::compile_json_schema(ojson::parse(R"({"type":"strin"})")), Error);
  EXPECT_THROW(grammar::compile_json_schema(ojson::parse(R"({"type":"string","minLength":-1})")), Error);
  EXPECT_THROW(grammar::compile_json_schema(ojson::parse(R"({"enum":[]})")), Error);
  EXPECT_THROW(grammar::compile_json_schema(ojson::parse(R"({"$ref":"#/$defs/missing"})")), Error);
  // Annotations and documented-as-ignored keywords are accepted.
  EXPECT_NO_THROW(grammar::compile_json_schema(ojson::parse(
      R"({"title":"T","description":"d","type":"integer","minimum":0,"format":"x","$schema":"s"})")));
}

// A toy vocabulary: the mask over it must be exactly the tokens whose bytes keep the text valid.
TEST(Grammar, MaskEqualsBytewiseCheckOnToyVocabulary) {
  std::vector<std::optional<std::string>> bytes = {std::nullopt, std::nullopt};  // 0: special, 1: EOS
  for (const char* t : {"{", "}", "\"", ":", "\":", "\"name", "name", "\":\"", "a", "ab", "\"}", "\\", "\\\"", "\\u",
                        "00", "e9", " ", "\n ", ",", "1", "12", "-", ".", "\xC3", "\xA9", "\xC3\xA9", "\",\"",
                        "age", "\":1", "\"}", "x\"", "tags", "[", "]", "\"]}", "true", "nul", "l"})
    bytes.emplace_back(t);
  for (char c : std::string("abegmnstu0123456789e:,{}[]\\ "))  // every byte the texts need, alone
    bytes.emplace_back(std::string(1, c));
  auto vocab = make_token_vocabulary(bytes);
  const ojson schema = ojson::parse(R"({"type":"object","properties":{"name":{"type":"string","maxLength":3},
      "age":{"type":"integer"}, "tags":{"type":"array","items":{"type":"string"}}},"required":["name"]})");
  auto constraint = json_schema_constraint(schema, vocab);
  const int64_t eos = 1;
  std::mt19937 rng(7);
  for (int trial = 0; trial < 100; ++trial) {
    auto state = constraint->start(std::span<const int64_t>(&eos, 1));
    std::string text;
    for (int step = 0; step < 30; ++step) {
      std::vector<float> scores(bytes.size(), 0.0f);
      state->mask(scores);
      std::vector<int32_t> ok;
      for (size_t id = 0; id < bytes.size(); ++id) {
        const bool expect = id == 1 ? matches(schema, text) : bytes[id] && matches(schema, text + *bytes[id], true);
        EXPECT_EQ(scores[id] == 0.0f, expect) << "after \"" << text << "\" token " << id;
        if (scores[id] == 0.0f) ok.push_back(static_cast<int32_t>(id));
      }
      ASSERT_FALSE(ok.empty()) << text;
      const int32_t pick = ok[rng() % ok.size()];
      if (pick == 1) break;
      state->advance(pick);
      text += *bytes[pick];
    }
  }
}

// generate() with a fake model whose logits are pseudo-random over the real Qwen3 vocabulary
// (151,936 columns): every sampled output decodes to JSON valid against the schema.
class QwenVocab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tok_ = test::load_fixture_tokenizer("qwen3");
    vocab_ = make_token_vocabulary(tok_->token_bytes());
  }
  static std::shared_ptr<const Tokenizer> tok_;
  static std::shared_ptr<const TokenVocabulary> vocab_;
};
std::shared_ptr<const Tokenizer> QwenVocab::tok_;
std::shared_ptr<const TokenVocabulary> QwenVocab::vocab_;

void expect_valid(const std::string& text, const ojson& schema, const std::string& what) {
  ojson v;
  try {
    v = ojson::parse(text);
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": output does not parse: " << e.what() << "\n" << text;
    return;
  }
  EXPECT_EQ(test::validate(v, schema, schema), "") << what << "\n" << text;
}

TEST_F(QwenVocab, TokenBytesAreByteLevelDecoded) {
  const auto bytes = tok_->token_bytes();
  ASSERT_EQ(bytes.size(), size_t(tok_->vocab_size()));
  const auto space_the = tok_->encode(" the", false);
  ASSERT_EQ(space_the.size(), 1u);
  EXPECT_EQ(bytes[space_the[0]], " the");
  EXPECT_FALSE(bytes[*tok_->token_to_id("<|im_end|>")]);  // special
  // A token whose bytes are half a UTF-8 character.
  int partial = 0;
  for (const auto& b : bytes)
    if (b && b->size() == 1 && static_cast<uint8_t>((*b)[0]) >= 0x80) ++partial;
  EXPECT_GE(partial, 64);
}

// SentencePiece with byte fallback (Llama): "▁" is a space, <0xNN> is the byte NN.
TEST(GrammarTokenBytes, SentencePieceByteFallback) {
  auto tok = test::load_fixture_tokenizer("llama-spm");
  const auto bytes = tok->token_bytes();
  const auto nl = tok->token_to_id("<0x0A>");
  ASSERT_TRUE(nl);
  EXPECT_EQ(bytes[*nl], "\n");
  const auto hi = tok->token_to_id("<0xC3>");
  ASSERT_TRUE(hi);
  EXPECT_EQ(bytes[*hi], "\xC3");
  int spaced = 0;
  for (size_t id = 0; id < bytes.size(); ++id) {
    std::string piece = tok->id_to_token(static_cast<int32_t>(id));
    if (!bytes[id] || piece.rfind("\xE2\x96\x81", 0) != 0) continue;
    ++spaced;
    for (size_t p = piece.find("\xE2\x96\x81"); p != std::string::npos; p = piece.find("\xE2\x96\x81", p))
      piece.replace(p, 3, " ");
    EXPECT_EQ(*bytes[id], piece);
  }
  EXPECT_GT(spaced, 10);
  EXPECT_FALSE(bytes[*tok->bos_token_id()]);
}

TEST_F(QwenVocab, SampledOutputsValidate) {
  const ojson schema = ojson::parse(R"({"type":"object","properties":{
      "name":{"type":"string","maxLength":8}, "n":{"type":"integer"}, "x":{"type":"number"},
      "kind":{"enum":["a","b\"c","ü"]}, "flags":{"type":"array","items":{"type":"boolean"},"maxItems":3},
      "inner":{"type":"object","properties":{"s":{"type":"string","maxLength":4},"z":{"type":"null"}},"required":["s","z"]},
      "alt":{"anyOf":[{"type":"string","maxLength":3},{"type":"integer"}]}},
      "required":["name","n","x","kind","flags","inner","alt"]})");
  auto constraint = json_schema_constraint(schema, vocab_);
  const int V = 151936;
  // Pseudo-random logits, raised for tokens that close or separate things (quotes, brackets,
  // commas) or escape (backslashes), so that outputs finish within max_new_tokens.
  auto boost = std::make_shared<std::vector<float>>(V, 0.0f);
  const auto bytes = tok_->token_bytes();
  for (size_t id = 0; id < bytes.size(); ++id)
    if (bytes[id] && bytes[id]->find_first_of("\"\\]},") != std::string::npos) (*boost)[id] = 9.0f;
  (*boost)[151645] = 9.0f;
  test::FakeModel model(ModelFamily::kCausal, V, 0, [boost](const auto& h, const auto& enc, std::span<float> out) {
    test::default_logits(h, enc, out);
    for (size_t v = 0; v < out.size(); ++v) out[v] += (*boost)[v];
  });
  GenerationConfig cfg;
  cfg.do_sample = true;
  cfg.top_k = 0;
  cfg.max_new_tokens = 120;
  cfg.eos_token_id = {151645};
  cfg.num_return_sequences = 4;
  GenerateHooks hooks;
  hooks.constraint = constraint;
  int complete = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    cfg.seed = seed;
    const GenerateOutput out = generate(model, {{1, 2, 3}}, cfg, hooks);
    for (size_t r = 0; r < out.new_tokens.size(); ++r) {
      std::vector<int32_t> toks(out.new_tokens[r].begin(), out.new_tokens[r].begin() + out.num_generated[r]);
      if (out.finish_reasons[r] != FinishReason::kEos) continue;  // cut by max_new_tokens: a prefix
      ++complete;
      expect_valid(tok_->decode(toks, true), schema, "seed " + std::to_string(seed));
    }
  }
  EXPECT_GE(complete, 6);
}

TEST_F(QwenVocab, JsonObjectGreedyAndBeams) {
  auto constraint = json_object_constraint(vocab_);
  for (ModelFamily family : {ModelFamily::kCausal, ModelFamily::kSeq2Seq}) {
  test::FakeModel model(family, 151936);
  GenerationConfig cfg;
  cfg.max_new_tokens = 40;
  cfg.eos_token_id = {151645};
  cfg.decoder_start_token_id = 0;
  GenerateHooks hooks;
  hooks.constraint = constraint;
  for (int beams : {1, 3}) {
    cfg.num_beams = beams;
    const GenerateOutput out = generate(model, {{5, 6}, {7}}, cfg, hooks);
    for (size_t r = 0; r < out.new_tokens.size(); ++r) {
      const size_t skip = family == ModelFamily::kSeq2Seq ? 1 : 0;  // the decoder start token
      std::vector<int32_t> toks(out.new_tokens[r].begin() + skip, out.new_tokens[r].begin() + skip + out.num_generated[r]);
      const std::string text = tok_->decode(toks, true);
      // Greedy on random logits may run to max_new_tokens: then the text is a valid prefix.
      if (out.finish_reasons[r] == FinishReason::kEos) {
        const auto v = ojson::parse(text);
        EXPECT_TRUE(v.is_object()) << text;
      } else {
        EXPECT_TRUE(matches(ojson::parse(R"({"type":"object"})"), text, true)) << text;
      }
    }
  }
  }
}

// The demo chat model (a random-weight Qwen3 with a 151k vocabulary) through its chat template:
// greedy, sampled and beam outputs all parse and validate.
TEST(GrammarDemo, ChatOutputsValidate) {
  const ojson schema = ojson::parse(R"({"type":"object","properties":{
      "name":{"type":"string","maxLength":10}, "age":{"type":"integer"},
      "tags":{"type":"array","items":{"enum":["a","b","ü\"q"]},"maxItems":2},
      "pos":{"type":"object","properties":{"x":{"type":"number"},"ok":{"type":"boolean"}},"required":["x","ok"]}},
      "required":["name","age","tags","pos"]})");
  for (const char* dir : {"demo/chat-tiny"}) {
    SCOPED_TRACE(dir);
    const std::string path = test::fixture_path(dir);
    ASSERT_FALSE(path.empty());
    auto tok = AutoTokenizer::from_pretrained(path);
    auto model = AutoConfig::from_pretrained(path).family == ModelFamily::kCausal
                     ? AutoModelForCausalLM::from_pretrained(path)
                     : AutoModelForSeq2SeqLM::from_pretrained(path);
    GenerateHooks hooks;
    hooks.constraint = json_schema_constraint(schema, make_token_vocabulary(tok->token_bytes()));
    GenerationConfig cfg = GenerationConfig::for_model(*model);
    cfg.max_new_tokens = 256;
    const std::vector<int32_t> prompt = tok->encode("A person as JSON:", true);
    int valid = 0;
    for (int mode = 0; mode < 3; ++mode) {
      cfg.do_sample = mode == 1;
      cfg.num_beams = mode == 2 ? 2 : 1;
      cfg.num_return_sequences = mode == 1 ? 3 : 1;
      cfg.seed = 11;
      const GenerateOutput out = generate(*model, {prompt}, cfg, hooks);
      for (size_t r = 0; r < out.new_tokens.size(); ++r) {
        const std::string text = tok->decode(out.new_tokens[r], true);
        if (out.finish_reasons[r] != FinishReason::kEos) {
          EXPECT_TRUE(matches(schema, text.substr(text.find_first_not_of(' ')), true)) << text;
          continue;
        }
        ++valid;
        expect_valid(text, schema, std::string(dir) + " mode " + std::to_string(mode));
      }
    }
    EXPECT_GE(valid, 3);
  }
}

// t5-numbers' SentencePiece vocabulary has no '{': the constraint says so instead of emitting
// something invalid.
TEST(GrammarDemo, VocabularyWithoutTheNeededBytesIsAnError) {
  const std::string path = test::fixture_path("demo/t5-numbers");
  ASSERT_FALSE(path.empty());
  auto tok = AutoTokenizer::from_pretrained(path);
  auto model = AutoModelForSeq2SeqLM::from_pretrained(path);
  GenerateHooks hooks;
  hooks.constraint = json_object_constraint(make_token_vocabulary(tok->token_bytes()));
  GenerationConfig cfg = GenerationConfig::for_model(*model);
  cfg.max_new_tokens = 40;
  try {
    generate(*model, {tok->encode("one plus two", true)}, cfg, hooks);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no token of the vocabulary"), std::string::npos) << e.what();
  }
}

TEST(Grammar, ConstraintNeedsEos) {
  auto vocab = make_token_vocabulary({std::string("{"), std::string("}")});
  test::FakeModel model(ModelFamily::kCausal, 2);
  GenerationConfig cfg;
  cfg.max_new_tokens = 4;
  GenerateHooks hooks;
  hooks.constraint = json_object_constraint(vocab);
  EXPECT_THROW(generate(model, {{0}}, cfg, hooks), Error);
}

// A processor that bans EOS (min_new_tokens) while the constraint allows only EOS: the constraint
// wins, the row ends with a valid object.
TEST(Grammar, ConstraintWinsOverMinNewTokens) {
  auto vocab = make_token_vocabulary({std::nullopt, std::nullopt, std::string("{"), std::string("}"), std::string("x")});
  test::FakeModel model(ModelFamily::kCausal, 5);
  GenerationConfig cfg;
  cfg.max_new_tokens = 6;
  cfg.min_new_tokens = 5;
  cfg.eos_token_id = {1};
  GenerateHooks hooks;
  hooks.constraint = json_object_constraint(vocab);
  const GenerateOutput out = generate(model, {{0}}, cfg, hooks);
  EXPECT_EQ(std::vector<int32_t>(out.new_tokens[0].begin(), out.new_tokens[0].begin() + 3),
            (std::vector<int32_t>{2, 3, 1}));
  EXPECT_EQ(out.finish_reasons[0], FinishReason::kEos);
}

}  // namespace
}  // namespace autolm
