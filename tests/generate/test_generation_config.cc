// GenerationConfig: HF defaults, layering (defaults < folder < caller), types and validation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "autolm/generation.h"
#include "io/json_file.h"

namespace autolm {
namespace {

namespace fs = std::filesystem;

fs::path temp_folder(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("autolm_gen_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

TEST(GenerationConfig, HfDefaults) {
  GenerationConfig c;
  EXPECT_FALSE(c.max_length);
  EXPECT_FALSE(c.max_new_tokens);
  EXPECT_EQ(c.to_json()["max_length"], 20);
  EXPECT_EQ(c.top_k, 50);
  EXPECT_EQ(c.top_p, 1.0f);
  EXPECT_EQ(c.temperature, 1.0f);
  EXPECT_EQ(c.num_beams, 1);
  EXPECT_EQ(c.length_penalty, 1.0f);
  EXPECT_EQ(c.early_stopping, EarlyStopping::kFalse);
  EXPECT_FALSE(c.do_sample);
  EXPECT_NO_THROW(c.validate());
}

TEST(GenerationConfig, LayeringFolderThenCaller) {
  fs::path d = temp_folder("layer");
  write(d / "config.json", R"({"eos_token_id": 9, "pad_token_id": 8})");
  write(d / "generation_config.json",
        R"({"eos_token_id": [2, 0], "max_new_tokens": 64, "pad_token_id": 0, "transformers_version": "5.17.0",
            "some_unknown_field": {"x": 1}})");
  GenerationConfig c = GenerationConfig::from_pretrained(d.string());
  EXPECT_EQ(c.eos_token_id, (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(*c.max_new_tokens, 64);
  EXPECT_EQ(*c.pad_token_id, 0);
  c.update(nlohmann::json{{"max_new_tokens", 5}, {"do_sample", true}, {"top_p", 0.9}, {"early_stopping", "never"},
                          {"eos_token_id", 7}, {"stop_strings", "\n\n"}});
  EXPECT_EQ(*c.max_new_tokens, 5);
  EXPECT_TRUE(c.do_sample);
  EXPECT_FLOAT_EQ(c.top_p, 0.9f);
  EXPECT_EQ(c.early_stopping, EarlyStopping::kNever);
  EXPECT_EQ(c.eos_token_id, (std::vector<int64_t>{7}));
  EXPECT_EQ(c.stop_strings, (std::vector<std::string>{"\n\n"}));
  c.num_beams = 3;  // struct field after JSON: caller wins
  EXPECT_EQ(c.num_beams, 3);
  c.update(nlohmann::json{{"max_new_tokens", nullptr}});  // null resets to the default
  EXPECT_FALSE(c.max_new_tokens);
  fs::remove_all(d);
}

TEST(GenerationConfig, FallbackToConfigJson) {
  fs::path d = temp_folder("fallback");
  write(d / "config.json",
        R"({"model_type": "bart", "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
            "decoder_start_token_id": 2, "forced_bos_token_id": 0, "forced_eos_token_id": 2,
            "num_beams": 4, "max_length": 142, "d_model": 16})");
  GenerationConfig c = GenerationConfig::from_pretrained(d.string());
  EXPECT_EQ(*c.bos_token_id, 0);
  EXPECT_EQ(c.eos_token_id, (std::vector<int64_t>{2}));
  EXPECT_EQ(*c.pad_token_id, 1);
  EXPECT_EQ(*c.decoder_start_token_id, 2);
  EXPECT_EQ(*c.forced_bos_token_id, 0);
  EXPECT_EQ(*c.forced_eos_token_id, (std::vector<int64_t>{2}));
  EXPECT_EQ(c.num_beams, 4);
  EXPECT_EQ(*c.max_length, 142);
  fs::remove_all(d);
}

TEST(GenerationConfig, FileMaxLength20IsTheDefault) {
  GenerationConfig c = GenerationConfig::from_json(nlohmann::json{{"max_length", 20}});
  EXPECT_FALSE(c.max_length);
  GenerationConfig d = GenerationConfig::from_json(nlohmann::json{{"max_length", 30}});
  EXPECT_EQ(*d.max_length, 30);
}

TEST(GenerationConfig, WrongTypesNameTheField) {
  GenerationConfig c;
  try {
    c.update(nlohmann::json{{"temperature", "hot"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("temperature"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("hot"), std::string::npos);
  }
  EXPECT_THROW(c.update(nlohmann::json{{"early_stopping", "sometimes"}}), Error);
  EXPECT_THROW(c.update(nlohmann::json{{"max_new_tokens", 1.5}}), Error);
  EXPECT_THROW(c.update(nlohmann::json{{"bad_words_ids", nlohmann::json::array({1, 2})}}), Error);
  EXPECT_THROW(c.update(nlohmann::json::array()), Error);
  EXPECT_NO_THROW(c.update(nlohmann::json{{"use_cache", true}, {"return_dict_in_generate", true}}));
}

void expect_invalid(const nlohmann::json& j, const std::string& field, const std::string& value) {
  GenerationConfig c;
  c.update(j);
  try {
    c.validate();
    ADD_FAILURE() << "no error for " << j.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    const std::string msg = e.what();
    EXPECT_NE(msg.find(field), std::string::npos) << msg;
    EXPECT_NE(msg.find(value), std::string::npos) << msg;
  }
}

TEST(GenerationConfig, ValidationErrorsNameFieldAndValue) {
  expect_invalid({{"temperature", -0.5}}, "temperature", "-0.5");
  expect_invalid({{"do_sample", true}, {"temperature", 0}}, "temperature", "0");
  expect_invalid({{"top_p", 1.5}}, "top_p", "1.5");
  expect_invalid({{"top_p", 0}}, "top_p", "0");
  expect_invalid({{"top_k", -1}}, "top_k", "-1");
  expect_invalid({{"min_p", 2}}, "min_p", "2");
  expect_invalid({{"typical_p", 0}}, "typical_p", "0");
  expect_invalid({{"repetition_penalty", 0}}, "repetition_penalty", "0");
  expect_invalid({{"num_beams", 0}}, "num_beams", "0");
  expect_invalid({{"num_beams", 2}, {"num_return_sequences", 3}}, "num_return_sequences", "3");
  expect_invalid({{"num_return_sequences", 2}}, "num_return_sequences", "2");
  expect_invalid({{"max_new_tokens", 0}}, "max_new_tokens", "0");
  expect_invalid({{"min_new_tokens", -1}}, "min_new_tokens", "-1");
  expect_invalid({{"no_repeat_ngram_size", -2}}, "no_repeat_ngram_size", "-2");
  expect_invalid({{"eos_token_id", -3}}, "eos_token_id", "-3");
  expect_invalid({{"bad_words_ids", nlohmann::json::array()}}, "bad_words_ids", "[]");
  // valid combinations
  GenerationConfig ok;
  ok.update({{"do_sample", true}, {"num_return_sequences", 4}, {"top_p", 1.0}, {"min_p", 0.0}});
  EXPECT_NO_THROW(ok.validate());
  GenerationConfig greedy_zero_temp;
  greedy_zero_temp.update({{"temperature", 0.0}});
  EXPECT_NO_THROW(greedy_zero_temp.validate());  // HF: only a warning without do_sample
}

TEST(GenerationConfig, NewFieldsParseAndRoundTrip) {
  GenerationConfig c;
  EXPECT_FALSE(c.sequence_bias);
  EXPECT_EQ(c.encoder_repetition_penalty, 1.0);
  EXPECT_FALSE(c.remove_invalid_values);
  EXPECT_FALSE(c.exponential_decay_length_penalty);
  EXPECT_EQ(c.epsilon_cutoff, 0.0f);
  EXPECT_EQ(c.eta_cutoff, 0.0f);
  EXPECT_FALSE(c.max_time);
  c.update({{"sequence_bias", {{{3}, 2.5}, {{4, 5}, -1.0}}},
            {"encoder_repetition_penalty", 1.3},
            {"remove_invalid_values", true},
            {"exponential_decay_length_penalty", {4, 1.1}},
            {"epsilon_cutoff", 3e-4},
            {"eta_cutoff", 2e-3},
            {"max_time", 2.5},
            {"eos_token_id", 2}});
  ASSERT_TRUE(c.sequence_bias);
  ASSERT_EQ(c.sequence_bias->size(), 2u);
  EXPECT_EQ((*c.sequence_bias)[1].first, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ((*c.sequence_bias)[1].second, -1.0f);
  EXPECT_EQ(c.encoder_repetition_penalty, 1.3);  // kept as a double, like transformers
  EXPECT_TRUE(c.remove_invalid_values);
  EXPECT_EQ(c.exponential_decay_length_penalty->first, 4);
  EXPECT_EQ(c.exponential_decay_length_penalty->second, 1.1);
  EXPECT_FLOAT_EQ(c.epsilon_cutoff, 3e-4f);
  EXPECT_FLOAT_EQ(c.eta_cutoff, 2e-3f);
  EXPECT_EQ(*c.max_time, 2.5);
  EXPECT_NO_THROW(c.validate());
  GenerationConfig d;
  d.update(c.to_json());
  EXPECT_EQ(c.to_json(), d.to_json());
  EXPECT_EQ(d.to_json()["sequence_bias"], nlohmann::json::parse("[[[3], 2.5], [[4, 5], -1.0]]"));
  EXPECT_EQ(d.to_json()["exponential_decay_length_penalty"], nlohmann::json::parse("[4, 1.1]"));
  // null resets
  d.update({{"sequence_bias", nullptr}, {"encoder_repetition_penalty", nullptr}, {"max_time", nullptr},
            {"exponential_decay_length_penalty", nullptr}, {"epsilon_cutoff", nullptr}});
  EXPECT_FALSE(d.sequence_bias);
  EXPECT_EQ(d.encoder_repetition_penalty, 1.0);
  EXPECT_FALSE(d.max_time);
  EXPECT_FALSE(d.exponential_decay_length_penalty);
  EXPECT_EQ(d.epsilon_cutoff, 0.0f);
}

TEST(GenerationConfig, NewFieldsWrongTypes) {
  for (const char* bad : {R"({"sequence_bias": {"3": 1.0}})", R"({"sequence_bias": [[3, 1.0]]})",
                          R"({"sequence_bias": [[[3], "x"]]})", R"({"sequence_bias": [[[3], 1.0, 2.0]]})",
                          R"({"exponential_decay_length_penalty": 5})", R"({"exponential_decay_length_penalty": [5]})",
                          R"({"exponential_decay_length_penalty": [1.5, 2.0]})", R"({"max_time": "1s"})",
                          R"({"remove_invalid_values": 1})", R"({"epsilon_cutoff": "small"})"}) {
    GenerationConfig c;
    const auto j = nlohmann::json::parse(bad);
    try {
      c.update(j);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << bad;
      EXPECT_NE(std::string(e.what()).find(j.begin().key()), std::string::npos) << e.what();
    }
  }
}

TEST(GenerationConfig, NewFieldsValidation) {
  expect_invalid({{"epsilon_cutoff", 1.5}}, "epsilon_cutoff", "1.5");
  expect_invalid({{"epsilon_cutoff", 1.0}}, "epsilon_cutoff", "1");
  expect_invalid({{"epsilon_cutoff", -0.25}}, "epsilon_cutoff", "-0.25");
  expect_invalid({{"eta_cutoff", 1.0}}, "eta_cutoff", "1");
  expect_invalid({{"eta_cutoff", -0.5}}, "eta_cutoff", "-0.5");
  expect_invalid({{"encoder_repetition_penalty", 0}}, "encoder_repetition_penalty", "0");
  expect_invalid({{"encoder_repetition_penalty", -2}}, "encoder_repetition_penalty", "-2");
  expect_invalid({{"sequence_bias", nlohmann::json::array()}}, "sequence_bias", "[]");
  expect_invalid({{"sequence_bias", {{nlohmann::json::array(), 1.0}}}}, "sequence_bias", "[[]");
  expect_invalid({{"sequence_bias", {{{0}, 1.0}}}}, "sequence_bias", "0");  // 5.17: positive ids only
  expect_invalid({{"sequence_bias", {{{4, -3}, 1.0}}}}, "sequence_bias", "-3");
  expect_invalid({{"exponential_decay_length_penalty", {2, 1.5}}}, "exponential_decay_length_penalty",
                 "needs eos_token_id");
  expect_invalid({{"max_time", -1}}, "max_time", "-1");
  GenerationConfig ok;  // the defaults, as hub files spell them
  ok.update({{"epsilon_cutoff", 0.0}, {"eta_cutoff", 0.0}, {"encoder_repetition_penalty", 1.0},
             {"remove_invalid_values", false}, {"exponential_decay_length_penalty", nullptr},
             {"sequence_bias", nullptr}, {"max_time", nullptr}});
  EXPECT_NO_THROW(ok.validate());
  EXPECT_EQ(ok.to_json(), GenerationConfig{}.to_json());
  GenerationConfig zero_time;
  zero_time.update({{"max_time", 0}});
  EXPECT_NO_THROW(zero_time.validate());
}

// Fields that change transformers' output but that autolm does not implement are refused with
// kUnsupported naming the field, the value and where it came from.
void expect_unsupported(const nlohmann::json& j, const std::string& field, const std::string& value) {
  GenerationConfig c;
  try {
    c.update(j, "/models/x/generation_config.json");
    ADD_FAILURE() << "accepted " << j.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
    const std::string msg = e.what();
    EXPECT_NE(msg.find("\"" + field + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(value), std::string::npos) << msg;
    EXPECT_NE(msg.find("/models/x/generation_config.json"), std::string::npos) << msg;
  }
}

TEST(GenerationConfig, UnsupportedFieldsAreRefused) {
  expect_unsupported({{"guidance_scale", 1.5}}, "guidance_scale", "1.5");
  expect_unsupported({{"guidance_scale", 0}}, "guidance_scale", "0");
  expect_unsupported({{"penalty_alpha", 0.6}}, "penalty_alpha", "0.6");
  expect_unsupported({{"num_beam_groups", 2}}, "num_beam_groups", "2");
  expect_unsupported({{"diversity_penalty", 0.5}}, "diversity_penalty", "0.5");
  expect_unsupported({{"constraints", nlohmann::json::array()}}, "constraints", "[]");
  expect_unsupported({{"force_words_ids", {{5, 6}}}}, "force_words_ids", "[[5,6]]");
  expect_unsupported({{"assistant_early_exit", 4}}, "assistant_early_exit", "4");
  expect_unsupported({{"use_mtp", true}}, "use_mtp", "true");
  expect_unsupported({{"dola_layers", "high"}}, "dola_layers", "\"high\"");
  expect_unsupported({{"top_h", 0.4}}, "top_h", "0.4");
  expect_unsupported({{"watermarking_config", {{"bias", 2.0}}}}, "watermarking_config", "{\"bias\":2.0}");
  expect_unsupported({{"token_healing", true}}, "token_healing", "true");
  expect_unsupported({{"low_memory", true}}, "low_memory", "true");
  // From a folder: the message names the file.
  fs::path d = temp_folder("unsupported");
  write(d / "generation_config.json", R"({"eos_token_id": 2, "penalty_alpha": 0.6, "top_k": 4})");
  try {
    GenerationConfig::from_pretrained(d.string());
    ADD_FAILURE() << "penalty_alpha accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find((d / "generation_config.json").string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("penalty_alpha"), std::string::npos) << e.what();
  }
  fs::remove_all(d);
}

// What hub files carry at their defaults (transformers 4.x wrote every field) must load, and
// leave the configuration equal to the library defaults.
TEST(GenerationConfig, DefaultValuedFieldsAreAccepted) {
  const auto hub = nlohmann::json::parse(R"({
    "_from_model_config": true, "transformers_version": "4.38.0", "assistant_confidence_threshold": 0.4,
    "begin_suppress_tokens": null, "cache_implementation": "static", "constraints": null, "diversity_penalty": 0.0,
    "do_sample": false, "dola_layers": null, "encoder_no_repeat_ngram_size": 0, "encoder_repetition_penalty": 1.0,
    "epsilon_cutoff": 0.0, "eta_cutoff": 0.0, "exponential_decay_length_penalty": null, "force_words_ids": null,
    "guidance_scale": null, "is_assistant": false, "length_penalty": 1.0, "low_memory": null, "max_time": null,
    "num_assistant_tokens": 20, "num_assistant_tokens_schedule": "heuristic", "num_beam_groups": 1,
    "output_attentions": false, "output_hidden_states": false, "output_logits": null, "penalty_alpha": null,
    "prompt_lookup_num_tokens": null, "remove_invalid_values": false, "return_dict_in_generate": false,
    "sequence_bias": null, "token_healing": false, "top_h": null, "use_cache": true, "use_mtp": false,
    "watermarking_config": null, "max_matching_ngram_size": null, "assistant_early_exit": null,
    "assistant_lookbehind": 10, "target_lookbehind": 10, "compile_config": null, "disable_compile": false,
    "prefill_chunk_size": null, "max_cache_len": null, "cache_config": null})");
  GenerationConfig c;
  EXPECT_NO_THROW(c.update(hub, "hub generation_config.json"));
  // The assistant fields are kept (they matter when this folder is someone's assistant model).
  EXPECT_EQ(c.num_assistant_tokens, 20);
  EXPECT_EQ(c.num_assistant_tokens_schedule, "heuristic");
  EXPECT_EQ(c.assistant_confidence_threshold, 0.4);
  c.num_assistant_tokens.reset();
  c.num_assistant_tokens_schedule.reset();
  c.assistant_confidence_threshold.reset();
  EXPECT_EQ(c.to_json(), GenerationConfig{}.to_json());
  GenerationConfig d;  // values that leave transformers' output unchanged
  EXPECT_NO_THROW(d.update({{"guidance_scale", 1.0}, {"penalty_alpha", 0.0}, {"num_beam_groups", 1},
                            {"diversity_penalty", 0}, {"low_memory", false}, {"token_healing", nullptr}}));
}

// Every model folder of the parity fixtures loads: generation_config.json, and config.json alone
// (the fallback used when a folder has no generation_config.json).
TEST(GenerationConfig, EveryFixtureConfigLoads) {
  const fs::path root = AUTOLM_FIXTURES;
  if (!fs::exists(root)) GTEST_SKIP() << "no fixtures at " << root;
  int n = 0;
  for (const char* sub : {"models", "demo"}) {
    if (!fs::exists(root / sub)) continue;
    for (const auto& e : fs::directory_iterator(root / sub)) {
      if (!fs::exists(e.path() / "config.json")) continue;
      SCOPED_TRACE(e.path().string());
      EXPECT_NO_THROW(GenerationConfig::from_pretrained(e.path().string()).validate());
      EXPECT_NO_THROW(GenerationConfig::from_json(load_json_file((e.path() / "config.json").string()),
                                                  (e.path() / "config.json").string()));
      ++n;
    }
  }
  EXPECT_GT(n, 0);
}

TEST(GenerationConfig, JsonRoundTrip) {
  GenerationConfig c;
  c.update({{"eos_token_id", {1, 2}}, {"forced_eos_token_id", 2}, {"bad_words_ids", {{0}, {3, 4}}},
            {"early_stopping", true}, {"min_p", 0.1}, {"max_length", 33}});
  GenerationConfig d;
  d.update(c.to_json());
  EXPECT_EQ(c.to_json(), d.to_json());
  EXPECT_EQ(d.to_json()["forced_eos_token_id"], 2);
  EXPECT_EQ(d.to_json()["early_stopping"], true);
}

}  // namespace
}  // namespace autolm
