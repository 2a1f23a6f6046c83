// BART, mBART, Marian, Pegasus and M2M100/NLLB (transformers' modeling_bart.py,
// modeling_mbart.py, modeling_marian.py, modeling_pegasus.py, modeling_m2m_100.py): learned
// positions with offset 2 (BART/mBART), static sinusoidal ones (Marian, Pegasus: sin | cos
// halves; M2M100: fairseq's table, offset past padding_idx), optional layernorm_embedding and
// scale_embedding, post-LN (BART, Marian) or pre-LN with final layer norms (mBART, Pegasus,
// M2M100), q scaled by head_dim^-0.5, final_logits_bias added to the LM head.
#include <cmath>
#include <memory>

#include "core/memory.h"
#include "models/config_checks.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "models/seq2seq_state.h"
#include "ops/activations.h"
#include "ops/linear.h"
#include "ops/norms.h"

namespace autolm {

namespace {

struct BartAttention {
  TensorView q, k, v, out;          // (d_model, d_model)
  TensorView q_b, k_b, v_b, out_b;  // (d_model)
};

struct BartLayer {
  BartAttention self_attn;
  TensorView self_attn_layer_norm_w, self_attn_layer_norm_b;  // (d_model)
  BartAttention encoder_attn;                                  // decoder only
  TensorView encoder_attn_layer_norm_w, encoder_attn_layer_norm_b;
  TensorView fc1, fc1_b;  // (ffn_dim, d_model), (ffn_dim)
  TensorView fc2, fc2_b;  // (d_model, ffn_dim), (d_model)
  TensorView final_layer_norm_w, final_layer_norm_b;
};

struct BartStack {
  TensorView embed_tokens;               // (vocab, d_model)
  TensorView embed_positions;            // (max_position_embeddings [+2], d_model)
  TensorView layernorm_embedding_w, layernorm_embedding_b;  // BART/mBART: (d_model)
  TensorView layer_norm_w, layer_norm_b;                    // mBART final norm: (d_model)
  std::vector<BartLayer> layers;
};

class BartFamilyModel final : public LoadedModel {
 public:
  BartFamilyModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)) {
    const std::string& type = config_.model_type;
    marian_ = type == "marian";
    m2m_ = type == "m2m_100";
    sinusoidal_ = marian_ || m2m_ || type == "pegasus";
    pre_ln_ = type == "mbart" || type == "pegasus" || m2m_;
    padding_idx_ = config_.pad_token_id.value_or(1);
    set_config_source(c.source());
    d_model_ = config_size(c, "d_model");
    encoder_layers_ = int(config_size(c, "encoder_layers"));
    decoder_layers_ = int(config_size(c, "decoder_layers"));
    encoder_heads_ = int(config_size(c, "encoder_attention_heads"));
    decoder_heads_ = int(config_size(c, "decoder_attention_heads"));
    encoder_ffn_ = config_size(c, "encoder_ffn_dim");
    decoder_ffn_ = config_size(c, "decoder_ffn_dim");
    max_positions_ = config_size(c, "max_position_embeddings");
    check_divisible(c, "d_model", d_model_, "encoder_attention_heads", encoder_heads_);
    check_divisible(c, "d_model", d_model_, "decoder_attention_heads", decoder_heads_);
    check_layer_count(c, "encoder_layers", encoder_layers_, *weights_, "model.encoder.layers.");
    check_layer_count(c, "decoder_layers", decoder_layers_, *weights_, "model.decoder.layers.");
    // The position table is a hard limit. M2M100 starts positions after padding_idx (the
    // pad_token_id), in a table of max_position_embeddings + 2 rows.
    int64_t max_len = max_positions_;
    if (m2m_) {
      if (padding_idx_ < 0 || padding_idx_ >= config_.vocab_size)
        throw Error(ErrorKind::kInvalidInput, c.source() + ": pad_token_id (" + std::to_string(padding_idx_) +
                                                  ") must be a token id below vocab_size (" +
                                                  std::to_string(config_.vocab_size) + ")");
      // fairseq's frequencies divide by d_model / 2 - 1.
      if (d_model_ < 4)
        throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"d_model\" must be at least 4 for m2m_100 (" +
                                                  std::to_string(d_model_) + ")");
      max_len = std::min(max_positions_, max_positions_ + 1 - padding_idx_);
      if (max_len < 1)
        throw Error(ErrorKind::kInvalidInput, c.source() + ": pad_token_id (" + std::to_string(padding_idx_) +
                                                  ") leaves no positions in max_position_embeddings (" +
                                                  std::to_string(max_positions_) + ")");
    }
    positions_ = {max_len, c.source() + ": max_position_embeddings = " + std::to_string(max_positions_), ""};
    config_.max_positions = max_len;
    act_ = parse_activation(c.get_or<std::string>("activation_function", "gelu"), c.source() + ": activation_function");
    embed_scale_ = c.get_or<bool>("scale_embedding", false) ? float(std::sqrt(double(d_model_))) : 1.f;
    // Marian may have a separate target vocabulary (decoder_vocab_size).
    const int64_t src_vocab = config_.vocab_size;
    if (marian_) config_.vocab_size = config_size_or(c, "decoder_vocab_size", src_vocab);
    if (!config_.decoder_start_token_id) config_.decoder_start_token_id = config_.pad_token_id;
    src_vocab_ = src_vocab;

