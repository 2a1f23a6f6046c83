// T5 / mT5 / UMT5 (transformers' modeling_t5.py): RMS layer norm without mean subtraction, no
// 1/sqrt(d) attention scaling, bucketed relative position bias (computed by the first layer and
// shared by all; UMT5 has one per layer), relu or gated-gelu feed-forward, and the d_model^-0.5
// rescale before a tied LM head.
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "models/seq2seq_state.h"
#include "ops/activations.h"
#include "ops/linear.h"
#include "ops/norms.h"

namespace autolm {

namespace {

struct T5Attention {
  TensorView q, k, v;  // (num_heads*d_kv, d_model)
  TensorView o;        // (d_model, num_heads*d_kv)
  TensorView relative_attention_bias;  // (relative_attention_num_buckets, num_heads) or empty
};

struct T5FeedForward {
  TensorView wi, wi_0, wi_1;  // (d_ff, d_model): wi for relu, wi_0 (gate) / wi_1 for gated
  TensorView wo;              // (d_model, d_ff)
};

struct T5Block {
  TensorView self_norm;  // layer.0.layer_norm: (d_model)
  T5Attention self_attn;
  TensorView cross_norm;  // decoder layer.1.layer_norm
  T5Attention cross_attn;
  TensorView ff_norm;  // last layer's layer_norm
  T5FeedForward ff;
};

// Equivalent in modeling_t5.py: T5Attention._relative_position_bucket (float32 log, truncation).
int relative_position_bucket(int relative_position, bool bidirectional, int num_buckets, int max_distance) {
  int bucket = 0;
  if (bidirectional) {
    num_buckets /= 2;
    if (relative_position > 0) bucket += num_buckets;
    relative_position = std::abs(relative_position);
  } else {
    relative_position = -std::min(relative_position, 0);
  }
  const int max_exact = num_buckets / 2;
  if (relative_position < max_exact) return bucket + relative_position;
  const float scaled = std::log(float(relative_position) / float(max_exact)) /
                       float(std::log(double(max_distance) / max_exact)) * float(num_buckets - max_exact);
  // Clamped as a float first: the int conversion of a value past int's range is undefined.
  const int large = max_exact + int(std::min(scaled, float(num_buckets - 1 - max_exact)));
  return bucket + large;
}

class T5Model final : public LoadedModel {
 public:
  T5Model(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w) : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    d_model_ = config_size(c, "d_model");
    d_kv_ = int(config_size(c, "d_kv"));
    d_ff_ = config_size(c, "d_ff");
    num_heads_ = int(config_size(c, "num_heads"));
    num_layers_ = int(config_size(c, "num_layers"));
    num_decoder_layers_ = int(config_size_or(c, "num_decoder_layers", num_layers_));
    num_buckets_ = int(config_size_or(c, "relative_attention_num_buckets", 32));
    max_distance_ = int(config_size_or(c, "relative_attention_max_distance", 128));
    // relative_position_bucket: each direction of the encoder's buckets keeps num_buckets / 4
    // exact distances, the decoder num_buckets / 2, then log-spaced buckets up to max_distance.
    // Fewer buckets divide by zero, a max_distance within the exact range yields negative bucket
    // indexes (transformers fails on them too).
    if (num_buckets_ < 4)
      throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"relative_attention_num_buckets\" must be at least 4 (" +
                                                std::to_string(num_buckets_) + ")");
    if (max_distance_ <= num_buckets_ / 2)
      throw Error(ErrorKind::kInvalidInput, c.source() + ": relative_attention_max_distance (" + std::to_string(max_distance_) +
                                                ") must exceed relative_attention_num_buckets / 2 (" +
                                                std::to_string(num_buckets_ / 2) + ")");
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
    describe_dim(num_buckets_, "relative_attention_num_buckets");
    describe_dim(num_heads_, "num_heads");
    eps_ = float(config_epsilon(c, "layer_norm_epsilon", 1e-6));
    // feed_forward_proj: "relu" or "gated-gelu" (activation name after "gated-").
    const std::string ffp = c.get_or<std::string>("feed_forward_proj", "relu");
    gated_ = ffp.rfind("gated-", 0) == 0;
    std::string act = gated_ ? ffp.substr(6) : ffp;
    if (act == "gelu") act = "gelu_new";  // T5Config maps gated-gelu to gelu_new
    act_ = parse_activation(c.get_or<std::string>("dense_act_fn", act), c.source() + ": dense_act_fn");
    tied_ = c.get_or<bool>("tie_word_embeddings", true);
    // transformers 5 T5 rescales when scale_decoder_outputs (default: tied); its MT5 class never
    // rescales unless the key says so (real mT5 checkpoints are untied either way).
    scale_decoder_outputs_ = c.get_or<bool>("scale_decoder_outputs", config_.model_type == "mt5" ? false : tied_);
    if (!config_.decoder_start_token_id) config_.decoder_start_token_id = config_.pad_token_id;

