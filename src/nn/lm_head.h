// LM head block: final norm (optional), the vocabulary projection (tied to the embedding or its
// own, with an optional bias and BART's final_logits_bias), then logit scaling and softcapping,
// on every position or on each row's last one.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/tensor.h"
#include "nn/norm.h"
#include "nn/weight_source.h"

namespace autolm {

struct LmHeadOptions {
  bool final_norm = true;              // model.norm / ln_f / final_layer_norm before the head
  NormOptions norm;                    // its kind, eps, 1+w, bias
  float hidden_scale = 1.f;            // normed hidden *= hidden_scale before the head (T5: d_model**-0.5)
  bool tie_word_embeddings = true;     // config default differs per model: the caller resolves it
  bool bias = false;                   // lm_head.bias (Phi-2)
  bool final_logits_bias = false;      // BART-style buffer final_logits_bias (1, vocab_size)
  float logit_scale = 1.f;             // logits *= logit_scale (Cohere)
  float logits_scaling = 1.f;          // logits /= logits_scaling (Granite)
  float final_logit_softcapping = 0.f; // > 0: logits = tanh(logits / cap) * cap (Gemma 2/3)
};

struct LmHeadNames {
  std::string norm = "model.norm", head = "lm_head", final_logits_bias = "final_logits_bias";
};

class LmHead {
 public:
  LmHead() = default;
  // `embedding` / `embedding_name`: the token table a tied head reuses.
  static LmHead load(WeightSource& w, int64_t vocab_size, int64_t hidden_size, const TensorView& embedding,
                     const std::string& embedding_name, const LmHeadOptions& options, const LmHeadNames& names = {});

  // hidden: (batch*seq_len, hidden_size) → logits (rows, vocab_size) in `logits`, rows =
  // batch*seq_len when all_positions, else batch (each row's last position). `normed` is scratch.
  std::span<const float> forward(const float* hidden, int batch, int seq_len, bool all_positions, Buffer& normed,
                                 Buffer& logits) const;

 private:
  LmHeadOptions options_;
  int64_t vocab_size_ = 0, hidden_size_ = 0;
  Norm norm_;                     // (hidden_size) or empty
  TensorView weight_;             // (vocab_size, hidden_size): the embedding when tied
  TensorView bias_;               // (vocab_size) or empty
  TensorView final_logits_bias_;  // (1, vocab_size) or empty
};

}  // namespace autolm