    describe_dim(src_vocab, "vocab_size");
    if (marian_ && c.has("decoder_vocab_size")) describe_dim(config_.vocab_size, "decoder_vocab_size");
    describe_dim(d_model_, "d_model");
    describe_dim(encoder_ffn_, "encoder_ffn_dim");
    describe_dim(decoder_ffn_, "decoder_ffn_dim");
    describe_dim(max_positions_, "max_position_embeddings");
    describe_dim(max_positions_ + 2, "max_position_embeddings (" + std::to_string(max_positions_) + ") + 2");
    const int64_t D = d_model_, V = config_.vocab_size;
    TensorView shared = require_matrix("model.shared.weight", {src_vocab, D});
    encoder_ = load_stack("model.encoder.", encoder_layers_, encoder_ffn_, false, shared, src_vocab);
    const bool share = !marian_ || c.get_or<bool>("share_encoder_decoder_embeddings", true);
    TensorView dec_embed = share ? shared : require_matrix("model.decoder.embed_tokens.weight", {V, D});
    decoder_ = load_stack("model.decoder.", decoder_layers_, decoder_ffn_, true, dec_embed, V);
    const bool tied = c.get_or<bool>("tie_word_embeddings", true);
    lm_head_ = tied ? decoder_.embed_tokens : require_matrix("lm_head.weight", {V, D});
    if (tied && weights_->has("lm_head.weight")) optional("lm_head.weight");
    final_logits_bias_ = optional("final_logits_bias", {1, V});
    // Shared or tied embeddings must cover the target vocabulary: the LM head writes one logit
    // per row of its matrix into a buffer of vocab_size (decoder_vocab_size) logits.
    if (decoder_.embed_tokens.shape[0] != V || lm_head_.shape[0] != V)
      throw Error(ErrorKind::kInvalidInput,
                  c.source() + ": " + (marian_ && c.has("decoder_vocab_size") ? "decoder_vocab_size" : "vocab_size") +
                      " = " + std::to_string(V) + " disagrees with the weights: the decoder embeddings have " +
                      std::to_string(decoder_.embed_tokens.shape[0]) + " rows and the LM head " +
                      std::to_string(lm_head_.shape[0]));
    if (m2m_) build_fairseq_positions();
    else if (sinusoidal_ && encoder_.embed_positions.empty()) build_sinusoidal_positions();
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int rows_per_input) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<Seq2SeqState>(decoder_layers_, batch, rows_per_input, decoder_heads_, max_length,
                                          int(d_model_ / decoder_heads_));
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(decoder_layers_) * d_model_ * 4; }

  void encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const override;
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T, DecodeState& base,
                                bool all_positions) const override;

 private:
  BartStack load_stack(const std::string& p, int n, int64_t ffn, bool decoder, TensorView embed, int64_t vocab) {
    const int64_t D = d_model_;
    BartStack st;
    st.embed_tokens = embed;
    if (weights_->has(p + "embed_tokens.weight")) optional(p + "embed_tokens.weight", {vocab, D});  // tied alias
    if (!sinusoidal_) st.embed_positions = require(p + "embed_positions.weight", {max_positions_ + 2, D});
    else if (m2m_ && weights_->has(p + "embed_positions.weight")) optional(p + "embed_positions.weight");  // recomputed
    else st.embed_positions = optional(p + "embed_positions.weight", {max_positions_, D});  // Pegasus saves its table
    if (!sinusoidal_) {
      st.layernorm_embedding_w = require(p + "layernorm_embedding.weight", {D});
      st.layernorm_embedding_b = require(p + "layernorm_embedding.bias", {D});
    }
    if (pre_ln_) {
      st.layer_norm_w = require(p + "layer_norm.weight", {D});
      st.layer_norm_b = require(p + "layer_norm.bias", {D});
    }
    auto attention = [&](const std::string& a) {
      BartAttention at;
      at.q = require_matrix(a + "q_proj.weight", {D, D});
      at.k = require_matrix(a + "k_proj.weight", {D, D});
      at.v = require_matrix(a + "v_proj.weight", {D, D});
      at.out = require_matrix(a + "out_proj.weight", {D, D});
      at.q_b = require(a + "q_proj.bias", {D});
      at.k_b = require(a + "k_proj.bias", {D});
      at.v_b = require(a + "v_proj.bias", {D});
      at.out_b = require(a + "out_proj.bias", {D});
      return at;
    };
    st.layers.resize(n);
    for (int i = 0; i < n; ++i) {
      const std::string l = p + "layers." + std::to_string(i) + ".";
      BartLayer& L = st.layers[i];
      L.self_attn = attention(l + "self_attn.");
      L.self_attn_layer_norm_w = require(l + "self_attn_layer_norm.weight", {D});
      L.self_attn_layer_norm_b = require(l + "self_attn_layer_norm.bias", {D});
      if (decoder) {
        L.encoder_attn = attention(l + "encoder_attn.");
        L.encoder_attn_layer_norm_w = require(l + "encoder_attn_layer_norm.weight", {D});
        L.encoder_attn_layer_norm_b = require(l + "encoder_attn_layer_norm.bias", {D});
      }
      L.fc1 = require_matrix(l + "fc1.weight", {ffn, D});
      L.fc1_b = require(l + "fc1.bias", {ffn});
      L.fc2 = require_matrix(l + "fc2.weight", {D, ffn});
      L.fc2_b = require(l + "fc2.bias", {D});
      L.final_layer_norm_w = require(l + "final_layer_norm.weight", {D});
      L.final_layer_norm_b = require(l + "final_layer_norm.bias", {D});
    }
    return st;
  }

  // The computed position tables are sized by config.json alone (no tensor in the file bounds
  // them): refuse one that cannot fit before allocating it.
  void check_table(int64_t rows, int64_t D) const {
    check_allocation(double(rows) * double(D) * sizeof(float),
                     config_source_name() + ": max_position_embeddings (" + std::to_string(max_positions_) +
                         ") × d_model (" + std::to_string(D) + ") sinusoidal position table",
                     "lower max_position_embeddings");
  }

  // Equivalent in modeling_marian.py (MarianSinusoidalPositionalEmbedding): sin features in the
  // first half, cos in the second, angles pos / 10000^(2*(j//2)/dim) computed in float64.
  void build_sinusoidal_positions() {
    const int64_t D = d_model_, P = max_positions_;
    check_table(P, D);
    sinusoidal_table_.assign(size_t(P * D), 0.f);
    const int64_t sentinel = D % 2 == 0 ? D / 2 : D / 2 + 1;
    for (int64_t pos = 0; pos < P; ++pos) {
      for (int64_t j = 0; j < D; j += 2)
        sinusoidal_table_[pos * D + j / 2] = float(std::sin(pos / std::pow(10000.0, double(j) / D)));
      for (int64_t j = 1; j < D; j += 2)
        sinusoidal_table_[pos * D + sentinel + j / 2] = float(std::cos(pos / std::pow(10000.0, double(2 * (j / 2)) / D)));
    }
    encoder_.embed_positions = decoder_.embed_positions = TensorView{sinusoidal_table_.data(), {P, D}};
  }

  // Equivalent in modeling_m2m_100.py (M2M100SinusoidalPositionalEmbedding.get_embedding):
  // freq_i = exp(-i · ln(10000) / (half - 1)) in float32, [sin | cos] halves, a zero row at
  // padding_idx; max_position_embeddings + 2 rows since positions start after padding_idx.
  void build_fairseq_positions() {
    const int64_t D = d_model_, P = max_positions_ + 2, half = D / 2;
    check_table(P, D);
    sinusoidal_table_.assign(size_t(P * D), 0.f);
    const float step = float(std::log(10000.0) / double(half - 1));
    for (int64_t pos = 0; pos < P; ++pos) {
      if (pos == padding_idx_) continue;
      for (int64_t i = 0; i < half; ++i) {
        const float angle = float(pos) * std::exp(float(i) * -step);
        sinusoidal_table_[pos * D + i] = std::sin(angle);
        sinusoidal_table_[pos * D + half + i] = std::cos(angle);
      }
    }
    encoder_.embed_positions = decoder_.embed_positions = TensorView{sinusoidal_table_.data(), {P, D}};
  }

  // hidden = embed(ids) * embed_scale + positions(start + t) (+ layernorm_embedding).
  void embed(const BartStack& st, std::span<const int32_t> ids, int rows, int T, int start, float* hidden) const {
    const int64_t D = d_model_;
    const int offset = sinusoidal_ ? 0 : 2;  // BartLearnedPositionalEmbedding offset
    for (int b = 0; b < rows; ++b)
      for (int t = 0; t < T; ++t) {
        const int64_t n = int64_t(b) * T + t;
        int64_t pos = int64_t(start) + t;
        // M2M100 derives positions from input_ids: padding_idx for padding, else after it.
        if (m2m_) pos = ids[n] == padding_idx_ ? padding_idx_ : padding_idx_ + 1 + pos;
        if (pos >= st.embed_positions.shape[0] - offset)
          throw Error(ErrorKind::kInvalidInput, "position " + std::to_string(pos) + " is beyond max_position_embeddings (" +
                                                    std::to_string(max_positions_) + ") of model_type \"" + config_.model_type + "\"");
        copy_row(st.embed_tokens, ids[n], hidden + n * D);
        const float* p = st.embed_positions.row(pos + offset);
        for (int64_t i = 0; i < D; ++i) hidden[n * D + i] = hidden[n * D + i] * embed_scale_ + p[i];
      }
    if (!st.layernorm_embedding_w.empty())
      layer_norm(hidden, int64_t(rows) * T, D, st.layernorm_embedding_w, st.layernorm_embedding_b, 1e-5f, hidden);
  }

  // Residual sub-block: pre-LN (mBART) normalises the input, post-LN (BART, Marian) the sum.
  template <typename Body>
  void sublayer(float* hidden, int64_t N, const TensorView& ln_w, const TensorView& ln_b, float* x, Body body) const {
    const int64_t D = d_model_;
    if (pre_ln_) {
      layer_norm(hidden, N, D, ln_w, ln_b, 1e-5f, x);
      body(x, hidden);  // body adds its output into hidden
    } else {
      std::copy(hidden, hidden + N * D, x);
      body(x, hidden);
      layer_norm(hidden, N, D, ln_w, ln_b, 1e-5f, hidden);
    }
  }

  void ffn(const BartLayer& L, const float* x, int64_t N, int64_t ffn_dim, float* hidden, Seq2SeqState& s) const {
    float* h = s.ff.resize(N * ffn_dim);  // (N, ffn_dim)
    linear(x, N, L.fc1, L.fc1_b, h);
    activate(act_, h, N * ffn_dim);
    linear_accumulate(h, N, L.fc2, L.fc2_b, hidden);
  }

  bool marian_ = false, m2m_ = false, sinusoidal_ = false, pre_ln_ = false;
  PositionLimit positions_;
  int64_t padding_idx_ = 1;
  int64_t d_model_ = 0, encoder_ffn_ = 0, decoder_ffn_ = 0, max_positions_ = 0, src_vocab_ = 0;
  int encoder_layers_ = 0, decoder_layers_ = 0, encoder_heads_ = 0, decoder_heads_ = 0;
  float embed_scale_ = 1.f;
  Activation act_ = Activation::kGelu;
  BartStack encoder_, decoder_;
  TensorView lm_head_;            // (vocab_size, d_model)
  TensorView final_logits_bias_;  // (1, vocab_size) or empty
  std::vector<float> sinusoidal_table_;  // computed positions: (rows, d_model)
};

