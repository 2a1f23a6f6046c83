// The `autolm` executable, run as a user would: output formats, exit codes, error messages.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include "fixtures.h"

namespace autolm {
namespace {

struct CliResult {
  int code;
  std::string out, err;
};

// Runs the CLI with `args` (shell-quoted by the caller); stdout and stderr captured apart.
CliResult run(const std::string& args, const std::string& stdin_text = "") {
  const std::string tag = std::to_string(::getpid());
  const std::string err_file = ::testing::TempDir() + "autolm_cli_stderr_" + tag + ".txt";
  std::string cmd = std::string(AUTOLM_CLI) + " " + args + " 2>" + err_file;
  if (!stdin_text.empty()) {
    const std::string in_file = ::testing::TempDir() + "autolm_cli_stdin_" + tag + ".txt";
    std::ofstream(in_file) << stdin_text;
    cmd += " <" + in_file;
  } else {
    cmd += " </dev/null";
  }
  CliResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

std::string join(const nlohmann::json& ids) {
  std::string s;
  for (auto& v : ids) s += (s.empty() ? "" : ",") + std::to_string(v.get<int>());
  return s;
}

// Pre-quantized checkpoints (AWQ / GPTQ / compressed-tensors, tests/quant) run from the CLI; an
// unsupported quantization_config or a hostile quantized tensor exits 2 naming the key / tensor
// and value.
TEST(Cli, PrequantizedCheckpointsLoadAndBadOnesExitTwo) {
  const std::string awq = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/awq/llama-awq-tiny";
  const std::string ids = " --input-ids 1,17,42 --max-new-tokens 2 --greedy";
  CliResult ok = run("generate " + awq + ids);
  EXPECT_EQ(ok.code, 0) << ok.err;
  const std::string dir = ::testing::TempDir() + "/cli-awq-gemv-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(awq + "/model.safetensors", dir + "/model.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  auto config = nlohmann::json::parse(std::ifstream(awq + "/config.json"));
  config["quantization_config"]["version"] = "gemv";
  std::ofstream(dir + "/config.json") << config.dump();
  CliResult gemv = run("generate " + dir + ids);
  EXPECT_EQ(gemv.code, 2) << gemv.err;
  EXPECT_NE(gemv.err.find("version \"gemv\" is not supported"), std::string::npos) << gemv.err;
  config["quantization_config"]["version"] = "gemm";
  config["quantization_config"]["group_size"] = 64;  // the file's scales are for groups of 32
  std::ofstream(dir + "/config.json") << config.dump();
  CliResult group = run("generate " + dir + ids);
  EXPECT_EQ(group.code, 2) << group.err;
  EXPECT_NE(group.err.find("AWQ tensor \"model.layers.0.self_attn.q_proj.qzeros\" is I32 [2, 8], expected I32 [1, 8]"),
            std::string::npos) << group.err;
}

// Assisted generation: the tokens of plain greedy, with the drafts' acceptance in --json; the
// assistant-only flags need --assistant-model; several prompts are refused as transformers does.
TEST(Cli, AssistedGenerationMatchesGreedyAndReportsAcceptance) {
  const std::string dir = test::model_dir("llama-tiny");
  const std::string ids = "--input-ids 5,17,42,8,5,17,42 --max-new-tokens 12 --greedy --json";
  CliResult plain = run("generate " + dir + " " + ids);
  ASSERT_EQ(plain.code, 0) << plain.err;
  const auto p = nlohmann::json::parse(plain.out);
  EXPECT_FALSE(p.contains("draft_tokens"));
  for (const std::string& extra : {std::string("--prompt-lookup-num-tokens 4"),
                                   "--assistant-model " + test::model_dir("qwen2-tiny") + " --num-assistant-tokens 3",
                                   "--assistant-model " + dir + " --assistant-confidence-threshold 0"}) {
    CliResult r = run("generate " + dir + " " + ids + " " + extra);
    ASSERT_EQ(r.code, 0) << extra << ": " << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["sequences"], p["sequences"]) << extra;
    ASSERT_TRUE(j.contains("draft_tokens")) << extra;
    EXPECT_LE(j["accepted_draft_tokens"].get<int64_t>(), j["draft_tokens"].get<int64_t>());
  }
  CliResult same = run("generate " + dir + " " + ids + " --assistant-model " + dir + " --assistant-confidence-threshold 0");
  EXPECT_GT(nlohmann::json::parse(same.out)["accepted_draft_tokens"].get<int64_t>(), 0);
  CliResult orphan = run("generate " + dir + " " + ids + " --num-assistant-tokens 3");
  EXPECT_EQ(orphan.code, 2);
  EXPECT_NE(orphan.err.find("--assistant-model"), std::string::npos) << orphan.err;
  CliResult batch = run("generate " + dir + " --input-ids 5,6 --input-ids 7 --prompt-lookup-num-tokens 3");
  EXPECT_EQ(batch.code, 2);
  EXPECT_NE(batch.err.find("batch_size = 1"), std::string::npos) << batch.err;
  CliResult other_vocab = run("generate " + dir + " " + ids + " --assistant-model " + test::model_dir("t5-tiny"));
  EXPECT_EQ(other_vocab.code, 2) << other_vocab.err;
}

// `autolm info` on every encoder-decoder fixture: its type, family and class, no unused tensor.
TEST(Cli, InfoOnEverySeq2SeqFixture) {
  for (const std::string& name : test::seq2seq_models()) {
    CliResult r = run("info " + test::model_dir(name) + " --json");
    ASSERT_EQ(r.code, 0) << name << ": " << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["model_type"], load_json_file(test::model_dir(name) + "/config.json")["model_type"]) << name;
    EXPECT_EQ(j["family"], "seq2seq") << name;
    EXPECT_EQ(j["auto_class"], "AutoModelForSeq2SeqLM") << name;
    EXPECT_GT(j["parameters"].get<int64_t>(), 10000) << name;
    EXPECT_EQ(j["unused_tensors"], nlohmann::json::array()) << name;
  }
}

TEST(Cli, InfoNamesTypeFamilyClass) {
  CliResult r = run("info " + test::model_dir("gemma3-tiny") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model_type"], "gemma3_text");
  EXPECT_EQ(j["family"], "causal");
  EXPECT_EQ(j["auto_class"], "AutoModelForCausalLM");
  EXPECT_GT(j["parameters"].get<int64_t>(), 100000);
  EXPECT_EQ(j["dtypes"], nlohmann::json({"F32"}));
  CliResult t5 = run("info " + test::model_dir("t5-numbers"));
  ASSERT_EQ(t5.code, 0) << t5.err;
  EXPECT_NE(t5.out.find("AutoModelForSeq2SeqLM"), std::string::npos);
  EXPECT_NE(t5.out.find("BF16"), std::string::npos);
}

// `autolm logits` reproduces the reference rows (causal: prompt positions; seq2seq: decoder).
TEST(Cli, LogitsMatchReference) {
  for (const std::string name : {"qwen2-tiny", "bart-tiny"}) {
    auto ref = test::load_ref(name);
    const auto& c = ref["cases"][0];
    std::string args = "logits " + test::model_dir(name) + " --input-ids " + join(c["input_ids"]) + " --json";
    if (c["forward"].contains("decoder_input_ids")) args += " --decoder-input-ids " + join(c["forward"]["decoder_input_ids"]);
    CliResult r = run(args);
    ASSERT_EQ(r.code, 0) << r.err;
    auto logits = nlohmann::json::parse(r.out)["logits"];
    WeightStore store({test::ref_path(name, ".logits.safetensors")});
    TensorView expected = store.require(c["forward"]["logits_tensor"].get<std::string>());
    auto positions = c["forward"]["positions"].get<std::vector<int>>();
    const int64_t V = expected.shape[1];
    float max_ref = 0, max_diff = 0;
    for (size_t i = 0; i < positions.size(); ++i)
      for (int64_t v = 0; v < V; ++v) {
        max_ref = std::max(max_ref, std::abs(expected.data[i * V + v]));
        max_diff = std::max(max_diff, std::abs(expected.data[i * V + v] - logits[positions[i]][v].get<float>()));
      }
    EXPECT_LE(max_diff, 1e-4f * std::max(1.f, max_ref)) << name;
  }
}

TEST(Cli, GenerateIdsJsonMatchesGreedyReference) {
  for (const std::string name : {"llama-tiny", "marian-tiny"}) {
    auto ref = test::load_ref(name);
    const auto& g = ref["cases"][0]["gen"]["greedy"];
    CliResult r = run("generate " + test::model_dir(name) + " --input-ids " + join(ref["cases"][0]["input_ids"]) +
                " --max-new-tokens " + std::to_string(g["params"]["max_new_tokens"].get<int>()) + " --json");
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["sequences"], g["sequences"]) << name;
    EXPECT_EQ(j["new_tokens"], g["new_tokens"]) << name;
    EXPECT_EQ(j["text"], g["text"]) << name;
  }
}

// LED: --global-attention-tokens 2 gives transformers' sequences with the first two tokens global
// (tests/data/fixtures/refs/models/led-tiny-global.json); a model without global attention refuses it.
TEST(CliGenerate, GlobalAttentionTokensMatchReference) {
  auto ref = test::load_ref("led-tiny-global");
  const auto& c = ref["cases"][0];
  ASSERT_EQ(c["global_attention_mask"][0], 1);
  ASSERT_EQ(c["global_attention_mask"][2], 0);
  const auto& g = c["gen"]["greedy"];
  CliResult r = run("generate " + test::model_dir("led-tiny") + " --input-ids " + join(c["input_ids"]) +
                    " --global-attention-tokens 2 --max-new-tokens " +
                    std::to_string(g["params"]["max_new_tokens"].get<int>()) + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["sequences"], g["sequences"]);
  CliResult bart = run("generate " + test::model_dir("bart-tiny") + " --input-ids 0,5,2 --global-attention-tokens 1");
  EXPECT_EQ(bart.code, 2);
  EXPECT_NE(bart.err.find("global attention"), std::string::npos) << bart.err;
  CliResult bad = run("generate " + test::model_dir("led-tiny") + " --input-ids 0,5,2 --global-attention-tokens -1");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--global-attention-tokens"), std::string::npos) << bad.err;
}

TEST(Cli, GenerateDemoT5SpellsNumber) {
  auto ref = test::load_ref("t5-numbers");
  CliResult ids = run("generate " + test::model_dir("t5-numbers") + " --input-ids " + join(ref["cases"][0]["input_ids"]) + " --json");
  ASSERT_EQ(ids.code, 0) << ids.err;
  EXPECT_EQ(nlohmann::json::parse(ids.out)["sequences"], ref["cases"][0]["gen"]["greedy"]["sequences"]);
  CliResult text = run("generate " + std::string(AUTOLM_SOURCE_DIR) + "/models/t5-numbers \"spell: 4021\"");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_EQ(text.out, "four thousand twenty-one\n");
}

TEST(Cli, WrongClassIsRefusedWithExitCode2) {
  CliResult r = run("generate " + test::model_dir("bart-tiny") + " --class AutoModelForCausalLM --input-ids 0,5,2");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("AutoModelForSeq2SeqLM"), std::string::npos) << r.err;
  CliResult r2 = run("logits " + test::model_dir("gpt2-tiny") + " --class AutoModelForSeq2SeqLM --input-ids 1,2");
  EXPECT_EQ(r2.code, 2);
  EXPECT_NE(r2.err.find("AutoModelForCausalLM"), std::string::npos) << r2.err;
}

