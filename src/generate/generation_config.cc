// GenerationConfig: HF field names and defaults, layered from generation_config.json (or the
// generation fields of config.json, as transformers' GenerationConfig.from_model_config) and the
// caller's overrides; validate() mirrors the ValueErrors of transformers' validate()/processors.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <sstream>

#include "autolm/generation.h"
#include "io/hub_cache.h"
#include "io/json_file.h"
#include "io/mmap.h"

namespace autolm {

namespace {

[[noreturn]] void bad_type(const std::string& source, const std::string& key, const json& v, const char* want) {
  throw Error(ErrorKind::kInvalidInput,
              source + ": field \"" + key + "\" must be " + want + ", got " + v.dump());
}

[[noreturn]] void bad_range(const std::string& source, const std::string& key, const json& v, int64_t lo, int64_t hi) {
  throw Error(ErrorKind::kInvalidInput, source + ": field \"" + key + "\" = " + v.dump() + " is out of range (" +
                                            std::to_string(lo) + " to " + std::to_string(hi) + ")");
}

[[noreturn]] void bad_value(const std::string& key, const std::string& value, const std::string& why) {
  throw Error(ErrorKind::kInvalidInput, "generation config: " + key + "=" + value + " is invalid: " + why);
}

template <typename T>
std::string str(T v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// An integer in the value's own terms: 4294967298 is never 2, 1e30 never wraps, 3.0 is 3, 3.5 and
// anything outside [lo, hi] are refused naming the field and the value as given.
int64_t as_int(const std::string& src, const std::string& key, const json& v, int64_t lo = INT64_MIN,
               int64_t hi = INT64_MAX) {
  int64_t n = 0;
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > uint64_t(INT64_MAX)) bad_range(src, key, v, lo, hi);
    n = int64_t(v.get<uint64_t>());
  } else if (v.is_number_integer()) {
    n = v.get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::floor(d) != d) bad_type(src, key, v, "an integer");
    // 2^63 is exactly representable and already out of range: compare before converting.
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) bad_range(src, key, v, lo, hi);
    n = static_cast<int64_t>(d);
  } else {
    bad_type(src, key, v, "an integer");
  }
  if (n < lo || n > hi) bad_range(src, key, v, lo, hi);
  return n;
}

// Fields stored as int (lengths, counts, sizes).
int as_i32(const std::string& src, const std::string& key, const json& v) {
  return static_cast<int>(as_int(src, key, v, INT32_MIN, INT32_MAX));
}

double as_float(const std::string& src, const std::string& key, const json& v) {
  if (v.is_number()) return v.get<double>();
  bad_type(src, key, v, "a number");
}

// Fields stored as float: a finite double beyond float's range would be undefined to convert.
float as_f32(const std::string& src, const std::string& key, const json& v) {
  const double d = as_float(src, key, v);
  if (std::isfinite(d) && std::fabs(d) > double(std::numeric_limits<float>::max()))
    throw Error(ErrorKind::kInvalidInput, src + ": field \"" + key + "\" = " + v.dump() + " is out of range for float32");
  return static_cast<float>(d);
}

// The sampler seed: any unsigned 64-bit integer.
uint64_t as_seed(const std::string& src, const std::string& key, const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  return static_cast<uint64_t>(as_int(src, key, v, 0, INT64_MAX));
}

bool as_bool(const std::string& src, const std::string& key, const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  bad_type(src, key, v, "true or false");
}

std::vector<int64_t> as_int_list(const std::string& src, const std::string& key, const json& v,
                                 bool allow_scalar) {
  std::vector<int64_t> out;
  if (allow_scalar && (v.is_number())) {
    out.push_back(as_int(src, key, v));
    return out;
  }
  if (!v.is_array()) bad_type(src, key, v, allow_scalar ? "an integer or a list of integers" : "a list of integers");
  for (const auto& e : v) {
    if (!e.is_number()) bad_type(src, key, v, allow_scalar ? "an integer or a list of integers" : "a list of integers");
    out.push_back(as_int(src, key, e));
  }
  return out;
}

