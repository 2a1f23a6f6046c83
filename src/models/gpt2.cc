// GPT-2 (transformers' modeling_gpt2.py): learned positions, pre-LN blocks, fused c_attn,
// Conv1D weights stored (in, out) and transposed once at load, LM head tied to wte.
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/decoder_state.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "nn/attention.h"
#include "ops/activations.h"
#include "ops/linear.h"
#include "ops/norms.h"

namespace autolm {

namespace {

struct GPT2Block {
  TensorView ln_1_w, ln_1_b;        // (n_embd)
  TensorView q, k, v;               // rows of c_attn: each (n_embd, n_embd)
  TensorView q_b, k_b, v_b;         // (n_embd)
  TensorView c_proj, c_proj_b;      // attn.c_proj: (n_embd, n_embd), (n_embd)
  TensorView ln_2_w, ln_2_b;        // (n_embd)
  TensorView c_fc, c_fc_b;          // (n_inner, n_embd), (n_inner)
  TensorView mlp_proj, mlp_proj_b;  // (n_embd, n_inner), (n_embd)
};

class GPT2Model final : public LoadedModel {
 public:
  GPT2Model(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w) : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    n_embd_ = config_size(c, "n_embd");
    n_head_ = int(config_size(c, "n_head"));
    n_layer_ = int(config_size(c, "n_layer"));
    n_inner_ = config_size_or(c, "n_inner", 4 * n_embd_);
    n_positions_ = config_size(c, "n_positions");
    eps_ = float(config_epsilon(c, "layer_norm_epsilon", 1e-5));
    act_ = parse_activation(c.get_or<std::string>("activation_function", "gelu_new"), c.source() + ": activation_function");
    check_divisible(c, "n_embd", n_embd_, "n_head", n_head_);
    head_dim_ = int(n_embd_ / n_head_);
    scale_attn_weights_ = c.get_or<bool>("scale_attn_weights", true);
    scale_by_layer_ = c.get_or<bool>("scale_attn_by_inverse_layer_idx", false);
    // The learned position table (wpe) is a hard limit.
    positions_ = {n_positions_, c.source() + ": n_positions = " + std::to_string(n_positions_), ""};
    config_.max_positions = n_positions_;
    describe_dim(config_.vocab_size, "vocab_size");
    describe_dim(n_embd_, "n_embd");
    describe_dim(3 * n_embd_, "3 × n_embd (" + std::to_string(n_embd_) + ")");
    describe_dim(n_inner_, c.has("n_inner") ? "n_inner" : "n_inner = 4 × n_embd (" + std::to_string(n_embd_) + ")");
    describe_dim(n_positions_, "n_positions");