void BartFamilyModel::encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const {
  auto& s = static_cast<Seq2SeqState&>(base);
  check_sequence_length(positions_, S, "an encoder input", "shorten the input");
  const int n = begin_encode(s, ids, mask, S, src_vocab_);
  const int64_t N = int64_t(n) * S, D = d_model_;
  // Scratch, encoder K/V and every decoder layer's cross-attention K/V.
  check_scratch(double(N) * (7 * D + encoder_ffn_ + 2.0 * decoder_layers_ * D), N);
  const int H = encoder_heads_, hd = int(D / H);
  float* hidden = s.hidden.resize(N * D);  // (inputs*src_len, d_model)
  embed(encoder_, ids, n, S, 0, hidden);
  std::vector<float> enc_k(N * D), enc_v(N * D);  // (inputs, heads, src_len, head_dim)
  KVSource kv;
  kv.k = [&](int b, int h) { return enc_k.data() + (int64_t(b) * H + h) * S * hd; };
  kv.v = [&](int b, int h) { return enc_v.data() + (int64_t(b) * H + h) * S * hd; };
  kv.key_valid = [&](int b) { return s.src_valid.data() + int64_t(b) * S; };
  float* x = s.x.resize(N * D);
  float* q = s.q.resize(N * D);
  float* k = s.k.resize(N * D);
  float* v = s.v.resize(N * D);
  float* attn = s.attn.resize(N * D);
  const AttentionSpec spec{H, H, hd, float(std::pow(hd, -0.5)), false, 0, nullptr, 0, 0};
  for (const BartLayer& L : encoder_.layers) {
    sublayer(hidden, N, L.self_attn_layer_norm_w, L.self_attn_layer_norm_b, x, [&](const float* in, float* out) {
      linear(in, N, L.self_attn.q, L.self_attn.q_b, q);
      linear(in, N, L.self_attn.k, L.self_attn.k_b, k);
      linear(in, N, L.self_attn.v, L.self_attn.v_b, v);
      scatter_heads(k, n, S, H, hd, enc_k.data(), S, 0);
      scatter_heads(v, n, S, H, hd, enc_v.data(), S, 0);
      attention(spec, n, S, 0, q, kv, S, attn);
      linear_accumulate(attn, N, L.self_attn.out, L.self_attn.out_b, out);
    });
    sublayer(hidden, N, L.final_layer_norm_w, L.final_layer_norm_b, x,
             [&](const float* in, float* out) { ffn(L, in, N, encoder_ffn_, out, s); });
  }
  if (pre_ln_) layer_norm(hidden, N, D, encoder_.layer_norm_w, encoder_.layer_norm_b, 1e-5f, hidden);
  // Cross-attention K/V of every decoder layer, once per input.
  const int dh = int(D / decoder_heads_);
  for (int l = 0; l < decoder_layers_; ++l) {
    const BartAttention& a = decoder_.layers[l].encoder_attn;
    s.cross_k[l].resize(N * D);
    s.cross_v[l].resize(N * D);
    linear(hidden, N, a.k, a.k_b, k);
    linear(hidden, N, a.v, a.v_b, v);
    scatter_heads(k, n, S, decoder_heads_, dh, s.cross_k[l].data(), S, 0);
    scatter_heads(v, n, S, decoder_heads_, dh, s.cross_v[l].data(), S, 0);
  }
}