json int_list_json(const std::vector<int64_t>& v) { return json(v); }

// Fields of transformers' GenerationConfig that change what generate() returns but that autolm
// does not implement. `harmless` says whether a value leaves transformers' output unchanged (its
// default, null, or a value that does not switch the feature on); anything else is refused.
struct UnsupportedField {
  const char* key;
  const char* what;  // the transformers feature it belongs to
  bool (*harmless)(const json& v);
};

bool is_null(const json& v) { return v.is_null(); }
bool null_or_false(const json& v) { return v.is_null() || (v.is_boolean() && !v.get<bool>()); }
bool null_or_zero(const json& v) { return v.is_null() || (v.is_number() && v.get<double>() == 0.0); }

const UnsupportedField kUnsupportedFields[] = {
    // UnbatchedClassifierFreeGuidanceLogitsProcessor: `guidance_scale is not None and != 1`.
    {"guidance_scale", "classifier-free guidance",
     [](const json& v) { return v.is_null() || (v.is_number() && v.get<double>() == 1.0); }},
    // GenerationMode.CONTRASTIVE_SEARCH needs penalty_alpha > 0 (with top_k > 1, greedy, one beam).
    {"penalty_alpha", "contrastive search",
     [](const json& v) { return v.is_null() || (v.is_number() && v.get<double>() <= 0.0); }},
    // GenerationMode.GROUP_BEAM_SEARCH (num_beam_groups > 1) and its diversity_penalty.
    {"num_beam_groups", "group beam search",
     [](const json& v) { return v.is_null() || (v.is_number() && v.get<double>() <= 1.0); }},
    {"diversity_penalty", "group beam search", null_or_zero},
    // GenerationMode.CONSTRAINED_BEAM_SEARCH: any value that is not None.
    {"constraints", "constrained beam search", is_null},
    {"force_words_ids", "constrained beam search", is_null},
    // GenerationMode.ASSISTED_GENERATION with a draft autolm cannot build.
    {"assistant_early_exit", "self-speculative (early exit) decoding", is_null},
    {"use_mtp", "multi-token prediction decoding", null_or_false},
    // GenerationMode.DOLA_GENERATION.
    {"dola_layers", "DoLa decoding", is_null},
    // TopHLogitsWarper (sampling): any value that is not None.
    {"top_h", "top-H sampling", is_null},
    // WatermarkLogitsProcessor / SynthIDTextWatermarkLogitsProcessor.
    {"watermarking_config", "watermarking", is_null},
    // GenerationMixin.heal_tokens rewrites the prompt's tail (needs the tokenizer).
    {"token_healing", "token healing", null_or_false},
    // low_memory=True: sequential beam search / contrastive search (5.17's _beam_search raises).
    {"low_memory", "sequential (low-memory) beam search", null_or_false},
};

}  // namespace

GenerationConfig GenerationConfig::from_json(const json& j, const std::string& source) {
  GenerationConfig c;
  c.update(j, source);
  // transformers treats a max_length equal to its global default (20) as "not set": 20 new tokens.
  if (c.max_length && *c.max_length == 20) c.max_length.reset();
  return c;
}

GenerationConfig GenerationConfig::from_pretrained(const std::string& dir_or_id) {
  namespace fs = std::filesystem;
  const std::string dir = resolve_pretrained(dir_or_id);
  // Files of the folder itself (a link out of it is refused, as for every model file); a stat
  // error (permission) is left for the reader to report with the path.
  std::error_code ec;
  const std::string gen = model_file(dir, "generation_config.json", dir);
  if (fs::exists(gen, ec)) return from_json(load_json_file(gen), gen);
  const std::string cfg = model_file(dir, "config.json", dir);
  if (!fs::exists(cfg, ec)) return GenerationConfig{};
  // GenerationConfig.from_model_config: every generation field that config.json sets (not null);
  // a decoder sub-config fills fields still unset.
  json j = load_json_file(cfg);
  GenerationConfig c = from_json(j, cfg);
  for (const char* sub : {"decoder", "text_config"}) {
    if (j.is_object() && j.contains(sub) && j[sub].is_object()) {
      GenerationConfig d = from_json(j[sub], cfg + ": " + sub);
      json cj = c.to_json(), dj = d.to_json(), def = GenerationConfig{}.to_json(), fill = json::object();
      for (auto it = dj.begin(); it != dj.end(); ++it)
        if (cj[it.key()] == def[it.key()] && it.value() != def[it.key()]) fill[it.key()] = it.value();
      c.update(fill, cfg);
    }
  }
  return c;
}

