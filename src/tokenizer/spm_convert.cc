// Folders with only a SentencePiece model: transformers 5.24 does not run SentencePiece, it
// converts the model into the tokenizers pipeline (TokenizersBackend._convert_from_sentencepiece:
// SentencePieceExtractor for the vocabulary and merges, then the class's own __init__ for the
// normalizer, pre-tokenizer, decoder and post-processor). The same pipeline is built here as a
// tokenizer.json and loaded by the JSON backend, for the classes whose construction is known:
// LlamaTokenizer (Llama 2, Mistral, …) and T5Tokenizer.
#include <algorithm>
#include <unordered_map>

#include "autolm/error.h"
#include "tokenizer/backend.h"
#include "tokenizer/components.h"
#include "tokenizer/spm_model.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {
namespace {

std::optional<std::string> token_string(const json& cfg, const char* key) {
  if (!cfg.contains(key)) return std::nullopt;
  const json& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

std::string base64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += k[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// transformers' generate_merges(vocab) without scores: for each piece in id order, every split
// into two pieces of the vocabulary, ordered by the merged piece's id, then by the left part's
// length (characters).
json generate_merges(const SpmModel& m, const std::unordered_map<std::string, int32_t>& vocab) {
  json merges = json::array();
  for (size_t id = 0; id < m.pieces.size(); ++id) {
    const std::string& p = m.pieces[id].piece;
    auto it = vocab.find(p);
    if (it == vocab.end() || it->second != static_cast<int32_t>(id)) continue;  // a duplicate: the dict kept the last id
    size_t len;
    for (size_t b = utf8_len(static_cast<unsigned char>(p[0])); b < p.size(); b += len) {
      len = utf8_len(static_cast<unsigned char>(p[b]));
      std::string l = p.substr(0, b), r = p.substr(b);
      if (vocab.count(l) && vocab.count(r)) merges.push_back(json::array({l, r}));
    }
  }
  return merges;
}

json template_processing(const std::vector<std::pair<std::string, int32_t>>& before,
                         const std::vector<std::pair<std::string, int32_t>>& after) {
  json single = json::array(), pair = json::array(), specials = json::object();
  auto add = [&](json& seq, const std::pair<std::string, int32_t>& t, int type_id) {
    seq.push_back({{"SpecialToken", {{"id", t.first}, {"type_id", type_id}}}});
    specials[t.first] = {{"id", t.first}, {"ids", json::array({t.second})}, {"tokens", json::array({t.first})}};
  };
  for (const auto& t : before) add(single, t, 0);
  single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  for (const auto& t : after) add(single, t, 0);
  for (const auto& t : before) add(pair, t, 0);
  pair.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  for (const auto& t : after) add(pair, t, 0);
  for (const auto& t : before) add(pair, t, 1);
  pair.push_back({{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
  for (const auto& t : after) add(pair, t, 1);
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
}

bool cfg_bool(const json& cfg, const char* key, bool fallback) {
  if (!cfg.contains(key) || cfg[key].is_null()) return fallback;
  if (!cfg[key].is_boolean()) throw Error(ErrorKind::kInvalidInput, std::string("tokenizer_config.json: \"") + key + "\" must be a boolean");
  return cfg[key].get<bool>();
}

}  // namespace

std::shared_ptr<const Backend> make_converted_spm_backend(const std::string& model_path, const json& cfg,
                                                          const std::string& cls) {
  const bool llama = cls == "LlamaTokenizer", t5 = cls == "T5Tokenizer";
  if (!llama && !t5) return nullptr;
  SpmModel m = load_spm_model(model_path);
  if (llama && m.model_type != SpmModel::kBpe) return nullptr;
  if (t5 && m.model_type != SpmModel::kUnigram) return nullptr;

  // T5Converter.convert_from_spm: the sentinels <extra_id_N> join the Unigram vocabulary,
  // highest N first, score 0.
  std::vector<std::pair<std::string, float>> pieces;
  for (const auto& p : m.pieces) pieces.emplace_back(p.piece, p.score);
  if (t5) {
    int extra = cfg.contains("extra_ids") && cfg["extra_ids"].is_number_integer() ? cfg["extra_ids"].get<int>() : 100;
    if (extra < 0 || extra > 100000) throw Error(ErrorKind::kInvalidInput, "tokenizer_config.json: \"extra_ids\" out of range");
    for (int n = extra - 1; n >= 0; --n) pieces.emplace_back("<extra_id_" + std::to_string(n) + ">", 0.0f);
  }
  std::unordered_map<std::string, int32_t> vocab;
  for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i].first] = static_cast<int32_t>(i);
  auto id_of = [&](const std::string& t) -> std::optional<int32_t> {
    auto it = vocab.find(t);
    if (it == vocab.end()) return std::nullopt;
    return it->second;
  };

  // Added tokens, in the order their ids are given out: tokenizer_config's added_tokens_decoder
  // (by id), the named special tokens, the model's control (special) and user-defined pieces,
  // then the class's additional special tokens (T5's <extra_id_N>).
  json added = json::array();
  std::unordered_map<std::string, bool> seen;
  auto add = [&](const std::string& content, bool special) {
    if (content.empty() || seen.count(content)) return;
    seen[content] = true;
    added.push_back({{"id", id_of(content).value_or(0)}, {"content", content}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", special}});
  };
  if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
    std::vector<std::pair<long, json>> entries;
    for (auto it = cfg["added_tokens_decoder"].begin(); it != cfg["added_tokens_decoder"].end(); ++it) {
      long id;
      try {
        id = std::stol(it.key());
      } catch (const std::exception&) {
        throw Error(ErrorKind::kInvalidInput, "tokenizer_config.json: added_tokens_decoder key \"" + it.key() + "\" is not an id");
      }
      entries.emplace_back(id, it.value());
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [id, v] : entries)
      if (v.is_object() && v.contains("content") && v["content"].is_string())
        add(v["content"].get<std::string>(), v.value("special", true));
  }
  std::string unk = token_string(cfg, "unk_token").value_or("<unk>");
  std::string eos = token_string(cfg, "eos_token").value_or("</s>");
  std::string bos = token_string(cfg, "bos_token").value_or("<s>");
  std::string pad = token_string(cfg, "pad_token").value_or("<pad>");
  std::vector<std::string> named;
  if (llama) named = {unk, bos, eos};
  else named = {eos, unk, pad};
  for (const char* key : {"sep_token", "cls_token", "mask_token"})
    if (auto t = token_string(cfg, key)) named.push_back(*t);
  if (llama && cfg.contains("pad_token") && !cfg["pad_token"].is_null()) named.push_back(pad);
  for (const auto& t : named)
    if (id_of(t) || t5) add(t, true);
  for (const auto& p : m.pieces)
    if (p.type == SpmModel::kControl || p.type == SpmModel::kUserDefined) add(p.piece, p.type == SpmModel::kControl);
  for (const char* key : {"additional_special_tokens", "extra_special_tokens"})
    if (cfg.contains(key) && cfg[key].is_array())
      for (const auto& v : cfg[key]) {
        if (v.is_string()) add(v.get<std::string>(), true);
        else if (v.is_object() && v.contains("content") && v["content"].is_string()) add(v["content"].get<std::string>(), true);
      }
  if (t5)
    for (size_t i = m.pieces.size(); i < pieces.size(); ++i) add(pieces[i].first, true);

  json j = json::object();
  if (llama) {
    json v = json::object();
    for (size_t i = 0; i < m.pieces.size(); ++i) v[m.pieces[i].piece] = static_cast<int32_t>(i);
    j["model"] = {{"type", "BPE"},          {"dropout", nullptr},
                  {"unk_token", nullptr},   {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr}, {"fuse_unk", true},
                  {"byte_fallback", true},  {"ignore_merges", false},
                  {"vocab", std::move(v)},  {"merges", generate_merges(m, vocab)}};
    // LlamaTokenizer.__init__: add_prefix_space (default true) and legacy (default false).
    bool prefix = cfg_bool(cfg, "add_prefix_space", true);
    bool legacy = cfg_bool(cfg, "legacy", false);
    std::string scheme = prefix ? (legacy ? "always" : "first") : "never";
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", scheme}, {"split", false}};
    json dec = json::array({{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                            {{"type", "ByteFallback"}},
                            {{"type", "Fuse"}}});
    if (prefix) dec.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    j["decoder"] = {{"type", "Sequence"}, {"decoders", dec}};
    // TokenizersBackend.update_post_processor: bos / eos as add_bos_token / add_eos_token say
    // (both false when tokenizer_config.json leaves them out).
    std::vector<std::pair<std::string, int32_t>> before, after;
    if (cfg_bool(cfg, "add_bos_token", false))
      if (auto id = id_of(bos)) before.emplace_back(bos, *id);
    if (cfg_bool(cfg, "add_eos_token", false))
      if (auto id = id_of(eos)) after.emplace_back(eos, *id);
    j["post_processor"] = template_processing(before, after);
  } else {
    json v = json::array();
    for (const auto& p : pieces) v.push_back(json::array({p.first, p.second}));
    j["model"] = {{"type", "Unigram"}, {"unk_id", 2}, {"vocab", std::move(v)}, {"byte_fallback", false}};
    if (!m.precompiled_charsmap.empty())
      j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", base64(m.precompiled_charsmap)}};
    else
      j["normalizer"] = nullptr;
    json meta = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "always"}, {"split", true}};
    j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", json::array({{{"type", "WhitespaceSplit"}}, meta})}};
    j["decoder"] = meta;
    std::vector<std::pair<std::string, int32_t>> after;
    if (auto id = id_of(eos)) after.emplace_back(eos, *id);
    j["post_processor"] = template_processing({}, after);
  }
  j["added_tokens"] = std::move(added);
  return make_json_backend(std::move(j), model_path);
}

}  // namespace autolm::tokenizer_detail