TEST(Cli, BadInputExitsWith2AndNamesTheCulprit) {
  CliResult missing = run("info /nonexistent/folder");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/folder"), std::string::npos);
  CliResult bad_ids = run("logits " + test::model_dir("llama-tiny") + " --input-ids 1,x,3");
  EXPECT_EQ(bad_ids.code, 2);
  EXPECT_NE(bad_ids.err.find("--input-ids"), std::string::npos) << bad_ids.err;
  CliResult out_of_vocab = run("logits " + test::model_dir("llama-tiny") + " --input-ids 1,99999");
  EXPECT_EQ(out_of_vocab.code, 2);
  EXPECT_NE(out_of_vocab.err.find("99999"), std::string::npos) << out_of_vocab.err;
  CliResult usage = run("generate");
  EXPECT_EQ(usage.code, 2);
  CliResult unknown = run("frobnicate");
  EXPECT_EQ(unknown.code, 2);
  CliResult bad_temp = run("generate " + test::model_dir("llama-tiny") + " --input-ids 1,2 --do-sample --temperature -1");
  EXPECT_EQ(bad_temp.code, 2);
  EXPECT_NE(bad_temp.err.find("temperature"), std::string::npos) << bad_temp.err;
}

TEST(Cli, TooLongInputIsAnErrorUnlessTruncated) {
  // GPT-2 tiny has n_positions = 128: a 200-token prompt cannot fit.
  std::string ids = "1";
  for (int i = 1; i < 200; ++i) ids += "," + std::to_string(1 + i % 500);
  CliResult r = run("generate " + test::model_dir("gpt2-tiny") + " --input-ids " + ids + " --max-new-tokens 4 --json");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--truncation"), std::string::npos) << r.err;
  CliResult t = run("generate " + test::model_dir("gpt2-tiny") + " --input-ids " + ids + " --max-new-tokens 4 --truncation --json");
  ASSERT_EQ(t.code, 0) << t.err;
  auto seq = nlohmann::json::parse(t.out)["sequences"][0];
  EXPECT_EQ(seq.size(), 128u);
  EXPECT_EQ(seq[123].get<int>(), 1 + 199 % 500);  // causal prompts keep their end
}