GenerationConfig GenerationConfig::for_model(const Model& model) {
  if (!model.config().dir.empty()) return from_pretrained(model.config().dir);
  return GenerationConfig{};
}

GenerationConfig& GenerationConfig::update(const json& o, const std::string& src) {
  if (o.is_null()) return *this;
  if (!o.is_object()) throw Error(ErrorKind::kInvalidInput, src + ": expected a JSON object, got " + o.dump());
  const GenerationConfig def;
  for (auto it = o.begin(); it != o.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const bool null = v.is_null();
    auto opt_int = [&](std::optional<int>& f) { f = null ? std::nullopt : std::optional<int>(as_i32(src, k, v)); };
    auto opt_i64 = [&](std::optional<int64_t>& f) { f = null ? std::nullopt : std::optional<int64_t>(as_int(src, k, v)); };
    auto opt_list = [&](std::optional<std::vector<int64_t>>& f, bool scalar) {
      f = null ? std::nullopt : std::optional<std::vector<int64_t>>(as_int_list(src, k, v, scalar));
    };
    if (k == "max_length") opt_int(max_length);
    else if (k == "max_new_tokens") opt_int(max_new_tokens);
    else if (k == "max_time") max_time = null ? std::nullopt : std::optional<double>(as_float(src, k, v));
    else if (k == "min_length") min_length = null ? def.min_length : as_i32(src, k, v);
    else if (k == "min_new_tokens") opt_int(min_new_tokens);
    else if (k == "do_sample") do_sample = null ? def.do_sample : as_bool(src, k, v);
    else if (k == "num_beams") num_beams = null ? def.num_beams : as_i32(src, k, v);
    else if (k == "num_return_sequences") num_return_sequences = null ? def.num_return_sequences : as_i32(src, k, v);
    else if (k == "length_penalty") length_penalty = null ? def.length_penalty : as_f32(src, k, v);
    else if (k == "early_stopping") {
      if (null) early_stopping = def.early_stopping;
      else if (v.is_boolean()) early_stopping = v.get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
      else if (v.is_string() && v.get<std::string>() == "never") early_stopping = EarlyStopping::kNever;
      else bad_type(src, k, v, "true, false or \"never\"");
    } else if (k == "temperature") temperature = null ? def.temperature : as_f32(src, k, v);
    else if (k == "top_k") top_k = null ? 0 : as_i32(src, k, v);  // HF: None disables top-k
    else if (k == "top_p") top_p = null ? def.top_p : as_f32(src, k, v);
    else if (k == "min_p") min_p = null ? std::nullopt : std::optional<float>(as_f32(src, k, v));
    else if (k == "typical_p") typical_p = null ? def.typical_p : as_f32(src, k, v);
    else if (k == "epsilon_cutoff") epsilon_cutoff = null ? def.epsilon_cutoff : as_f32(src, k, v);
    else if (k == "eta_cutoff") eta_cutoff = null ? def.eta_cutoff : as_f32(src, k, v);
    else if (k == "seed") seed = null ? def.seed : as_seed(src, k, v);
    else if (k == "repetition_penalty") repetition_penalty = null ? def.repetition_penalty : as_f32(src, k, v);
    else if (k == "presence_penalty") presence_penalty = null ? def.presence_penalty : as_f32(src, k, v);
    else if (k == "frequency_penalty") frequency_penalty = null ? def.frequency_penalty : as_f32(src, k, v);
    else if (k == "encoder_repetition_penalty")
      encoder_repetition_penalty = null ? def.encoder_repetition_penalty : as_float(src, k, v);
    else if (k == "sequence_bias") {
      // HF's serialised form: [[[token ids], bias], ...].
      if (null) {
        sequence_bias.reset();
      } else {
        const char* want = "a list of [[token ids], bias] pairs";
        if (!v.is_array()) bad_type(src, k, v, want);
        SequenceBias pairs;
        for (const auto& e : v) {
          if (!e.is_array() || e.size() != 2 || !e[0].is_array() || !e[1].is_number()) bad_type(src, k, v, want);
          pairs.emplace_back(as_int_list(src, k, e[0], false), as_f32(src, k, e[1]));
        }
        sequence_bias = std::move(pairs);
      }
    } else if (k == "exponential_decay_length_penalty") {
      if (null) {
        exponential_decay_length_penalty.reset();
      } else {
        if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
          bad_type(src, k, v, "[start_index, decay_factor]");
        exponential_decay_length_penalty = std::make_pair(as_i32(src, k, v[0]), as_float(src, k, v[1]));
      }
    } else if (k == "remove_invalid_values") remove_invalid_values = null ? false : as_bool(src, k, v);
    else if (k == "no_repeat_ngram_size") no_repeat_ngram_size = null ? 0 : as_i32(src, k, v);
    else if (k == "encoder_no_repeat_ngram_size") encoder_no_repeat_ngram_size = null ? 0 : as_i32(src, k, v);
    else if (k == "bad_words_ids") {
      if (null) {
        bad_words_ids.reset();
      } else {
        if (!v.is_array()) bad_type(src, k, v, "a list of lists of token ids");
        std::vector<std::vector<int64_t>> lists;
        for (const auto& e : v) {
          if (!e.is_array()) bad_type(src, k, v, "a list of lists of token ids");
          lists.push_back(as_int_list(src, k, e, false));
        }
        bad_words_ids = std::move(lists);
      }
    } else if (k == "suppress_tokens") opt_list(suppress_tokens, false);
    else if (k == "begin_suppress_tokens") opt_list(begin_suppress_tokens, false);
    else if (k == "forced_bos_token_id") opt_i64(forced_bos_token_id);
    else if (k == "forced_eos_token_id") opt_list(forced_eos_token_id, true);
    else if (k == "renormalize_logits") renormalize_logits = null ? false : as_bool(src, k, v);
    else if (k == "eos_token_id") eos_token_id = null ? std::vector<int64_t>{} : as_int_list(src, k, v, true);
    else if (k == "pad_token_id") opt_i64(pad_token_id);
    else if (k == "bos_token_id") opt_i64(bos_token_id);
    else if (k == "decoder_start_token_id") opt_i64(decoder_start_token_id);
    else if (k == "stop_strings") {
      stop_strings.clear();
      if (null) continue;
      if (v.is_string()) {
        stop_strings.push_back(v.get<std::string>());
      } else if (v.is_array()) {
        for (const auto& e : v) {
          if (!e.is_string()) bad_type(src, k, v, "a string or a list of strings");
          stop_strings.push_back(e.get<std::string>());
        }
      } else {
        bad_type(src, k, v, "a string or a list of strings");
      }
    } else if (k == "prompt_lookup_num_tokens") opt_int(prompt_lookup_num_tokens);
    else if (k == "max_matching_ngram_size") opt_int(max_matching_ngram_size);
    else if (k == "num_assistant_tokens") opt_int(num_assistant_tokens);
    else if (k == "num_assistant_tokens_schedule") {
      if (null) num_assistant_tokens_schedule.reset();
      else if (v.is_string()) num_assistant_tokens_schedule = v.get<std::string>();
      else bad_type(src, k, v, "\"constant\", \"heuristic\" or \"heuristic_transient\"");
    } else if (k == "assistant_confidence_threshold")
      assistant_confidence_threshold = null ? std::nullopt : std::optional<double>(as_float(src, k, v));
    else if (k == "assistant_ensemble_weight")
      assistant_ensemble_weight = null ? std::nullopt : std::optional<double>(as_float(src, k, v));
    else if (k == "output_scores") output_scores = null ? false : as_bool(src, k, v);
    else {
      // Features autolm does not implement: refused unless the value leaves transformers' output
      // as it is (hub files often carry "num_beam_groups": 1, "diversity_penalty": 0.0, …).
      for (const auto& u : kUnsupportedFields) {
        if (k != u.key || u.harmless(v)) continue;
        throw Error(ErrorKind::kUnsupported, src + ": field \"" + k + "\" = " + v.dump() + " asks for " + u.what +
                                                 ", which autolm does not implement (it would change the output); "
                                                 "remove the field or set it to null");
      }
      // Anything else (transformers_version, use_cache, return_dict_in_generate, cache_implementation,
      // output_attentions, num_assistant_tokens, …) does not change the generated tokens: ignored.
    }
  }
  return *this;
}

