// The Llama-shaped decoder-only family: llama, mistral, qwen2, qwen3, phi3 and gemma3_text.
// Mirrors transformers' modeling_llama.py, with the per-family differences spelled out where
// they apply (qkv bias, q/k norm, fused projections, partial rotary, sandwich norms).
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/decoder_state.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "nn/attention.h"
#include "nn/rope.h"
#include "ops/activations.h"
#include "ops/linear.h"
#include "ops/norms.h"

namespace autolm {

namespace {

struct LlamaLayer {
  TensorView input_layernorm;             // (hidden_size)
  TensorView q_proj, k_proj, v_proj;      // (num_heads*head_dim | num_kv_heads*head_dim, hidden_size)
  TensorView q_bias, k_bias, v_bias;      // qwen2 / attention_bias: (out_features)
  TensorView o_proj, o_bias;              // (hidden_size, num_heads*head_dim)
  TensorView q_norm, k_norm;              // qwen3 / gemma3: (head_dim)
  TensorView post_attention_layernorm;    // (hidden_size)
  TensorView pre_feedforward_layernorm;   // gemma3: (hidden_size)
  TensorView post_feedforward_layernorm;  // gemma3: (hidden_size)
  TensorView gate_proj, up_proj;          // (intermediate_size, hidden_size)
  TensorView down_proj;                   // (hidden_size, intermediate_size)
  TensorView gate_bias, up_bias, down_bias;  // mlp_bias
  bool sliding = false;                   // layer_types[i] == "sliding_attention"
};

class LlamaFamilyModel final : public LoadedModel {
 public:
  LlamaFamilyModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)) {
    const std::string& type = config_.model_type;
    gemma_ = type == "gemma3_text";
    set_config_source(c.source());
    // Every size is validated before it divides, multiplies or allocates anything.
    hidden_size_ = config_size(c, "hidden_size");
    num_heads_ = int(config_size(c, "num_attention_heads"));
    num_kv_heads_ = int(config_size_or(c, "num_key_value_heads", num_heads_));
    check_divisible(c, "num_attention_heads", num_heads_, "num_key_value_heads", num_kv_heads_);
    if (!c.has("head_dim")) check_divisible(c, "hidden_size", hidden_size_, "num_attention_heads", num_heads_);
    head_dim_ = int(config_size_or(c, "head_dim", hidden_size_ / num_heads_));
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    intermediate_size_ = config_size(c, "intermediate_size");
    eps_ = float(config_epsilon(c, "rms_norm_eps", 1e-6));
    const int64_t max_pos = config_size_or(c, "max_position_embeddings", 0);
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, "model.layers.");
    act_ = parse_activation(c.get_or<std::string>(gemma_ ? "hidden_activation" : "hidden_act", gemma_ ? "gelu_pytorch_tanh" : "silu"),
                            c.source() + ": " + (gemma_ ? "hidden_activation" : "hidden_act"));
    // Equivalent in modeling_gemma3.py: scaling = query_pre_attn_scalar ** -0.5
    if (gemma_) {
      const double scalar = c.get<double>("query_pre_attn_scalar");
      if (!(std::isfinite(scalar) && scalar > 0))
        throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"query_pre_attn_scalar\" must be a positive number (" +
                                                  c.raw()["query_pre_attn_scalar"].dump() + ")");
      scale_ = float(std::pow(scalar, -0.5));
    } else {
      scale_ = float(std::pow(head_dim_, -0.5));
    }
    embed_scale_ = gemma_ ? float(std::sqrt(double(hidden_size_))) : 1.f;
    // transformers divides by the cap whenever it is set: 0, negative or NaN would be garbage.
    if (c.has("final_logit_softcapping")) {
      final_logit_softcapping_ = float(c.get<double>("final_logit_softcapping"));
      if (!(std::isfinite(final_logit_softcapping_) && final_logit_softcapping_ > 0))
        throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"final_logit_softcapping\" must be a positive number (" +
                                                  c.raw()["final_logit_softcapping"].dump() + ")");
    }
    if (c.get_or<double>("attn_logit_softcapping", 0.0) != 0.0)
      throw Error(ErrorKind::kUnsupported, c.source() + ": attn_logit_softcapping is not supported");

    // Sliding window: mistral applies it to every layer; qwen2/qwen3 only with use_sliding_window;
    // gemma3 per layer_types (older configs: every sliding_window_pattern-th layer is global).
    sliding_window_ = int(config_size_or(c, "sliding_window", 0));
    const bool qwen = type == "qwen2" || type == "qwen3";
    std::vector<std::string> layer_types(num_layers_, "full_attention");
    if (c.has("layer_types")) {
      layer_types = c.get<std::vector<std::string>>("layer_types");
      if (int64_t(layer_types.size()) != num_layers_)
        throw Error(ErrorKind::kInvalidInput, c.source() + ": layer_types has " + std::to_string(layer_types.size()) +
                                                  " entries for num_hidden_layers " + std::to_string(num_layers_));
      for (const auto& t : layer_types)
        if (t != "full_attention" && t != "sliding_attention")
          throw Error(ErrorKind::kUnsupported, c.source() + ": layer_types holds \"" + t +
                                                   "\" (supported: full_attention, sliding_attention)");
    } else if (gemma_) {
      const int pattern = int(config_size_or(c, "sliding_window_pattern", 6));
      for (int i = 0; i < num_layers_; ++i) layer_types[i] = (i + 1) % pattern ? "sliding_attention" : "full_attention";
    } else if (qwen) {
      const bool use = c.get_or<bool>("use_sliding_window", false);
      const int64_t from = c.get_or<int64_t>("max_window_layers", num_layers_);
      for (int i = 0; i < num_layers_; ++i) layer_types[i] = use && i >= from ? "sliding_attention" : "full_attention";
    } else if (sliding_window_ > 0) {
      layer_types.assign(num_layers_, "sliding_attention");
    }
    if (qwen && !c.get_or<bool>("use_sliding_window", false)) sliding_window_ = 0;

    const double partial = c.get_or<double>("partial_rotary_factor", 1.0);
    if (!(partial > 0 && partial <= 1))
      throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"partial_rotary_factor\" must be in (0, 1] (" +
                                                c.raw()["partial_rotary_factor"].dump() + ")");
    const int64_t original_max = config_size_or(c, "original_max_position_embeddings", 0);
    rope_full_ = std::make_unique<RotaryEmbedding>(rope_parameters_for(c, "full_attention"), head_dim_, partial, max_pos,
                                                   original_max);
    rope_sliding_ = std::make_unique<RotaryEmbedding>(rope_parameters_for(c, "sliding_attention"), head_dim_, partial,
                                                      max_pos, original_max);
    // RoPE computes any position, but the model is only meant for its configured context:
    // longer sequences are refused (AUTOLM_MAX_POSITIONS allows them, as transformers would).
    const int64_t context = max_pos > 0 ? rope_full_->context_length(max_pos) : 0;
    positions_ = computed_position_limit(
        context, c.source() + ": max_position_embeddings = " + std::to_string(max_pos) +
                     (context != max_pos ? " with rope scaling to " + std::to_string(context) : ""));
    config_.max_positions = positions_.max;

    const int64_t q_out = int64_t(num_heads_) * head_dim_, kv_out = int64_t(num_kv_heads_) * head_dim_;
    // Labels name the keys with their values: "num_attention_heads (4) × head_dim (8) = 32".
    const std::string heads = "num_attention_heads (" + std::to_string(num_heads_) + ")",
                      kv_heads = "num_key_value_heads (" + std::to_string(num_kv_heads_) + ")",
                      hd = (c.has("head_dim") ? "head_dim (" : "head_dim = hidden_size / num_attention_heads (") +
                           std::to_string(head_dim_) + ")";
    describe_dim(config_.vocab_size, "vocab_size");
    describe_dim(hidden_size_, "hidden_size");
    describe_dim(intermediate_size_, "intermediate_size");
    describe_dim(2 * intermediate_size_, "2 × intermediate_size (" + std::to_string(intermediate_size_) + ")");
    describe_dim(head_dim_, c.has("head_dim") ? "head_dim" : "hidden_size / num_attention_heads");
    describe_dim(q_out, heads + " × " + hd);
    describe_dim(kv_out, kv_heads + " × " + hd);
    describe_dim(q_out + 2 * kv_out, "(" + heads + " + 2 × " + kv_heads + ") × " + hd);
    load_weights(c, layer_types);
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<CausalState>(num_layers_, batch, num_kv_heads_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(num_layers_) * num_kv_heads_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override;

 private:
  void load_weights(const JsonConfig& c, const std::vector<std::string>& layer_types) {
    const int64_t H = hidden_size_, V = config_.vocab_size, I = intermediate_size_;
    const int64_t q_out = int64_t(num_heads_) * head_dim_, kv_out = int64_t(num_kv_heads_) * head_dim_;
    const bool bias = c.get_or<bool>("attention_bias", config_.model_type == "qwen2");
    const bool mlp_bias = c.get_or<bool>("mlp_bias", false);
    embed_tokens_ = require_matrix("model.embed_tokens.weight", {V, H});
    norm_ = require("model.norm.weight", {H});
    const bool tied = c.get_or<bool>("tie_word_embeddings", gemma_);
    lm_head_ = lm_head("lm_head.weight", embed_tokens_, "model.embed_tokens.weight", tied, {V, H});
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      LlamaLayer& L = layers_[i];
      L.sliding = layer_types[i] == "sliding_attention";
      L.input_layernorm = require(p + "input_layernorm.weight", {H});
      L.post_attention_layernorm = require(p + "post_attention_layernorm.weight", {H});
      if (weights_->has(p + "self_attn.qkv_proj.weight")) {  // phi3: fused (q_out + 2*kv_out, hidden)
        TensorView qkv = require_matrix(p + "self_attn.qkv_proj.weight", {q_out + 2 * kv_out, H});
        L.q_proj = rows(qkv, 0, q_out);
        L.k_proj = rows(qkv, q_out, kv_out);
        L.v_proj = rows(qkv, q_out + kv_out, kv_out);
      } else {
        L.q_proj = require_matrix(p + "self_attn.q_proj.weight", {q_out, H});
        L.k_proj = require_matrix(p + "self_attn.k_proj.weight", {kv_out, H});
        L.v_proj = require_matrix(p + "self_attn.v_proj.weight", {kv_out, H});
      }
      if (bias) {
        L.q_bias = require(p + "self_attn.q_proj.bias", {q_out});
        L.k_bias = require(p + "self_attn.k_proj.bias", {kv_out});
        L.v_bias = require(p + "self_attn.v_proj.bias", {kv_out});
      }
      L.o_proj = require_matrix(p + "self_attn.o_proj.weight", {H, q_out});
      if (bias && config_.model_type != "qwen2") L.o_bias = optional(p + "self_attn.o_proj.bias", {H});
      L.q_norm = optional(p + "self_attn.q_norm.weight", {head_dim_});
      L.k_norm = optional(p + "self_attn.k_norm.weight", {head_dim_});
      if (gemma_) {
        L.pre_feedforward_layernorm = require(p + "pre_feedforward_layernorm.weight", {H});
        L.post_feedforward_layernorm = require(p + "post_feedforward_layernorm.weight", {H});
      }
      if (weights_->has(p + "mlp.gate_up_proj.weight")) {  // phi3: fused (2*intermediate, hidden), gate first
        TensorView gu = require_matrix(p + "mlp.gate_up_proj.weight", {2 * I, H});
        L.gate_proj = rows(gu, 0, I);
        L.up_proj = rows(gu, I, I);
      } else {
        L.gate_proj = require_matrix(p + "mlp.gate_proj.weight", {I, H});
        L.up_proj = require_matrix(p + "mlp.up_proj.weight", {I, H});
      }
      L.down_proj = require_matrix(p + "mlp.down_proj.weight", {H, I});
      if (mlp_bias) {
        L.gate_bias = require(p + "mlp.gate_proj.bias", {I});
        L.up_bias = require(p + "mlp.up_proj.bias", {I});
        L.down_bias = require(p + "mlp.down_proj.bias", {H});
      }
    }
  }

  // RMSNorm over the hidden size; Gemma multiplies by (1 + w).
  void norm(const float* x, int64_t rows, const TensorView& w, float* y) const {
    rms_norm(x, rows, w.numel(), w, eps_, y, gemma_);
  }

  bool gemma_ = false;
  PositionLimit positions_;
  int64_t hidden_size_ = 0, intermediate_size_ = 0;
  int num_heads_ = 0, num_kv_heads_ = 0, head_dim_ = 0, num_layers_ = 0, sliding_window_ = 0;
  float eps_ = 1e-6f, scale_ = 1.f, embed_scale_ = 1.f, final_logit_softcapping_ = 0.f;
  Activation act_ = Activation::kSilu;
  std::unique_ptr<RotaryEmbedding> rope_full_, rope_sliding_;
  TensorView embed_tokens_;  // (vocab_size, hidden_size)
  TensorView norm_;          // (hidden_size)
  TensorView lm_head_;       // (vocab_size, hidden_size), embed_tokens_ when tied
  std::vector<LlamaLayer> layers_;
};