// Hostile arguments (issue #11): numbers are read in 64 bits and range-checked, id lists are
// validated, and every error names the flag and the value as the user typed it (exit 2).
TEST(CliHostile, NumericFlagsAreRangeCheckedAndNamed) {
  const std::string gen = "generate " + test::model_dir("llama-tiny") + " --input-ids 1,2 ";
  struct Case {
    std::string args, flag, value;
  };
  for (const Case& c : std::vector<Case>{
           {"--max-new-tokens 1000000000000", "--max-new-tokens", "1000000000000"},
           {"--max-new-tokens 99999999999999999999999", "--max-new-tokens", "99999999999999999999999"},
           {"--max-new-tokens 2147483647", "max_new_tokens=2147483647", "2147483649"},
           {"--max-length 4294967298", "--max-length", "4294967298"},
           {"--num-beams 1000000", "num_beams", "1000000"},
           {"--num-beams 1024 --max-new-tokens 2000000000", "max_new_tokens=2000000000", "max_length"},
           {"--num-beams 4294967298", "--num-beams", "4294967298"},
           {"--do-sample --num-return-sequences 1000000", "num_return_sequences", "1000000"},
           {"--do-sample --top-k 99999999999", "--top-k", "99999999999"},
           {"--no-repeat-ngram-size=-3", "no_repeat_ngram_size", "-3"},
           {"--temperature 1e400", "--temperature", "1e400"},
           {"--top-p 0.5x", "--top-p", "0.5x"},
           {"--pad-token-id 12abc", "--pad-token-id", "12abc"},
           {"--eos-token-id 2,99999999999", "--eos-token-id", "99999999999"},
           {"--bad-words-ids=5,-1", "--bad-words-ids", "-1"},
           {"--do-sample --seed=-1", "--seed", "-1"},
           {"--do-sample --seed 99999999999999999999999", "--seed", "99999999999999999999999"},
       }) {
    CliResult r = run(gen + c.args);
    EXPECT_EQ(r.code, 2) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.flag), std::string::npos) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.value), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.find("internal"), std::string::npos) << r.err;
  }
}

