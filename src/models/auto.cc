// AutoConfig / AutoModelFor* : resolve config.json through the registry and refuse the wrong
// Auto class with a message naming the right one.
#include "autolm/auto.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "io/hub_cache.h"
#include "io/mmap.h"
#include "io/safetensors.h"
#include "io/weight_cache.h"
#include "models/config_checks.h"
#include "models/registry.h"

namespace autolm {

const char* family_name(ModelFamily f) { return f == ModelFamily::kCausal ? "causal" : "seq2seq"; }
const char* auto_class_name(ModelFamily f) {
  return f == ModelFamily::kCausal ? "AutoModelForCausalLM" : "AutoModelForSeq2SeqLM";
}

void DecodeState::truncate(int) {
  throw Error(ErrorKind::kUnsupported, "this model's decode state cannot roll back its cache (assisted generation needs it)");
}

void Model::encode(std::span<const int32_t>, std::span<const int32_t>, int, DecodeState&) const {
  throw Error(ErrorKind::kInvalidInput, "model_type \"" + config_.model_type + "\" is decoder-only: it has no encoder");
}

std::span<const float> Model::decode_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                                           std::span<const int32_t> mask, BatchScratch& scratch) const {
  size_t rows = 0;
  for (const DecodeState* s : states) rows += size_t(s->batch_size());
  if (ids.size() != rows || (!mask.empty() && mask.size() != rows))
    throw Error(ErrorKind::kInvalidInput, "decode_batch: " + std::to_string(ids.size()) + " ids for " +
                                              std::to_string(rows) + " rows");
  const size_t V = size_t(config_.vocab_size);
  scratch.logits.resize(rows * V);
  size_t r = 0;
  for (DecodeState* s : states) {
    const size_t n = size_t(s->batch_size());
    const std::span<const float> out =
        decode(ids.subspan(r, n), mask.empty() ? mask : mask.subspan(r, n), 1, *s, false);  // [n, vocab]
    std::copy(out.begin(), out.end(), scratch.logits.begin() + std::ptrdiff_t(r * V));
    r += n;
  }
  return scratch.logits;
}

namespace {

JsonConfig load_config_json(const std::string& dir) {
  if (!file_exists(dir)) throw Error(ErrorKind::kNotFound, "model folder " + dir + " does not exist");
  // A config.json that is a symlink out of the folder (/dev/zero, /etc/passwd) is refused;
  // load_json_file reads regular files only (a FIFO does not block) and bounds the size.
  const std::string path = model_file(dir, "config.json", dir);
  json j = load_json_file(path);
  if (!j.is_object()) throw Error(ErrorKind::kInvalidInput, path + ": expected a JSON object");
  // Gemma 3 multimodal folders nest the language model's config; we load text_config alone.
  return JsonConfig(std::move(j), path);
}

// Token ids are int32 everywhere downstream: a value outside that range (4294967298) is refused
// naming the key rather than truncated to another token (2). -1 stays allowed (old LLaMA
// conversions write pad_token_id: -1).
int64_t token_id(const JsonConfig& c, const std::string& key, int64_t id) {
  if (id < INT32_MIN || id > INT32_MAX)
    throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"" + key + "\" holds token id " + std::to_string(id) +
                                              ", outside the int32 range of token ids");
  return id;
}

// The ids of an int-or-list key, each range-checked as JsonConfig checks a single integer.
std::vector<int64_t> token_ids(const JsonConfig& c, const std::string& key) {
  std::vector<int64_t> ids;
  const json& v = c.raw()[key];
  if (!v.is_array()) return {token_id(c, key, c.get<int64_t>(key))};
  for (const json& e : v) ids.push_back(token_id(c, key, JsonConfig(json{{key, e}}, c.source()).get<int64_t>(key)));
  return ids;
}

std::optional<int64_t> optional_id(const JsonConfig& c, const std::string& key) {
  if (!c.has(key)) return std::nullopt;
  const std::vector<int64_t> ids = token_ids(c, key);
  return ids.empty() ? std::nullopt : std::optional<int64_t>(ids[0]);
}

ModelConfig make_model_config(const std::string& dir, const JsonConfig& c, const RegistryEntry& e) {
  ModelConfig mc;
  mc.dir = dir;
  mc.model_type = e.model_type;
  mc.family = e.family;
  // FSMT's config spells the target vocabulary tgt_vocab_size (transformers' attribute_map
  // vocab_size → tgt_vocab_size).
  mc.vocab_size = config_size(c, !c.has("vocab_size") && c.has("tgt_vocab_size") ? "tgt_vocab_size" : "vocab_size");
  mc.bos_token_id = optional_id(c, "bos_token_id");
  mc.pad_token_id = optional_id(c, "pad_token_id");
  mc.decoder_start_token_id = optional_id(c, "decoder_start_token_id");
  if (c.has("eos_token_id")) mc.eos_token_id = token_ids(c, "eos_token_id");
  mc.raw = c.raw();
  return mc;
}

std::shared_ptr<const Model> build(const std::string& dir_or_id, std::optional<ModelFamily> wanted, const LoadOptions& options) {
  const std::string dir = resolve_pretrained(dir_or_id);
  JsonConfig c = load_config_json(dir);
  const RegistryEntry& e = find_registry_entry(c);
  if (wanted && *wanted != e.family) {
    const std::string kind = e.family == ModelFamily::kSeq2Seq ? "an encoder-decoder (seq2seq)" : "a decoder-only (causal)";
    throw Error(ErrorKind::kWrongClass,
                c.source() + ": model_type \"" + e.model_type + "\" is " + kind + " model; load it with " +
                    auto_class_name(e.family) + ", not " + auto_class_name(*wanted));
  }
  if (!e.factory)
    throw Error(ErrorKind::kUnsupported, c.source() + ": model_type \"" + e.model_type + "\" is a known " +
                                             family_name(e.family) + " model type but autolm does not implement it yet");
  ModelConfig mc = make_model_config(dir, c, e);
  auto weights = WeightStore::open_folder(dir, parse_weight_format(dtype_name(options.dtype)));
  if (auto quant = parse_quantization_config(c)) weights->use_quantized(*quant);  // refuses other quant_methods
  WeightStore* store = weights.get();  // owned by the model from here on
  if (options.weight_cache)
    if (auto cache_dir = weight_cache_dir()) store->use_cache(*cache_dir, c.raw().dump());
  auto model = std::shared_ptr<const Model>(e.factory(std::move(mc), c, std::move(weights)));
  store->save_cache();  // only once the model is built: a failed load leaves no entry
  return model;
}

}  // namespace

ModelConfig AutoConfig::from_pretrained(const std::string& dir_or_id) {
  const std::string dir = resolve_pretrained(dir_or_id);
  JsonConfig c = load_config_json(dir);
  return make_model_config(dir, c, find_registry_entry(c));
}

std::shared_ptr<const Model> AutoModelForCausalLM::from_pretrained(const std::string& dir, const LoadOptions& options) {
  return build(dir, ModelFamily::kCausal, options);
}
std::shared_ptr<const Model> AutoModelForSeq2SeqLM::from_pretrained(const std::string& dir, const LoadOptions& options) {
  return build(dir, ModelFamily::kSeq2Seq, options);
}
std::shared_ptr<const Model> load_model(const std::string& dir, const LoadOptions& options) {
  return build(dir, std::nullopt, options);
}

std::vector<std::pair<std::string, ModelFamily>> supported_model_types() {
  std::vector<std::pair<std::string, ModelFamily>> out;
  for (const auto& e : registry())
    if (e.factory) out.emplace_back(e.model_type, e.family);
  return out;
}

}  // namespace autolm
