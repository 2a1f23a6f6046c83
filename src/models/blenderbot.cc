// BlenderbotForConditionalGeneration (transformers' modeling_blenderbot.py): BART's attention and
// mBART's pre-LN layers (`# Copied from …MBartEncoderLayer`), a final layer_norm on both stacks,
// learned positions without BART's offset of 2 (BlenderbotLearnedPositionalEmbedding), no
// layernorm_embedding, tokens × sqrt(d_model) with scale_embedding, final_logits_bias. The
// model itself is the BART family's (bart.cc); this file states how Blenderbot differs.
#include "models/bart_family.h"
#include "models/registry.h"

namespace autolm {

std::unique_ptr<Model> make_blenderbot(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  BartVariant v;
  v.positions = BartPositions::kLearned;
  v.position_offset = 0;  // embed_positions: (max_position_embeddings, d_model), row = position
  v.pre_ln = true;        // BlenderbotEncoder/Decoder end with self.layer_norm
  v.encoder.layernorm_embedding = v.decoder.layernorm_embedding = LayerNormEmbedding::kNone;
  return make_bart_like(std::move(config), json, std::move(weights), v);
}

}  // namespace autolm
