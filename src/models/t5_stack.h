// The T5 encoder-decoder skeleton (modeling_t5.py: T5Stack as encoder and decoder, and
// T5ForConditionalGeneration's head), shared by the architectures whose transformers code is
// copied from it: T5 / mT5 / UMT5 (t5.cc), Switch Transformers (switch_transformers.cc: sparse
// feed-forward layers) and LongT5 (longt5.cc: local / transient-global encoder attention).
// Each block is `layer.0` self-attention, (decoder) `layer.1` cross-attention, then the
// feed-forward layer; every sub-layer is pre-norm (T5LayerNorm: RMS, no mean, no bias) with a
// residual add. The architecture file supplies the feed-forward (and may replace the encoder's
// self-attention); everything else is here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/config_checks.h"
#include "models/loaded_model.h"
#include "models/seq2seq_state.h"
#include "nn/cross_attention.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/norm.h"
#include "nn/relative_position_bias.h"
#include "nn/workspace.h"
#include "ops/activations.h"

namespace autolm {

struct T5State : Seq2SeqState {
  using Seq2SeqState::Seq2SeqState;
  Workspace ws;                    // the blocks' scratch (q/k/v/attn, MLP gate/up)
  Buffer enc_k, enc_v;             // encoder self-attention K/V: (inputs, num_heads, src_len, d_kv)
  Buffer enc_bias;                 // (num_heads, 2*src_len + 1) encoder position bias table
  std::vector<int32_t> expert;     // Switch Transformers routing: (tokens) chosen expert, -1 dropped
  std::vector<float> expert_weight;  // (tokens) its router probability
  std::vector<int64_t> members;    // tokens of the expert being run
  std::vector<int> expert_count;   // (num_experts) tokens routed so far in the sequence
};

// T5Attention's projections: no biases and no 1/sqrt(d_kv) scaling (T5 folds it into the init).
struct T5Attention {
  TensorView q, k, v;                            // (num_heads*d_kv, d_model)
  TensorView o;                                  // (d_model, num_heads*d_kv)
  RelativePositionBias relative_attention_bias;  // (num_buckets, num_heads); empty on layers without one
};

struct T5Block {
  Norm self_norm;    // layer.0.layer_norm (d_model)
  T5Attention self_attn;  // layer.0.SelfAttention (LongT5's encoder: its own module name)
  Norm cross_norm;   // decoder layer.1.layer_norm
  CrossAttention cross_attn;  // decoder layer.1.EncDecAttention: q/k/v/o, no bias, scale 1, no position bias
  Norm ff_norm;      // the last layer's layer_norm; its feed-forward belongs to the architecture
};

// What the architecture decides before the stacks load.
struct T5StackOptions {
  bool every_layer_has_bias = false;  // UMT5: each layer its own relative_attention_bias
  std::string encoder_attention = "SelfAttention";  // the encoder's layer.0 module (LongT5: LocalSelfAttention, …)
  bool tie_word_embeddings = true;
  bool scale_decoder_outputs = true;  // sequence_output * d_model**-0.5 before lm_head
};

class T5StackModel : public LoadedModel {
 public:
  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int rows_per_input) const override;
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(num_decoder_layers_) * num_heads_ * d_kv_ * 4; }
  void encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int S, DecodeState& base) const override;
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int T, DecodeState& base,
                                bool all_positions) const override;

 protected:
  // Reads and validates the shared sizes (d_model, d_kv, num_heads, num_layers, …), loads the
  // embedding, the attention sub-layers, the norms and the LM head. The architecture then loads
  // its feed-forward layers and calls finish_loading().
  T5StackModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w, const T5StackOptions& options);

  // T5LayerFF without its norm: hidden += ff(x) for x = ff_norm(hidden), rows = batch*seq_len.
  virtual void feed_forward(bool decoder, int layer, const float* x, int batch, int seq_len, T5State& s,
                            float* hidden) const = 0;
  // T5LayerSelfAttention of the encoder without its norm: hidden += attention(x) over the
  // input's own tokens (bidirectional, padding masked). T5: full attention with the bucketed
  // relative position bias of layer 0 (UMT5: of each layer); LongT5's local attention is the
  // same within encoder_window_.
  virtual void encoder_self_attention(int layer, const float* x, int n, int S, T5State& s, float* hidden) const;

  // (encoder | decoder).block.<i>.layer.
  static std::string layer_prefix(bool decoder, int i) {
    return std::string(decoder ? "decoder" : "encoder") + ".block." + std::to_string(i) + ".layer.";
  }
  T5Attention load_attention(const std::string& prefix, bool relative_bias, bool bidirectional);
  // The feed-forward's sub-layer index: encoder 1, decoder 2.
  static std::string ff_index(bool decoder) { return decoder ? "2" : "1"; }

  PositionLimit positions_;
  int64_t d_model_ = 0, d_ff_ = 0;
  int d_kv_ = 0, num_heads_ = 0, num_layers_ = 0, num_decoder_layers_ = 0;
  RelativePositionBiasOptions bias_options_;
  int encoder_window_ = 0;  // > 0: encoder tokens see keys within this distance only (LongT5 local_radius)
  NormOptions norm_;  // T5LayerNorm: RMS, layer_norm_epsilon
  Embedding shared_;  // shared.weight (vocab_size, d_model); both stacks' embed_tokens
  std::vector<T5Block> encoder_, decoder_;
  Norm encoder_final_layer_norm_;
  LmHead lm_head_;    // decoder.final_layer_norm, the d_model**-0.5 rescale, lm_head (tied to shared)
};

// T5Config's feed_forward_proj: "relu" or "gated-<act>" → (gated, activation), with dense_act_fn
// overriding the name and "gated-gelu" meaning gelu_new, as T5Config.__init__ maps them.
struct T5FeedForwardKind {
  bool gated = false;
  Activation act = Activation::kRelu;
};
T5FeedForwardKind t5_feed_forward_kind(const JsonConfig& c);

}  // namespace autolm
