#include "models/t5_stack.h"

#include <cmath>

#include "models/encoder_mask.h"
#include "nn/attention.h"
#include "nn/kv_cache.h"
#include "ops/linear.h"

namespace autolm {

T5FeedForwardKind t5_feed_forward_kind(const JsonConfig& c) {
  // Equivalent in configuration_t5.py: act_info = feed_forward_proj.split("-"); "gated-gelu" → gelu_new.
  const std::string ffp = c.get_or<std::string>("feed_forward_proj", "relu");
  T5FeedForwardKind k;
  k.gated = ffp.rfind("gated-", 0) == 0;
  std::string act = k.gated ? ffp.substr(6) : ffp;
  if (act == "gelu") act = "gelu_new";
  k.act = parse_activation(c.get_or<std::string>("dense_act_fn", act), c.source() + ": dense_act_fn");
  return k;
}

T5StackModel::T5StackModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w,
                           const T5StackOptions& options)
    : LoadedModel(std::move(mc), std::move(w)) {
  set_config_source(c.source());
  d_model_ = config_size(c, "d_model");
  d_kv_ = int(config_size(c, "d_kv"));
  d_ff_ = config_size(c, "d_ff");
  num_heads_ = int(config_size(c, "num_heads"));
  num_layers_ = int(config_size(c, "num_layers"));
  num_decoder_layers_ = int(config_size_or(c, "num_decoder_layers", num_layers_));
  bias_options_.num_heads = num_heads_;
  bias_options_.num_buckets = int(config_size_or(c, "relative_attention_num_buckets", 32));
  bias_options_.max_distance = int(config_size_or(c, "relative_attention_max_distance", 128));
  // relative_position_bucket: each direction of the encoder's buckets keeps num_buckets / 4
  // exact distances, the decoder num_buckets / 2, then log-spaced buckets up to max_distance.
  // Fewer buckets divide by zero, a max_distance within the exact range yields negative bucket
  // indexes (transformers fails on them too).
  if (bias_options_.num_buckets < 4)
    throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"relative_attention_num_buckets\" must be at least 4 (" +
                                              std::to_string(bias_options_.num_buckets) + ")");
  if (bias_options_.max_distance <= bias_options_.num_buckets / 2)
    throw Error(ErrorKind::kInvalidInput, c.source() + ": relative_attention_max_distance (" +
                                              std::to_string(bias_options_.max_distance) +
                                              ") must exceed relative_attention_num_buckets / 2 (" +
                                              std::to_string(bias_options_.num_buckets / 2) + ")");
  check_layer_count(c, "num_layers", num_layers_, *weights_, "encoder.block.");
  check_layer_count(c, "num_decoder_layers", num_decoder_layers_, *weights_, "decoder.block.");
  // Relative positions have no table: the documented limit bounds the sequences (and the
  // bias tables, state and scratch sized from them).
  positions_ = computed_position_limit(0, "");
  config_.max_positions = positions_.max;
  describe_dim(config_.vocab_size, "vocab_size");
  describe_dim(d_model_, "d_model");
  describe_dim(int64_t(num_heads_) * d_kv_,
               "num_heads (" + std::to_string(num_heads_) + ") × d_kv (" + std::to_string(d_kv_) + ")");
  describe_dim(d_ff_, "d_ff");
  describe_dim(bias_options_.num_buckets, "relative_attention_num_buckets");
  describe_dim(num_heads_, "num_heads");
  norm_ = NormOptions{NormKind::kRms, float(config_epsilon(c, "layer_norm_epsilon", 1e-6))};
  if (!config_.decoder_start_token_id) config_.decoder_start_token_id = config_.pad_token_id;

  const int64_t V = config_.vocab_size, D = d_model_;
  shared_ = Embedding::load(*this, "shared.weight", V, D, {});
  for (const char* alias : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"})
    if (weights_->has(alias)) optional(alias, {V, D});  // tied copies of shared
  for (bool decoder : {false, true}) {
    std::vector<T5Block>& stack = decoder ? decoder_ : encoder_;
    stack.resize(decoder ? num_decoder_layers_ : num_layers_);
    for (int i = 0; i < int(stack.size()); ++i) {
      const std::string b = layer_prefix(decoder, i);
      T5Block& B = stack[i];
      // has_relative_attention_bias = bool(i == 0) (UMT5: every layer).
      const bool bias = i == 0 || options.every_layer_has_bias;
      B.self_norm = Norm::load(*this, b + "0.layer_norm", D, norm_);
      B.self_attn = load_attention(b + "0." + (decoder ? "SelfAttention" : options.encoder_attention) + ".", bias, !decoder);
      if (decoder) {
        B.cross_norm = Norm::load(*this, b + "1.layer_norm", D, norm_);
        // T5Attention with key_value_states: no biases, no 1/sqrt(d_kv) scaling.
        const CrossAttentionOptions cross{D, num_heads_, d_kv_, D, /*bias=*/false, /*scale=*/1.f};
        B.cross_attn = CrossAttention::load(*this, b + "1.EncDecAttention.", cross, {"q", "k", "v", "o"});
        // EncDecAttention has no position bias; a checkpoint's unused table is accepted.
        RelativePositionBias::load(*this, b + "1.EncDecAttention.relative_attention_bias.weight", bias_options_, true);
      }
      B.ff_norm = Norm::load(*this, b + ff_index(decoder) + ".layer_norm", D, norm_);
    }
  }
  encoder_final_layer_norm_ = Norm::load(*this, "encoder.final_layer_norm", D, norm_);
  LmHeadOptions head;
  head.norm = norm_;
  head.tie_word_embeddings = options.tie_word_embeddings;
  // Equivalent in modeling_t5.py: sequence_output * (self.model_dim**-0.5).
  if (options.scale_decoder_outputs) head.hidden_scale = float(std::pow(double(D), -0.5));
  lm_head_ = LmHead::load(*this, V, D, shared_.tokens(), "shared.weight", head, {"decoder.final_layer_norm", "lm_head"});
}

