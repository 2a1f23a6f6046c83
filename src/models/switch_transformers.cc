// Switch Transformers (transformers' modeling_switch_transformers.py) on the T5 stack
// (t5_stack.h): T5's attention, norms and head, with every `sparse_step`-th feed-forward a
// SwitchTransformersSparseMLP — a float32 top-1 router over `num_experts` T5DenseActDense
// experts, each token's output scaled by its router probability, and tokens past an expert's
// `expert_capacity` within their sequence dropped (their feed-forward output is zero), as the
// router does at inference too. Router jitter noise is training-only.
//
// Why not nn/moe: its experts are gated MLPs and it has no capacity; Switch's experts are
// T5's plain wi → act → wo (the Mlp block) and dropping is part of the result.
#include <cmath>
#include <memory>

#include "models/registry.h"
#include "models/t5_stack.h"
#include "nn/mlp.h"
#include "ops/linear.h"

namespace autolm {

namespace {

struct SwitchTransformersSparseMLP {
  TensorView router;         // router.classifier.weight (num_experts, d_model), float32
  TensorView router_bias;    // router.classifier.bias (num_experts) when router_bias
  std::vector<Mlp> experts;  // experts.expert_<e>: wi (d_ff, d_model), wo (d_model, d_ff)
};

struct SwitchTransformersLayerFF {
  Mlp mlp;                                     // dense layers: mlp.wi / mlp.wo
  std::unique_ptr<SwitchTransformersSparseMLP> sparse;  // sparse layers
};

T5StackOptions switch_options(const JsonConfig& c) {
  T5StackOptions o;
  o.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
  o.scale_decoder_outputs = o.tie_word_embeddings;  // SwitchTransformersForConditionalGeneration.forward
  return o;
}

class SwitchTransformersModel final : public T5StackModel {
 public:
  SwitchTransformersModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : T5StackModel(mc, c, std::move(w), switch_options(c)) {
    num_experts_ = int(config_size(c, "num_experts"));
    describe_dim(num_experts_, "num_experts");
    const int64_t capacity = c.get_or<int64_t>("expert_capacity", 64);
    if (capacity < 0 || capacity > kMaxConfigSize)
      throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"expert_capacity\" must be a non-negative integer (" +
                                                std::to_string(capacity) + ")");
    expert_capacity_ = int(capacity);
    const std::string router_dtype = c.get_or<std::string>("router_dtype", "float32");
    if (router_dtype != "float32")
      throw Error(ErrorKind::kUnsupported, c.source() + ": router_dtype \"" + router_dtype +
                                               "\" is not supported (float32 routers only, as the released checkpoints)");
    const bool router_bias = c.get_or<bool>("router_bias", false);
    // SwitchTransformersDenseActDense: wo(act(wi(x))), dense_act_fn.
    const MlpOptions mlp{false, parse_activation(c.get_or<std::string>("dense_act_fn", "relu"), c.source() + ": dense_act_fn")};
    const MlpNames names{"", "wi", "wo"};
    for (bool decoder : {false, true}) {
      const int n = decoder ? num_decoder_layers_ : num_layers_;
      // Equivalent in configuration_switch_transformers.py: sparse_step = num_layers // num_sparse_layers
      // (num_layers when 0), and in SwitchTransformersStack: is_sparse = i % sparse_step == 1 or sparse_step == 1.
      const int64_t sparse = config_count(c, decoder ? "num_sparse_decoder_layers" : "num_sparse_encoder_layers", 3);
      const int64_t step = sparse > 0 ? n / sparse : n;
      std::vector<SwitchTransformersLayerFF>& stack = decoder ? decoder_ff_ : encoder_ff_;
      stack.resize(n);
      for (int i = 0; i < n; ++i) {
        const std::string p = layer_prefix(decoder, i) + ff_index(decoder) + ".mlp.";
        if (step > 0 && (i % step == 1 || step == 1)) {
          auto& s = *(stack[i].sparse = std::make_unique<SwitchTransformersSparseMLP>());
          s.router = require(p + "router.classifier.weight", {num_experts_, d_model_});
          if (router_bias) s.router_bias = require(p + "router.classifier.bias", {num_experts_});
          for (int e = 0; e < num_experts_; ++e)
            s.experts.push_back(Mlp::load(*this, p + "experts.expert_" + std::to_string(e) + ".", d_model_, d_ff_, mlp, names));
        } else {
          stack[i].mlp = Mlp::load(*this, p, d_model_, d_ff_, mlp, names);
        }
      }
    }
    finish_loading();
  }

