// T5GemmaForConditionalGeneration (transformers' modeling_t5gemma.py) on the blocks: a Gemma-2
// encoder and decoder (t5gemma_config.h), every sub-layer sandwiched by (1 + w) RMSNorms, the
// encoder's self-attention bidirectional, the decoder's causal over its KV cache and followed by
// cross-attention to the encoder output; the head softcapped.
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/encoder_mask.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "models/seq2seq_state.h"
#include "models/t5gemma_config.h"
#include "nn/cross_attention.h"
#include "nn/embedding.h"
#include "nn/kv_cache.h"
#include "nn/lm_head.h"
#include "nn/sandwich_norm.h"

namespace autolm {

namespace {

// T5GemmaEncoderLayer / T5GemmaDecoderLayer.
struct T5GemmaLayer {
  SandwichNorm self_attn_norms;  // pre_self_attn_layernorm, post_self_attn_layernorm (hidden_size)
  SelfAttention self_attn;       // T5GemmaSelfAttention: encoder bidirectional, decoder causal
  SandwichNorm cross_attn_norms;  // decoder only
  CrossAttention cross_attn;      // decoder only: T5GemmaCrossAttention (GQA, softcap, no positions)
  SandwichNorm feedforward_norms;
  Mlp mlp;  // T5GemmaMLP: down_proj(act(gate_proj(x)) * up_proj(x))
};

struct T5GemmaState : Seq2SeqState {
  using Seq2SeqState::Seq2SeqState;
  std::unique_ptr<KVCache> encoder_kv;  // (inputs, encoder kv heads, src_len, head_dim), one layer reused
  Buffer y;                             // (tokens, hidden_size) a sub-layer's output
};

class T5GemmaModel final : public LoadedModel {
 public:
  T5GemmaModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)), cfg_(read_t5gemma_config(c, *weights_)) {
    set_config_source(c.source());
    const T5GemmaModuleConfig &enc = cfg_.encoder, &dec = cfg_.decoder;
    positions_ = computed_position_limit(dec.max_position_embeddings, c.source() + ": decoder: max_position_embeddings = " +
                                                                          std::to_string(dec.max_position_embeddings));
    config_.max_positions = positions_.max;
    if (!config_.decoder_start_token_id) config_.decoder_start_token_id = config_.bos_token_id;
    describe_dim(config_.vocab_size, "vocab_size");
    describe_dim(enc.hidden_size, "encoder.hidden_size");
    describe_dim(dec.hidden_size, "decoder.hidden_size");
    const int64_t V = config_.vocab_size;
    // embed_tokens × normalizer (hidden_size**0.5).
    encoder_embed_ = Embedding::load(*this, "model.encoder.embed_tokens.weight", V, enc.hidden_size,
                                     {.scale = float(std::sqrt(double(enc.hidden_size)))});
    decoder_embed_ = Embedding::load(*this, "model.decoder.embed_tokens.weight", V, dec.hidden_size,
                                     {.scale = float(std::sqrt(double(dec.hidden_size)))});
    for (int i = 0; i < enc.num_layers; ++i) encoder_.push_back(load_layer(false, i));
    encoder_norm_ = Norm::load(*this, "model.encoder.norm", enc.hidden_size, enc.norm);
    for (int i = 0; i < dec.num_layers; ++i) decoder_.push_back(load_layer(true, i));
    // T5GemmaLMHead.out_proj after decoder.norm, softcapped by final_logit_softcapping.
    lm_head_ = LmHead::load(*this, V, dec.hidden_size, decoder_embed_.tokens(), "model.decoder.embed_tokens.weight",
                            {.norm = dec.norm, .tie_word_embeddings = cfg_.tie_word_embeddings,
                             .final_logit_softcapping = dec.final_logit_softcapping},
                            {"model.decoder.norm", "lm_head.out_proj"});
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int rows_per_input) const override {
    check_state_length(positions_, max_length);
    const T5GemmaModuleConfig& d = cfg_.decoder;  // self- and cross-attention K/V hold its kv heads
    return std::make_unique<T5GemmaState>(d.num_layers, batch, rows_per_input, d.num_kv_heads, max_length, d.head_dim);
  }
  int64_t kv_bytes_per_token() const override {
    return 2 * int64_t(cfg_.decoder.num_layers) * cfg_.decoder.num_kv_heads * cfg_.decoder.head_dim * 4;
  }

  void encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const override;
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T, DecodeState& base,
                                bool all_positions) const override;

 private:
  T5GemmaLayer load_layer(bool decoder, int i) {
    const T5GemmaModuleConfig& m = decoder ? cfg_.decoder : cfg_.encoder;
    const std::string p = std::string(decoder ? "model.decoder" : "model.encoder") + ".layers." + std::to_string(i) + ".";
    T5GemmaLayer L;
    L.self_attn_norms = SandwichNorm::load(*this, p, "self_attn", m.hidden_size, m.norm);
    L.self_attn = SelfAttention::load(*this, p + "self_attn.", m.self_attention(i, /*causal=*/decoder));
    if (decoder) {  // cross_attention_hidden_size = the encoder's; scaling and softcap as self-attention's
      L.cross_attn_norms = SandwichNorm::load(*this, p, "cross_attn", m.hidden_size, m.norm);
      L.cross_attn = CrossAttention::load(*this, p + "cross_attn.",
                                         {m.hidden_size, m.num_heads, m.head_dim, cfg_.encoder.hidden_size, m.attn.qkv_bias,
                                          m.attn.scale, m.num_kv_heads, m.attn.softcap},
                                         {.o = "o_proj"});
    }
    L.feedforward_norms = SandwichNorm::load(*this, p, "feedforward", m.hidden_size, m.norm);
    L.mlp = Mlp::load(*this, p + "mlp.", m.hidden_size, m.intermediate_size, m.mlp);
    return L;
  }

  T5GemmaConfig cfg_;
  PositionLimit positions_;
  Embedding encoder_embed_, decoder_embed_;  // (vocab_size, hidden_size) × sqrt(hidden_size)
  std::vector<T5GemmaLayer> encoder_, decoder_;
  Norm encoder_norm_;
  LmHead lm_head_;
};

