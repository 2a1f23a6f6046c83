// BartForConditionalGeneration (transformers' modeling_bart.py) on the nn blocks, and the model
// types whose files copy its layers: mBART, Marian, Pegasus, M2M100/NLLB, PLBart and LED (its
// encoder self-attention Longformer's: a local window and global tokens) here;
// Blenderbot and BlenderbotSmall in their own files (see bart_family.h). The variant is
// resolved once at load; encode() is BartEncoder.forward, decode() BartDecoder.forward plus
// lm_head + final_logits_bias.
#include <cmath>
#include <memory>

#include "core/memory.h"
#include "models/bart_family.h"
#include "models/config_checks.h"
#include "models/encoder_mask.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "models/seq2seq_state.h"
#include "nn/cross_attention.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/longformer_attention.h"
#include "nn/mlp.h"
#include "nn/norm.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct BartEncoderLayer {
  CrossAttention self_attn;   // BartAttention, is_causal=False: over the layer's own rows
  LongformerSelfAttention longformer_attn;  // LED instead: LEDEncoderAttention (local window + global tokens)
  Norm self_attn_layer_norm;  // (d_model)
  Mlp mlp;                    // fc2(activation_fn(fc1(x)))
  Norm final_layer_norm;      // (d_model)
};

struct BartDecoderLayer {
  SelfAttention self_attn;       // causal, over the KV cache
  Norm self_attn_layer_norm;
  CrossAttention encoder_attn;   // over the encoder output, K/V once per input
  Norm encoder_attn_layer_norm;
  Mlp mlp;
  Norm final_layer_norm;
};

// What BartEncoder / BartDecoder hold besides their layers.
struct BartStack {
  BartStackVariant variant;
  int64_t max_positions = 0;  // rows of embed_positions (max_position_embeddings; LED: per stack)
  PositionLimit limit;        // the longest input the table allows
  Embedding embed;           // embed_tokens (× embed_scale) + embed_positions
  Norm layernorm_embedding;  // (d_model) or empty
  Norm layer_norm;           // pre-LN variants: the stack's final norm (decoder's is in the LmHead)
};

