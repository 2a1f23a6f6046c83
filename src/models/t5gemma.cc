// T5Gemma (transformers' modeling_t5gemma.py): a Gemma-2 encoder and decoder. Both embed with
// sqrt(hidden_size), use RMSNorm with (1 + w) in float32 around every sub-layer (pre and post:
// "sandwich" norms), GQA attention scaled by query_pre_attn_scalar**-0.5 with tanh softcapping,
// alternating sliding / full layers, and a gated MLP. The encoder's self-attention is
// bidirectional (its sliding layers keep keys within sliding_window either side), the decoder's
// causal with a KV cache, and every decoder layer cross-attends to the encoder output (same
// scaling and softcap, no positions). The head (lm_head.out_proj, tied to the decoder embedding)
// is softcapped with the decoder's final_logit_softcapping. Encoder and decoder each have their
// own sub-config ("encoder", "decoder" in config.json) and may differ in size.
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "models/seq2seq_state.h"
#include "nn/cross_attention.h"
#include "nn/embedding.h"
#include "nn/kv_cache.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/norm.h"
#include "nn/rope.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

// One T5GemmaModuleConfig, validated.
struct T5GemmaModule {
  int64_t hidden_size = 0, intermediate_size = 0;
  int num_heads = 0, num_kv_heads = 0, head_dim = 0, num_layers = 0;
  std::vector<std::string> layer_types;
  SelfAttentionOptions attn;  // sizes, scaling, softcap, window (per layer: sliding or 0)
  NormOptions norm;           // T5GemmaRMSNorm: x̂ * (1 + w)
  MlpOptions mlp;
  std::unique_ptr<RotaryEmbedding> rope;
  float final_logit_softcapping = 0.f;
  int64_t max_position_embeddings = 0;
};

void read_module(const JsonConfig& c, T5GemmaModule& m) {
  m.hidden_size = config_size(c, "hidden_size");
  m.intermediate_size = config_size(c, "intermediate_size");
  m.num_heads = int(config_size(c, "num_attention_heads"));
  m.num_kv_heads = int(config_size_or(c, "num_key_value_heads", m.num_heads));
  check_divisible(c, "num_attention_heads", m.num_heads, "num_key_value_heads", m.num_kv_heads);
  m.head_dim = int(config_size_or(c, "head_dim", m.hidden_size / m.num_heads));
  m.num_layers = int(config_size(c, "num_hidden_layers"));
  m.max_position_embeddings = config_size_or(c, "max_position_embeddings", 8192);
  // T5GemmaModuleConfig.__post_init__: layer i slides when (i + 1) % 2.
  if (c.has("layer_types")) {
    m.layer_types = c.get<std::vector<std::string>>("layer_types");
    if (int64_t(m.layer_types.size()) != m.num_layers)
      throw Error(ErrorKind::kInvalidInput, c.source() + ": layer_types has " + std::to_string(m.layer_types.size()) +
                                                " entries for num_hidden_layers " + std::to_string(m.num_layers));
    for (const auto& t : m.layer_types)
      if (t != "full_attention" && t != "sliding_attention")
        throw Error(ErrorKind::kUnsupported, c.source() + ": layer_types holds \"" + t +
                                                 "\" (supported: full_attention, sliding_attention)");
  } else {
    for (int i = 0; i < m.num_layers; ++i) m.layer_types.push_back((i + 1) % 2 ? "sliding_attention" : "full_attention");
  }
  m.norm = NormOptions{NormKind::kRms, float(config_epsilon(c, "rms_norm_eps", 1e-6)), /*unit_offset=*/true};
  m.mlp = MlpOptions{true, parse_activation(c.get_or<std::string>("hidden_activation", "gelu_pytorch_tanh"),
                                            c.source() + ": hidden_activation")};
  m.rope = std::make_unique<RotaryEmbedding>(rope_parameters_for(c), m.head_dim, 1.0, m.max_position_embeddings);
  SelfAttentionOptions& a = m.attn;
  a.hidden_size = m.hidden_size;
  a.num_heads = m.num_heads;
  a.num_kv_heads = m.num_kv_heads;
  a.head_dim = m.head_dim;
  a.scale = float(std::pow(config_positive(c, "query_pre_attn_scalar", 256), -0.5));  // self.scaling
  a.qkv_bias = a.o_bias = c.get_or<bool>("attention_bias", false);
  a.softcap = float(config_optional_positive(c, "attn_logit_softcapping", 50.0));
  a.sliding_window = int(config_size_or(c, "sliding_window", 4096));  // for the sliding layers
  a.rope = m.rope.get();
  m.final_logit_softcapping = float(config_optional_positive(c, "final_logit_softcapping", 30.0));
}

