// The encoder-decoder of transformers' modeling_bart.py and of the model files that copy its
// layers (`# Copied from …BartEncoderLayer` / `…MBartEncoderLayer`): mBART, Marian, Pegasus,
// M2M100/NLLB, PLBart, Blenderbot, BlenderbotSmall. What differs between them is where the
// embeddings come from and which layer-norm order the layers use; each model file states that
// as a BartVariant, resolved once at load (bart.cc implements the model on the nn blocks).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "autolm/model.h"
#include "io/json_file.h"
#include "io/safetensors.h"

namespace autolm {

enum class BartPositions {
  kLearned,     // embed_positions.weight (max_position_embeddings + offset, d_model)
  kSinusoidal,  // MarianSinusoidalPositionalEmbedding (Marian, Pegasus); the file's table when saved
  kFairseq,     // M2M100SinusoidalPositionalEmbedding: computed, positions start after padding_idx
};

enum class LayerNormEmbedding {
  kNone,
  kAfterPositions,   // layernorm_embedding(tokens * scale + positions) (BART, mBART, PLBart, BlenderbotSmall encoder)
  kBeforePositions,  // layernorm_embedding(tokens * scale) + positions (BlenderbotSmall decoder)
};

// How one stack (encoder or decoder) embeds its input ids.
struct BartStackVariant {
  bool scale_tokens = true;  // tokens × embed_scale (sqrt(d_model) with scale_embedding); BlenderbotSmall's decoder never scales
  LayerNormEmbedding layernorm_embedding = LayerNormEmbedding::kAfterPositions;
};

struct BartVariant {
  BartPositions positions = BartPositions::kLearned;
  int64_t position_offset = 2;  // kLearned: table row = position + offset (BART 2, Blenderbot 0)
  bool pre_ln = false;          // MBartEncoderLayer order (norm → sublayer → residual) and a final
                                // layer_norm on each stack; false: BartEncoderLayer (residual → norm)
  BartStackVariant encoder, decoder;
  bool decoder_vocab = false;   // Marian: decoder_vocab_size, share_encoder_decoder_embeddings
  bool default_scale_embedding = false;  // the config class's scale_embedding default
  bool default_tie_word_embeddings = true;
  // FSMT: no model.shared; model.encoder.embed_tokens (src_vocab_size) and
  // model.decoder.embed_tokens (tgt_vocab_size), the head model.decoder.output_projection, and a
  // fairseq table of max_position_embeddings + padding_idx + 1 rows (M2M100: + 2).
  bool separate_vocabs = false;
  // kFairseq: FSMT's table is a Parameter, loaded from the file when saved (bf16-rounded there
  // as the checkpoint holds it); M2M100's is a non-persistent buffer, always computed.
  bool fairseq_table_from_file = false;
  // LED: weights under "led." instead of "model.", one learned position table per stack sized by
  // max_encoder_position_embeddings / max_decoder_position_embeddings (no offset), and the
  // encoder's self-attention is LEDEncoderAttention (nn/longformer_attention.h): Longformer's
  // attention over attention_window[layer] / 2 tokens either side plus the global tokens of
  // generate()'s global_attention_mask, inputs padded to a multiple of max(attention_window).
  std::string prefix = "model.";
  bool longformer_encoder = false;
};

std::unique_ptr<Model> make_bart_like(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights,
                                      const BartVariant& variant);

}  // namespace autolm