class BartForConditionalGeneration final : public LoadedModel {
 public:
  BartForConditionalGeneration(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w, const BartVariant& v)
      : LoadedModel(std::move(mc), std::move(w)), v_(v) {
    set_config_source(c.source());
    padding_idx_ = config_.pad_token_id.value_or(1);
    d_model_ = config_size(c, "d_model");
    const int encoder_layers = int(config_size(c, "encoder_layers")), decoder_layers = int(config_size(c, "decoder_layers"));
    encoder_heads_ = int(config_size(c, "encoder_attention_heads"));
    decoder_heads_ = int(config_size(c, "decoder_attention_heads"));
    const int64_t encoder_ffn = config_size(c, "encoder_ffn_dim"), decoder_ffn = config_size(c, "decoder_ffn_dim");
    // LEDConfig: max_encoder_position_embeddings / max_decoder_position_embeddings.
    const std::string enc_key = v_.longformer_encoder ? "max_encoder_position_embeddings" : "max_position_embeddings";
    const std::string dec_key = v_.longformer_encoder ? "max_decoder_position_embeddings" : "max_position_embeddings";
    max_positions_ = config_size(c, dec_key);
    encoder_.max_positions = config_size(c, enc_key);
    check_divisible(c, "d_model", d_model_, "encoder_attention_heads", encoder_heads_);
    check_divisible(c, "d_model", d_model_, "decoder_attention_heads", decoder_heads_);
    const std::string& m = v_.prefix;  // "model." (LED: "led.")
    check_layer_count(c, "encoder_layers", encoder_layers, *weights_, m + "encoder.layers.");
    check_layer_count(c, "decoder_layers", decoder_layers, *weights_, m + "decoder.layers.");
    if (v_.longformer_encoder) read_attention_window(c, encoder_layers);
    // The position table is a hard limit. M2M100 and FSMT start positions after padding_idx
    // (the pad_token_id), in a table of max_position_embeddings + 2 (FSMT: + padding_idx + 1)
    // rows. (FSMT's SinusoidalPositionalEmbedding would grow its table past that; autolm stops at
    // max_position_embeddings.)
    int64_t max_len = max_positions_;
    if (v_.positions == BartPositions::kFairseq) {
      if (padding_idx_ < 0 || padding_idx_ >= config_.vocab_size)
        throw Error(ErrorKind::kInvalidInput, c.source() + ": pad_token_id (" + std::to_string(padding_idx_) +
                                                  ") must be a token id below vocab_size (" +
                                                  std::to_string(config_.vocab_size) + ")");
      // fairseq's frequencies divide by d_model / 2 - 1.
      if (d_model_ < 4)
        throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"d_model\" must be at least 4 for " +
                                                  config_.model_type + " (" + std::to_string(d_model_) + ")");
      fairseq_rows_ = max_positions_ + (v_.separate_vocabs ? padding_idx_ + 1 : 2);
      max_len = std::min(max_positions_, fairseq_rows_ - padding_idx_ - 1);
      if (max_len < 1)
        throw Error(ErrorKind::kInvalidInput, c.source() + ": pad_token_id (" + std::to_string(padding_idx_) +
                                                  ") leaves no positions in max_position_embeddings (" +
                                                  std::to_string(max_positions_) + ")");
    }
    if (!v_.longformer_encoder) encoder_.max_positions = max_len;
    decoder_.max_positions = max_len;
    encoder_.limit = {encoder_.max_positions, c.source() + ": " + enc_key + " = " + std::to_string(encoder_.max_positions), ""};
    decoder_.limit = {max_len, c.source() + ": " + dec_key + " = " + std::to_string(max_positions_), ""};
    config_.max_positions = max_len;
    const Activation act =
        parse_activation(c.get_or<std::string>("activation_function", "gelu"), c.source() + ": activation_function");
    embed_scale_ = c.get_or<bool>("scale_embedding", v_.default_scale_embedding) ? float(std::sqrt(double(d_model_))) : 1.f;
    // Marian may have a separate target vocabulary (decoder_vocab_size); FSMT always has
    // (vocab_size is its tgt_vocab_size).
    src_vocab_ = v_.separate_vocabs ? config_size(c, "src_vocab_size") : config_.vocab_size;
    if (v_.decoder_vocab) config_.vocab_size = config_size_or(c, "decoder_vocab_size", src_vocab_);
    if (!config_.decoder_start_token_id) config_.decoder_start_token_id = config_.pad_token_id;

    describe_dim(src_vocab_, v_.separate_vocabs ? "src_vocab_size" : "vocab_size");
    if (v_.separate_vocabs) describe_dim(config_.vocab_size, "tgt_vocab_size");
    if (v_.decoder_vocab && c.has("decoder_vocab_size")) describe_dim(config_.vocab_size, "decoder_vocab_size");
    describe_dim(d_model_, "d_model");
    describe_dim(encoder_ffn, "encoder_ffn_dim");
    describe_dim(decoder_ffn, "decoder_ffn_dim");
    describe_dim(max_positions_, dec_key);
    if (v_.longformer_encoder) describe_dim(encoder_.max_positions, enc_key);
    else describe_dim(max_positions_ + 2, "max_position_embeddings (" + std::to_string(max_positions_) + ") + 2");
    const int64_t D = d_model_, V = config_.vocab_size;
    const std::string src_name = m + (v_.separate_vocabs ? "encoder.embed_tokens.weight" : "shared.weight");
    const TensorView shared = require_matrix(src_name, {src_vocab_, D});
    const bool share = !v_.separate_vocabs && (!v_.decoder_vocab || c.get_or<bool>("share_encoder_decoder_embeddings", true));
    const std::string dec_name = share ? src_name : m + "decoder.embed_tokens.weight";
    const TensorView dec_tokens = share ? shared : require_matrix(dec_name, {V, D});
    // Shared or tied embeddings must cover the target vocabulary: the LM head writes one logit
    // per row of its matrix into a buffer of vocab_size (decoder_vocab_size) logits.
    if (dec_tokens.shape[0] != V)
      throw Error(ErrorKind::kInvalidInput,
                  c.source() + ": " + (v_.decoder_vocab && c.has("decoder_vocab_size") ? "decoder_vocab_size" : "vocab_size") +
                      " = " + std::to_string(V) + " disagrees with the weights: the decoder embeddings have " +
                      std::to_string(dec_tokens.shape[0]) + " rows");
    load_stack(encoder_, m + "encoder.", v_.encoder, shared, src_name, src_vocab_);
    load_stack(decoder_, m + "decoder.", v_.decoder, dec_tokens, dec_name, V);

