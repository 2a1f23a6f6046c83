// GPTBigCodeForCausalLM / SantaCoder / StarCoder (transformers' modeling_gpt_bigcode.py): GPT-2's
// block with nn.Linear weights (no Conv1D transpose) and multi-query attention — c_attn is
// [q (n_embd), k (head_dim), v (head_dim)] — or, without multi_query, c_attn laid out per head
// [q, k, v]; learned positions (wpe), a hard limit.
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct GPTBigCodeBlock {
  Norm ln_1;           // LayerNorm (n_embd)
  SelfAttention attn;  // c_attn (n_embd + 2*kv_heads*head_dim, n_embd), c_proj (n_embd, n_embd)
  Norm ln_2;           // LayerNorm (n_embd)
  Mlp mlp;             // c_fc (n_inner, n_embd) → act → c_proj (n_embd, n_inner)
};

class GPTBigCodeForCausalLM final : public DecoderOnlyModel {
 public:
  GPTBigCodeForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    DecoderKeys keys;
    keys.hidden_size = "n_embd";
    keys.num_hidden_layers = "n_layer";
    keys.num_attention_heads = keys.num_key_value_heads = "n_head";
    keys.intermediate_size = "n_inner";
    read_sizes(c, "transformer.h.", keys, 4 * config_size(c, "n_embd"));
    const bool multi_query = c.get_or<bool>("multi_query", true);
    if (multi_query) sizes_.num_key_value_heads = 1;
    const DecoderSizes& s = sizes_;
    describe_dim(s.hidden_size + 2 * s.kv_out(), "n_embd + 2 × kv heads × head_dim");
    const int64_t n_positions = config_size(c, "n_positions");
    describe_dim(n_positions, "n_positions");
    set_table_positions(n_positions, c.source() + ": n_positions = " + std::to_string(n_positions));  // wpe

    const NormOptions ln{NormKind::kLayer, float(config_epsilon(c, "layer_norm_epsilon", 1e-5)), false, true, true};
    SelfAttentionOptions attn = attention_options();
    // multi_query: split((n_embd, kv_dim, kv_dim)); else view(..., n_head, 3*head_dim).split(head_dim).
    attn.layout = multi_query ? QkvLayout::kFused : QkvLayout::kGrouped;
    attn.qkv_bias = attn.o_bias = true;
    if (!c.get_or<bool>("scale_attn_weights", true)) attn.scale = 1.f;
    SelfAttentionNames attn_names;
    attn_names.qkv = "c_attn";
    attn_names.o = "c_proj";
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = true;
    mlp.act = parse_activation(c.get_or<std::string>("activation_function", "gelu_pytorch_tanh"),
                               c.source() + ": activation_function");
    MlpNames mlp_names;
    mlp_names.up = "c_fc";
    mlp_names.down = "c_proj";

    EmbeddingOptions embed;
    embed.positions = PositionEmbedding::kLearned;
    embed.max_positions = n_positions;
    wte_ = Embedding::load(*this, "transformer.wte.weight", config_.vocab_size, s.hidden_size, embed, "transformer.wpe.weight");
    h_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string b = "transformer.h." + std::to_string(i) + ".";
      GPTBigCodeBlock& B = h_[i];
      B.ln_1 = Norm::load(*this, b + "ln_1", s.hidden_size, ln);
      B.attn = SelfAttention::load(*this, b + "attn.", attn, attn_names);
      B.ln_2 = Norm::load(*this, b + "ln_2", s.hidden_size, ln);
      B.mlp = Mlp::load(*this, b + "mlp.", s.hidden_size, s.intermediate_size, mlp, mlp_names);
    }
    LmHeadOptions head;
    head.norm = ln;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
    LmHeadNames head_names;
    head_names.norm = "transformer.ln_f";
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, wte_.tokens(), "transformer.wte.weight", head, head_names);
    finish_loading();
  }

  // Equivalent in modeling_gpt_bigcode.py: GPTBigCodeModel.forward + GPTBigCodeBlock.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions, 10.0 * z.hidden_size);
    const int64_t N = int64_t(B) * T;
    float* hidden = s.hidden.resize(N * z.hidden_size);  // (batch*seq_len, n_embd)
    float* x = s.x.resize(N * z.hidden_size);
    wte_.forward(ids, s.positions, hidden);  // wte(input_ids) + wpe(position_ids)
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const GPTBigCodeBlock& L = h_[l];
      L.ln_1.forward(hidden, N, x);
      L.attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      L.ln_2.forward(hidden, N, x);
      L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // ln_f + lm_head
  }

 private:
  Embedding wte_;  // wte (vocab_size, n_embd) + wpe (n_positions, n_embd)
  std::vector<GPTBigCodeBlock> h_;
  LmHead lm_head_;  // ln_f + lm_head (tied: wte)
};

}  // namespace

std::unique_ptr<Model> make_gpt_bigcode(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<GPTBigCodeForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