    const int64_t V = config_.vocab_size;
    shared_ = require_matrix("shared.weight", {V, d_model_});
    for (const char* alias : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"})
      if (weights_->has(alias)) optional(alias, {V, d_model_});  // tied copies of shared
    lm_head_ = lm_head("lm_head.weight", shared_, "shared.weight", tied_, {V, d_model_});
    encoder_ = load_stack("encoder", num_layers_, false);
    decoder_ = load_stack("decoder", num_decoder_layers_, true);
    encoder_final_norm_ = require("encoder.final_layer_norm.weight", {d_model_});
    decoder_final_norm_ = require("decoder.final_layer_norm.weight", {d_model_});
    if (encoder_[0].self_attn.relative_attention_bias.empty() || decoder_[0].self_attn.relative_attention_bias.empty())
      throw Error(ErrorKind::kNotFound, "missing tensor \"encoder/decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight\"");
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int rows_per_input) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<Seq2SeqState>(num_decoder_layers_, batch, rows_per_input, num_heads_, max_length, d_kv_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(num_decoder_layers_) * num_heads_ * d_kv_ * 4; }

  void encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const override;
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T, DecodeState& base,
                                bool all_positions) const override;

 private:
  std::vector<T5Block> load_stack(const std::string& stack, int n, bool decoder) {
    const int64_t inner = int64_t(num_heads_) * d_kv_, D = d_model_;
    auto attention = [&](const std::string& p) {
      T5Attention a;
      a.q = require_matrix(p + "q.weight", {inner, D});
      a.k = require_matrix(p + "k.weight", {inner, D});
      a.v = require_matrix(p + "v.weight", {inner, D});
      a.o = require_matrix(p + "o.weight", {D, inner});
      a.relative_attention_bias = optional(p + "relative_attention_bias.weight", {num_buckets_, num_heads_});
      return a;
    };
    std::vector<T5Block> blocks(n);
    for (int i = 0; i < n; ++i) {
      const std::string b = stack + ".block." + std::to_string(i) + ".layer.";
      T5Block& B = blocks[i];
      B.self_norm = require(b + "0.layer_norm.weight", {D});
      B.self_attn = attention(b + "0.SelfAttention.");
      const std::string ffl = decoder ? "2" : "1";
      if (decoder) {
        B.cross_norm = require(b + "1.layer_norm.weight", {D});
        B.cross_attn = attention(b + "1.EncDecAttention.");
      }
      B.ff_norm = require(b + ffl + ".layer_norm.weight", {D});
      const std::string f = b + ffl + ".DenseReluDense.";
      if (gated_) {
        B.ff.wi_0 = require_matrix(f + "wi_0.weight", {d_ff_, D});
        B.ff.wi_1 = require_matrix(f + "wi_1.weight", {d_ff_, D});
      } else {
        B.ff.wi = require_matrix(f + "wi.weight", {d_ff_, D});
      }
      B.ff.wo = require_matrix(f + "wo.weight", {D, d_ff_});
    }
    return blocks;
  }

  // bias: (num_heads, 2*R+1) table of relative_attention_bias[bucket(rel)] for rel in [-R, R].
  void fill_bias_table(const TensorView& rel_bias, bool bidirectional, int R, float* table) const {
    const int width = 2 * R + 1;
    for (int rel = -R; rel <= R; ++rel) {
      const int bucket = relative_position_bucket(rel, bidirectional, num_buckets_, max_distance_);
      for (int h = 0; h < num_heads_; ++h) table[h * width + rel + R] = rel_bias.data[bucket * num_heads_ + h];
    }
  }