TEST(CliHostile, TokenIdListsAreValidated) {
  for (const std::string cmd : {"logits", "generate"}) {
    for (const std::string ids : {"-5", "1,-5", "99999999999", "1,,2", "1,x", "'1, 2,'", "2147483648", "''"}) {
      CliResult r = run(cmd + " " + test::model_dir("llama-tiny") + " --input-ids=" + ids);
      EXPECT_EQ(r.code, 2) << ids << ": " << r.err;
      EXPECT_NE(r.err.find("--input-ids"), std::string::npos) << ids << ": " << r.err;
    }
    CliResult oov = run(cmd + " " + test::model_dir("llama-tiny") + " --input-ids 1,2147483647");
    EXPECT_EQ(oov.code, 2) << oov.err;
    EXPECT_NE(oov.err.find("--input-ids: token id 2147483647 is outside the vocabulary"), std::string::npos) << oov.err;
  }
  CliResult dec = run("logits " + test::model_dir("bart-tiny") + " --input-ids 0,5,2 --decoder-input-ids 2,99999");
  EXPECT_EQ(dec.code, 2) << dec.err;
  EXPECT_NE(dec.err.find("--decoder-input-ids: token id 99999"), std::string::npos) << dec.err;
  CliResult neg = run("logits " + test::model_dir("bart-tiny") + " --input-ids 0,5,2 --decoder-input-ids=-2");
  EXPECT_EQ(neg.code, 2) << neg.err;
  EXPECT_NE(neg.err.find("--decoder-input-ids: -2"), std::string::npos) << neg.err;
}

// --messages is read like any config file: bounded size and nesting, its shape checked.
TEST(CliHostile, ChatMessagesAreBoundedAndValidated) {
  const std::string chat = "chat " + std::string(AUTOLM_SOURCE_DIR) + "/models/chat-tiny --render --messages ";
  const std::string file = ::testing::TempDir() + "autolm_hostile_messages_" + std::to_string(::getpid()) + ".json";
  auto with = [&](const std::string& text) {
    std::ofstream(file, std::ios::trunc) << text;
    return run(chat + file);
  };
  CliResult deep = with(std::string(200000, '[') + std::string(200000, ']'));  // overflowed the stack
  EXPECT_EQ(deep.code, 2) << deep.err;
  EXPECT_NE(deep.err.find("nested deeper"), std::string::npos) << deep.err;
  struct Case {
    std::string json, expect;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"role": "user"})", "expected a JSON list"},
           {R"([1])", "message 0 is not an object with a \"role\""},
           {R"([{"role": "user", "content": "a"}, {"content": "b"}])", "message 1 is not an object with a \"role\""},
           {R"([{"role": 5, "content": "a"}])", "message 0: \"role\" must be a string"},
           {R"([{"role": "user", "content": {"a": 1}}])", "\"content\" must be a string, a list or null"},
           {R"([{"role": "user", "content": [1]}])", "\"content\"[0] must be an object"},
           {R"([{"role": "user", "content": "a"})", "malformed JSON"},
           {R"([{"role": "user", "content": 1e999}])", file},
       }) {
    CliResult r = with(c.json);
    EXPECT_EQ(r.code, 2) << c.json << ": " << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.json << ": " << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
  }
  // Not a regular file: refused, not read forever.
  CliResult dev = run(chat + "/dev/zero");
  EXPECT_EQ(dev.code, 2) << dev.err;
  CliResult tpl = run("chat " + test::model_dir("gpt2-tiny") + " --template /dev/zero --render");
  EXPECT_EQ(tpl.code, 2) << tpl.err;
  EXPECT_NE(tpl.err.find("/dev/zero"), std::string::npos) << tpl.err;
  for (const std::string v : {"0", "-4", "1000000000000", "many"}) {
    CliResult r = run("chat " + std::string(AUTOLM_SOURCE_DIR) + "/models/chat-tiny --max-new-tokens=" + v, "hi\n");
    EXPECT_EQ(r.code, 2) << v << ": " << r.err;
    EXPECT_NE(r.err.find("--max-new-tokens"), std::string::npos) << v << ": " << r.err;
    EXPECT_NE(r.err.find(v), std::string::npos) << v << ": " << r.err;
  }
}

TEST(Cli, TokenizeAndDetokenize) {
  auto ref = load_json_file(test::fixtures() + "/refs/tokenizers/qwen-bpe.json");
  const auto& c = ref["cases"][5];
  CliResult r = run("tokenize " + test::fixtures() + "/tokenizers/qwen-bpe '" + c["text"].get<std::string>() + "' --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"], c["with_special"]["ids"]);
  EXPECT_EQ(j["tokens"], c["with_special"]["tokens"]);
  CliResult d = run("detokenize " + test::fixtures() + "/tokenizers/qwen-bpe " + join(c["with_special"]["ids"]));
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(d.out, c["decode"].get<std::string>() + "\n");
}

