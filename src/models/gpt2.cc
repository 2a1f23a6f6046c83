// GPT2LMHeadModel (transformers' modeling_gpt2.py): learned positions, pre-LN blocks, fused
// c_attn, Conv1D weights stored (in, out) and transposed once at load, LM head tied to wte.
#include <cmath>
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct GPT2Block {
  Norm ln_1;          // (n_embd) weight and bias
  SelfAttention attn; // c_attn (3*n_embd, n_embd) as [q; k; v] rows, c_proj
  Norm ln_2;
  Mlp mlp;            // c_fc (n_inner, n_embd) → gelu_new → c_proj (n_embd, n_inner)
};

class GPT2LMHeadModel final : public DecoderOnlyModel {
 public:
  GPT2LMHeadModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    // GPT2LMHeadModel saves "transformer.h.0…"; the original Hub checkpoints drop the prefix.
    const std::string p = weights_->has("transformer.wte.weight") ? "transformer." : "";
    DecoderKeys keys;
    keys.hidden_size = "n_embd";
    keys.num_hidden_layers = "n_layer";
    keys.num_attention_heads = keys.num_key_value_heads = "n_head";
    keys.intermediate_size = "n_inner";
    read_sizes(c, p + "h.", keys, 4 * config_size(c, "n_embd"));
    const DecoderSizes& s = sizes_;
    const int64_t n_positions = config_size(c, "n_positions");
    describe_dim(n_positions, "n_positions");
    set_table_positions(n_positions, c.source() + ": n_positions = " + std::to_string(n_positions));  // wpe is a hard limit

    const NormOptions ln{NormKind::kLayer, float(config_epsilon(c, "layer_norm_epsilon", 1e-5)), false, true, true};
    SelfAttentionOptions attn;
    attn.hidden_size = s.hidden_size;
    attn.num_heads = attn.num_kv_heads = s.num_attention_heads;
    attn.head_dim = s.head_dim;
    attn.layout = QkvLayout::kFused;
    attn.qkv_bias = attn.o_bias = true;
    attn.transposed = true;
    SelfAttentionNames attn_names;
    attn_names.qkv = "c_attn";
    attn_names.o = "c_proj";
    MlpOptions mlp;
    mlp.gated = false;
    mlp.act = parse_activation(c.get_or<std::string>("activation_function", "gelu_new"), c.source() + ": activation_function");
    mlp.bias = mlp.transposed = true;
    MlpNames mlp_names;
    mlp_names.up = "c_fc";
    mlp_names.down = "c_proj";
    const bool scale_attn_weights = c.get_or<bool>("scale_attn_weights", true);
    const bool scale_by_layer = c.get_or<bool>("scale_attn_by_inverse_layer_idx", false);

    EmbeddingOptions embed;
    embed.positions = PositionEmbedding::kLearned;
    embed.max_positions = n_positions;
    wte_ = Embedding::load(*this, p + "wte.weight", config_.vocab_size, s.hidden_size, embed, p + "wpe.weight");
    h_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string b = p + "h." + std::to_string(i) + ".";
      GPT2Block& B = h_[i];
      // attn_weights / value.size(-1) ** 0.5, then / (layer_idx + 1) when scale_attn_by_inverse_layer_idx.
      attn.scale = scale_attn_weights ? float(1.0 / std::sqrt(double(s.head_dim))) : 1.f;
      if (scale_by_layer) attn.scale /= float(i + 1);
      B.ln_1 = Norm::load(*this, b + "ln_1", s.hidden_size, ln);
      B.attn = SelfAttention::load(*this, b + "attn.", attn, attn_names);
      B.ln_2 = Norm::load(*this, b + "ln_2", s.hidden_size, ln);
      B.mlp = Mlp::load(*this, b + "mlp.", s.hidden_size, s.intermediate_size, mlp, mlp_names);
    }
    LmHeadOptions head;
    head.norm = ln;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
    LmHeadNames head_names;
    head_names.norm = p + "ln_f";
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, wte_.tokens(), p + "wte.weight", head, head_names);
    finish_loading();
  }

  // Equivalent in modeling_gpt2.py: GPT2Model.forward + GPT2Block.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions, 6.0 * z.hidden_size + z.intermediate_size);
    const int64_t N = int64_t(B) * T;
    float* hidden = s.hidden.resize(N * z.hidden_size);  // (batch*seq_len, n_embd)
    float* x = s.x.resize(N * z.hidden_size);
    wte_.forward(ids, s.positions, hidden);  // wte(input_ids) + wpe(position_ids)
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const GPT2Block& L = h_[l];
      L.ln_1.forward(hidden, N, x);
      L.attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      L.ln_2.forward(hidden, N, x);
      L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // ln_f + lm_head
  }

 private:
  Embedding wte_;  // wte (vocab_size, n_embd) + wpe (n_positions, n_embd)
  std::vector<GPT2Block> h_;
  LmHead lm_head_;  // ln_f + lm_head (tied: wte)
};

}  // namespace

std::unique_ptr<Model> make_gpt2(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<GPT2LMHeadModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