  // T5LayerFF: hidden += wo(act(wi(norm(hidden)))) or the gated form.
  void feed_forward(const T5Block& B, float* hidden, int64_t N, Seq2SeqState& s) const {
    float* x = s.x.resize(N * d_model_);
    rms_norm(hidden, N, d_model_, B.ff_norm, eps_, x);
    float* h = s.ff.resize(N * d_ff_);  // (N, d_ff)
    if (gated_) {
      float* g = s.gate.resize(N * d_ff_);
      const TensorView none;
      linear_fused(x, N, {{B.ff.wi_0, none, g}, {B.ff.wi_1, none, h}});
      activate_gated(act_, g, h, N * d_ff_);
    } else {
      linear(x, N, B.ff.wi, {}, h);
      activate(act_, h, N * d_ff_);
    }
    linear_accumulate(h, N, B.ff.wo, {}, hidden);
  }

  PositionLimit positions_;
  int64_t d_model_ = 0, d_ff_ = 0;
  int d_kv_ = 0, num_heads_ = 0, num_layers_ = 0, num_decoder_layers_ = 0, num_buckets_ = 32, max_distance_ = 128;
  float eps_ = 1e-6f;
  bool gated_ = false, tied_ = true, scale_decoder_outputs_ = true;
  Activation act_ = Activation::kRelu;
  TensorView shared_;   // (vocab_size, d_model)
  TensorView lm_head_;  // (vocab_size, d_model), shared_ when tied
  TensorView encoder_final_norm_, decoder_final_norm_;
  std::vector<T5Block> encoder_, decoder_;
};

void T5Model::encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const {
  auto& s = static_cast<Seq2SeqState&>(base);
  check_sequence_length(positions_, S, "an encoder input", "shorten the input");
  const int n = begin_encode(s, ids, mask, S, config_.vocab_size);
  const int64_t N = int64_t(n) * S, D = d_model_, inner = int64_t(num_heads_) * d_kv_;
  // Scratch, encoder K/V and every decoder layer's cross-attention K/V.
  check_scratch(double(N) * (3 * D + 6 * inner + 2 * d_ff_ + 2.0 * num_decoder_layers_ * inner), N);
  float* hidden = s.hidden.resize(N * D);  // (inputs*src_len, d_model)
  for (int64_t i = 0; i < N; ++i) copy_row(shared_, ids[i], hidden + i * D);
  // Encoder self-attention K/V live in temporary (inputs, heads, src_len, d_kv) buffers.
  std::vector<float> enc_k(N * inner), enc_v(N * inner), table(size_t(num_heads_) * (2 * S + 1));
  KVSource kv;
  kv.k = [&](int b, int h) { return enc_k.data() + (int64_t(b) * num_heads_ + h) * S * d_kv_; };
  kv.v = [&](int b, int h) { return enc_v.data() + (int64_t(b) * num_heads_ + h) * S * d_kv_; };
  kv.key_valid = [&](int b) { return s.src_valid.data() + int64_t(b) * S; };
  float* q = s.q.resize(N * inner);
  float* k = s.k.resize(N * inner);
  float* v = s.v.resize(N * inner);
  float* attn = s.attn.resize(N * inner);
  for (int l = 0; l < num_layers_; ++l) {
    const T5Block& B = encoder_[l];
    // Position bias from the first layer is reused by every layer (UMT5: each layer has its own).
    if (l == 0 || !B.self_attn.relative_attention_bias.empty())
      fill_bias_table(B.self_attn.relative_attention_bias, true, S, table.data());
    float* x = s.x.resize(N * D);
    rms_norm(hidden, N, D, B.self_norm, eps_, x);
    linear(x, N, B.self_attn.q, {}, q);
    linear(x, N, B.self_attn.k, {}, k);
    linear(x, N, B.self_attn.v, {}, v);
    scatter_heads(k, n, S, num_heads_, d_kv_, enc_k.data(), S, 0);
    scatter_heads(v, n, S, num_heads_, d_kv_, enc_v.data(), S, 0);
    AttentionSpec spec{num_heads_, num_heads_, d_kv_, 1.f, false, 0, table.data(), 2 * S + 1, S};
    attention(spec, n, S, 0, q, kv, S, attn);
    linear_accumulate(attn, N, B.self_attn.o, {}, hidden);
    feed_forward(B, hidden, N, s);
  }
  float* enc_out = s.last.resize(N * D);  // (inputs*src_len, d_model)
  rms_norm(hidden, N, D, encoder_final_norm_, eps_, enc_out);
  // Cross-attention K/V of every decoder layer, once per input.
  for (int l = 0; l < num_decoder_layers_; ++l) {
    const T5Attention& a = decoder_[l].cross_attn;
    s.cross[l].k.resize(N * inner);
    s.cross[l].v.resize(N * inner);
    linear(enc_out, N, a.k, {}, k);
    linear(enc_out, N, a.v, {}, v);
    scatter_heads(k, n, S, num_heads_, d_kv_, s.cross[l].k.data(), S, 0);
    scatter_heads(v, n, S, num_heads_, d_kv_, s.cross[l].v.data(), S, 0);
  }
}