    // GPT2LMHeadModel saves "transformer.h.0…"; the original Hub checkpoints drop the prefix.
    const std::string p = weights_->has("transformer.wte.weight") ? "transformer." : "";
    check_layer_count(c, "n_layer", n_layer_, *weights_, p + "h.");
    const int64_t E = n_embd_, V = config_.vocab_size;
    wte_ = require_matrix(p + "wte.weight", {V, E});
    wpe_ = require(p + "wpe.weight", {n_positions_, E});
    ln_f_w_ = require(p + "ln_f.weight", {E});
    ln_f_b_ = require(p + "ln_f.bias", {E});
    lm_head_ = lm_head("lm_head.weight", wte_, p + "wte.weight", c.get_or<bool>("tie_word_embeddings", true), {V, E});
    blocks_.resize(n_layer_);
    for (int i = 0; i < n_layer_; ++i) {
      const std::string b = p + "h." + std::to_string(i) + ".";
      GPT2Block& B = blocks_[i];
      B.ln_1_w = require(b + "ln_1.weight", {E});
      B.ln_1_b = require(b + "ln_1.bias", {E});
      TensorView c_attn = require_transposed(b + "attn.c_attn.weight", {E, 3 * E});  // → (3E, E)
      B.q = rows(c_attn, 0, E);
      B.k = rows(c_attn, E, E);
      B.v = rows(c_attn, 2 * E, E);
      TensorView c_attn_b = require(b + "attn.c_attn.bias", {3 * E});
      B.q_b = TensorView{c_attn_b.data, {E}};
      B.k_b = TensorView{c_attn_b.data + E, {E}};
      B.v_b = TensorView{c_attn_b.data + 2 * E, {E}};
      B.c_proj = require_transposed(b + "attn.c_proj.weight", {E, E});
      B.c_proj_b = require(b + "attn.c_proj.bias", {E});
      B.ln_2_w = require(b + "ln_2.weight", {E});
      B.ln_2_b = require(b + "ln_2.bias", {E});
      B.c_fc = require_transposed(b + "mlp.c_fc.weight", {E, n_inner_});
      B.c_fc_b = require(b + "mlp.c_fc.bias", {n_inner_});
      B.mlp_proj = require_transposed(b + "mlp.c_proj.weight", {n_inner_, E});
      B.mlp_proj_b = require(b + "mlp.c_proj.bias", {E});
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<CausalState>(n_layer_, batch, n_head_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(n_layer_) * n_head_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const int B = s.batch_size();
    const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
    const int64_t N = int64_t(B) * T, E = n_embd_;
    for (int64_t p : s.positions)
      if (p >= n_positions_)
        throw Error(ErrorKind::kInvalidInput, "position " + std::to_string(p) + " is beyond GPT-2's n_positions (" +
                                                  std::to_string(n_positions_) + ")");
    const int64_t out_rows = all_positions ? N : B;
    check_scratch(double(N) * (6 * E + n_inner_) + double(out_rows) * (E + config_.vocab_size), N);
    float* hidden = s.hidden.resize(N * E);  // (batch*seq_len, n_embd)
    float* x = s.x.resize(N * E);
    float* q = s.ws.q.resize(N * E);
    float* k = s.ws.k.resize(N * E);
    float* v = s.ws.v.resize(N * E);
    float* attn = s.ws.attn.resize(N * E);
    float* ff = s.ws.up.resize(N * n_inner_);  // (batch*seq_len, n_inner)
    for (int64_t n = 0; n < N; ++n) {
      copy_row(wte_, ids[n], hidden + n * E);
      const float* pe = wpe_.row(s.positions[n]);
      for (int64_t i = 0; i < E; ++i) hidden[n * E + i] += pe[i];
    }
    int layer_index = 0;
    const KVSource kv = s.cache.source(layer_index);
    for (int l = 0; l < n_layer_; ++l) {
      const GPT2Block& L = blocks_[l];
      layer_index = l;
      layer_norm(hidden, N, E, L.ln_1_w, L.ln_1_b, eps_, x);
      linear_fused(x, N, {{L.q, L.q_b, q}, {L.k, L.k_b, k}, {L.v, L.v_b, v}});
      scatter_heads(k, B, T, n_head_, head_dim_, s.cache.k(l, 0, 0), s.cache.max_len(), start);
      scatter_heads(v, B, T, n_head_, head_dim_, s.cache.v(l, 0, 0), s.cache.max_len(), start);
      AttentionSpec spec;
      spec.num_heads = spec.num_kv_heads = n_head_;
      spec.head_dim = head_dim_;
      spec.scale = scale_attn_weights_ ? float(1.0 / std::sqrt(double(head_dim_))) : 1.f;
      if (scale_by_layer_) spec.scale /= float(l + 1);
      attention(spec, B, T, start, q, kv, start + T, attn);
      linear_accumulate(attn, N, L.c_proj, L.c_proj_b, hidden);
      layer_norm(hidden, N, E, L.ln_2_w, L.ln_2_b, eps_, x);
      linear(x, N, L.c_fc, L.c_fc_b, ff);
      activate(act_, ff, N * n_inner_);
      linear_accumulate(ff, N, L.mlp_proj, L.mlp_proj_b, hidden);
    }
    float* last = s.last.resize(out_rows * E);
    if (all_positions) {
      layer_norm(hidden, N, E, ln_f_w_, ln_f_b_, eps_, last);
    } else {
      for (int b = 0; b < B; ++b) layer_norm(hidden + (int64_t(b) * T + T - 1) * E, 1, E, ln_f_w_, ln_f_b_, eps_, last + b * E);
    }
    float* logits = s.logits.resize(out_rows * config_.vocab_size);
    linear(last, out_rows, lm_head_, {}, logits);
    return {logits, size_t(out_rows * config_.vocab_size)};
  }

 private:
  PositionLimit positions_;
  int64_t n_embd_ = 0, n_inner_ = 0, n_positions_ = 0;
  int n_head_ = 0, n_layer_ = 0, head_dim_ = 0;
  float eps_ = 1e-5f;
  bool scale_attn_weights_ = true, scale_by_layer_ = false;
  Activation act_ = Activation::kGeluTanh;
  TensorView wte_;      // (vocab_size, n_embd)
  TensorView lm_head_;  // (vocab_size, n_embd): wte_ when tied
  TensorView wpe_;  // (n_positions, n_embd)
  TensorView ln_f_w_, ln_f_b_;
  std::vector<GPT2Block> blocks_;
};

}  // namespace

std::unique_ptr<Model> make_gpt2(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<GPT2Model>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