std::span<const float> BartFamilyModel::decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T,
                                               DecodeState& base, bool all_positions) const {
  auto& s = static_cast<Seq2SeqState&>(base);
  const int start = begin_seq2seq_step(s, ids, mask, T, config_.vocab_size);
  const int B = s.batch_size(), H = decoder_heads_;
  const int64_t N = int64_t(B) * T, D = d_model_;
  const int hd = int(D / H);
  const int64_t out_rows = all_positions ? N : B;
  check_scratch(double(N) * (6 * D + decoder_ffn_) + double(out_rows) * (D + config_.vocab_size), N);
  float* hidden = s.hidden.resize(N * D);  // (batch*seq_len, d_model)
  embed(decoder_, ids, B, T, start, hidden);
  float* x = s.x.resize(N * D);
  float* q = s.q.resize(N * D);
  float* k = s.k.resize(N * D);
  float* v = s.v.resize(N * D);
  float* attn = s.attn.resize(N * D);
  int layer = 0;
  KVSource self_kv = s.self_source(layer), cross_kv = s.cross_source(layer);
  const float scale = float(std::pow(hd, -0.5));
  const AttentionSpec self_spec{H, H, hd, scale, true, 0, nullptr, 0, 0};
  const AttentionSpec cross_spec{H, H, hd, scale, false, 0, nullptr, 0, 0};
  for (; layer < decoder_layers_; ++layer) {
    const BartLayer& L = decoder_.layers[layer];
    sublayer(hidden, N, L.self_attn_layer_norm_w, L.self_attn_layer_norm_b, x, [&](const float* in, float* out) {
      linear_fused(in, N, {{L.self_attn.q, L.self_attn.q_b, q}, {L.self_attn.k, L.self_attn.k_b, k},
                           {L.self_attn.v, L.self_attn.v_b, v}});
      scatter_heads(k, B, T, H, hd, s.self_cache.k(layer, 0, 0), s.self_cache.max_len(), start);
      scatter_heads(v, B, T, H, hd, s.self_cache.v(layer, 0, 0), s.self_cache.max_len(), start);
      attention(self_spec, B, T, start, q, self_kv, start + T, attn);
      linear_accumulate(attn, N, L.self_attn.out, L.self_attn.out_b, out);
    });
    sublayer(hidden, N, L.encoder_attn_layer_norm_w, L.encoder_attn_layer_norm_b, x, [&](const float* in, float* out) {
      linear(in, N, L.encoder_attn.q, L.encoder_attn.q_b, q);
      attention(cross_spec, B, T, 0, q, cross_kv, s.src_len, attn);
      linear_accumulate(attn, N, L.encoder_attn.out, L.encoder_attn.out_b, out);
    });
    sublayer(hidden, N, L.final_layer_norm_w, L.final_layer_norm_b, x,
             [&](const float* in, float* out) { ffn(L, in, N, decoder_ffn_, out, s); });
  }
  float* last = s.last.resize(out_rows * D);
  for (int64_t r = 0; r < out_rows; ++r) {
    const float* src = hidden + (all_positions ? r : (r * T + T - 1)) * D;
    std::copy(src, src + D, last + r * D);
  }
  if (pre_ln_) layer_norm(last, out_rows, D, decoder_.layer_norm_w, decoder_.layer_norm_b, 1e-5f, last);
  const int64_t V = config_.vocab_size;
  float* logits = s.logits.resize(out_rows * V);
  linear(last, out_rows, lm_head_, {}, logits);
  if (!final_logits_bias_.empty())
    for (int64_t r = 0; r < out_rows; ++r)
      for (int64_t i = 0; i < V; ++i) logits[r * V + i] += final_logits_bias_.data[i];
  return {logits, size_t(out_rows * V)};
}

}  // namespace

std::unique_ptr<Model> make_bart_family(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<BartFamilyModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
