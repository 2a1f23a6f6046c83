// Grammars beyond one JSON value (grammar/builder.h): literal text around schema values,
// alternatives of text-led sequences, repetitions with separators — the shapes forced tool calls
// take in each chat template's format — on byte strings and through the token mask.
#include <gtest/gtest.h>

#include <random>

#include "autolm/structured_output.h"
#include "generate/grammar/builder.h"
#include "generate/grammar/matcher.h"

namespace autolm {
namespace {

using grammar::BranchList;
using grammar::GrammarBuilder;
using grammar::kNoNode;
using grammar::kUnbounded;
using grammar::Matcher;
using ojson = nlohmann::ordered_json;

// Whether `text` is accepted in full (prefix: is a prefix of an accepted text).
bool matches(const grammar::Grammar& g, const std::string& text, bool prefix = false) {
  Matcher m(g);
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

const ojson kCityArgs = ojson::parse(
    R"({"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]})");

// Hermes / Qwen: <tool_call>\n{"name": …, "arguments": …}\n</tool_call>, up to `max` calls.
grammar::Grammar hermes(uint32_t max) {
  GrammarBuilder b;
  const int32_t call = b.object({{"name", b.literal({"\"get_weather\""})}, {"arguments", b.schema(kCityArgs)}});
  const int32_t other = b.object({{"name", b.literal({"\"now\""})}, {"arguments", b.any_object()}});
  const int32_t root = b.sequence({b.text("<tool_call>\n"), b.any_of({call, other}), b.text("\n</tool_call>")},
                                  b.text("\n"), 1, max);
  return std::move(b).finish(root);
}

TEST(GrammarSequence, TextAroundSchemaValues) {
  const grammar::Grammar one = hermes(1), many = hermes(kUnbounded);
  const std::string weather = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
  const std::string now = "<tool_call>\n{\"name\":\"now\",\"arguments\":{\"tz\":[1]}}\n</tool_call>";
  EXPECT_TRUE(matches(one, weather));
  EXPECT_TRUE(matches(one, now));
  EXPECT_TRUE(matches(one, "<tool_call>\n {\"name\": \"get_weather\", \"arguments\": {\"city\": \"\", \"days\": 3}}\n</tool_call>"));
  EXPECT_FALSE(matches(one, weather + "\n" + now));  // one call at most
  EXPECT_TRUE(matches(many, weather + "\n" + now));
  EXPECT_TRUE(matches(many, weather + "\n" + now + "\n" + weather));
  EXPECT_FALSE(matches(many, weather + now));          // the separator is required
  EXPECT_FALSE(matches(many, weather + "\n"));         // a separator must lead to another call
  EXPECT_TRUE(matches(many, weather + "\n", true));
  // Prefix and suffix are exact: no whitespace around or inside them.
  EXPECT_FALSE(matches(one, " " + weather));
  EXPECT_FALSE(matches(one, "<tool_call> \n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_FALSE(matches(one, "<tool_call>\n{\"name\": \"now\", \"arguments\": {}} \n</tool_call>"));
  EXPECT_FALSE(matches(one, "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call> "));
  EXPECT_FALSE(matches(one, "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_cal"));
  EXPECT_TRUE(matches(one, "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_cal", true));
  // The JSON inside follows the schemas: names, keys in order, argument types.
  EXPECT_FALSE(matches(one, "<tool_call>\n{\"name\": \"later\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_FALSE(matches(one, "<tool_call>\n{\"arguments\": {}, \"name\": \"now\"}\n</tool_call>"));
  EXPECT_FALSE(matches(one, "<tool_call>\n{\"name\": \"now\"}\n</tool_call>"));
  EXPECT_FALSE(matches(one, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"days\": 3}}\n</tool_call>"));
  EXPECT_FALSE(matches(one, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": 3}}\n</tool_call>"));
  EXPECT_FALSE(matches(one, "<tool_call>\n{\"name\": \"now\", \"arguments\": []}\n</tool_call>"));
  EXPECT_FALSE(matches(one, ""));
}

TEST(GrammarSequence, NumbersEndBeforeText) {
  GrammarBuilder b;
  const int32_t root = b.sequence({b.schema(ojson::parse(R"({"type":"integer"})")), b.text("!")}, b.text(","), 1, 3);
  const grammar::Grammar g = std::move(b).finish(root);
  EXPECT_TRUE(matches(g, "12!"));
  EXPECT_TRUE(matches(g, " -3!,0!,7!"));  // JSON whitespace before a value is allowed
  EXPECT_FALSE(matches(g, "12"));
  EXPECT_FALSE(matches(g, "12 !"));
  EXPECT_FALSE(matches(g, "1!,2!,3!,4!"));
  EXPECT_FALSE(matches(g, "1.5!"));
}

// Mistral v11: [TOOL_CALLS]name[ARGS]{…}, repeated; the name is text, so alternatives start with text.
TEST(GrammarSequence, AlternativesOfTextLedSequences) {
  GrammarBuilder b;
  // A $ref inside an appended schema still resolves within that schema.
  const ojson tree = ojson::parse(R"({"$defs":{"n":{"type":"object","properties":{"k":{"type":"array",
      "items":{"$ref":"#/$defs/n"}}}}},"$ref":"#/$defs/n"})");
  const int32_t a = b.sequence({b.text("get_weather[ARGS]"), b.schema(kCityArgs)});
  const int32_t t = b.sequence({b.text("tree[ARGS]"), b.schema(tree)});
  const int32_t root = b.sequence({b.text("[TOOL_CALLS]"), b.any_of({a, t})}, kNoNode, 1, kUnbounded);
  const grammar::Grammar g = std::move(b).finish(root);
  EXPECT_TRUE(matches(g, R"([TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"})"));
  EXPECT_TRUE(matches(g, R"([TOOL_CALLS]tree[ARGS]{"k":[{"k":[]},{}]}[TOOL_CALLS]get_weather[ARGS]{"city":"x"})"));
  EXPECT_FALSE(matches(g, R"([TOOL_CALLS] get_weather[ARGS]{"city": "Oslo"})"));
  EXPECT_FALSE(matches(g, "[TOOL_CALLS] ", true));  // not even a prefix: no dead end for the mask
  EXPECT_FALSE(matches(g, R"([TOOL_CALLS]tree[ARGS]{"k":[{"j":1}]})"));
  EXPECT_FALSE(matches(g, R"([TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"} )"));
  EXPECT_FALSE(matches(g, R"([TOOL_CALLS]get_weather{"city": "Oslo"})"));
}