    const NormOptions ln{NormKind::kLayer, 1e-5f, false, true, true};  // nn.LayerNorm(d_model)
    CrossAttentionOptions enc_attn{D, encoder_heads_, int(D / encoder_heads_), D, true, 0.f};
    enc_attn.scale = float(std::pow(enc_attn.head_dim, -0.5));
    CrossAttentionOptions cross{D, decoder_heads_, int(D / decoder_heads_), D, true, 0.f};
    cross.scale = float(std::pow(cross.head_dim, -0.5));
    SelfAttentionOptions self;
    self.hidden_size = D;
    self.num_heads = self.num_kv_heads = decoder_heads_;
    self.head_dim = int(D / decoder_heads_);
    self.scale = cross.scale;
    self.qkv_bias = self.o_bias = true;
    const SelfAttentionNames self_names{.o = "out_proj"};
    MlpOptions mlp{.gated = false, .act = act, .bias = true};
    const MlpNames mlp_names{.up = "fc1", .down = "fc2"};
    encoder_layers_.resize(encoder_layers);
    for (int i = 0; i < encoder_layers; ++i) {
      const std::string p = m + "encoder.layers." + std::to_string(i) + ".";
      BartEncoderLayer& L = encoder_layers_[i];
      if (v_.longformer_encoder) {
        L.longformer_attn = LongformerSelfAttention::load(
            *this, p + "self_attn.", {D, encoder_heads_, int(D / encoder_heads_), attention_window_[size_t(i)] / 2});
      } else {
        L.self_attn = CrossAttention::load(*this, p + "self_attn.", enc_attn);
      }
      L.self_attn_layer_norm = Norm::load(*this, p + "self_attn_layer_norm", D, ln);
      L.mlp = Mlp::load(*this, p, D, encoder_ffn, mlp, mlp_names);
      L.final_layer_norm = Norm::load(*this, p + "final_layer_norm", D, ln);
    }
    decoder_layers_.resize(decoder_layers);
    for (int i = 0; i < decoder_layers; ++i) {
      const std::string p = m + "decoder.layers." + std::to_string(i) + ".";
      BartDecoderLayer& L = decoder_layers_[i];
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", self, self_names);
      L.self_attn_layer_norm = Norm::load(*this, p + "self_attn_layer_norm", D, ln);
      L.encoder_attn = CrossAttention::load(*this, p + "encoder_attn.", cross);
      L.encoder_attn_layer_norm = Norm::load(*this, p + "encoder_attn_layer_norm", D, ln);
      L.mlp = Mlp::load(*this, p, D, decoder_ffn, mlp, mlp_names);
      L.final_layer_norm = Norm::load(*this, p + "final_layer_norm", D, ln);
    }
    if (v_.pre_ln) encoder_.layer_norm = Norm::load(*this, m + "encoder.layer_norm", D, ln);
    LmHeadOptions head;
    head.final_norm = v_.pre_ln;  // the decoder's final layer_norm, on the rows the head reads
    head.norm = ln;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", v_.default_tie_word_embeddings);
    head.final_logits_bias = has("final_logits_bias");  // a buffer: zeros when the file lacks it
    lm_head_ = LmHead::load(*this, V, D, dec_tokens, dec_name, head,
                            {.norm = m + "decoder.layer_norm",
                             .head = v_.separate_vocabs ? m + "decoder.output_projection" : "lm_head",
                             .final_logits_bias = "final_logits_bias"});
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int rows_per_input) const override {
    check_state_length(decoder_.limit, max_length);
    return std::make_unique<Seq2SeqState>(int(decoder_layers_.size()), batch, rows_per_input, decoder_heads_, max_length,
                                          int(d_model_ / decoder_heads_));
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(decoder_layers_.size()) * d_model_ * 4; }

  void encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const override;
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T, DecodeState& base,
                                bool all_positions) const override;

 private:
  void load_stack(BartStack& st, const std::string& p, const BartStackVariant& sv, const TensorView& tokens,
                  const std::string& tokens_name, int64_t vocab) {
    const int64_t D = d_model_;
    st.variant = sv;
    const std::string alias = p + "embed_tokens.weight";  // tied alias of model.shared
    if (alias != tokens_name && has(alias)) optional(alias, {vocab, D});
    EmbeddingOptions e;
    e.scale = sv.scale_tokens ? embed_scale_ : 1.f;
    e.max_positions = st.max_positions;
    const std::string positions = p + "embed_positions.weight";
    switch (v_.positions) {
      case BartPositions::kLearned:
        e.positions = PositionEmbedding::kLearned;
        e.position_offset = v_.position_offset;
        break;
      case BartPositions::kSinusoidal:  // Pegasus saves its table; Marian's is computed
        e.positions = has(positions) ? PositionEmbedding::kLearned : PositionEmbedding::kSinusoidal;
        e.sinusoidal = SinusoidalLayout::kMarian;
        if (e.positions == PositionEmbedding::kSinusoidal) check_table(max_positions_);
        break;
      case BartPositions::kFairseq:  // zero row at padding_idx
        e.max_positions = fairseq_rows_;
        if (v_.fairseq_table_from_file && has(positions)) {
          e.positions = PositionEmbedding::kLearned;
          break;
        }
        if (has(positions)) optional(positions);  // M2M100: ignored as transformers does
        e.positions = PositionEmbedding::kSinusoidal;
        e.sinusoidal = SinusoidalLayout::kFairseq;
        e.padding_idx = padding_idx_;
        check_table(e.max_positions);
        break;
    }
    st.embed = Embedding::load(*this, tokens, D, e, positions);
    if (sv.layernorm_embedding != LayerNormEmbedding::kNone)
      st.layernorm_embedding = Norm::load(*this, p + "layernorm_embedding", D, {NormKind::kLayer, 1e-5f, false, true, true});
  }

  // LEDConfig.attention_window: an even positive int, or one per encoder layer (LEDEncoder
  // turns an int into a list).
  void read_attention_window(const JsonConfig& c, int layers) {
    std::vector<int64_t> w;
    if (c.raw().contains("attention_window") && c.raw()["attention_window"].is_array())
      w = c.get<std::vector<int64_t>>("attention_window");
    else
      w.assign(size_t(layers), config_size_or(c, "attention_window", 512));
    if (int64_t(w.size()) != layers)
      throw Error(ErrorKind::kInvalidInput, c.source() + ": attention_window has " + std::to_string(w.size()) +
                                                " entries for encoder_layers " + std::to_string(layers));
    for (int64_t x : w) {
      if (x <= 0 || x % 2 != 0 || x > (int64_t(1) << 30))
        throw Error(ErrorKind::kInvalidInput, c.source() + ": attention_window " + std::to_string(x) +
                                                  " must be an even positive value");
      attention_window_.push_back(int(x));
      pad_multiple_ = std::max(pad_multiple_, int(x));
    }
  }

  // The computed position tables are sized by config.json alone (no tensor in the file bounds
  // them): refuse one that cannot fit before allocating it.
  void check_table(int64_t rows) const {
    check_allocation(double(rows) * double(d_model_) * sizeof(float),
                     config_source_name() + ": max_position_embeddings (" + std::to_string(max_positions_) +
                         ") × d_model (" + std::to_string(d_model_) + ") sinusoidal position table",
                     "lower max_position_embeddings");
  }

  // hidden = embed_tokens(ids) * embed_scale + embed_positions(start + t), with
  // layernorm_embedding before or after the positions. positions: scratch (rows*T).
  void embed(const BartStack& st, std::span<const int32_t> ids, int rows, int T, int start, std::vector<int64_t>& positions,
             float* hidden) const {
    const int64_t N = int64_t(rows) * T, D = d_model_;
    positions.resize(size_t(N));
    for (int64_t n = 0; n < N; ++n) {
      int64_t pos = int64_t(start) + n % T;
      // M2M100 / FSMT derive positions from input_ids: padding_idx for padding, else after it.
      if (v_.positions == BartPositions::kFairseq) pos = ids[n] == padding_idx_ ? padding_idx_ : padding_idx_ + 1 + pos;
      if (pos >= st.embed.max_positions())
        throw Error(ErrorKind::kInvalidInput, "position " + std::to_string(pos) + " is beyond " + st.limit.why + " of model_type \"" +
                                                  config_.model_type + "\"");
      positions[size_t(n)] = pos;
    }
    if (st.variant.layernorm_embedding != LayerNormEmbedding::kBeforePositions) {
      st.embed.forward(ids, positions, hidden);
      if (!st.layernorm_embedding.empty()) st.layernorm_embedding.forward(hidden, N, hidden);
      return;
    }
    // Equivalent in modeling_blenderbot_small.py (BlenderbotSmallDecoder.forward):
    // inputs_embeds = layernorm_embedding(inputs_embeds); hidden_states = inputs_embeds + positions.
    st.embed.forward(ids, {}, hidden);
    st.layernorm_embedding.forward(hidden, N, hidden);
    for (int64_t n = 0; n < N; ++n) st.embed.add_position(positions[size_t(n)], hidden + n * D);
  }

  // Residual sub-block: BartEncoderLayer adds then normalises (post-LN); MBartEncoderLayer
  // normalises the input (pre-LN). body(x, hidden) adds the sub-block's output to hidden.
  template <typename Body>
  void residual(float* hidden, int64_t N, const Norm& norm, float* x, Body body) const {
    if (v_.pre_ln) {
      norm.forward(hidden, N, x);
      body(x, hidden);
    } else {
      std::copy(hidden, hidden + N * d_model_, x);
      body(x, hidden);
      norm.forward(hidden, N, hidden);
    }
  }

  BartVariant v_;
  std::vector<int> attention_window_;  // LED: per encoder layer
  int pad_multiple_ = 1;               // LED: max(attention_window), the encoder input's padded multiple
  int64_t padding_idx_ = 1, d_model_ = 0, max_positions_ = 0, src_vocab_ = 0, fairseq_rows_ = 0;
  int encoder_heads_ = 0, decoder_heads_ = 0;
  float embed_scale_ = 1.f;
  BartStack encoder_, decoder_;
  std::vector<BartEncoderLayer> encoder_layers_;
  std::vector<BartDecoderLayer> decoder_layers_;
  LmHead lm_head_;  // decoder layer_norm (pre-LN) + lm_head (tied: the decoder embeddings) + final_logits_bias
};