void GenerationConfig::validate() const {
  if (max_length && *max_length <= 0) bad_value("max_length", str(*max_length), "must be greater than 0");
  if (max_new_tokens && *max_new_tokens <= 0)
    bad_value("max_new_tokens", str(*max_new_tokens), "must be greater than 0");
  if (min_length < 0) bad_value("min_length", str(min_length), "must be >= 0");
  if (min_new_tokens && *min_new_tokens < 0) bad_value("min_new_tokens", str(*min_new_tokens), "must be >= 0");
  if (num_beams < 1) bad_value("num_beams", str(num_beams), "must be a positive integer");
  if (num_beams > GenerationLimits::kMaxNumBeams)
    bad_value("num_beams", str(num_beams), "exceeds autolm's limit of " + str(GenerationLimits::kMaxNumBeams));
  if (num_return_sequences < 1)
    bad_value("num_return_sequences", str(num_return_sequences), "must be a positive integer");
  if (num_return_sequences > GenerationLimits::kMaxNumReturnSequences)
    bad_value("num_return_sequences", str(num_return_sequences),
              "exceeds autolm's limit of " + str(GenerationLimits::kMaxNumReturnSequences));
  if (num_beams > 1 && num_return_sequences > num_beams)
    bad_value("num_return_sequences", str(num_return_sequences),
              "has to be smaller or equal to num_beams (" + str(num_beams) + ")");
  if (num_beams == 1 && !do_sample && num_return_sequences > 1)
    bad_value("num_return_sequences", str(num_return_sequences),
              "greedy search (do_sample=false, num_beams=1) returns exactly one sequence per input");
  if (!std::isfinite(length_penalty)) bad_value("length_penalty", str(length_penalty), "must be finite");
  if (!(temperature >= 0.0f) || !std::isfinite(temperature))
    bad_value("temperature", str(temperature), "has to be a strictly positive float");
  if (do_sample && temperature == 0.0f)
    bad_value("temperature", "0", "has to be a strictly positive float when do_sample=true "
                                  "(for greedy decoding set do_sample=false)");
  if (top_k < 0) bad_value("top_k", str(top_k), "has to be a strictly positive integer (or 0 to disable)");
  if (!(top_p > 0.0f && top_p <= 1.0f)) bad_value("top_p", str(top_p), "has to be a float in (0, 1]");
  if (min_p && !(*min_p >= 0.0f && *min_p <= 1.0f)) bad_value("min_p", str(*min_p), "has to be a float in [0, 1]");
  if (!(typical_p > 0.0f && typical_p <= 1.0f)) bad_value("typical_p", str(typical_p), "has to be a float in (0, 1]");
  // EpsilonLogitsWarper / EtaLogitsWarper raise outside (0, 1); 0 is the "disabled" default. (In
  // transformers generate() silently skips the warper for values >= 1 or < 0; autolm refuses them.)
  if (epsilon_cutoff != 0.0f && !(epsilon_cutoff > 0.0f && epsilon_cutoff < 1.0f))
    bad_value("epsilon_cutoff", str(epsilon_cutoff), "has to be a float > 0 and < 1 (or 0 to disable)");
  if (eta_cutoff != 0.0f && !(eta_cutoff > 0.0f && eta_cutoff < 1.0f))
    bad_value("eta_cutoff", str(eta_cutoff), "has to be a float > 0 and < 1 (or 0 to disable)");
  if (max_time && !(*max_time >= 0.0)) bad_value("max_time", str(*max_time), "must be >= 0 seconds");
  if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty))
    bad_value("repetition_penalty", str(repetition_penalty), "has to be a strictly positive float");
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f))
    bad_value("presence_penalty", str(presence_penalty), "has to be in [-2, 2]");
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f))
    bad_value("frequency_penalty", str(frequency_penalty), "has to be in [-2, 2]");
  if (!(encoder_repetition_penalty > 0.0) || !std::isfinite(encoder_repetition_penalty))
    bad_value("encoder_repetition_penalty", str(encoder_repetition_penalty), "has to be a strictly positive float");
  if (sequence_bias) {
    // SequenceBiasLogitsProcessor._validate_arguments (5.17 requires token ids > 0; 5.24 allows 0).
    if (sequence_bias->empty()) bad_value("sequence_bias", "[]", "has to be a non-empty list of [[token ids], bias]");
    for (const auto& [ids, bias] : *sequence_bias) {
      if (ids.empty()) bad_value("sequence_bias", "[[], " + str(bias) + "]", "each sequence must hold at least one token id");
      for (int64_t t : ids)
        if (t <= 0)
          bad_value("sequence_bias", str(t), "token ids have to be positive integers (transformers 5.17 rejects 0)");
      if (!std::isfinite(bias)) bad_value("sequence_bias", str(bias), "biases must be finite");
    }
  }
  if (exponential_decay_length_penalty) {
    const auto& [start, factor] = *exponential_decay_length_penalty;
    if (!std::isfinite(factor))
      bad_value("exponential_decay_length_penalty", "[" + str(start) + ", " + str(factor) + "]",
                "decay_factor must be finite");
    // ExponentialDecayLengthPenalty needs eos_token_id (transformers fails on None).
    if (eos_token_id.empty())
      bad_value("exponential_decay_length_penalty", "[" + str(start) + ", " + str(factor) + "]",
                "needs eos_token_id to be set");
  }
  if (no_repeat_ngram_size < 0) bad_value("no_repeat_ngram_size", str(no_repeat_ngram_size), "must be >= 0");
  if (encoder_no_repeat_ngram_size < 0)
    bad_value("encoder_no_repeat_ngram_size", str(encoder_no_repeat_ngram_size), "must be >= 0");
  // Token ids are int32 in generate(); the vocabulary bound is checked against the model there.
  auto check_id = [](const char* name, int64_t t) {
    if (t < 0 || t > INT32_MAX) bad_value(name, str(t), "token ids must be in [0, 2147483647]");
  };
  auto check_ids = [&](const char* name, const std::vector<int64_t>& ids) {
    for (int64_t t : ids) check_id(name, t);
  };
  // Every step scans these lists for every row: their total size is bounded.
  auto check_total = [](const char* name, int64_t total) {
    if (total > GenerationLimits::kMaxListTokens)
      bad_value(name, "(" + str(total) + " token ids)",
                "holds more than autolm's limit of " + str(GenerationLimits::kMaxListTokens) + " token ids");
  };
  if (sequence_bias) {
    int64_t total = 0;
    for (const auto& e : *sequence_bias) total += static_cast<int64_t>(e.first.size());
    check_total("sequence_bias", total);
    for (const auto& e : *sequence_bias) check_ids("sequence_bias", e.first);
  }
  if (bad_words_ids) {
    if (bad_words_ids->empty()) bad_value("bad_words_ids", "[]", "has to be a non-empty list of lists of token ids");
    int64_t total = 0;
    for (const auto& w : *bad_words_ids) total += static_cast<int64_t>(w.size());
    check_total("bad_words_ids", total);
    for (const auto& w : *bad_words_ids) {
      if (w.empty()) bad_value("bad_words_ids", "[[]]", "each banned sequence must hold at least one token id");
      check_ids("bad_words_ids", w);
    }
  }
  for (const auto& [name, list] : {std::pair{"suppress_tokens", &suppress_tokens},
                                   std::pair{"begin_suppress_tokens", &begin_suppress_tokens},
                                   std::pair{"forced_eos_token_id", &forced_eos_token_id}}) {
    if (!*list) continue;
    check_total(name, static_cast<int64_t>((*list)->size()));
    check_ids(name, **list);
  }
  if (forced_bos_token_id) check_id("forced_bos_token_id", *forced_bos_token_id);
  check_total("eos_token_id", static_cast<int64_t>(eos_token_id.size()));
  check_ids("eos_token_id", eos_token_id);
  // Assisted generation. PromptLookupCandidateGenerator raises "Invalid max_matching_ngram_size or
  // num_output_tokens" for values <= 0; the upper bound is autolm's (GenerationLimits).
  for (const auto& [name, field] : {std::pair{"prompt_lookup_num_tokens", &prompt_lookup_num_tokens},
                                    std::pair{"num_assistant_tokens", &num_assistant_tokens}}) {
    if (!*field) continue;
    if (**field <= 0) bad_value(name, str(**field), "must be a positive integer");
    if (**field > GenerationLimits::kMaxDraftTokens)
      bad_value(name, str(**field), "exceeds autolm's limit of " + str(GenerationLimits::kMaxDraftTokens) + " draft tokens");
  }
  if (max_matching_ngram_size && *max_matching_ngram_size <= 0)
    bad_value("max_matching_ngram_size", str(*max_matching_ngram_size), "must be a positive integer");
  if (num_assistant_tokens_schedule && *num_assistant_tokens_schedule != "constant" &&
      *num_assistant_tokens_schedule != "heuristic" && *num_assistant_tokens_schedule != "heuristic_transient")
    bad_value("num_assistant_tokens_schedule", "\"" + num_assistant_tokens_schedule->substr(0, 64) + "\"",
              "must be \"constant\", \"heuristic\" or \"heuristic_transient\"");
  if (assistant_confidence_threshold && !(*assistant_confidence_threshold >= 0.0 && *assistant_confidence_threshold <= 1.0))
    bad_value("assistant_confidence_threshold", str(*assistant_confidence_threshold), "has to be a float in [0, 1]");
  // GenerationConfig.validate: "must be in the open interval (0.0, 1.0)".
  if (assistant_ensemble_weight && !(*assistant_ensemble_weight > 0.0 && *assistant_ensemble_weight < 1.0))
    bad_value("assistant_ensemble_weight", str(*assistant_ensemble_weight),
              "must be in the open interval (0.0, 1.0); unset for lossless speculative decoding");
  if (static_cast<int64_t>(stop_strings.size()) > GenerationLimits::kMaxStopStrings)
    bad_value("stop_strings", "(" + str(stop_strings.size()) + " strings)",
              "holds more than autolm's limit of " + str(GenerationLimits::kMaxStopStrings) + " strings");
  for (const auto& s : stop_strings) {
    if (s.empty()) bad_value("stop_strings", "\"\"", "stop strings must not be empty");
    if (static_cast<int64_t>(s.size()) > GenerationLimits::kMaxStopStringBytes)
      bad_value("stop_strings", "\"" + s.substr(0, 32) + "…\" (" + str(s.size()) + " bytes)",
                "each stop string is limited to " + str(GenerationLimits::kMaxStopStringBytes) + " bytes");
  }
}