TEST(GrammarSequence, SingleSpaces) {
  GrammarBuilder b;
  const int32_t root = b.schema(ojson::parse(R"({"type":"object","properties":{"a":{"type":"integer"},
      "b":{"type":"array","items":{"type":"integer"}}},"required":["a","b"]})"));
  const grammar::Grammar g = std::move(b).finish(root, true);
  EXPECT_TRUE(matches(g, R"({"a": 1, "b": [2, 3]})"));
  EXPECT_TRUE(matches(g, R"({"a":1,"b":[]})"));
  EXPECT_TRUE(matches(g, R"( { "a" : 1 , "b" : [ 2 ] })"));
  EXPECT_FALSE(matches(g, R"({"a":  1,"b":[]})"));
  EXPECT_FALSE(matches(g, "{\"a\":\n1,\"b\":[]}"));
  EXPECT_FALSE(matches(g, "{\"a\":\t1,\"b\":[]}"));
}

// The token mask over a toy vocabulary whose tokens straddle the text / JSON boundaries: exactly
// the tokens whose bytes keep the output a prefix of an accepted text; EOS once it is complete.
TEST(GrammarSequence, MaskEqualsBytewiseCheck) {
  const grammar::Grammar g = hermes(2);
  std::vector<std::optional<std::string>> bytes = {std::nullopt, std::nullopt};  // 0: special, 1: EOS
  for (const char* t : {"<tool_call>", "<tool_call>\n{", "<", "tool", "_call", ">", "\n", ">\n", "{\"", "name", "\":",
                        " \"", "get_weather", "now", "\",", "arguments", " {", "city", "\"}}", "}}\n", "</", "</tool_call>",
                        "}\n</tool_call>", "}", "\"", ":", ",", " ", "Paris", "1", "days", "a"})
    bytes.emplace_back(t);
  for (char c : std::string("<>/_\n{}\":, acdeghilmnorstuwy"))  // every byte the texts need, alone
    bytes.emplace_back(std::string(1, c));
  auto vocab = make_token_vocabulary(bytes);
  auto constraint = grammar::grammar_constraint(hermes(2), vocab);
  const int64_t eos = 1;
  std::mt19937 rng(5);
  int complete = 0;
  for (int trial = 0; trial < 60; ++trial) {
    auto state = constraint->start(std::span<const int64_t>(&eos, 1));
    std::string text;
    for (int step = 0; step < 40; ++step) {
      std::vector<float> scores(bytes.size(), 0.0f);
      state->mask(scores);
      std::vector<int32_t> ok;
      for (size_t id = 0; id < bytes.size(); ++id) {
        const bool expect = id == 1 ? matches(g, text) : bytes[id] && matches(g, text + *bytes[id], true);
        EXPECT_EQ(scores[id] == 0.0f, expect) << "after \"" << text << "\" token " << id;
        if (scores[id] == 0.0f) ok.push_back(static_cast<int32_t>(id));
      }
      ASSERT_FALSE(ok.empty()) << text;
      // Prefer EOS half the time it is allowed, so that some outputs end.
      const bool can_end = scores[1] == 0.0f;
      const int32_t pick = can_end && rng() % 2 ? 1 : ok[rng() % ok.size()];
      if (pick == 1) {
        EXPECT_TRUE(matches(g, text)) << text;
        ++complete;
        break;
      }
      state->advance(pick);
      text += *bytes[pick];
    }
  }
  EXPECT_GT(complete, 0);
}

}  // namespace
}  // namespace autolm