// Equivalent in modeling_bart.py: BartEncoder.forward, then every decoder layer's
// encoder_attn K/V of the encoder output (computed once per input, as the cross-attention
// cache transformers fills on the first step).
void BartForConditionalGeneration::encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S,
                                          DecodeState& base) const {
  auto& s = static_cast<Seq2SeqState&>(base);
  check_sequence_length(encoder_.limit, S, "an encoder input", "shorten the input");
  // LEDEncoder._pad_to_window_size: transformers pads the input with masked pad tokens to a
  // multiple of max(attention_window), whose positions must fit the table too. The padding rows
  // are masked keys and dropped after the encoder: they change no real row, so none are run here.
  const int64_t padded = (int64_t(S) + pad_multiple_ - 1) / pad_multiple_ * pad_multiple_;
  if (padded > encoder_.max_positions)
    throw Error(ErrorKind::kInvalidInput, "an encoder input of " + std::to_string(S) + " tokens is padded to " +
                                              std::to_string(padded) + " (a multiple of attention_window " +
                                              std::to_string(pad_multiple_) + "), beyond " + encoder_.limit.why +
                                              "; shorten the input");
  // LED: the tokens of generate()'s global_attention_mask (encode's mask value 2).
  const std::vector<uint8_t> global = global_attention_tokens(mask, v_.longformer_encoder, config_.model_type);
  const int n = begin_encode(s, ids, mask, S, src_vocab_);
  const int64_t N = int64_t(n) * S, D = d_model_;
  int64_t ffn = 0;
  for (const auto& L : encoder_layers_) ffn = std::max(ffn, L.mlp.intermediate_size());
  // Scratch, encoder K/V and every decoder layer's cross-attention K/V.
  check_scratch(double(N) * (7 * D + ffn + 2.0 * decoder_layers_.size() * D), N);
  float* hidden = s.hidden.resize(N * D);  // (inputs*src_len, d_model)
  float* x = s.x.resize(N * D);
  embed(encoder_, ids, n, S, 0, s.positions, hidden);
  CrossKV own;  // the encoder layer's K/V of its own input
  for (const BartEncoderLayer& L : encoder_layers_) {
    residual(hidden, N, L.self_attn_layer_norm, x, [&](const float* in, float* out) {
      if (!L.longformer_attn.empty()) {
        L.longformer_attn.forward(in, n, S, s.src_valid, global, s.ws, out, /*accumulate=*/true);
        return;
      }
      L.self_attn.project_kv(in, n, S, s.ws, own);
      L.self_attn.forward(in, n, S, own, s.src_valid, s.ws, out, /*accumulate=*/true);
    });
    residual(hidden, N, L.final_layer_norm, x,
             [&](const float* in, float* out) { L.mlp.forward(in, N, s.ws, out, /*accumulate=*/true); });
  }
  if (!encoder_.layer_norm.empty()) encoder_.layer_norm.forward(hidden, N, hidden);
  for (size_t l = 0; l < decoder_layers_.size(); ++l) decoder_layers_[l].encoder_attn.project_kv(hidden, n, S, s.ws, s.cross[l]);
}