T5Attention T5StackModel::load_attention(const std::string& p, bool relative_bias, bool bidirectional) {
  const int64_t inner = int64_t(num_heads_) * d_kv_, D = d_model_;
  T5Attention a;
  a.q = require_matrix(p + "q.weight", {inner, D});
  a.k = require_matrix(p + "k.weight", {inner, D});
  a.v = require_matrix(p + "v.weight", {inner, D});
  a.o = require_matrix(p + "o.weight", {D, inner});
  RelativePositionBiasOptions rb = bias_options_;
  rb.bidirectional = bidirectional;
  if (relative_bias) a.relative_attention_bias = RelativePositionBias::load(*this, p + "relative_attention_bias.weight", rb, false);
  return a;
}

std::unique_ptr<DecodeState> T5StackModel::new_state(int batch, int max_length, int rows_per_input) const {
  check_state_length(positions_, max_length);
  return std::make_unique<T5State>(num_decoder_layers_, batch, rows_per_input, num_heads_, max_length, d_kv_);
}

void T5StackModel::encoder_self_attention(int l, const float* x, int n, int S, T5State& s, float* hidden) const {
  const T5Attention& a = encoder_[l].self_attn;
  const int64_t N = int64_t(n) * S, inner = int64_t(num_heads_) * d_kv_;
  // Position bias from the first layer is reused by every layer (UMT5: each layer has its own).
  float* table = s.enc_bias.resize(size_t(num_heads_) * (2 * S + 1));  // (num_heads, 2*S + 1)
  if (!a.relative_attention_bias.empty()) a.relative_attention_bias.fill(S, table);
  float* q = s.ws.q.resize(N * inner);  // (inputs*src_len, num_heads*d_kv)
  float* k = s.ws.k.resize(N * inner);
  float* v = s.ws.v.resize(N * inner);
  float* attn = s.ws.attn.resize(N * inner);
  const TensorView none;
  linear_fused(x, N, {{a.q, none, q}, {a.k, none, k}, {a.v, none, v}});
  float* enc_k = s.enc_k.resize(N * inner);  // (inputs, num_heads, src_len, d_kv)
  float* enc_v = s.enc_v.resize(N * inner);
  scatter_heads(k, n, S, num_heads_, d_kv_, enc_k, S, 0);
  scatter_heads(v, n, S, num_heads_, d_kv_, enc_v, S, 0);
  KVSource kv;
  kv.k = [&](int b, int h) { return enc_k + (int64_t(b) * num_heads_ + h) * S * d_kv_; };
  kv.v = [&](int b, int h) { return enc_v + (int64_t(b) * num_heads_ + h) * S * d_kv_; };
  kv.key_valid = [&](int b) { return s.src_valid.data() + int64_t(b) * S; };
  AttentionSpec spec{num_heads_, num_heads_, d_kv_, 1.f, false, encoder_window_, table, 2 * S + 1, S};
  attention(spec, n, S, 0, q, kv, S, attn);
  linear_accumulate(attn, N, a.o, {}, hidden);
}

