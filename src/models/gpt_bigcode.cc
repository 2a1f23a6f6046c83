// GPTBigCode / SantaCoder / StarCoder (transformers' modeling_gpt_bigcode.py): GPT-2's block with
// nn.Linear weights (no Conv1D transpose) and multi-query attention — c_attn is [q (n_embd),
// k (head_dim), v (head_dim)] — or, without multi_query, c_attn laid out per head [q, k, v].
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

struct GPTBigCodeBlock {
  TensorView ln_1_w, ln_1_b;      // (n_embd)
  TensorView c_attn, c_attn_b;    // (n_embd + 2*kv_heads*head_dim, n_embd)
  TensorView q, k, v;             // multi_query: row views of c_attn
  TensorView q_b, k_b, v_b;
  TensorView c_proj, c_proj_b;    // attn.c_proj: (n_embd, n_embd)
  TensorView ln_2_w, ln_2_b;      // (n_embd)
  TensorView c_fc, c_fc_b;        // (n_inner, n_embd)
  TensorView mlp_proj, mlp_proj_b;  // mlp.c_proj: (n_embd, n_inner)
};

class GPTBigCodeModel final : public LoadedModel {
 public:
  GPTBigCodeModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    E_ = config_size(c, "n_embd");
    n_head_ = int(config_size(c, "n_head"));
    n_layer_ = int(config_size(c, "n_layer"));
    n_inner_ = config_size_or(c, "n_inner", 4 * E_);
    n_positions_ = config_size(c, "n_positions");
    eps_ = float(config_epsilon(c, "layer_norm_epsilon", 1e-5));
    act_ = parse_activation(c.get_or<std::string>("activation_function", "gelu_pytorch_tanh"),
                            c.source() + ": activation_function");
    check_divisible(c, "n_embd", E_, "n_head", n_head_);
    head_dim_ = int(E_ / n_head_);
    multi_query_ = c.get_or<bool>("multi_query", true);
    kv_heads_ = multi_query_ ? 1 : n_head_;
    scale_ = c.get_or<bool>("scale_attn_weights", true) ? float(std::pow(head_dim_, -0.5)) : 1.f;
    positions_ = {n_positions_, c.source() + ": n_positions = " + std::to_string(n_positions_), ""};
    config_.max_positions = n_positions_;
    const int64_t V = config_.vocab_size, kv_dim = int64_t(kv_heads_) * head_dim_, qkv = E_ + 2 * kv_dim;
    describe_dim(V, "vocab_size");
    describe_dim(E_, "n_embd");
    describe_dim(n_inner_, "n_inner");
    describe_dim(n_positions_, "n_positions");
    describe_dim(qkv, "n_embd + 2 × kv heads × head_dim");
    check_layer_count(c, "n_layer", n_layer_, *weights_, "transformer.h.");
    wte_ = require_matrix("transformer.wte.weight", {V, E_});
    wpe_ = require("transformer.wpe.weight", {n_positions_, E_});
    ln_f_w_ = require("transformer.ln_f.weight", {E_});
    ln_f_b_ = require("transformer.ln_f.bias", {E_});
    lm_head_ = lm_head("lm_head.weight", wte_, "transformer.wte.weight", c.get_or<bool>("tie_word_embeddings", true),
                       {V, E_});
    blocks_.resize(n_layer_);
    for (int i = 0; i < n_layer_; ++i) {
      const std::string b = "transformer.h." + std::to_string(i) + ".";
      GPTBigCodeBlock& B = blocks_[i];
      B.ln_1_w = require(b + "ln_1.weight", {E_});
      B.ln_1_b = require(b + "ln_1.bias", {E_});
      B.c_attn = require_matrix(b + "attn.c_attn.weight", {qkv, E_});
      B.c_attn_b = require(b + "attn.c_attn.bias", {qkv});
      if (multi_query_) {  // split((n_embd, kv_dim, kv_dim)): contiguous rows, no copy
        B.q = rows(B.c_attn, 0, E_);
        B.k = rows(B.c_attn, E_, kv_dim);
        B.v = rows(B.c_attn, E_ + kv_dim, kv_dim);
        B.q_b = TensorView{B.c_attn_b.data, {E_}};
        B.k_b = TensorView{B.c_attn_b.data + E_, {kv_dim}};
        B.v_b = TensorView{B.c_attn_b.data + E_ + kv_dim, {kv_dim}};
      }
      B.c_proj = require_matrix(b + "attn.c_proj.weight", {E_, E_});
      B.c_proj_b = require(b + "attn.c_proj.bias", {E_});
      B.ln_2_w = require(b + "ln_2.weight", {E_});
      B.ln_2_b = require(b + "ln_2.bias", {E_});
      B.c_fc = require_matrix(b + "mlp.c_fc.weight", {n_inner_, E_});
      B.c_fc_b = require(b + "mlp.c_fc.bias", {n_inner_});
      B.mlp_proj = require_matrix(b + "mlp.c_proj.weight", {E_, n_inner_});
      B.mlp_proj_b = require(b + "mlp.c_proj.bias", {E_});
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<CausalState>(n_layer_, batch, kv_heads_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(n_layer_) * kv_heads_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const int B = s.batch_size();
    const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
    const int64_t N = int64_t(B) * T, E = E_, V = config_.vocab_size, D = head_dim_;
    const int64_t kv_dim = int64_t(kv_heads_) * D;
    for (int64_t p : s.positions)
      if (p >= n_positions_)
        throw Error(ErrorKind::kInvalidInput, "position " + std::to_string(p) + " is beyond n_positions (" +
                                                  std::to_string(n_positions_) + ")");
    const int64_t out_rows = all_positions ? N : B;
    check_scratch(double(N) * (7 * E + n_inner_) + double(out_rows) * (E + V), N);
    float* hidden = s.hidden.resize(N * E);  // (batch*seq_len, n_embd)
    float* x = s.x.resize(N * E);
    float* q = s.q.resize(N * E);
    float* k = s.k.resize(N * kv_dim);
    float* v = s.v.resize(N * kv_dim);
    float* attn = s.attn.resize(N * E);
    float* ff = s.up.resize(N * n_inner_);   // (batch*seq_len, n_inner)
    for (int64_t n = 0; n < N; ++n) {
      copy_row(wte_, ids[n], hidden + n * E);
      const float* pe = wpe_.row(s.positions[n]);
      for (int64_t i = 0; i < E; ++i) hidden[n * E + i] += pe[i];
    }
    int layer_index = 0;
    const KVSource kv = s.cache.source(layer_index);
    for (int l = 0; l < n_layer_; ++l) {
      const GPTBigCodeBlock& L = blocks_[l];
      layer_index = l;
      layer_norm(hidden, N, E, L.ln_1_w, L.ln_1_b, eps_, x);
      if (multi_query_) {
        linear_fused(x, N, {{L.q, L.q_b, q}, {L.k, L.k_b, k}, {L.v, L.v_b, v}});
      } else {  // view(..., n_head, 3*head_dim).split(head_dim)
        float* fused = s.gate.resize(N * 3 * E);
        linear(x, N, L.c_attn, L.c_attn_b, fused);
        for (int64_t n = 0; n < N; ++n)
          for (int h = 0; h < n_head_; ++h) {
            const float* src = fused + (n * n_head_ + h) * 3 * D;
            std::copy(src, src + D, q + n * E + h * D);
            std::copy(src + D, src + 2 * D, k + n * E + h * D);
            std::copy(src + 2 * D, src + 3 * D, v + n * E + h * D);
          }
      }
      scatter_heads(k, B, T, kv_heads_, head_dim_, s.cache.k(l, 0, 0), s.cache.max_len(), start);
      scatter_heads(v, B, T, kv_heads_, head_dim_, s.cache.v(l, 0, 0), s.cache.max_len(), start);
      AttentionSpec spec;
      spec.num_heads = n_head_;
      spec.num_kv_heads = kv_heads_;
      spec.head_dim = head_dim_;
      spec.scale = scale_;
      attention(spec, B, T, start, q, kv, start + T, attn);
      linear_accumulate(attn, N, L.c_proj, L.c_proj_b, hidden);
      layer_norm(hidden, N, E, L.ln_2_w, L.ln_2_b, eps_, x);
      linear(x, N, L.c_fc, L.c_fc_b, ff);
      activate(act_, ff, N * n_inner_);
      linear_accumulate(ff, N, L.mlp_proj, L.mlp_proj_b, hidden);
    }
    float* last = s.last.resize(out_rows * E);
    if (all_positions) layer_norm(hidden, N, E, ln_f_w_, ln_f_b_, eps_, last);
    else
      for (int b = 0; b < B; ++b) layer_norm(hidden + (int64_t(b) * T + T - 1) * E, 1, E, ln_f_w_, ln_f_b_, eps_, last + b * E);
    static const TensorView kNone;
    float* logits = s.logits.resize(out_rows * V);
    linear(last, out_rows, lm_head_, kNone, logits);
    return {logits, size_t(out_rows * V)};
  }

 private:
  PositionLimit positions_;
  int64_t E_ = 0, n_inner_ = 0, n_positions_ = 0;
  int n_head_ = 0, n_layer_ = 0, head_dim_ = 0, kv_heads_ = 1;
  bool multi_query_ = true;
  float eps_ = 1e-5f, scale_ = 1.f;
  Activation act_ = Activation::kGeluTanh;
  TensorView wte_;              // (vocab_size, n_embd)
  TensorView wpe_;              // (n_positions, n_embd)
  TensorView ln_f_w_, ln_f_b_;  // (n_embd)
  TensorView lm_head_;          // (vocab_size, n_embd): wte_ when tied
  std::vector<GPTBigCodeBlock> blocks_;
};

}  // namespace

std::unique_ptr<Model> make_gpt_bigcode(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<GPTBigCodeModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