// T5GemmaEncoderLayer / T5GemmaDecoderLayer: every sub-layer sandwiched by pre and post norms.
struct T5GemmaLayer {
  Norm pre_self_attn_layernorm, post_self_attn_layernorm;  // (hidden_size)
  SelfAttention self_attn;                                 // encoder: bidirectional; decoder: causal, KV cache
  Norm pre_cross_attn_layernorm, post_cross_attn_layernorm;  // decoder only
  CrossAttention cross_attn;  // decoder only: T5GemmaCrossAttention, K/V from the encoder output, GQA, softcap
  Norm pre_feedforward_layernorm, post_feedforward_layernorm;
  Mlp mlp;  // down(act(gate(x)) * up(x))
};

struct T5GemmaState : Seq2SeqState {
  using Seq2SeqState::Seq2SeqState;
  Workspace ws;
  std::unique_ptr<KVCache> encoder_kv;  // (inputs, encoder kv heads, src_len, head_dim), one layer reused
  std::vector<int64_t> positions;       // (rows*seq_len) position ids of the current call
  Buffer y;                             // (tokens, hidden_size) a sub-layer's output before its post-norm
};

class T5GemmaModel final : public LoadedModel {
 public:
  T5GemmaModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w) : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    for (const char* key : {"encoder", "decoder"})
      if (!c.raw().contains(key) || !c.raw()[key].is_object())
        throw Error(ErrorKind::kInvalidInput, c.source() + ": missing the \"" + std::string(key) + "\" sub-config object");
    const JsonConfig ec(c.raw()["encoder"], c.source() + ": encoder"), dc(c.raw()["decoder"], c.source() + ": decoder");
    read_module(ec, enc_);
    read_module(dc, dec_);
    check_layer_count(ec, "num_hidden_layers", enc_.num_layers, *weights_, "model.encoder.layers.");
    check_layer_count(dc, "num_hidden_layers", dec_.num_layers, *weights_, "model.decoder.layers.");
    positions_ = computed_position_limit(dec_.max_position_embeddings,
                                         dc.source() + ": max_position_embeddings = " + std::to_string(dec_.max_position_embeddings));
    config_.max_positions = positions_.max;
    // generate() starts the decoder with decoder_start_token_id, else bos_token_id (the decoder's).
    if (!config_.decoder_start_token_id) config_.decoder_start_token_id = config_.bos_token_id;
    describe_dim(config_.vocab_size, "vocab_size");
    describe_dim(enc_.hidden_size, "encoder.hidden_size");
    describe_dim(dec_.hidden_size, "decoder.hidden_size");

    const int64_t V = config_.vocab_size;
    EmbeddingOptions embed;  // normalizer = hidden_size**0.5 (in the hidden dtype: float32 here)
    embed.scale = float(std::sqrt(double(enc_.hidden_size)));
    encoder_embed_ = Embedding::load(*this, "model.encoder.embed_tokens.weight", V, enc_.hidden_size, embed);
    embed.scale = float(std::sqrt(double(dec_.hidden_size)));
    decoder_embed_ = Embedding::load(*this, "model.decoder.embed_tokens.weight", V, dec_.hidden_size, embed);
    for (int i = 0; i < enc_.num_layers; ++i) encoder_.push_back(load_layer(false, i));
    encoder_norm_ = Norm::load(*this, "model.encoder.norm", enc_.hidden_size, enc_.norm);
    for (int i = 0; i < dec_.num_layers; ++i) decoder_.push_back(load_layer(true, i));
    LmHeadOptions head;  // decoder.norm, lm_head.out_proj, final_logit_softcapping
    head.norm = dec_.norm;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
    head.final_logit_softcapping = dec_.final_logit_softcapping;
    lm_head_ = LmHead::load(*this, V, dec_.hidden_size, decoder_embed_.tokens(), "model.decoder.embed_tokens.weight", head,
                            {"model.decoder.norm", "lm_head.out_proj"});
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int rows_per_input) const override {
    check_state_length(positions_, max_length);
    // Self- and cross-attention K/V hold the decoder's kv heads.
    return std::make_unique<T5GemmaState>(dec_.num_layers, batch, rows_per_input, dec_.num_kv_heads, max_length,
                                          dec_.head_dim);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(dec_.num_layers) * dec_.num_kv_heads * dec_.head_dim * 4; }

  void encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const override;
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T, DecodeState& base,
                                bool all_positions) const override;

 private:
  T5GemmaLayer load_layer(bool decoder, int i) {
    const T5GemmaModule& m = decoder ? dec_ : enc_;
    const std::string p = std::string(decoder ? "model.decoder" : "model.encoder") + ".layers." + std::to_string(i) + ".";
    auto norm = [&](const char* name) { return Norm::load(*this, p + name, m.hidden_size, m.norm); };
    T5GemmaLayer L;
    L.pre_self_attn_layernorm = norm("pre_self_attn_layernorm");
    L.post_self_attn_layernorm = norm("post_self_attn_layernorm");
    SelfAttentionOptions self = m.attn;
    self.causal = decoder;
    if (m.layer_types[i] != "sliding_attention") self.sliding_window = 0;
    L.self_attn = SelfAttention::load(*this, p + "self_attn.", self);
    if (decoder) {
      L.pre_cross_attn_layernorm = norm("pre_cross_attn_layernorm");
      L.post_cross_attn_layernorm = norm("post_cross_attn_layernorm");
      // cross_attention_hidden_size = the encoder's hidden_size; scaling and softcap as self-attention's.
      const CrossAttentionOptions cross{m.hidden_size, m.num_heads, m.head_dim, enc_.hidden_size, m.attn.qkv_bias,
                                        m.attn.scale, m.num_kv_heads, m.attn.softcap};
      L.cross_attn = CrossAttention::load(*this, p + "cross_attn.", cross, {.o = "o_proj"});
    }
    L.pre_feedforward_layernorm = norm("pre_feedforward_layernorm");
    L.post_feedforward_layernorm = norm("post_feedforward_layernorm");
    L.mlp = Mlp::load(*this, p + "mlp.", m.hidden_size, m.intermediate_size, m.mlp);
    return L;
  }
  // residual + post_norm(y): a sandwich-normed sub-layer's residual add.
  static void add_post_norm(const Norm& post, float* y, int64_t N, int64_t H, float* hidden) {
    post.forward(y, N, y);
    for (int64_t i = 0; i < N * H; ++i) hidden[i] += y[i];
  }

  T5GemmaModule enc_, dec_;
  PositionLimit positions_;
  Embedding encoder_embed_, decoder_embed_;  // (vocab_size, hidden_size) × sqrt(hidden_size)
  std::vector<T5GemmaLayer> encoder_;
  Norm encoder_norm_;
  std::vector<T5GemmaLayer> decoder_;
  LmHead lm_head_;
};