// Ids past the tokenizer's vocabulary (a model's padded vocab_size) are skipped as transformers
// does; no ids is an empty text; negative ids and ids past INT32_MAX stay input errors.
TEST(Cli, DetokenizeUnknownAndNoIds) {
  auto ref = load_json_file(test::fixtures() + "/refs/tokenizers/qwen-bpe.json");
  const auto& c = ref["cases"][5];
  const std::string dir = test::fixtures() + "/tokenizers/qwen-bpe ";
  CliResult d = run("detokenize " + dir + join(c["with_special"]["ids"]) + ",150000,2147483647");
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(d.out, c["decode"].get<std::string>() + "\n");
  CliResult empty = run("detokenize " + dir + "''");
  ASSERT_EQ(empty.code, 0) << empty.err;
  EXPECT_EQ(empty.out, "\n");
  for (const char* bad : {"5,-1", "2147483648"}) {
    CliResult b = run("detokenize " + dir + "'" + bad + "'");
    EXPECT_NE(b.code, 0) << bad;
    EXPECT_NE(b.err.find("ids"), std::string::npos) << b.err;
  }
}

}  // namespace
}  // namespace autolm

namespace autolm {
namespace {

// The bundled chat model answers like transformers' greedy reference, without a terminal.
TEST(CliChat, ReplAnswersAddition) {
  auto ref = test::load_ref("chat-tiny");
  const std::string expected = ref["cases"][0]["gen"]["greedy"]["text"][0];
  ASSERT_EQ(expected, "12 + 30 = 42.");
  CliResult r = run("chat " + std::string(AUTOLM_SOURCE_DIR) + "/models/chat-tiny", "What is 12 + 30?\n/exit\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, expected + "\n");
}

TEST(CliChat, OneShotMessagesAndRender) {
  const std::string file = ::testing::TempDir() + "autolm_chat_messages_" + std::to_string(::getpid()) + ".json";
  std::ofstream(file) << R"([{"role": "user", "content": "What is 12 + 30?"}])";
  CliResult r = run("chat " + std::string(AUTOLM_SOURCE_DIR) + "/models/chat-tiny --messages " + file);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "12 + 30 = 42.\n");
  auto ref = test::load_ref("chat-tiny");
  CliResult render = run("chat " + std::string(AUTOLM_SOURCE_DIR) + "/models/chat-tiny --messages " + file + " --render");
  ASSERT_EQ(render.code, 0) << render.err;
  EXPECT_EQ(render.out, ref["cases"][0]["prompt"].get<std::string>());
}

TEST(CliChat, NoTemplateIsNotMadeUp) {
  // gpt2-tiny has no chat template: refused, naming --template.
  CliResult r = run("chat " + test::model_dir("gpt2-tiny"), "hello\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--template"), std::string::npos) << r.err;
  // An encoder-decoder folder runs single-turn instruction mode.
  CliResult t5 = run("chat " + std::string(AUTOLM_SOURCE_DIR) + "/models/t5-numbers", "spell: 4021\n");
  ASSERT_EQ(t5.code, 0) << t5.err;
  EXPECT_EQ(t5.out, "four thousand twenty-one\n");
}

}  // namespace
}  // namespace autolm

