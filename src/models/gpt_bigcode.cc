// GPTBigCode / SantaCoder / StarCoder (transformers' modeling_gpt_bigcode.py): GPT-2's block with
// nn.Linear weights (no Conv1D transpose) and multi-query attention — c_attn is [q (n_embd),
// k (head_dim), v (head_dim)] — or, without multi_query, c_attn laid out per head [q, k, v].
// Built from the nn blocks.
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/decoder_state.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/norm.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct GPTBigCodeBlock {
  Norm ln_1;           // LayerNorm (n_embd)
  SelfAttention attn;  // c_attn (n_embd + 2*kv_heads*head_dim, n_embd), c_proj (n_embd, n_embd)
  Norm ln_2;           // LayerNorm (n_embd)
  Mlp mlp;             // c_fc (n_inner, n_embd) → act → c_proj (n_embd, n_inner)
};

class GPTBigCodeModel final : public LoadedModel {
 public:
  GPTBigCodeModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    const int64_t E = config_size(c, "n_embd"), V = config_.vocab_size;
    SelfAttentionOptions attn;
    attn.hidden_size = E;
    attn.num_heads = int(config_size(c, "n_head"));
    check_divisible(c, "n_embd", E, "n_head", attn.num_heads);
    attn.head_dim = int(E / attn.num_heads);
    const bool multi_query = c.get_or<bool>("multi_query", true);
    attn.num_kv_heads = multi_query ? 1 : attn.num_heads;
    // multi_query: split((n_embd, kv_dim, kv_dim)); else view(..., n_head, 3*head_dim).split(head_dim).
    attn.layout = multi_query ? QkvLayout::kFused : QkvLayout::kGrouped;
    attn.qkv_bias = attn.o_bias = true;
    attn.scale = c.get_or<bool>("scale_attn_weights", true) ? float(std::pow(attn.head_dim, -0.5)) : 1.f;
    n_layer_ = int(config_size(c, "n_layer"));
    const int64_t n_inner = config_size_or(c, "n_inner", 4 * E);
    const int64_t n_positions = config_size(c, "n_positions");
    const NormOptions norm{NormKind::kLayer, float(config_epsilon(c, "layer_norm_epsilon", 1e-5)), false, true, true};
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = true;
    mlp.act = parse_activation(c.get_or<std::string>("activation_function", "gelu_pytorch_tanh"),
                               c.source() + ": activation_function");
    // The learned position table (wpe) is a hard limit.
    positions_ = {n_positions, c.source() + ": n_positions = " + std::to_string(n_positions), ""};
    config_.max_positions = n_positions;
    describe_dim(V, "vocab_size");
    describe_dim(E, "n_embd");
    describe_dim(n_inner, "n_inner");
    describe_dim(n_positions, "n_positions");
    describe_dim(E + 2 * int64_t(attn.num_kv_heads) * attn.head_dim, "n_embd + 2 × kv heads × head_dim");
    check_layer_count(c, "n_layer", n_layer_, *weights_, "transformer.h.");
    E_ = E;
    kv_heads_ = attn.num_kv_heads;
    head_dim_ = attn.head_dim;
    EmbeddingOptions emb;
    emb.positions = PositionEmbedding::kLearned;
    emb.max_positions = n_positions;
    wte_ = Embedding::load(*this, "transformer.wte.weight", V, E, emb, "transformer.wpe.weight");
    LmHeadOptions head;
    head.norm = norm;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
    LmHeadNames head_names;
    head_names.norm = "transformer.ln_f";
    lm_head_ = LmHead::load(*this, V, E, wte_.tokens(), "transformer.wte.weight", head, head_names);
    SelfAttentionNames attn_names;
    attn_names.qkv = "c_attn";
    attn_names.o = "c_proj";
    MlpNames mlp_names;
    mlp_names.up = "c_fc";
    mlp_names.down = "c_proj";
    blocks_.resize(n_layer_);
    for (int i = 0; i < n_layer_; ++i) {
      const std::string b = "transformer.h." + std::to_string(i) + ".";
      GPTBigCodeBlock& B = blocks_[i];
      B.ln_1 = Norm::load(*this, b + "ln_1", E, norm);
      B.attn = SelfAttention::load(*this, b + "attn.", attn, attn_names);
      B.ln_2 = Norm::load(*this, b + "ln_2", E, norm);
      B.mlp = Mlp::load(*this, b + "mlp.", E, n_inner, mlp, mlp_names);
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<CausalState>(n_layer_, batch, kv_heads_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(n_layer_) * kv_heads_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const int B = s.batch_size();
    const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
    const int64_t N = int64_t(B) * T, E = E_;
    check_scratch(double(N) * 10 * E + double(all_positions ? N : B) * (E + config_.vocab_size), N);
    float* hidden = s.hidden.resize(N * E);  // (batch*seq_len, n_embd)
    float* x = s.x.resize(N * E);
    wte_.forward(ids, s.positions, hidden);  // wte(ids) + wpe(position_ids)
    for (int l = 0; l < n_layer_; ++l) {
      const GPTBigCodeBlock& L = blocks_[l];
      L.ln_1.forward(hidden, N, x);
      L.attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      L.ln_2.forward(hidden, N, x);
      L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);
  }

 private:
  PositionLimit positions_;
  int64_t E_ = 0;
  int n_layer_ = 0, kv_heads_ = 1, head_dim_ = 0;
  Embedding wte_;    // wte (vocab_size, n_embd) + wpe (n_positions, n_embd)
  LmHead lm_head_;   // ln_f + lm_head (tied to wte)
  std::vector<GPTBigCodeBlock> blocks_;
};

}  // namespace

std::unique_ptr<Model> make_gpt_bigcode(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<GPTBigCodeModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