// Equivalent in modeling_t5gemma.py: T5GemmaEncoder.forward, then every decoder layer's
// cross_attn K/V of its output (once per input, as the cross-attention cache).
void T5GemmaModel::encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const {
  auto& s = static_cast<T5GemmaState&>(base);
  const T5GemmaModuleConfig &enc = cfg_.encoder, &dec = cfg_.decoder;
  check_sequence_length(positions_, S, "an encoder input", "shorten the input");
  global_attention_tokens(mask, /*supported=*/false, config_.model_type);  // refuses mask value 2
  const int n = begin_encode(s, ids, mask, S, config_.vocab_size);
  const int64_t N = int64_t(n) * S, H = enc.hidden_size;
  check_scratch(double(N) * (4 * H + 4 * int64_t(enc.num_heads) * enc.head_dim + 2 * enc.intermediate_size +
                             2.0 * dec.num_layers * dec.num_kv_heads * dec.head_dim),
                N);
  // The encoder's own K/V: one layer's worth, rewritten by every layer; padding keys masked.
  s.encoder_kv = std::make_unique<KVCache>(1, n, enc.num_kv_heads, S, enc.head_dim);
  s.encoder_kv->append(S);
  for (int b = 0; b < n; ++b) std::copy_n(s.src_valid.data() + int64_t(b) * S, S, s.encoder_kv->key_valid(b));
  s.positions.resize(N);  // position_ids = arange(src_len) for every input
  for (int64_t i = 0; i < N; ++i) s.positions[i] = i % S;
  float* hidden = s.hidden.resize(N * H);  // (inputs*src_len, hidden_size)
  float *x = s.x.resize(N * H), *y = s.y.resize(N * H);
  encoder_embed_.forward(ids, {}, hidden);
  for (const T5GemmaLayer& L : encoder_) {
    L.self_attn_norms.forward(hidden, N, x, y, [&](const float* in, float* out) {
      L.self_attn.forward(in, n, S, 0, s.positions, *s.encoder_kv, 0, s.ws, out, /*accumulate=*/false);
    });
    L.feedforward_norms.forward(hidden, N, x, y, [&](const float* in, float* out) { L.mlp.forward(in, N, s.ws, out, false); });
  }
  float* enc_out = s.last.resize(N * H);  // (inputs*src_len, encoder hidden_size)
  encoder_norm_.forward(hidden, N, enc_out);
  for (int l = 0; l < dec.num_layers; ++l) decoder_[l].cross_attn.project_kv(enc_out, n, S, s.ws, s.cross[l]);
  s.encoder_kv.reset();
}

// Equivalent in modeling_t5gemma.py: T5GemmaDecoder.forward + T5GemmaDecoderLayer.forward, then
// lm_head (norm, out_proj, softcap).
std::span<const float> T5GemmaModel::decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T,
                                            DecodeState& base, bool all_positions) const {
  auto& s = static_cast<T5GemmaState&>(base);
  const T5GemmaModuleConfig& dec = cfg_.decoder;
  const int start = begin_seq2seq_step(s, ids, mask, T, config_.vocab_size);
  const int B = s.batch_size();
  const int64_t N = int64_t(B) * T, H = dec.hidden_size;
  check_scratch(double(N) * (3 * H + 4 * int64_t(dec.num_heads) * dec.head_dim + 2 * dec.intermediate_size) +
                    double(all_positions ? N : B) * (H + config_.vocab_size),
                N);
  s.positions.resize(N);  // position_ids = arange(seq_len) + past_seen_tokens
  for (int64_t i = 0; i < N; ++i) s.positions[i] = start + i % T;
  float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
  float *x = s.x.resize(N * H), *y = s.y.resize(N * H);
  decoder_embed_.forward(ids, {}, hidden);
  for (int l = 0; l < dec.num_layers; ++l) {
    const T5GemmaLayer& L = decoder_[l];
    L.self_attn_norms.forward(hidden, N, x, y, [&](const float* in, float* out) {
      L.self_attn.forward(in, B, T, start, s.positions, s.self_cache, l, s.ws, out, /*accumulate=*/false);
    });
    L.cross_attn_norms.forward(hidden, N, x, y, [&](const float* in, float* out) {
      L.cross_attn.forward(in, B, T, s.cross[l], s.src_valid, s.ws, out, /*accumulate=*/false);
    });
    L.feedforward_norms.forward(hidden, N, x, y, [&](const float* in, float* out) { L.mlp.forward(in, N, s.ws, out, false); });
  }
  return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);
}

}  // namespace

std::unique_ptr<Model> make_t5gemma(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<T5GemmaModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