std::span<const float> T5Model::decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T,
                                       DecodeState& base, bool all_positions) const {
  auto& s = static_cast<Seq2SeqState&>(base);
  const int start = begin_seq2seq_step(s, ids, mask, T, config_.vocab_size);
  const int B = s.batch_size();
  const int64_t N = int64_t(B) * T, D = d_model_, inner = int64_t(num_heads_) * d_kv_;
  const int K = start + T;  // keys after this step
  const int64_t out_rows = all_positions ? N : B;
  check_scratch(double(N) * (2 * D + 4 * inner + 2 * d_ff_) + double(num_heads_) * (2 * K + 1) +
                    double(out_rows) * (D + config_.vocab_size),
                N);
  float* hidden = s.hidden.resize(N * D);  // (batch*seq_len, d_model)
  for (int64_t i = 0; i < N; ++i) copy_row(shared_, ids[i], hidden + i * D);
  float* q = s.q.resize(N * inner);
  float* k = s.k.resize(N * inner);
  float* v = s.v.resize(N * inner);
  float* attn = s.attn.resize(N * inner);
  float* table = s.bias.resize(size_t(num_heads_) * (2 * K + 1));
  int layer = 0;
  KVSource self_kv = s.self_source(layer), cross_kv = s.cross_source(layer);
  for (; layer < num_decoder_layers_; ++layer) {
    const T5Block& Bk = decoder_[layer];
    if (layer == 0 || !Bk.self_attn.relative_attention_bias.empty())
      fill_bias_table(Bk.self_attn.relative_attention_bias, false, K, table);
    // Self-attention (causal, relative bias).
    float* x = s.x.resize(N * D);
    rms_norm(hidden, N, D, Bk.self_norm, eps_, x);
    const TensorView none;
    linear_fused(x, N, {{Bk.self_attn.q, none, q}, {Bk.self_attn.k, none, k}, {Bk.self_attn.v, none, v}});
    scatter_heads(k, B, T, num_heads_, d_kv_, s.self_cache.k(layer, 0, 0), s.self_cache.max_len(), start);
    scatter_heads(v, B, T, num_heads_, d_kv_, s.self_cache.v(layer, 0, 0), s.self_cache.max_len(), start);
    AttentionSpec self_spec{num_heads_, num_heads_, d_kv_, 1.f, true, 0, table, 2 * K + 1, K};
    attention(self_spec, B, T, start, q, self_kv, K, attn);
    linear_accumulate(attn, N, Bk.self_attn.o, {}, hidden);
    // Cross-attention over the encoder output (no position bias in the decoder's EncDecAttention).
    rms_norm(hidden, N, D, Bk.cross_norm, eps_, x);
    linear(x, N, Bk.cross_attn.q, {}, q);
    AttentionSpec cross_spec{num_heads_, num_heads_, d_kv_, 1.f, false, 0, nullptr, 0, 0};
    attention(cross_spec, B, T, 0, q, cross_kv, s.src_len, attn);
    linear_accumulate(attn, N, Bk.cross_attn.o, {}, hidden);
    feed_forward(Bk, hidden, N, s);
  }
  float* last = s.last.resize(out_rows * D);
  if (all_positions) {
    rms_norm(hidden, N, D, decoder_final_norm_, eps_, last);
  } else {
    for (int b = 0; b < B; ++b) rms_norm(hidden + (int64_t(b) * T + T - 1) * D, 1, D, decoder_final_norm_, eps_, last + b * D);
  }
  // Equivalent in modeling_t5.py: sequence_output * (model_dim ** -0.5) when scale_decoder_outputs.
  if (scale_decoder_outputs_) {
    const float scale = float(std::pow(double(D), -0.5));
    for (int64_t i = 0; i < out_rows * D; ++i) last[i] *= scale;
  }
  float* logits = s.logits.resize(out_rows * config_.vocab_size);
  linear(last, out_rows, lm_head_, {}, logits);
  return {logits, size_t(out_rows * config_.vocab_size)};
}

}  // namespace

std::unique_ptr<Model> make_t5(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<T5Model>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
