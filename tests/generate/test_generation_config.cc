// GenerationConfig: HF defaults, layering (defaults < folder < caller), types and validation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "autolm/generation.h"

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