 private:
  static int64_t config_count(const JsonConfig& c, const std::string& key, int64_t fallback) {
    const int64_t v = c.get_or<int64_t>(key, fallback);
    if (v < 0 || v > kMaxConfigSize)
      throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"" + key + "\" must be a non-negative integer (" +
                                                std::to_string(v) + ")");
    return v;
  }

  void feed_forward(bool decoder, int layer, const float* x, int batch, int seq_len, T5State& s,
                    float* hidden) const override {
    const SwitchTransformersLayerFF& ff = (decoder ? decoder_ff_ : encoder_ff_)[layer];
    const int64_t N = int64_t(batch) * seq_len;
    if (!ff.sparse) ff.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    else sparse_mlp(*ff.sparse, x, batch, seq_len, s, hidden);
  }

  // SwitchTransformersSparseMLP: hidden += router_prob * expert(x) for each token its expert kept.
  void sparse_mlp(const SwitchTransformersSparseMLP& m, const float* x, int batch, int seq_len, T5State& s,
                  float* hidden) const {
    const int64_t N = int64_t(batch) * seq_len, D = d_model_, E = num_experts_;
    float* logits = s.gate.resize(N * E);  // (tokens, num_experts) router_logits, float32
    linear(x, N, m.router, m.router_bias, logits);
    s.expert.assign(N, -1);
    s.expert_weight.assign(N, 0.f);
    std::vector<int>& count = s.expert_count;
    count.resize(size_t(E));
    for (int b = 0; b < batch; ++b) {
      // Equivalent in SwitchTransformersTop1Router: token_priority = cumsum(one_hot(argmax), dim=-2) over
      // each sequence; tokens with priority > expert_capacity are masked out.
      std::fill(count.begin(), count.end(), 0);
      for (int t = 0; t < seq_len; ++t) {
        const int64_t i = int64_t(b) * seq_len + t;
        const float* l = logits + i * E;
        int e = 0;
        for (int j = 1; j < E; ++j)
          if (l[j] > l[e]) e = j;  // argmax: the first maximum
        float sum = 0.f;
        for (int j = 0; j < E; ++j) sum += std::exp(l[j] - l[e]);
        s.expert_weight[i] = 1.f / sum;  // max(softmax(router_logits))
        if (++count[e] <= expert_capacity_) s.expert[i] = e;
      }
    }
    for (int e = 0; e < E; ++e) {
      s.members.clear();
      for (int64_t i = 0; i < N; ++i)
        if (s.expert[i] == e) s.members.push_back(i);
      const int64_t M = int64_t(s.members.size());
      if (M == 0) continue;
      float* rows = s.ff.resize(M * D);  // (members, d_model)
      for (int64_t r = 0; r < M; ++r) std::copy(x + s.members[r] * D, x + (s.members[r] + 1) * D, rows + r * D);
      float* out = s.attn.resize(M * D);
      m.experts[e].forward(rows, M, s.ws, out, /*accumulate=*/false);
      for (int64_t r = 0; r < M; ++r) {
        const float w = s.expert_weight[s.members[r]];
        float* h = hidden + s.members[r] * D;
        for (int64_t d = 0; d < D; ++d) h[d] += out[r * D + d] * w;
      }
    }
  }

  int num_experts_ = 0, expert_capacity_ = 64;
  std::vector<SwitchTransformersLayerFF> encoder_ff_, decoder_ff_;
};

}  // namespace

std::unique_ptr<Model> make_switch_transformers(ModelConfig config, const JsonConfig& json,
                                                std::unique_ptr<WeightStore> weights) {
  return std::make_unique<SwitchTransformersModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
