// FSMTForConditionalGeneration (transformers' modeling_fsmt.py, fairseq's WMT19 transformer):
// BART's post-LN layers (its EncoderLayer / DecoderLayer / Attention compute the same), separate
// source and target vocabularies (model.encoder.embed_tokens: src_vocab_size,
// model.decoder.embed_tokens: tgt_vocab_size), fairseq sinusoidal positions starting after
// padding_idx (SinusoidalPositionalEmbedding.make_positions), tokens × sqrt(d_model) with
// scale_embedding, no layernorm_embedding, an untied model.decoder.output_projection by default
// and no final_logits_bias. The model itself is the BART family's (bart.cc).
//
// Differences from transformers, on purpose: FSMTModel.forward masks the decoder causally only
// with use_cache=False (a multi-token decoder input with the default use_cache=True sees later
// tokens; generation, one token per step, is unaffected): autolm's decoder is always causal, as
// fairseq's. SinusoidalPositionalEmbedding grows its table past max_position_embeddings on
// demand; autolm stops there (the position limit `autolm info` reports). Prompts are ids of the
// source vocabulary (src_vocab_size); FSMT's own tokenizer (vocab-src.json / vocab-tgt.json +
// Moses) is not supported by autolm's tokenizer yet: pass token ids.
#include "models/bart_family.h"
#include "models/registry.h"

namespace autolm {

std::unique_ptr<Model> make_fsmt(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  BartVariant v;
  v.positions = BartPositions::kFairseq;
  v.pre_ln = false;
  v.encoder.layernorm_embedding = v.decoder.layernorm_embedding = LayerNormEmbedding::kNone;
  v.separate_vocabs = true;
  v.fairseq_table_from_file = true;        // SinusoidalPositionalEmbedding.weight is a Parameter
  v.default_scale_embedding = true;        // FSMTConfig defaults
  v.default_tie_word_embeddings = false;
  return make_bart_like(std::move(config), json, std::move(weights), v);
}

}  // namespace autolm
