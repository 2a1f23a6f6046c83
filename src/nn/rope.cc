#include "nn/rope.h"
#include "core/check.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <sstream>

namespace autolm {

namespace {

std::vector<float> default_inv_freq(double base, int dim) {
  // Equivalent in modeling_rope_utils.py: 1.0 / (base ** (arange(0, dim, 2).float() / dim))
  std::vector<float> inv(dim / 2);
  for (int i = 0; i < dim / 2; ++i) inv[i] = float(1.0 / std::pow(base, double(2 * i) / dim));
  return inv;
}

double yarn_get_mscale(double scale, double mscale) {
  return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

std::string number_str(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

Error bad_param(const JsonConfig& params, const std::string& key, const std::string& why, double value) {
  return Error(ErrorKind::kInvalidInput,
               params.source() + ": key \"" + key + "\" " + why + " (" + number_str(value) + ")");
}

// A float parameter (present or defaulted) that must be finite and > 0 (a factor, a base, a length).
double positive_param(const JsonConfig& params, const std::string& key, double fallback) {
  const double v = params.get_or<double>(key, fallback);
  if (!(std::isfinite(v) && v > 0)) throw bad_param(params, key, "must be a positive number", v);
  return v;
}

// The same for a required key.
double positive_param(const JsonConfig& params, const std::string& key) {
  return positive_param(params, key, params.get<double>(key));
}

// A float parameter that may be any finite number.
double finite_param(const JsonConfig& params, const std::string& key, double fallback) {
  const double v = params.get_or<double>(key, fallback);
  if (!std::isfinite(v)) throw bad_param(params, key, "must be a finite number", v);
  return v;
}

}  // namespace

JsonConfig rope_parameters_for(const JsonConfig& config, const std::string& layer_type) {
  const std::string& src = config.source();
  if (config.has("rope_parameters")) {
    const json& rp = config.raw()["rope_parameters"];
    if (!rp.is_object()) throw Error(ErrorKind::kInvalidInput, src + ": rope_parameters must be an object");
    if (rp.contains(layer_type) && rp[layer_type].is_object())
      return JsonConfig(rp[layer_type], src + ": rope_parameters." + layer_type);
    if (rp.contains("full_attention") && rp["full_attention"].is_object())  // keyed but this type absent
      return JsonConfig(rp["full_attention"], src + ": rope_parameters.full_attention");
    return JsonConfig(rp, src + ": rope_parameters");
  }
  // Older spelling: rope_theta at top level, optional rope_scaling {type|rope_type, factor, …}.
  json p = json::object();
  if (config.has("rope_scaling") && config.raw()["rope_scaling"].is_object()) p = config.raw()["rope_scaling"];
  if (p.contains("type") && !p.contains("rope_type")) p["rope_type"] = p["type"];
  double theta = config.get_or<double>("rope_theta", 10000.0);
  if (layer_type == "sliding_attention" && config.has("rope_local_base_freq")) {
    theta = config.get<double>("rope_local_base_freq");
    p = json::object();  // Gemma 3 applies rope_scaling to global layers only
  }
  p["rope_theta"] = theta;
  if (!p.contains("rope_type")) p["rope_type"] = "default";
  return JsonConfig(p, src + ": rope_scaling");
}

RotaryEmbedding::RotaryEmbedding(const JsonConfig& params, int head_dim, double partial_rotary_factor,
                                 int64_t max_position_embeddings, int64_t config_original_max) {
  // Every parameter is checked before use: a rotary dimension past head_dim would rotate
  // features of the next head and beyond the buffer, a zero or NaN base or factor gives NaN
  // frequencies, a zero length divides by zero.
  AUTOLM_CHECK(head_dim > 0, "rope head_dim");
  rope_type_ = params.get_or<std::string>("rope_type", "default");
  theta_ = positive_param(params, "rope_theta", 10000.0);
  partial_rotary_factor = params.get_or<double>("partial_rotary_factor", partial_rotary_factor);
  if (!(partial_rotary_factor > 0 && partial_rotary_factor <= 1))
    throw bad_param(params, "partial_rotary_factor", "must be in (0, 1]", partial_rotary_factor);
  // Equivalent in modeling_rope_utils.py: dim = int(head_dim * partial_rotary_factor).
  rotary_dim_ = int(head_dim * partial_rotary_factor);
  if (rotary_dim_ < 2 || rotary_dim_ % 2 != 0)
    throw Error(ErrorKind::kInvalidInput, params.source() + ": partial_rotary_factor " + number_str(partial_rotary_factor) +
                                              " × head_dim " + std::to_string(head_dim) + " gives a rotary dimension of " +
                                              std::to_string(rotary_dim_) + "; it must be even and at least 2");
  factor_ = positive_param(params, "factor", 1.0);
  if (params.has("original_max_position_embeddings")) {
    original_max_positions_ = params.get<int64_t>("original_max_position_embeddings");
    if (original_max_positions_ <= 0)
      throw bad_param(params, "original_max_position_embeddings", "must be a positive integer", double(original_max_positions_));
  } else {
    original_max_positions_ = config_original_max > 0 ? config_original_max : max_position_embeddings;
  }
  // The scaled variants divide by the original context length.
  if (rope_type_ != "default" && rope_type_ != "linear" && original_max_positions_ <= 0)
    throw Error(ErrorKind::kInvalidInput, params.source() + ": rope_type \"" + rope_type_ +
                                              "\" needs a positive original_max_position_embeddings or max_position_embeddings");
  const int dim = rotary_dim_;
  inv_freq_ = default_inv_freq(theta_, dim);

  if (rope_type_ == "default" || rope_type_ == "dynamic") {
    // dynamic rescales the base only once positions exceed the original length (see apply),
    // with an exponent dim / (dim - 2).
    if (rope_type_ == "dynamic" && dim <= 2)
      throw Error(ErrorKind::kInvalidInput, params.source() + ": rope_type \"dynamic\" needs a rotary dimension above 2, got " +
                                                std::to_string(dim));
  } else if (rope_type_ == "linear") {
    for (auto& f : inv_freq_) f = float(f / factor_);
  } else if (rope_type_ == "llama3") {
    const double low_freq_factor = positive_param(params, "low_freq_factor");
    const double high_freq_factor = positive_param(params, "high_freq_factor");
    // Equal factors divide by zero in the smoothing below (transformers warns when high ≤ low).
    if (!(high_freq_factor > low_freq_factor))
      throw bad_param(params, "high_freq_factor", "must be greater than low_freq_factor (" + number_str(low_freq_factor) + ")",
                      high_freq_factor);
    const double old_context_len = double(params.get<int64_t>("original_max_position_embeddings"));
    const double low_freq_wavelen = old_context_len / low_freq_factor;
    const double high_freq_wavelen = old_context_len / high_freq_factor;
    for (auto& f : inv_freq_) {
      const double wavelen = 2 * M_PI / f;
      double v = wavelen > low_freq_wavelen ? f / factor_ : f;
      const bool is_medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
      if (is_medium) {
        const double smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
        v = (1 - smooth) * v / factor_ + smooth * v;
      }
      f = float(v);
    }
  } else if (rope_type_ == "yarn") {
    const double beta_fast = positive_param(params, "beta_fast", 32.0);
    const double beta_slow = positive_param(params, "beta_slow", 1.0);
    const double mscale = finite_param(params, "mscale", 0.0);
    const double mscale_all_dim = finite_param(params, "mscale_all_dim", 0.0);
    // The correction range divides by ln(rope_theta).
    if (!(theta_ > 1)) throw bad_param(params, "rope_theta", "must be greater than 1 for yarn", theta_);
    auto attention_factor = params.get_opt<double>("attention_factor");
    if (attention_factor) *attention_factor = positive_param(params, "attention_factor", 1.0);
    if (!attention_factor)
      attention_factor = (mscale != 0 && mscale_all_dim != 0)
                             ? yarn_get_mscale(factor_, mscale) / yarn_get_mscale(factor_, mscale_all_dim)
                             : yarn_get_mscale(factor_, 1.0);
    attention_scaling_ = float(*attention_factor);
    const double max_pos = double(original_max_positions_);
    auto correction_dim = [&](double rotations) {
      return (dim * std::log(max_pos / (rotations * 2 * M_PI))) / (2 * std::log(theta_));
    };
    double low = correction_dim(beta_fast), high = correction_dim(beta_slow);
    if (params.get_or<bool>("truncate", true)) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(dim - 1));
    if (low == high) high += 0.001;
    for (int i = 0; i < dim / 2; ++i) {
      const double pos_freq = std::pow(theta_, double(2 * i) / dim);
      const double extrapolation = 1.0 / pos_freq, interpolation = 1.0 / (factor_ * pos_freq);
      const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      const double extrapolation_factor = 1.0 - ramp;
      inv_freq_[i] = float(interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor);
    }
  } else if (rope_type_ == "longrope") {
    // Equivalent in modeling_rope_utils.py (_compute_longrope_parameters): inv_freq divided by
    // short_factor, or long_factor once positions pass original_max_position_embeddings;
    // cos/sin scaled by sqrt(1 + ln(factor) / ln(original_max)) with factor = max / original_max.
    auto short_factor = params.get<std::vector<double>>("short_factor");
    auto long_factor = params.get<std::vector<double>>("long_factor");
    if (int64_t(short_factor.size()) != dim / 2 || int64_t(long_factor.size()) != dim / 2)
      throw Error(ErrorKind::kInvalidInput, params.source() + ": short_factor/long_factor need " +
                                                std::to_string(dim / 2) + " entries (rotary_dim / 2), got " +
                                                std::to_string(short_factor.size()) + " and " +
                                                std::to_string(long_factor.size()));
    for (const auto* list : {&short_factor, &long_factor})
      for (size_t i = 0; i < list->size(); ++i)
        if (!(std::isfinite((*list)[i]) && (*list)[i] > 0))
          throw bad_param(params, std::string(list == &short_factor ? "short_factor" : "long_factor") + "[" +
                                      std::to_string(i) + "]", "must be a positive number", (*list)[i]);
    const double factor = original_max_positions_ > 0 && max_position_embeddings > 0
                              ? double(max_position_embeddings) / double(original_max_positions_)
                              : factor_;
    auto attention_factor = params.get_opt<double>("attention_factor");
    if (attention_factor) *attention_factor = positive_param(params, "attention_factor", 1.0);
    if (!attention_factor)
      attention_factor = factor <= 1.0 ? 1.0 : std::sqrt(1 + std::log(factor) / std::log(double(original_max_positions_)));
    attention_scaling_ = float(*attention_factor);
    long_inv_freq_ = inv_freq_;
    for (int i = 0; i < dim / 2; ++i) {
      const double base_freq = std::pow(theta_, double(2 * i) / dim);
      inv_freq_[i] = float(1.0 / (short_factor[i] * base_freq));
      long_inv_freq_[i] = float(1.0 / (long_factor[i] * base_freq));
    }
  } else {
    throw Error(ErrorKind::kUnsupported, params.source() + ": unsupported rope_type \"" + rope_type_ +
                                             "\" (supported: default, linear, dynamic, llama3, yarn, longrope)");
  }
  // Whatever combination of valid-looking values got here, NaN or infinite frequencies would
  // only show up as garbage text: refuse them.
  auto finite = [](const std::vector<float>& v) {
    return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
  };
  if (!finite(inv_freq_) || !finite(long_inv_freq_) || !std::isfinite(attention_scaling_))
    throw Error(ErrorKind::kInvalidInput, params.source() + ": the rope parameters give non-finite frequencies");
}

int64_t RotaryEmbedding::context_length(int64_t max_position_embeddings) const {
  // Linear and dynamic scaling stretch the configured context by `factor`; yarn and llama3 by
  // `factor` over the original context (their configs may keep max_position_embeddings at
  // the original length, as Qwen's yarn recipe does); longrope's max_position_embeddings is
  // already the long context.
  double n = double(max_position_embeddings);
  if (rope_type_ == "linear" || rope_type_ == "dynamic") n = std::max(n, factor_ * double(max_position_embeddings));
  if (rope_type_ == "yarn" || rope_type_ == "llama3") n = std::max(n, factor_ * double(original_max_positions_));
  return int64_t(std::min(n, double(INT32_MAX)));
}

void RotaryEmbedding::apply(float* x, int num_heads, int head_dim, int64_t position, int64_t seq_len_in) const {
  AUTOLM_CHECK(rotary_dim_ <= head_dim, "rotary dimension beyond head_dim");
  const int half = rotary_dim_ / 2;
  const float* inv = inv_freq_.data();
  if (!long_inv_freq_.empty() && seq_len_in > original_max_positions_) inv = long_inv_freq_.data();
  std::vector<float> dyn;  // only for dynamic NTK beyond the original length (rare path)
  if (rope_type_ == "dynamic" && seq_len_in > original_max_positions_) {
    // Equivalent in modeling_rope_utils.py (_compute_dynamic_ntk_parameters).
    const double seq_len = double(seq_len_in);
    const double base = theta_ * std::pow((factor_ * seq_len / original_max_positions_) - (factor_ - 1),
                                          double(rotary_dim_) / (rotary_dim_ - 2));
    dyn = default_inv_freq(base, rotary_dim_);
    inv = dyn.data();
  }
  for (int i = 0; i < half; ++i) {
    const float freq = float(position) * inv[i];  // float32 product as in transformers
    const float c = std::cos(freq) * attention_scaling_, s = std::sin(freq) * attention_scaling_;
    for (int h = 0; h < num_heads; ++h) {
      float* xh = x + h * head_dim;
      // Equivalent in modeling_cohere.py (rotate_half over x[..., ::2], x[..., 1::2]; cos, sin repeat_interleave'd).
      const int ia = interleaved_ ? 2 * i : i, ib = interleaved_ ? 2 * i + 1 : i + half;
      const float a = xh[ia], b = xh[ib];
      xh[ia] = a * c - b * s;
      xh[ib] = b * c + a * s;
    }
  }
}

}  // namespace autolm