void T5GemmaModel::encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const {
  auto& s = static_cast<T5GemmaState&>(base);
  check_sequence_length(positions_, S, "an encoder input", "shorten the input");
  const int n = begin_encode(s, ids, mask, S, config_.vocab_size);
  const int64_t N = int64_t(n) * S, H = enc_.hidden_size, kv_out = int64_t(dec_.num_kv_heads) * dec_.head_dim;
  check_scratch(double(N) * (4 * H + 4 * int64_t(enc_.num_heads) * enc_.head_dim + 2 * enc_.intermediate_size +
                             2.0 * dec_.num_layers * kv_out),
                N);
  // The encoder's own K/V: one layer's worth, rewritten by every layer; padding keys masked.
  s.encoder_kv = std::make_unique<KVCache>(1, n, enc_.num_kv_heads, S, enc_.head_dim);
  s.encoder_kv->append(S);
  for (int b = 0; b < n; ++b) std::copy_n(s.src_valid.data() + int64_t(b) * S, S, s.encoder_kv->key_valid(b));
  s.positions.resize(N);  // position_ids = arange(src_len) for every input
  for (int64_t i = 0; i < N; ++i) s.positions[i] = i % S;
  float* hidden = s.hidden.resize(N * H);  // (inputs*src_len, hidden_size)
  encoder_embed_.forward(ids, {}, hidden);
  float* x = s.x.resize(N * H);
  float* y = s.y.resize(N * H);
  for (const T5GemmaLayer& L : encoder_) {
    L.pre_self_attn_layernorm.forward(hidden, N, x);
    L.self_attn.forward(x, n, S, 0, s.positions, *s.encoder_kv, 0, s.ws, y, /*accumulate=*/false);
    add_post_norm(L.post_self_attn_layernorm, y, N, H, hidden);
    L.pre_feedforward_layernorm.forward(hidden, N, x);
    L.mlp.forward(x, N, s.ws, y, /*accumulate=*/false);
    add_post_norm(L.post_feedforward_layernorm, y, N, H, hidden);
  }
  float* enc_out = s.last.resize(N * H);  // (inputs*src_len, encoder hidden_size)
  encoder_norm_.forward(hidden, N, enc_out);
  // Cross-attention K/V of every decoder layer, once per input: (inputs, kv_heads, src_len, head_dim).
  for (int l = 0; l < dec_.num_layers; ++l) decoder_[l].cross_attn.project_kv(enc_out, n, S, s.ws, s.cross[l]);
  s.encoder_kv.reset();
}