void T5StackModel::encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const {
  auto& s = static_cast<T5State&>(base);
  check_sequence_length(positions_, S, "an encoder input", "shorten the input");
  global_attention_tokens(mask, /*supported=*/false, config_.model_type);  // refuses mask value 2
  const int n = begin_encode(s, ids, mask, S, config_.vocab_size);
  const int64_t N = int64_t(n) * S, D = d_model_, inner = int64_t(num_heads_) * d_kv_;
  // Scratch, encoder K/V and every decoder layer's cross-attention K/V.
  check_scratch(double(N) * (3 * D + 6 * inner + 2 * d_ff_ + 2.0 * num_decoder_layers_ * inner), N);
  float* hidden = s.hidden.resize(N * D);  // (inputs*src_len, d_model)
  shared_.forward(ids, {}, hidden);
  float* x = s.x.resize(N * D);
  for (int l = 0; l < num_layers_; ++l) {
    const T5Block& B = encoder_[l];
    B.self_norm.forward(hidden, N, x);
    encoder_self_attention(l, x, n, S, s, hidden);
    B.ff_norm.forward(hidden, N, x);
    feed_forward(false, l, x, n, S, s, hidden);
  }
  float* enc_out = s.last.resize(N * D);  // (inputs*src_len, d_model)
  encoder_final_layer_norm_.forward(hidden, N, enc_out);
  // Cross-attention K/V of every decoder layer, once per input: (inputs, num_heads, src_len, d_kv).
  for (int l = 0; l < num_decoder_layers_; ++l) decoder_[l].cross_attn.project_kv(enc_out, n, S, s.ws, s.cross[l]);
}

std::span<const float> T5StackModel::decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T,
                                            DecodeState& base, bool all_positions) const {
  auto& s = static_cast<T5State&>(base);
  const int start = begin_seq2seq_step(s, ids, mask, T, config_.vocab_size);
  const int B = s.batch_size();
  const int64_t N = int64_t(B) * T, D = d_model_, inner = int64_t(num_heads_) * d_kv_;
  const int K = start + T;  // keys after this step
  const int64_t out_rows = all_positions ? N : B;
  check_scratch(double(N) * (2 * D + 4 * inner + 2 * d_ff_) + double(num_heads_) * (2 * K + 1) +
                    double(out_rows) * (D + config_.vocab_size),
                N);
  float* hidden = s.hidden.resize(N * D);  // (batch*seq_len, d_model)
  shared_.forward(ids, {}, hidden);
  float* q = s.ws.q.resize(N * inner);  // (batch*seq_len, num_heads*d_kv)
  float* k = s.ws.k.resize(N * inner);
  float* v = s.ws.v.resize(N * inner);
  float* attn = s.ws.attn.resize(N * inner);
  float* table = s.bias.resize(size_t(num_heads_) * (2 * K + 1));  // (num_heads, 2*K + 1)
  float* x = s.x.resize(N * D);
  const TensorView none;
  int layer = 0;
  KVSource self_kv = s.self_source(layer);
  for (; layer < num_decoder_layers_; ++layer) {
    const T5Block& Bk = decoder_[layer];
    if (!Bk.self_attn.relative_attention_bias.empty()) Bk.self_attn.relative_attention_bias.fill(K, table);
    // T5LayerSelfAttention: causal, relative position bias.
    Bk.self_norm.forward(hidden, N, x);
    linear_fused(x, N, {{Bk.self_attn.q, none, q}, {Bk.self_attn.k, none, k}, {Bk.self_attn.v, none, v}});
    scatter_heads(k, B, T, num_heads_, d_kv_, s.self_cache.k(layer, 0, 0), s.self_cache.max_len(), start);
    scatter_heads(v, B, T, num_heads_, d_kv_, s.self_cache.v(layer, 0, 0), s.self_cache.max_len(), start);
    AttentionSpec self_spec{num_heads_, num_heads_, d_kv_, 1.f, true, 0, table, 2 * K + 1, K};
    attention(self_spec, B, T, start, q, self_kv, K, attn);
    linear_accumulate(attn, N, Bk.self_attn.o, {}, hidden);
    // T5LayerCrossAttention over the encoder output (no position bias in EncDecAttention).
    Bk.cross_norm.forward(hidden, N, x);
    Bk.cross_attn.forward(x, B, T, s.cross[layer], s.src_valid, s.ws, hidden, /*accumulate=*/true);
    // T5LayerFF
    Bk.ff_norm.forward(hidden, N, x);
    feed_forward(true, layer, x, B, T, s, hidden);
  }
  return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);
}

}  // namespace autolm