// Equivalent in modeling_bart.py: BartDecoder.forward + BartDecoderLayer.forward, then
// lm_head(hidden) + final_logits_bias.
std::span<const float> BartForConditionalGeneration::decode(std::span<const int32_t> ids, std::span<const int32_t> mask,
                                                            int T, DecodeState& base, bool all_positions) const {
  auto& s = static_cast<Seq2SeqState&>(base);
  const int start = begin_seq2seq_step(s, ids, mask, T, config_.vocab_size);
  const int B = s.batch_size();
  const int64_t N = int64_t(B) * T, D = d_model_;
  int64_t ffn = 0;
  for (const auto& L : decoder_layers_) ffn = std::max(ffn, L.mlp.intermediate_size());
  check_scratch(double(N) * (6 * D + ffn) + double(all_positions ? N : B) * (D + config_.vocab_size), N);
  float* hidden = s.hidden.resize(N * D);  // (batch*seq_len, d_model)
  float* x = s.x.resize(N * D);
  embed(decoder_, ids, B, T, start, s.positions, hidden);
  for (int l = 0; l < int(decoder_layers_.size()); ++l) {
    const BartDecoderLayer& L = decoder_layers_[l];
    residual(hidden, N, L.self_attn_layer_norm, x, [&](const float* in, float* out) {
      L.self_attn.forward(in, B, T, start, s.positions, s.self_cache, l, s.ws, out, /*accumulate=*/true);
    });
    residual(hidden, N, L.encoder_attn_layer_norm, x, [&](const float* in, float* out) {
      L.encoder_attn.forward(in, B, T, s.cross[l], s.src_valid, s.ws, out, /*accumulate=*/true);
    });
    residual(hidden, N, L.final_layer_norm, x,
             [&](const float* in, float* out) { L.mlp.forward(in, N, s.ws, out, /*accumulate=*/true); });
  }
  return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);
}

}  // namespace