std::span<const float> T5GemmaModel::decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T,
                                            DecodeState& base, bool all_positions) const {
  auto& s = static_cast<T5GemmaState&>(base);
  const int start = begin_seq2seq_step(s, ids, mask, T, config_.vocab_size);
  const int B = s.batch_size();
  const int64_t N = int64_t(B) * T, H = dec_.hidden_size, q_out = int64_t(dec_.num_heads) * dec_.head_dim;
  const int64_t out_rows = all_positions ? N : B;
  check_scratch(double(N) * (3 * H + 4 * q_out + 2 * dec_.intermediate_size) + double(out_rows) * (H + config_.vocab_size), N);
  s.positions.resize(N);  // position_ids = arange(seq_len) + past_seen_tokens
  for (int64_t i = 0; i < N; ++i) s.positions[i] = start + i % T;
  float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
  decoder_embed_.forward(ids, {}, hidden);
  float* x = s.x.resize(N * H);
  float* y = s.y.resize(N * H);
  for (int layer = 0; layer < dec_.num_layers; ++layer) {
    const T5GemmaLayer& L = decoder_[layer];
    L.pre_self_attn_layernorm.forward(hidden, N, x);
    L.self_attn.forward(x, B, T, start, s.positions, s.self_cache, layer, s.ws, y, /*accumulate=*/false);
    add_post_norm(L.post_self_attn_layernorm, y, N, H, hidden);
    // T5GemmaCrossAttention over the encoder output (full attention, encoder padding masked).
    L.pre_cross_attn_layernorm.forward(hidden, N, x);
    L.cross_attn.forward(x, B, T, s.cross[layer], s.src_valid, s.ws, y, /*accumulate=*/false);
    add_post_norm(L.post_cross_attn_layernorm, y, N, H, hidden);
    L.pre_feedforward_layernorm.forward(hidden, N, x);
    L.mlp.forward(x, N, s.ws, y, /*accumulate=*/false);
    add_post_norm(L.post_feedforward_layernorm, y, N, H, hidden);
  }
  return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm + out_proj + softcap
}

}  // namespace

std::unique_ptr<Model> make_t5gemma(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<T5GemmaModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