json GenerationConfig::to_json() const {
  json j;
  auto opt = [](const auto& o) -> json { return o ? json(*o) : json(nullptr); };
  j["max_length"] = max_length ? json(*max_length) : json(20);
  j["max_new_tokens"] = opt(max_new_tokens);
  j["min_length"] = min_length;
  j["min_new_tokens"] = opt(min_new_tokens);
  j["max_time"] = opt(max_time);
  j["do_sample"] = do_sample;
  j["num_beams"] = num_beams;
  j["num_return_sequences"] = num_return_sequences;
  j["length_penalty"] = length_penalty;
  j["early_stopping"] = early_stopping == EarlyStopping::kNever ? json("never") : json(early_stopping == EarlyStopping::kTrue);
  j["temperature"] = temperature;
  j["top_k"] = top_k;
  j["top_p"] = top_p;
  j["min_p"] = opt(min_p);
  j["typical_p"] = typical_p;
  j["epsilon_cutoff"] = epsilon_cutoff;
  j["eta_cutoff"] = eta_cutoff;
  j["seed"] = seed;
  if (sequence_bias) {
    json sb = json::array();
    for (const auto& [ids, bias] : *sequence_bias) sb.push_back(json::array({json(ids), bias}));
    j["sequence_bias"] = sb;
  } else {
    j["sequence_bias"] = nullptr;
  }
  j["encoder_repetition_penalty"] = encoder_repetition_penalty;
  j["repetition_penalty"] = repetition_penalty;
  j["presence_penalty"] = presence_penalty;
  j["frequency_penalty"] = frequency_penalty;
  j["no_repeat_ngram_size"] = no_repeat_ngram_size;
  j["encoder_no_repeat_ngram_size"] = encoder_no_repeat_ngram_size;
  j["bad_words_ids"] = opt(bad_words_ids);
  j["suppress_tokens"] = opt(suppress_tokens);
  j["begin_suppress_tokens"] = opt(begin_suppress_tokens);
  j["forced_bos_token_id"] = opt(forced_bos_token_id);
  j["forced_eos_token_id"] = forced_eos_token_id
                                 ? (forced_eos_token_id->size() == 1 ? json((*forced_eos_token_id)[0]) : json(*forced_eos_token_id))
                                 : json(nullptr);
  j["remove_invalid_values"] = remove_invalid_values;
  j["exponential_decay_length_penalty"] =
      exponential_decay_length_penalty
          ? json::array({exponential_decay_length_penalty->first, exponential_decay_length_penalty->second})
          : json(nullptr);
  j["renormalize_logits"] = renormalize_logits;
  j["eos_token_id"] = eos_token_id.empty() ? json(nullptr)
                      : eos_token_id.size() == 1 ? json(eos_token_id[0]) : int_list_json(eos_token_id);
  j["pad_token_id"] = opt(pad_token_id);
  j["bos_token_id"] = opt(bos_token_id);
  j["decoder_start_token_id"] = opt(decoder_start_token_id);
  j["stop_strings"] = stop_strings.empty() ? json(nullptr) : json(stop_strings);
  j["prompt_lookup_num_tokens"] = opt(prompt_lookup_num_tokens);
  j["max_matching_ngram_size"] = opt(max_matching_ngram_size);
  j["num_assistant_tokens"] = opt(num_assistant_tokens);
  j["num_assistant_tokens_schedule"] = opt(num_assistant_tokens_schedule);
  j["assistant_confidence_threshold"] = opt(assistant_confidence_threshold);
  j["assistant_ensemble_weight"] = opt(assistant_ensemble_weight);
  j["output_scores"] = output_scores;
  return j;
}

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kLength: return "length";
    case FinishReason::kEos: return "eos";
    case FinishReason::kStopString: return "stop_string";
    case FinishReason::kCallback: return "callback";
    case FinishReason::kTime: return "time";
  }
  return "length";
}

}  // namespace autolm
