// LongT5 (transformers' modeling_longt5.py) on the T5 stack (t5_stack.h): the decoder is T5's;
// the encoder's self-attention is local or transient-global (encoder_attention_type).
//  - local (LongT5LocalAttention): each token sees the tokens within local_radius of it, with
//    T5's bidirectional relative position bias — the T5 encoder attention within a window
//    (HF computes it in blocks of local_radius + 1 over three neighbouring blocks: the same keys);
//  - transient-global (LongT5TransientGlobalAttention): besides those, every token sees one
//    global token per global_block_size block of its input — the block's normed hidden states
//    summed, then global_input_layer_norm — whose bias is global_relative_attention_bias at the
//    bucket of (global block - the token's block). Both biases (and the masks) are computed by
//    layer 0 and shared by every layer.
#include <cmath>
#include <limits>
#include <memory>

#include "core/thread_pool.h"
#include "models/registry.h"
#include "models/t5_stack.h"
#include "nn/mlp.h"
#include "ops/linear.h"

namespace autolm {

namespace {

struct LongT5State : T5State {
  using T5State::T5State;
  std::vector<int32_t> block_ids;    // (inputs, src_len) global block of each token, -1: none
  std::vector<uint8_t> global_valid;  // (inputs, num_globals) global_segment_ids
  Buffer global_inputs, side_k, side_v, side_bias;
};

T5StackOptions longt5_options(const JsonConfig& c) {
  T5StackOptions o;
  const std::string type = c.get_or<std::string>("encoder_attention_type", "local");
  if (type != "local" && type != "transient-global")
    throw Error(ErrorKind::kInvalidInput, c.source() + ": encoder_attention_type \"" + type +
                                              "\" (expected \"local\" or \"transient-global\")");
  o.encoder_attention = type == "local" ? "LocalSelfAttention" : "TransientGlobalSelfAttention";
  // LongT5Config: scale_decoder_outputs (saved by transformers 5) or else tie_word_embeddings
  // decides the rescale; the head is always tied to `shared`.
  o.scale_decoder_outputs = c.get_or<bool>("scale_decoder_outputs", c.get_or<bool>("tie_word_embeddings", true));
  o.tie_word_embeddings = true;
  return o;
}

class LongT5Model final : public T5StackModel {
 public:
  LongT5Model(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : T5StackModel(mc, c, std::move(w), longt5_options(c)) {
    encoder_window_ = int(config_size_or(c, "local_radius", 127));
    transient_global_ = c.get_or<std::string>("encoder_attention_type", "local") == "transient-global";
    if (transient_global_) {
      global_block_size_ = int(config_size_or(c, "global_block_size", 16));
      RelativePositionBiasOptions rb = bias_options_;  // bidirectional (encoder)
      const std::string p0 = layer_prefix(false, 0) + "0.TransientGlobalSelfAttention.";
      global_relative_attention_bias_ =
          RelativePositionBias::load(*this, p0 + "global_relative_attention_bias.weight", rb, false);
      for (int i = 0; i < num_layers_; ++i)
        global_input_layer_norm_.push_back(Norm::load(
            *this, layer_prefix(false, i) + "0.TransientGlobalSelfAttention.global_input_layer_norm", d_model_, norm_));
    }
    // LongT5DenseActDense / LongT5DenseGatedActDense, as T5's.
    const T5FeedForwardKind kind = t5_feed_forward_kind(c);
    const MlpOptions mlp{kind.gated, kind.act};
    const MlpNames names{"wi_0", kind.gated ? "wi_1" : "wi", "wo"};
    for (bool decoder : {false, true}) {
      std::vector<Mlp>& ff = decoder ? decoder_ff_ : encoder_ff_;
      for (int i = 0, n = decoder ? num_decoder_layers_ : num_layers_; i < n; ++i)
        ff.push_back(Mlp::load(*this, layer_prefix(decoder, i) + ff_index(decoder) + ".DenseReluDense.", d_model_, d_ff_,
                               mlp, names));
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int rows_per_input) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<LongT5State>(num_decoder_layers_, batch, rows_per_input, num_heads_, max_length, d_kv_);
  }

 private:
  void feed_forward(bool decoder, int layer, const float* x, int batch, int seq_len, T5State& s,
                    float* hidden) const override {
    (decoder ? decoder_ff_ : encoder_ff_)[layer].forward(x, int64_t(batch) * seq_len, s.ws, hidden, /*accumulate=*/true);
  }

  void encoder_self_attention(int layer, const float* x, int n, int S, T5State& s, float* hidden) const override {
    if (!transient_global_) return T5StackModel::encoder_self_attention(layer, x, n, S, s, hidden);
    transient_global_attention(layer, x, n, S, static_cast<LongT5State&>(s), hidden);
  }

  // Equivalent in modeling_longt5.py: _make_global_fixed_block_ids (block = floor(position /
  // global_block_size) for real tokens, -1 for padding; tokens of a last, incomplete block join
  // the block before; a global token is valid when some token belongs to it).
  void global_blocks(int n, int S, LongT5State& s) const {
    const int gbs = global_block_size_, G = S / gbs;
    s.block_ids.resize(size_t(n) * S);
    s.global_valid.resize(size_t(n) * G);
    const float step = float(1.0 / gbs);  // torch.ones_like(mask) / global_block_size
    for (int b = 0; b < n; ++b) {
      const uint8_t* valid = s.src_valid.data() + int64_t(b) * S;
      int32_t* ids = s.block_ids.data() + int64_t(b) * S;
      double cumsum = 0;  // torch.cumsum (double accumulator on CPU), minus the element
      int block_ends = 0;
      for (int i = 0; i < S; ++i) {
        cumsum += step;
        const float fixed = float(cumsum) - step;
        ids[i] = valid[i] ? int32_t(std::floor((1.f + fixed) - 1.f)) : -1;
        if (i % gbs == gbs - 1 && ids[i] >= 0) ++block_ends;
      }
      const int32_t full_blocks = block_ends - 1;  // handle_orphan_tokens
      int32_t max_id = -1;
      for (int i = 0; i < S; ++i) {
        if (ids[i] >= full_blocks) ids[i] = full_blocks;
        max_id = std::max(max_id, ids[i]);
      }
      for (int g = 0; g < G; ++g) s.global_valid[size_t(b) * G + g] = g <= max_id;
    }
  }

  void transient_global_attention(int layer, const float* x, int n, int S, LongT5State& s, float* hidden) const {
    const T5Attention& a = encoder_[layer].self_attn;
    const int H = num_heads_, Dk = d_kv_, R = encoder_window_, G = S / global_block_size_;
    const int64_t N = int64_t(n) * S, D = d_model_, inner = int64_t(H) * Dk;
    float* local_bias = s.enc_bias.resize(size_t(H) * (2 * S + 1));   // (heads, 2*S + 1) by key - query
    float* side_bias = s.side_bias.resize(size_t(H) * (2 * G + 3));   // (heads, 2*(G+1) + 1) by global - block
    if (layer == 0) {  // position_bias of the first layer, shared by the others
      a.relative_attention_bias.fill(S, local_bias);
      global_relative_attention_bias_.fill(G + 1, side_bias);
      global_blocks(n, S, s);
    }
    // _create_global_aggregates + global_input_layer_norm: (inputs*num_globals, d_model)
    float* global_inputs = s.global_inputs.resize(std::max<int64_t>(1, int64_t(n) * G * D));
    std::fill(global_inputs, global_inputs + int64_t(n) * G * D, 0.f);
    for (int64_t t = 0; t < N; ++t) {
      const int32_t g = s.block_ids[t];
      if (g < 0) continue;
      float* dst = global_inputs + (t / S * G + g) * D;
      for (int64_t d = 0; d < D; ++d) dst[d] += x[t * D + d];
    }
    if (G > 0) global_input_layer_norm_[layer].forward(global_inputs, int64_t(n) * G, global_inputs);
    float* q = s.ws.q.resize(N * inner);  // (inputs*src_len, heads*d_kv)
    float* k = s.ws.k.resize(N * inner);
    float* v = s.ws.v.resize(N * inner);
    float* attn = s.ws.attn.resize(N * inner);
    const TensorView none;
    linear_fused(x, N, {{a.q, none, q}, {a.k, none, k}, {a.v, none, v}});
    float* side_k = s.side_k.resize(std::max<int64_t>(1, int64_t(n) * G * inner));  // (inputs*num_globals, heads*d_kv)
    float* side_v = s.side_v.resize(std::max<int64_t>(1, int64_t(n) * G * inner));
    if (G > 0) linear_fused(global_inputs, int64_t(n) * G, {{a.k, none, side_k}, {a.v, none, side_v}});
    ThreadPool::global().parallel_for(int64_t(n) * H, 1, [&](int64_t bh0, int64_t bh1) {
      std::vector<float> p(size_t(2 * R + 1 + G));
      for (int64_t bh = bh0; bh < bh1; ++bh) {
        const int b = int(bh / H), h = int(bh % H);
        const uint8_t* valid = s.src_valid.data() + int64_t(b) * S;
        const uint8_t* global_valid = s.global_valid.data() + int64_t(b) * G;
        for (int i = 0; i < S; ++i) {
          const float* qi = q + (int64_t(b) * S + i) * inner + h * Dk;
          const int lo = std::max(0, i - R), hi = std::min(S, i + R + 1);
          const int32_t block = s.block_ids[int64_t(b) * S + i];
          float mx = -std::numeric_limits<float>::infinity();
          auto score = [&](const float* key) {
            float dot = 0.f;
            for (int d = 0; d < Dk; ++d) dot += qi[d] * key[d];
            return dot;
          };
          // Local keys (|i - j| <= local_radius, padding masked), then the global ones
          // (valid when global_segment_ids == the token's mask).
          for (int j = lo; j < hi; ++j) {
            float& sc = p[j - lo];
            sc = valid[j] ? score(k + (int64_t(b) * S + j) * inner + h * Dk) + local_bias[h * (2 * S + 1) + S + j - i]
                          : -std::numeric_limits<float>::infinity();
            mx = std::max(mx, sc);
          }
          for (int g = 0; g < G; ++g) {
            float& sc = p[hi - lo + g];
            sc = global_valid[g] == valid[i]
                     ? score(side_k + (int64_t(b) * G + g) * inner + h * Dk) + side_bias[h * (2 * G + 3) + G + 1 + g - block]
                     : -std::numeric_limits<float>::infinity();
            mx = std::max(mx, sc);
          }
          float* out = attn + (int64_t(b) * S + i) * inner + h * Dk;
          std::fill(out, out + Dk, 0.f);
          if (mx == -std::numeric_limits<float>::infinity()) continue;  // nothing to attend to
          float sum = 0.f;
          const int K = hi - lo + G;
          for (int j = 0; j < K; ++j) sum += p[j] = std::exp(p[j] - mx);
          const float inv = 1.f / sum;
          for (int j = 0; j < K; ++j) {
            const float w = p[j] * inv;
            const float* val = j < hi - lo ? v + (int64_t(b) * S + lo + j) * inner + h * Dk
                                           : side_v + (int64_t(b) * G + j - (hi - lo)) * inner + h * Dk;
            for (int d = 0; d < Dk; ++d) out[d] += w * val[d];
          }
        }
      }
    });
    linear_accumulate(attn, N, a.o, {}, hidden);
  }

  bool transient_global_ = false;
  int global_block_size_ = 16;
  RelativePositionBias global_relative_attention_bias_;  // layer 0: (num_buckets, num_heads)
  std::vector<Norm> global_input_layer_norm_;            // per encoder layer (d_model)
  std::vector<Mlp> encoder_ff_, decoder_ff_;             // layer.<ff>.DenseReluDense
};

}  // namespace

std::unique_ptr<Model> make_longt5(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<LongT5Model>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