std::span<const float> LlamaFamilyModel::decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask,
                                                int T, DecodeState& base, bool all_positions) const {
  auto& s = static_cast<CausalState&>(base);
  const int B = s.batch_size();
  const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
  const int64_t N = int64_t(B) * T, H = hidden_size_, I = intermediate_size_;
  const int64_t q_out = int64_t(num_heads_) * head_dim_, kv_out = int64_t(num_kv_heads_) * head_dim_;
  int64_t max_pos = 0;
  for (int64_t p : s.positions) max_pos = std::max(max_pos, p);
  const int64_t out_rows = all_positions ? N : B;
  check_scratch(double(N) * (2 * H + 2 * q_out + 2 * kv_out + 2 * I) + double(out_rows) * (H + config_.vocab_size), N);

  float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
  float* x = s.x.resize(N * H);            // normed hidden states
  float* q = s.ws.q.resize(N * q_out);        // (batch*seq_len, num_heads*head_dim)
  float* k = s.ws.k.resize(N * kv_out);       // (batch*seq_len, num_kv_heads*head_dim)
  float* v = s.ws.v.resize(N * kv_out);
  float* attn = s.ws.attn.resize(N * q_out);
  float* gate = s.ws.gate.resize(N * I);      // (batch*seq_len, intermediate_size)
  float* up = s.ws.up.resize(N * I);

  for (int64_t n = 0; n < N; ++n) {
    copy_row(embed_tokens_, ids[n], hidden + n * H);
    if (embed_scale_ != 1.f)
      for (int64_t i = 0; i < H; ++i) hidden[n * H + i] *= embed_scale_;
  }

  int layer_index = 0;
  const KVSource kv = s.cache.source(layer_index);

  for (int l = 0; l < num_layers_; ++l) {
    const LlamaLayer& L = layers_[l];
    layer_index = l;
    const RotaryEmbedding& rope = L.sliding ? *rope_sliding_ : *rope_full_;
    // --- self-attention
    norm(hidden, N, L.input_layernorm, x);
    linear_fused(x, N, {{L.q_proj, L.q_bias, q}, {L.k_proj, L.k_bias, k}, {L.v_proj, L.v_bias, v}});
    for (int64_t n = 0; n < N; ++n) {
      float* qn = q + n * q_out;
      float* kn = k + n * kv_out;
      if (!L.q_norm.empty()) rms_norm(qn, num_heads_, head_dim_, L.q_norm, eps_, qn, gemma_);
      if (!L.k_norm.empty()) rms_norm(kn, num_kv_heads_, head_dim_, L.k_norm, eps_, kn, gemma_);
      rope.apply(qn, num_heads_, head_dim_, s.positions[n], max_pos + 1);
      rope.apply(kn, num_kv_heads_, head_dim_, s.positions[n], max_pos + 1);
    }
    scatter_heads(k, B, T, num_kv_heads_, head_dim_, s.cache.k(l, 0, 0), s.cache.max_len(), start);
    scatter_heads(v, B, T, num_kv_heads_, head_dim_, s.cache.v(l, 0, 0), s.cache.max_len(), start);
    AttentionSpec spec;
    spec.num_heads = num_heads_;
    spec.num_kv_heads = num_kv_heads_;
    spec.head_dim = head_dim_;
    spec.scale = scale_;
    spec.causal = true;
    spec.sliding_window = L.sliding ? sliding_window_ : 0;
    attention(spec, B, T, start, q, kv, start + T, attn);
    if (gemma_) {  // sandwich norm: post_attention_layernorm on the attention output
      linear(attn, N, L.o_proj, L.o_bias, x);
      norm(x, N, L.post_attention_layernorm, x);
      for (int64_t i = 0; i < N * H; ++i) hidden[i] += x[i];
    } else {
      linear_accumulate(attn, N, L.o_proj, L.o_bias, hidden);
    }
    // --- MLP: down(act(gate(x)) * up(x))
    norm(hidden, N, gemma_ ? L.pre_feedforward_layernorm : L.post_attention_layernorm, x);
    linear_fused(x, N, {{L.gate_proj, L.gate_bias, gate}, {L.up_proj, L.up_bias, up}});
    activate_gated(act_, gate, up, N * I);
    if (gemma_) {
      linear(up, N, L.down_proj, L.down_bias, x);
      norm(x, N, L.post_feedforward_layernorm, x);
      for (int64_t i = 0; i < N * H; ++i) hidden[i] += x[i];
    } else {
      linear_accumulate(up, N, L.down_proj, L.down_bias, hidden);
    }
  }

  // Final norm and LM head, on every position or on each row's last one.
  float* last = s.last.resize(out_rows * H);
  if (all_positions) {
    norm(hidden, N, norm_, last);
  } else {
    for (int b = 0; b < B; ++b) norm(hidden + (int64_t(b) * T + T - 1) * H, 1, norm_, last + b * H);
  }
  float* logits = s.logits.resize(out_rows * config_.vocab_size);
  linear(last, out_rows, lm_head_, {}, logits);
  if (final_logit_softcapping_ > 0.f)
    for (int64_t i = 0; i < out_rows * config_.vocab_size; ++i)
      logits[i] = std::tanh(logits[i] / final_logit_softcapping_) * final_logit_softcapping_;
  return {logits, size_t(out_rows * config_.vocab_size)};
}

}  // namespace

std::unique_ptr<Model> make_llama_family(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<LlamaFamilyModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
