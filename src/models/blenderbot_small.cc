// BlenderbotSmallForConditionalGeneration (transformers' modeling_blenderbot_small.py): BART's
// post-LN layers (`# Copied from …BartEncoderLayer`), learned positions without BART's offset
// of 2, and its own embedding order: the encoder normalises tokens × embed_scale + positions
// (layernorm_embedding after the positions, as BART), the decoder normalises its unscaled
// token embeddings and adds the positions afterwards (BlenderbotSmallDecoder.forward never
// applies embed_scale). The model itself is the BART family's (bart.cc).
#include "models/bart_family.h"
#include "models/registry.h"

namespace autolm {

std::unique_ptr<Model> make_blenderbot_small(ModelConfig config, const JsonConfig& json,
                                             std::unique_ptr<WeightStore> weights) {
  BartVariant v;
  v.positions = BartPositions::kLearned;
  v.position_offset = 0;
  v.pre_ln = false;
  v.encoder.layernorm_embedding = LayerNormEmbedding::kAfterPositions;
  v.decoder.layernorm_embedding = LayerNormEmbedding::kBeforePositions;
  v.decoder.scale_tokens = false;  // (before a LayerNorm a scale cancels up to eps: HF's omission is stated, not tested)
  return make_bart_like(std::move(config), json, std::move(weights), v);
}

}  // namespace autolm
