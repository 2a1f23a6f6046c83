// Tokenizer: tokenizer_config.json handling (special tokens, limits, clean-up), the public
// encode/decode entry points, and AutoTokenizer's choice of files in a folder.
#include "autolm/tokenizer.h"

#include <algorithm>
#include <cmath>

#include "autolm/error.h"
#include "io/hub_cache.h"
#include "io/json_file.h"
#include "io/mmap.h"
#include "tokenizer/backend.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace autolm {

using tokenizer_detail::Backend;

namespace {

std::optional<std::string> special_token(const nlohmann::json& cfg, const char* key) {
  if (!cfg.is_object() || !cfg.contains(key)) return std::nullopt;
  const auto& v = cfg.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

std::string clean_up(std::string s) {
  static const std::pair<const char*, const char*> rules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (auto [from, to] : rules) {
    std::string_view f(from);
    std::string out;
    size_t prev = 0, pos;
    while ((pos = s.find(f, prev)) != std::string::npos) {
      out.append(s, prev, pos - prev);
      out.append(to);
      prev = pos + f.size();
    }
    out.append(s, prev, std::string::npos);
    s = std::move(out);
  }
  return s;
}

std::string class_of(const nlohmann::json& cfg);
nlohmann::json pegasus_pipeline(nlohmann::json j, const nlohmann::json& cfg);

nlohmann::json load_config(const std::string& path) {
  if (path.empty() || !file_exists(path)) return nlohmann::json::object();
  nlohmann::json j = load_json_file(path);
  if (!j.is_object()) throw Error(ErrorKind::kInvalidInput, path + ": tokenizer_config.json must be a JSON object");
  return j;
}

}  // namespace

Tokenizer::Impl::Impl(std::shared_ptr<const Backend> backend, nlohmann::json config, std::string dir,
                       const std::string& config_source)
    : backend_(std::move(backend)), config_(std::move(config)), dir_(std::move(dir)) {
  if (!config_.is_object()) config_ = nlohmann::json::object();
  bos_ = special_token(config_, "bos_token");
  eos_ = special_token(config_, "eos_token");
  pad_ = special_token(config_, "pad_token");
  unk_ = special_token(config_, "unk_token");
  auto get_bool = [&](const char* key, bool fallback) {
    if (!config_.contains(key) || config_[key].is_null()) return fallback;
    if (!config_[key].is_boolean())
      throw Error(ErrorKind::kInvalidInput, config_source + ": key \"" + key + "\" must be a boolean");
    return config_[key].get<bool>();
  };
  add_bos_ = get_bool("add_bos_token", false);
  add_eos_ = get_bool("add_eos_token", false);
  clean_up_ = get_bool("clean_up_tokenization_spaces", false);
  clean_up_bpe_ = get_bool("clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output", false);
  if (config_.contains("tokenizer_class") && config_["tokenizer_class"].is_string()) {
    class_ = config_["tokenizer_class"].get<std::string>();
    if (class_.size() > 4 && class_.compare(class_.size() - 4, 4, "Fast") == 0) class_.resize(class_.size() - 4);
  }
  if (config_.contains("model_max_length") && config_["model_max_length"].is_number()) {
    const auto& v = config_["model_max_length"];
    if (v.is_number_integer()) model_max_length_ = v.get<int64_t>();
    else {
      double d = v.get<double>();
      model_max_length_ = d >= 9.2e18 ? INT64_MAX : static_cast<int64_t>(d);
    }
  }
  auto side = [&](const char* key, std::string& out) {
    if (!config_.contains(key) || config_[key].is_null()) return;
    std::string s = config_[key].is_string() ? config_[key].get<std::string>() : "";
    if (s != "left" && s != "right")
      throw Error(ErrorKind::kInvalidInput, config_source + ": \"" + key + "\" must be \"left\" or \"right\"");
    out = s;
  };
  // transformers' all_special_tokens: the named special tokens, additional/extra special
  // tokens, added_tokens_decoder entries flagged special, and class defaults.
  std::vector<std::string> names;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"})
    if (auto t = special_token(config_, key)) names.push_back(*t);
  for (const char* key : {"additional_special_tokens", "extra_special_tokens"}) {
    if (!config_.contains(key)) continue;
    for (const auto& v : config_[key]) {
      if (v.is_string()) names.push_back(v.get<std::string>());
      else if (v.is_object() && v.contains("content") && v["content"].is_string()) names.push_back(v["content"].get<std::string>());
    }
  }
  if (config_.contains("added_tokens_decoder") && config_["added_tokens_decoder"].is_object())
    for (const auto& v : config_["added_tokens_decoder"])
      if (v.is_object() && v.value("special", false) && v.contains("content") && v["content"].is_string())
        names.push_back(v["content"].get<std::string>());
  std::string cls = config_.value("tokenizer_class", std::string());
  if (cls.rfind("GemmaTokenizer", 0) == 0 && !config_.contains("mask_token")) names.push_back("<mask>");
  for (const auto& n : names)
    if (auto id = backend_->token_to_id(n)) config_special_ids_.push_back(*id);
  std::sort(config_special_ids_.begin(), config_special_ids_.end());
  side("padding_side", padding_side_);
  side("truncation_side", truncation_side_);
}

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

namespace {
std::shared_ptr<const Tokenizer::Impl> make_impl(std::shared_ptr<const Backend> backend, nlohmann::json config,
                                                 std::string dir, const std::string& config_source) {
  return std::make_shared<const Tokenizer::Impl>(std::move(backend), std::move(config), std::move(dir), config_source);
}
}  // namespace

std::optional<std::string> Tokenizer::bos_token() const { return impl_->bos_; }
std::optional<std::string> Tokenizer::eos_token() const { return impl_->eos_; }
std::optional<std::string> Tokenizer::pad_token() const { return impl_->pad_; }
std::optional<std::string> Tokenizer::unk_token() const { return impl_->unk_; }
bool Tokenizer::add_bos_token() const { return impl_->add_bos_; }
bool Tokenizer::add_eos_token() const { return impl_->add_eos_; }
bool Tokenizer::clean_up_tokenization_spaces() const { return impl_->clean_up_; }
int64_t Tokenizer::model_max_length() const { return impl_->model_max_length_; }
std::string Tokenizer::padding_side() const { return impl_->padding_side_; }
std::string Tokenizer::truncation_side() const { return impl_->truncation_side_; }
const nlohmann::json& Tokenizer::tokenizer_config() const { return impl_->config_; }
const std::string& Tokenizer::tokenizer_class() const { return impl_->class_; }
const std::string& Tokenizer::dir() const { return impl_->dir_; }

std::shared_ptr<const Tokenizer> Tokenizer::from_file(const std::string& tokenizer_json_path,
                                                      const std::string& tokenizer_config_path) {
  nlohmann::json cfg = load_config(tokenizer_config_path);
  auto backend = class_of(cfg) == "PegasusTokenizer"
                     ? tokenizer_detail::make_json_backend(pegasus_pipeline(load_json_file(tokenizer_json_path), cfg),
                                                           tokenizer_json_path)
                     : tokenizer_detail::make_json_backend_from_file(tokenizer_json_path);
  auto slash = tokenizer_json_path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : tokenizer_json_path.substr(0, slash);
  return std::shared_ptr<const Tokenizer>(new Tokenizer(make_impl(backend, std::move(cfg), dir, tokenizer_config_path)));
}

std::shared_ptr<const Tokenizer> Tokenizer::from_json_string(const std::string& tokenizer_json,
                                                             const std::string& tokenizer_config_json,
                                                             const std::string& source) {
  auto backend = tokenizer_detail::make_json_backend(tokenizer_json, source);
  nlohmann::json cfg = nlohmann::json::object();
  if (!tokenizer_config_json.empty()) {
    cfg = parse_json(tokenizer_config_json, "tokenizer_config.json");
    if (!cfg.is_object())
      throw Error(ErrorKind::kInvalidInput, "tokenizer_config.json: tokenizer_config.json must be a JSON object");
  }
  return std::shared_ptr<const Tokenizer>(new Tokenizer(make_impl(backend, std::move(cfg), "", "tokenizer_config.json")));
}

std::shared_ptr<const Tokenizer> Tokenizer::from_sentencepiece(const std::string& model_path,
                                                               const std::string& tokenizer_config_path,
                                                               const std::string& vocab_json_path) {
  nlohmann::json cfg = load_config(tokenizer_config_path);
  auto backend = tokenizer_detail::make_sentencepiece_backend(model_path, cfg, vocab_json_path);
  auto slash = model_path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : model_path.substr(0, slash);
  return std::shared_ptr<const Tokenizer>(new Tokenizer(make_impl(backend, std::move(cfg), dir, tokenizer_config_path)));
}

Encoding Tokenizer::encode_full(std::string_view text, bool add_special_tokens) const {
  // Offsets into the text are 32-bit (tokenizer_detail::Align), as HF's are usize on 32-bit.
  if (text.size() > UINT32_MAX)
    throw Error(ErrorKind::kInvalidInput, "text of " + std::to_string(text.size()) +
                                              " bytes is too long to tokenize (at most 4294967295 bytes)");
  std::string fixed;
  if (!tokenizer_detail::sanitize_utf8(text, fixed)) return impl_->backend_->encode(fixed, add_special_tokens);
  return impl_->backend_->encode(text, add_special_tokens);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return encode_full(text, add_special_tokens).ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens,
                              std::optional<bool> clean_up_tokenization_spaces) const {
  std::string text;
  if (skip_special_tokens && !impl_->config_special_ids_.empty()) {
    std::vector<int32_t> kept;
    kept.reserve(ids.size());
    for (int32_t id : ids)
      if (!std::binary_search(impl_->config_special_ids_.begin(), impl_->config_special_ids_.end(), id)) kept.push_back(id);
    text = impl_->backend_->decode(kept, true);
  } else {
    text = impl_->backend_->decode(ids, skip_special_tokens);
  }
  if (impl_->class_ == "CLIPTokenizer") {
    // CLIPTokenizer wraps its backend's decode: the end-of-word suffix becomes a space and the
    // result is stripped.
    std::string out;
    size_t prev = 0, pos;
    while ((pos = text.find("</w>", prev)) != std::string::npos) {
      out.append(text, prev, pos - prev);
      out += ' ';
      prev = pos + 4;
    }
    out.append(text, prev, std::string::npos);
    text = tokenizer_detail::strip_python(out);
  }
  // transformers 5.24 (TokenizersBackend._decode) ignores clean_up_tokenization_spaces for BPE
  // models unless clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output is set.
  if (clean_up_tokenization_spaces.value_or(impl_->clean_up_) && (!impl_->backend_->is_bpe() || impl_->clean_up_bpe_))
    text = clean_up(std::move(text));
  return text;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const { return impl_->backend_->token_to_id(token); }

std::string Tokenizer::id_to_token(int32_t id) const {
  auto t = impl_->backend_->id_to_token(id);
  if (!t)
    throw Error(ErrorKind::kInvalidInput,
                "token id " + std::to_string(id) + " is out of range (vocab size " + std::to_string(vocab_size()) + ")");
  return *t;
}

int64_t Tokenizer::vocab_size() const { return impl_->backend_->vocab_size(); }
std::vector<std::optional<std::string>> Tokenizer::token_bytes() const {
  const int64_t n = impl_->backend_->vocab_size();
  std::vector<std::optional<std::string>> out(n > 0 ? static_cast<size_t>(n) : 0);
  for (int64_t id = 0; id < n; ++id)
    if (!is_special(static_cast<int32_t>(id))) out[id] = impl_->backend_->token_bytes(static_cast<int32_t>(id));
  return out;
}

bool Tokenizer::is_special(int32_t id) const {
  return impl_->backend_->is_special(id) || std::binary_search(impl_->config_special_ids_.begin(), impl_->config_special_ids_.end(), id);
}

std::string Tokenizer::decode_raw(std::span<const int32_t> ids, bool skip_special_tokens) const {
  return impl_->backend_->decode(ids, skip_special_tokens);
}

static std::optional<int32_t> id_of(const Tokenizer& t, const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return t.token_to_id(*s);
}
std::optional<int32_t> Tokenizer::bos_token_id() const { return id_of(*this, impl_->bos_); }
std::optional<int32_t> Tokenizer::eos_token_id() const { return id_of(*this, impl_->eos_); }
std::optional<int32_t> Tokenizer::pad_token_id() const { return id_of(*this, impl_->pad_); }
std::optional<int32_t> Tokenizer::unk_token_id() const { return id_of(*this, impl_->unk_); }

// ---- AutoTokenizer ----

namespace tokenizer_detail {
std::shared_ptr<const Backend> make_gpt2_files_backend(const std::string& vocab_path, const std::string& merges_path,
                                                       const nlohmann::json& config);
}

namespace {

// transformers' TOKENIZER_MAPPING_NAMES for the model types whose class autolm gives its own
// behaviour (used when tokenizer_config.json names no tokenizer_class).
const char* class_for_model_type(const std::string& model_type) {
  static const std::pair<const char*, const char*> table[] = {
      {"marian", "MarianTokenizer"}, {"pegasus", "PegasusTokenizer"}, {"clip", "CLIPTokenizer"},
      {"bert", "BertTokenizer"},     {"t5", "T5Tokenizer"},           {"mt5", "T5Tokenizer"},
      {"gpt2", "GPT2Tokenizer"},     {"phi", "GPT2Tokenizer"},        {"whisper", "WhisperTokenizer"},
      {"bart", "RobertaTokenizer"},  {"mbart", "MBartTokenizer"},     {"gemma", "GemmaTokenizer"},
      {"qwen2", "Qwen2Tokenizer"}};
  for (auto [type, cls] : table)
    if (model_type == type) return cls;
  return nullptr;
}

std::string class_of(const nlohmann::json& cfg) {
  if (!cfg.contains("tokenizer_class") || !cfg["tokenizer_class"].is_string()) return "";
  std::string c = cfg["tokenizer_class"].get<std::string>();
  if (c.size() > 4 && c.compare(c.size() - 4, 4, "Fast") == 0) c.resize(c.size() - 4);
  return c;
}

// The class's constructor defaults for special tokens tokenizer_config.json leaves out.
void apply_class_defaults(nlohmann::json& cfg) {
  std::string cls = class_of(cfg);
  auto set_default = [&](const char* key, const char* value) {
    if (!cfg.contains(key)) cfg[key] = value;
  };
  if (cls == "MarianTokenizer") {
    set_default("eos_token", "</s>");
    set_default("unk_token", "<unk>");
    set_default("pad_token", "<pad>");
    if (!cfg.contains("model_max_length")) cfg["model_max_length"] = 512;
  }
}

// PegasusTokenizer rebuilds the pipeline around tokenizer.json's vocabulary: its own normalizer
// (the precompiled charsmap when the file has one, then " {2,}" → " "; else "\n" → " " first),
// Metaspace pre-tokenizer and decoder (prepend always, split), and "$A </s>" post-processing.
nlohmann::json pegasus_pipeline(nlohmann::json j, const nlohmann::json& cfg) {
  using json = nlohmann::json;
  json charsmap;
  std::vector<json> norms;
  if (j.contains("normalizer") && j["normalizer"].is_object()) {
    const json& n = j["normalizer"];
    if (n.value("type", "") == "Sequence" && n.contains("normalizers")) norms.assign(n["normalizers"].begin(), n["normalizers"].end());
    else norms.push_back(n);
  }
  for (const auto& n : norms)
    if (n.is_object() && n.value("type", "") == "Precompiled" && n.contains("precompiled_charsmap")) charsmap = n;
  json spaces = {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}};
  if (!charsmap.is_null())
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({charsmap, spaces})}};
  else
    j["normalizer"] = {{"type", "Sequence"},
                       {"normalizers", json::array({{{"type", "Replace"}, {"pattern", {{"Regex", "\n"}}}, {"content", " "}},
                                                    spaces})}};
  json meta = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "always"}, {"split", true}};
  j["pre_tokenizer"] = meta;
  j["decoder"] = meta;
  std::string eos = "</s>";
  if (auto e = special_token(cfg, "eos_token")) eos = *e;
  std::optional<int64_t> eos_id;
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& a : j["added_tokens"])
      if (a.is_object() && a.value("content", "") == eos && a.contains("id") && a["id"].is_number_integer())
        eos_id = a["id"].get<int64_t>();
  if (!eos_id && j.contains("model") && j["model"].is_object() && j["model"].contains("vocab") &&
      j["model"]["vocab"].is_array()) {
    const auto& v = j["model"]["vocab"];
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i].is_array() && !v[i].empty() && v[i][0] == eos) eos_id = static_cast<int64_t>(i);
  }
  if (eos_id)
    j["post_processor"] = {
        {"type", "TemplateProcessing"},
        {"single", json::array({{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, {{"SpecialToken", {{"id", eos}, {"type_id", 0}}}}})},
        {"pair", json::array({{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 0}}}},
                              {{"SpecialToken", {{"id", eos}, {"type_id", 0}}}}})},
        {"special_tokens", {{eos, {{"id", eos}, {"ids", json::array({*eos_id})}, {"tokens", json::array({eos})}}}}}};
  return j;
}

}  // namespace

