// LlamaForCausalLM (transformers' modeling_llama.py): RMSNorm pre-norm layers, RoPE, gated
// SiLU MLP, attention_bias and mlp_bias switches. LlamaModel (llama.h) is also the model of the
// architectures HF generates from Llama with modular files.
#include "models/llama.h"

#include <memory>

#include "models/registry.h"

namespace autolm {

LlamaModel::LlamaModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
    : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
  read_sizes(c, "model.layers.");
  rotary_emb_ = make_rope(c, "full_attention", c.get_or<double>("partial_rotary_factor", 1.0));
  set_computed_positions(c, rotary_emb_.get());
}

LlamaOptions LlamaModel::default_options(const JsonConfig& c, double default_eps) const {
  LlamaOptions o;
  o.rms = {NormKind::kRms, float(config_epsilon(c, "rms_norm_eps", default_eps))};
  o.attn = attention_options();
  o.attn.qk_norm_options = o.rms;
  o.mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "silu"), c.source() + ": hidden_act");
  o.sliding_window.assign(sizes_.num_hidden_layers, 0);
  o.rope.assign(sizes_.num_hidden_layers, true);
  return o;
}

std::vector<int> LlamaModel::sliding_windows(const JsonConfig& c, bool active,
                                             std::vector<std::string> fallback) const {
  const int window = int(config_size_or(c, "sliding_window", 0));
  const auto layer_types = read_layer_types(c, std::move(fallback));
  std::vector<int> out(sizes_.num_hidden_layers, 0);
  for (int i = 0; i < sizes_.num_hidden_layers; ++i)
    if (active && layer_types[i] == "sliding_attention") out[i] = window;
  return out;
}

void LlamaModel::load(const JsonConfig& c, const LlamaOptions& o) {
  const DecoderSizes& s = sizes_;
  SelfAttentionOptions attn = o.attn;
  embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, {});
  layers_.resize(s.num_hidden_layers);
  for (int i = 0; i < s.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LlamaDecoderLayer& L = layers_[i];
    attn.sliding_window = o.sliding_window[i];
    attn.rope = o.rope[i] ? rotary_emb_.get() : nullptr;
    L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, o.rms);
    L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn);
    L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", s.hidden_size, o.rms);
    L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, o.mlp);
  }
  LmHeadOptions head;
  head.norm = o.rms;
  head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", o.tie_word_embeddings);
  lm_head_ =
      LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
  finish_loading();
}

std::span<const float> LlamaModel::decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                          DecodeState& base, bool all_positions) const {
  auto& s = static_cast<CausalState&>(base);
  const DecoderSizes& z = sizes_;
  const int B = s.batch_size();
  const int start = begin_decode(s, ids, attention_mask, T, all_positions,
                                 2.0 * z.hidden_size + 2.0 * (z.q_out() + z.kv_out()) + 2.0 * z.intermediate_size);
  const int64_t N = int64_t(B) * T;
  float* hidden = s.hidden.resize(N * z.hidden_size);  // (batch*seq_len, hidden_size)
  float* x = s.x.resize(N * z.hidden_size);            // normed hidden states
  embed_tokens_.forward(ids, s.positions, hidden);
  for (int l = 0; l < z.num_hidden_layers; ++l) {
    const LlamaDecoderLayer& L = layers_[l];
    L.input_layernorm.forward(hidden, N, x);
    L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);  // residual +
    L.post_attention_layernorm.forward(hidden, N, x);
    L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
  }
  return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm + lm_head
}

namespace {

class LlamaForCausalLM final : public LlamaModel {
 public:
  LlamaForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LlamaModel(std::move(mc), c, std::move(w)) {
    LlamaOptions o = default_options(c);
    o.attn.qkv_bias = o.attn.o_bias = c.get_or<bool>("attention_bias", false);  // q/k/v/o_proj
    o.mlp.bias = c.get_or<bool>("mlp_bias", false);                             // gate/up/down_proj
    // No sliding window; layer_types is still validated (a type Llama cannot run is refused).
    o.sliding_window =
        sliding_windows(c, /*active=*/false, std::vector<std::string>(sizes_.num_hidden_layers, "full_attention"));
    load(c, o);
  }
};

}  // namespace

std::unique_ptr<Model> make_llama(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<LlamaForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