std::unique_ptr<Model> make_bart_like(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights,
                                      const BartVariant& variant) {
  return std::make_unique<BartForConditionalGeneration>(std::move(config), json, std::move(weights), variant);
}

// The model types whose modeling files are BART's with other embeddings / layer order.
std::unique_ptr<Model> make_bart_family(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  using LE = LayerNormEmbedding;
  const std::string& type = config.model_type;
  BartVariant v;  // bart, plbart (modular_plbart.py: BART with PLBart names): learned positions + 2, post-LN
  if (type == "plbart") v.default_scale_embedding = true;
  if (type == "mbart") v.pre_ln = true;  // modeling_mbart.py: pre-LN layers, final layer_norm per stack
  if (type == "marian" || type == "pegasus" || type == "m2m_100") {
    v.positions = type == "m2m_100" ? BartPositions::kFairseq : BartPositions::kSinusoidal;
    v.encoder.layernorm_embedding = v.decoder.layernorm_embedding = LE::kNone;
    v.pre_ln = type != "marian";  // Marian: BART's post-LN layers
    v.decoder_vocab = type == "marian";
    v.default_scale_embedding = type == "m2m_100";
  }
  if (type == "led") {  // modeling_led.py: BART's layers, positions without offset, Longformer encoder attention
    v.prefix = "led.";
    v.position_offset = 0;
    v.longformer_encoder = true;
    v.encoder.scale_tokens = v.decoder.scale_tokens = false;  // LEDConfig has no scale_embedding
  }
  return make_bart_like(std::move(config), json, std::move(weights), v);
}

}  // namespace autolm