std::shared_ptr<const Tokenizer> AutoTokenizer::from_pretrained(const std::string& dir_in) {
  std::string dir = resolve_pretrained(dir_in);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  auto path = [&](const char* f) { return dir + "/" + f; };
  if (!file_exists(dir)) throw Error(ErrorKind::kNotFound, dir + ": no such tokenizer folder");
  std::string cfg_path = path("tokenizer_config.json");
  nlohmann::json cfg = load_config(cfg_path);
  // AutoTokenizer takes the class from config.json's model_type when tokenizer_config.json
  // names none (Helsinki-NLP/opus-mt-*, bert-base-uncased).
  if (class_of(cfg).empty() && file_exists(path("config.json"))) {
    nlohmann::json model_cfg;
    try {
      model_cfg = load_json_file(path("config.json"));
    } catch (const Error&) {
      model_cfg = nullptr;  // the model loader reports a broken config.json; the tokenizer does not need it
    }
    if (model_cfg.is_object() && model_cfg.contains("model_type") && model_cfg["model_type"].is_string())
      if (const char* cls = class_for_model_type(model_cfg["model_type"].get<std::string>())) cfg["tokenizer_class"] = cls;
  }
  apply_class_defaults(cfg);
  const std::string cls = class_of(cfg);
  std::shared_ptr<const Backend> backend;
  if (file_exists(path("tokenizer.json")) && cls == "PegasusTokenizer") {
    backend = tokenizer_detail::make_json_backend(pegasus_pipeline(load_json_file(path("tokenizer.json")), cfg),
                                                  path("tokenizer.json"));
  } else if (file_exists(path("tokenizer.json"))) {
    backend = tokenizer_detail::make_json_backend_from_file(path("tokenizer.json"));
  } else if (file_exists(path("source.spm")) && file_exists(path("vocab.json"))) {
    backend = tokenizer_detail::make_sentencepiece_backend(path("source.spm"), cfg, path("vocab.json"));
  } else if (file_exists(path("spiece.model")) || file_exists(path("tokenizer.model"))) {
    std::string model = file_exists(path("spiece.model")) ? path("spiece.model") : path("tokenizer.model");
    backend = tokenizer_detail::make_converted_spm_backend(model, cfg, cls);
    if (!backend) backend = tokenizer_detail::make_sentencepiece_backend(model, cfg);
  } else if (file_exists(path("sentencepiece.bpe.model"))) {
    backend = tokenizer_detail::make_sentencepiece_backend(path("sentencepiece.bpe.model"), cfg);
  } else if (file_exists(path("vocab.json")) && file_exists(path("merges.txt"))) {
    backend = tokenizer_detail::make_gpt2_files_backend(path("vocab.json"), path("merges.txt"), cfg);
  } else {
    throw Error(ErrorKind::kNotFound, dir + ": no tokenizer.json, SentencePiece model or vocab.json + merges.txt");
  }
  return std::shared_ptr<const Tokenizer>(new Tokenizer(make_impl(backend, std::move(cfg), dir, cfg_path)));
}

}  // namespace autolm
