// T5 / mT5 / UMT5 (transformers' modeling_t5.py, modeling_mt5.py, modeling_umt5.py) on the T5
// stack (t5_stack.h): T5LayerNorm (RMS without mean), no 1/sqrt(d) attention scaling, bucketed
// relative position bias (computed by the first layer and shared by all; UMT5 has one per
// layer), T5DenseActDense (relu) or T5DenseGatedActDense (gated-gelu) feed-forward, and the
// d_model**-0.5 rescale before a tied LM head.
#include <memory>

#include "models/registry.h"
#include "models/t5_stack.h"
#include "nn/mlp.h"

namespace autolm {

namespace {

T5StackOptions t5_options(const ModelConfig& mc, const JsonConfig& c) {
  T5StackOptions o;
  o.every_layer_has_bias = mc.model_type == "umt5";  // UMT5Block: has_relative_attention_bias on every layer
  o.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
  // transformers 5 T5 rescales when scale_decoder_outputs (default: tied); its MT5 class never
  // rescales unless the key says so (real mT5 checkpoints are untied either way).
  o.scale_decoder_outputs = c.get_or<bool>("scale_decoder_outputs", mc.model_type == "mt5" ? false : o.tie_word_embeddings);
  return o;
}

class T5Model final : public T5StackModel {
 public:
  T5Model(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : T5StackModel(mc, c, std::move(w), t5_options(mc, c)) {
    // T5DenseActDense: wo(act(wi(x))); T5DenseGatedActDense: wo(act(wi_0(x)) * wi_1(x)).
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

 private:
  void feed_forward(bool decoder, int layer, const float* x, int batch, int seq_len, T5State& s,
                    float* hidden) const override {
    (decoder ? decoder_ff_ : encoder_ff_)[layer].forward(x, int64_t(batch) * seq_len, s.ws, hidden, /*accumulate=*/true);
  }

  std::vector<Mlp> encoder_ff_, decoder_ff_;  // layer.<ff>.DenseReluDense
};

}  // namespace

std::unique_ptr<Model> make_t5(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<T5Model>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