namespace autolm {
namespace {

// --task applies config.json task_specific_params: the prefix and its generation settings.
TEST(CliTask, PrefixAndSettingsFromTaskSpecificParams) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("autolm-task-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(std::string(AUTOLM_SOURCE_DIR) + "/models/t5-numbers", dir);
  auto cfg = load_json_file((dir / "config.json").string());
  cfg["task_specific_params"] = {{"spell", {{"prefix", "spell: "}, {"max_new_tokens", 2}}},
                                 {"dates", {{"prefix", "date: "}}}};
  std::ofstream(dir / "config.json") << cfg.dump();
  CliResult r = run("generate " + dir.string() + " --task dates 2024-03-05");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "March 5, 2024\n");
  // The task's max_new_tokens (2) cuts the answer; a flag still overrides it.
  CliResult short_run = run("generate " + dir.string() + " --task spell 4021 --json");
  ASSERT_EQ(short_run.code, 0) << short_run.err;
  EXPECT_EQ(nlohmann::json::parse(short_run.out)["new_tokens"][0].size(), 3u);  // start + 2 tokens
  CliResult full = run("generate " + dir.string() + " --task spell 4021 --max-new-tokens 32");
  EXPECT_EQ(full.out, "four thousand twenty-one\n");
  CliResult unknown = run("generate " + dir.string() + " --task summarization hello");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("spell"), std::string::npos) << unknown.err;  // lists the known tasks
  // Hostile entries: a non-string prefix, a task that is not an object, an out-of-range field.
  cfg["task_specific_params"] = {{"num", {{"prefix", 5}}}, {"list", {1, 2}}, {"huge", {{"num_beams", 1e12}}}};
  std::ofstream(dir / "config.json", std::ios::trunc) << cfg.dump();
  CliResult num = run("generate " + dir.string() + " --task num 4021");
  EXPECT_EQ(num.code, 2) << num.err;
  EXPECT_NE(num.err.find("\"prefix\" must be a string, got 5"), std::string::npos) << num.err;
  CliResult list = run("generate " + dir.string() + " --task list 4021");
  EXPECT_EQ(list.code, 2) << list.err;
  EXPECT_NE(list.err.find("\"list\""), std::string::npos) << list.err;
  CliResult huge = run("generate " + dir.string() + " --task huge 4021");
  EXPECT_EQ(huge.code, 2) << huge.err;
  EXPECT_NE(huge.err.find("task_specific_params.huge: field \"num_beams\" = 1000000000000.0 is out of range"),
            std::string::npos) << huge.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace autolm

namespace autolm {
namespace {

TEST(CliChat, RenderNeedsOnlyTokenizerFiles) {
  // A tokenizer-only folder (no config.json, no weights) renders its template.
  const std::string file = ::testing::TempDir() + "autolm_render_" + std::to_string(::getpid()) + ".json";
  std::ofstream(file) << R"([{"role": "user", "content": "Hi"}])";
  CliResult r = run("chat " + test::fixtures() + "/tokenizers/qwen-bpe --render --messages " + file);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(CliChat, ExplicitTemplateFile) {
  const std::string tpl = ::testing::TempDir() + "autolm_tpl_" + std::to_string(::getpid()) + ".jinja";
  std::ofstream(tpl) << "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}";
  const std::string file = ::testing::TempDir() + "autolm_tplmsg_" + std::to_string(::getpid()) + ".json";
  std::ofstream(file) << R"([{"role": "user", "content": "Hi"}])";
  CliResult r = run("chat " + test::model_dir("gpt2-tiny") + " --template " + tpl + " --render --messages " + file);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[user] Hi\n");
  // A template that raises reaches the user as a clear error, not a crash.
  std::ofstream(tpl) << "{{ raise_exception('only user messages') }}";
  CliResult bad = run("chat " + test::model_dir("gpt2-tiny") + " --template " + tpl + " --render --messages " + file);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("only user messages"), std::string::npos) << bad.err;
}

// apply_chat_template's arguments from the command line: --tools, --documents, --template-var,
// --no-generation-prompt, --continue-final-message; the render is transformers 5.24's
// (tests/data/chat/refs.json.gz, Qwen3's own template on the qwen3-tiny fixture).
TEST(CliChat, TemplateArgumentsMatchTransformers) {
  using ojson = nlohmann::ordered_json;
  const std::string data = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/chat/";
  std::string text;
  gzFile gz = gzopen((data + "refs.json.gz").c_str(), "rb");
  ASSERT_NE(gz, nullptr);
  char buf[1 << 16];
  for (int n; (n = gzread(gz, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  gzclose(gz);
  const ojson refs = ojson::parse(text);
  const std::string tmp = ::testing::TempDir() + "autolm_chatargs_" + std::to_string(::getpid());
  int checked = 0;
  for (const auto& c : refs["cases"]) {
    if (c["template"] != "Qwen-Qwen3-0.6B") continue;
    const ojson& conv = refs["conversations"][c["conversation"].get<std::string>()];
    std::ofstream(tmp + "_messages.json") << conv["messages"].dump();
    std::string args = "chat " + std::string(AUTOLM_SOURCE_DIR) + "/tests/data/fixtures/models/qwen3-tiny --template " +
                       data + "templates/Qwen-Qwen3-0.6B.jinja --render --messages " + tmp + "_messages.json";
    bool supported = true;
    for (auto it = conv.begin(); it != conv.end(); ++it) {
      const std::string& k = it.key();
      const ojson& v = it.value();
      if (k == "messages") continue;
      if (k == "tools" || k == "documents") {
        std::ofstream(tmp + "_" + k + ".json") << v.dump();
        args += " --" + k + " " + tmp + "_" + k + ".json";
      } else if (k == "add_generation_prompt") {
        if (!v.get<bool>()) args += " --no-generation-prompt";
      } else if (k == "continue_final_message") {
        args += v.is_string() ? " --continue-final-message=" + v.get<std::string>() : std::string(" --continue-final-message");
        if (conv.contains("add_generation_prompt")) supported = false;  // the flags cannot ask for both
      } else {
        std::string text = v.dump();
        if (!v.is_string() || v.get<std::string>().find(' ') != std::string::npos) text = "'" + text + "'";
        else text = v.get<std::string>();
        args += " --template-var '" + k + "'=" + text;
      }
    }
    if (!supported) continue;
    SCOPED_TRACE(c["conversation"].get<std::string>() + ": autolm " + args);
    CliResult r = run(args);
    if (c.contains("expected")) {
      ASSERT_EQ(r.code, 0) << r.err;
      EXPECT_EQ(r.out, c["expected"].get<std::string>());
    } else {
      EXPECT_EQ(r.code, 2) << r.out;
    }
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

// Ctrl-C during generation: the CLI stops cleanly (exit 0) and prints what it generated.
TEST(CliGenerate, InterruptStopsCleanly) {
  const std::string cmd = "sh -c '" + std::string(AUTOLM_CLI) + " generate " + std::string(AUTOLM_SOURCE_DIR) +
                          "/models/chat-tiny \"The secret of life is\" --max-new-tokens 400 --min-new-tokens 400"
                          " >/dev/null 2>&1 & p=$!; sleep 0.3; kill -INT $p 2>/dev/null; wait $p; echo $?'";
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[64] = {0};
  ASSERT_NE(fgets(buf, sizeof buf, p), nullptr);
  ::pclose(p);
  EXPECT_EQ(std::string(buf), "0\n");  // finished or interrupted, never killed by the signal
}

}  // namespace
}  // namespace autolm

namespace autolm {
namespace {

TEST(CliGenerate, BeamSearchPrintsScores) {
  auto ref = test::load_ref("t5-tiny");
  const auto& g = ref["cases"][0]["gen"]["beam4"];
  CliResult r = run("generate " + test::model_dir("t5-tiny") + " --input-ids " + join(ref["cases"][0]["input_ids"]) +
                    " --num-beams 4 --num-return-sequences 2 --max-new-tokens 12 --early-stopping true --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["sequences"], g["sequences"]);
  ASSERT_EQ(j["sequences_scores"].size(), 2u);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(j["sequences_scores"][i].get<double>(), g["sequences_scores"][i].get<double>(), 1e-4);
  // Without --json, beam search prints the texts (no streaming).
  CliResult text = run("generate " + std::string(AUTOLM_SOURCE_DIR) + "/models/t5-numbers \"spell: 4021\" --num-beams 3");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_EQ(text.out, "four thousand twenty-one\n");
}

}  // namespace
}  // namespace autolm

namespace autolm {
namespace {

// "none" switches a file's setting off, as generation_config.<field> = None does: the output
// equals that of a copy of the folder whose generation_config.json lacks the field.
TEST(CliGenerate, NoneSwitchesOffTheFilesSetting) {
  namespace fs = std::filesystem;
  struct Case {
    const char* model;
    const char* field;
    const char* flag;
    bool changes_output;  // marian-tiny's bad word (pad) is never the argmax anyway
  };
  for (const Case& c : {Case{"bart-tiny", "forced_bos_token_id", "--forced-bos-token-id none", true},
                        Case{"marian-tiny", "bad_words_ids", "--bad-words-ids none", false},
                        Case{"bart-tiny", "forced_eos_token_id", "--forced-eos-token-id none", true}}) {
    const fs::path copy = fs::path(::testing::TempDir()) / ("autolm_none_" + std::to_string(::getpid()) + c.model);
    fs::remove_all(copy);
    fs::copy(test::model_dir(c.model), copy);
    nlohmann::json gen = nlohmann::json::parse(std::ifstream(copy / "generation_config.json"));
    ASSERT_TRUE(gen.contains(c.field)) << c.model;
    gen.erase(c.field);
    std::ofstream(copy / "generation_config.json", std::ios::trunc) << gen.dump();
    const std::string args = " --input-ids 5,9,13,2 --max-new-tokens 6 --json";
    CliResult with_none = run("generate " + test::model_dir(c.model) + args + " " + c.flag);
    CliResult without = run("generate " + copy.string() + args);
    CliResult as_file = run("generate " + test::model_dir(c.model) + args);
    ASSERT_EQ(with_none.code, 0) << with_none.err;
    ASSERT_EQ(without.code, 0) << without.err;
    EXPECT_EQ(nlohmann::json::parse(with_none.out)["sequences"], nlohmann::json::parse(without.out)["sequences"]) << c.flag;
    if (c.changes_output) {
      EXPECT_NE(nlohmann::json::parse(as_file.out)["sequences"], nlohmann::json::parse(without.out)["sequences"]) << c.field;
    }
    fs::remove_all(copy);
  }
}

// A --messages file the user pipes in (`<(…)`, /dev/stdin) is read, bounded like any file.
TEST(CliChat, MessagesFromAPipe) {
  const std::string cmd = "printf '%s' '[{\"role\":\"user\",\"content\":\"hi\"}]' | " + std::string(AUTOLM_CLI) +
                          " chat " + std::string(AUTOLM_SOURCE_DIR) + "/models/chat-tiny --render --messages /dev/stdin 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_EQ(out, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(CliGenerate, FolderWithoutTokenizerTakesIdsOnly) {
  const std::string dir = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/rope/default";  // weights, no tokenizer
  CliResult ids = run("generate " + dir + " --input-ids 1,5,9 --max-new-tokens 3");
  ASSERT_EQ(ids.code, 0) << ids.err;
  EXPECT_EQ(std::count(ids.out.begin(), ids.out.end(), ','), 2) << ids.out;  // three new ids
  CliResult json_out = run("generate " + dir + " --input-ids 1,5,9 --max-new-tokens 3 --json");
  ASSERT_EQ(json_out.code, 0) << json_out.err;
  EXPECT_FALSE(nlohmann::json::parse(json_out.out).contains("text"));
  CliResult text = run("generate " + dir + " hello");
  EXPECT_EQ(text.code, 2);
  EXPECT_NE(text.err.find("no tokenizer.json"), std::string::npos) << text.err;
}

// The cache of quantized weights (io/weight_cache.h) from the command line: --no-cache on every
// command that loads a model, and four processes loading the same model at once (all writing the
// entry) leave one entry, no temporary file, and the output of a load without the cache.
TEST(CliCache, NoCacheFlagAndConcurrentLoads) {
  namespace fs = std::filesystem;
  const std::string cache = ::testing::TempDir() + "autolm_cli_cache_" + std::to_string(::getpid());
  fs::remove_all(cache);
  ::unsetenv("AUTOLM_NO_CACHE");  // ctest sets it for every test
  ::setenv("AUTOLM_CACHE", cache.c_str(), 1);
  const std::string model = test::model_dir("llama-tiny");
  const std::string gen = "generate " + model + " --input-ids 1,5,9 --max-new-tokens 8 --json --dtype int4";
  for (const std::string& args : {"info " + model + " --dtype int8", gen, "logits " + model + " --input-ids 1,2 --dtype int8"}) {
    CliResult r = run(args + " --no-cache");
    ASSERT_EQ(r.code, 0) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(cache)) << args;
  }
  for (const char* cmd : {"serve", "chat"}) EXPECT_NE(run(std::string(cmd) + " --help").out.find("--no-cache"), std::string::npos) << cmd;
  const CliResult want = run(gen + " --no-cache");
  ASSERT_EQ(want.code, 0) << want.err;
  std::string script;
  for (int i = 0; i < 4; ++i) script += std::string(AUTOLM_CLI) + " " + gen + " > " + cache + ".out" + std::to_string(i) + " 2>&1 & ";
  ASSERT_EQ(std::system(("sh -c '" + script + "wait'").c_str()), 0);
  for (int i = 0; i < 4; ++i) {
    std::ifstream f(cache + ".out" + std::to_string(i));
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), want.out) << i;
    fs::remove(cache + ".out" + std::to_string(i));
  }
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(cache)) files.push_back(e.path().filename().string());
  ASSERT_EQ(files.size(), 1u) << files[0] << " " << files.back();
  EXPECT_NE(files[0].find("-int4-"), std::string::npos) << files[0];
  EXPECT_EQ(run(gen).out, want.out);  // from the entry
  fs::remove_all(cache);
}

// Every `--flag` the docs write after `autolm <command>` (README.md, docs/*.md, within the same
// line or code span; a trailing `\` continues the line) and every flag of the Kubernetes
// Deployment's `args` is an option of that command's --help. Flags named without a command in
// front (prose like "`--kv-budget` bounds ...") are not checked.
TEST(Cli, FlagsNamedInTheDocsExist) {
  namespace fs = std::filesystem;
  const std::string root = AUTOLM_SOURCE_DIR;
  std::map<std::string, std::set<std::string>> options;  // command → its --flags
  auto options_of = [&](const std::string& cmd) -> const std::set<std::string>& {
    auto it = options.find(cmd);
    if (it != options.end()) return it->second;
    const CliResult r = run(cmd + " --help");
    EXPECT_EQ(r.code, 0) << cmd << " --help: " << r.err;
    std::set<std::string> flags;
    static const std::regex kFlag("--[a-z][a-z0-9-]*");
    for (std::sregex_iterator m(r.out.begin(), r.out.end(), kFlag), end; m != end; ++m) flags.insert(m->str());
    EXPECT_GT(flags.size(), 1u) << cmd;
    return options[cmd] = flags;
  };
  static const std::string kCommands = "info|logits|generate|tokenize|detokenize|chat|download|serve";
  static const std::regex kInvocation("autolm ((?:" + kCommands + ")(?:\\|(?:" + kCommands + "))*)\\b");
  static const std::regex kFlag("(^|[\\s\\[(\"'`])(--[a-z][a-z0-9-]*)");
  auto check = [&](const std::string& file, int line, const std::string& cmds, const std::string& text) {
    std::stringstream names(cmds);
    for (std::string cmd; std::getline(names, cmd, '|');)
      for (std::sregex_iterator m(text.begin(), text.end(), kFlag), end; m != end; ++m)
        EXPECT_TRUE(options_of(cmd).count((*m)[2].str()))
            << file << ":" << line << ": `autolm " << cmd << " " << (*m)[2].str() << "` is not an option of "
            << "`autolm " << cmd << " --help`";
  };
  std::vector<std::string> docs = {root + "/README.md"};
  for (const auto& e : fs::directory_iterator(root + "/docs"))
    if (e.path().extension() == ".md") docs.push_back(e.path().string());
  size_t checked = 0;
  for (const auto& path : docs) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string text = lines[i];
      for (size_t j = i; !text.empty() && text.back() == '\\' && j + 1 < lines.size();) text += "\n" + lines[++j];
      for (std::sregex_iterator m(text.begin(), text.end(), kInvocation), end; m != end; ++m) {
        std::string rest = text.substr(size_t(m->position() + m->length()));
        // Inside a code span: up to its closing backtick (a fenced block has none on the line).
        if (m->position() > 0 && std::count(text.begin(), text.begin() + m->position(), '`') % 2 == 1)
          rest = rest.substr(0, rest.find('`'));
        check(fs::path(path).filename().string(), int(i + 1), (*m)[1].str(), rest);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 20u) << "the docs' autolm command lines were not found";
  // deploy/k8s/deployment.yaml: args: ["serve", "/models/model", "--host", ...]
  std::ifstream in(root + "/deploy/k8s/deployment.yaml");
  const std::string yaml((std::istreambuf_iterator<char>(in)), {});
  std::smatch args;
  ASSERT_TRUE(std::regex_search(yaml, args, std::regex("args: \\[\"(" + kCommands + ")\"([^\\]]*)\\]")))
      << "deployment.yaml has no args: [\"<command>\", ...]";
  EXPECT_NE(args[2].str().find("--max-batch"), std::string::npos);
  check("deployment.yaml", 0, args[1].str(), args[2].str());
}

}  // namespace
}  // namespace autolm
