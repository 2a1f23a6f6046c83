// Decoder self-attention block (LlamaAttention and its relatives): q/k/v projections (separate,
// fused as one [q; k; v] matrix, or fused per kv group as GPT-NeoX / Falcon store them), optional
// biases, clip_qkv, q/k norm (per head with one weight, per head with its own weight, or over the
// whole projection), rotary positions or none (NoPE), GQA/MQA over the KV cache, sliding window,
// logit softcap, attention sinks, then o_proj.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/tensor.h"
#include "nn/kv_cache.h"
#include "nn/norm.h"
#include "nn/rope.h"
#include "nn/weight_source.h"
#include "nn/workspace.h"

namespace autolm {

enum class QkvLayout {
  kSeparate,  // q_proj, k_proj, v_proj
  kFused,     // one (q_out + 2*kv_out, hidden) matrix: all q rows, then k, then v (Phi-3 qkv_proj,
              // GPT-2 / GPT-BigCode c_attn, Falcon multi_query)
  kGrouped,   // one matrix viewed (num_kv_heads, num_heads/num_kv_heads + 2, head_dim): each kv
              // group's q heads, then its k, then its v (Falcon new_decoder_architecture;
              // GPT-NeoX query_key_value and old Falcon are the case num_kv_heads == num_heads)
};

enum class QkNorm {
  kNone,
  kPerHead,          // one (head_dim) weight over every head (Qwen3, Gemma 3, OLMoE-style)
  kPerHeadDistinct,  // (num_heads | num_kv_heads, head_dim): each head its own (Cohere use_qk_norm)
  kFull,             // over the whole (num_heads*head_dim) projection (OLMo 2)
  kPerHeadModules,   // one (head_dim) module per head: <q_norm>.norms.<h> (StableLM qk_layernorm)
};

struct SelfAttentionOptions {
  int64_t hidden_size = 0;
  int num_heads = 0, num_kv_heads = 0, head_dim = 0;
  float scale = 1.f;                  // multiplies q·k: head_dim^-0.5, query_pre_attn_scalar^-0.5, …
  QkvLayout layout = QkvLayout::kSeparate;
  bool qkv_bias = false;              // attention_bias (Qwen2: always) on q/k/v
  bool o_bias = false;                // bias on the output projection
  bool transposed = false;            // Conv1D weights stored (in, out) (GPT-2)
  float clip_qkv = 0.f;               // > 0: q, k, v clamped to [-clip_qkv, clip_qkv] (OLMo)
  QkNorm qk_norm = QkNorm::kNone;
  NormOptions qk_norm_options;        // kind / eps / 1+w of the q/k norms
  const RotaryEmbedding* rope = nullptr;  // owned by the model; nullptr: no positions here (NoPE, learned)
  bool causal = true;                 // false: encoder self-attention over its own input (T5Gemma)
  int sliding_window = 0;             // > 0: this layer sees the last sliding_window keys only
                                      // (not causal: keys within sliding_window either side)
  float softcap = 0.f;                // > 0: attn_logit_softcapping
  bool sinks = false;                 // learned per-head sink logits (`sinks`, gpt-oss)
};

// HF module names under the attention prefix.
struct SelfAttentionNames {
  std::string q = "q_proj", k = "k_proj", v = "v_proj", qkv = "qkv_proj", o = "o_proj";
  std::string q_norm = "q_norm", k_norm = "k_norm", sinks = "sinks";
};

class SelfAttention {
 public:
  SelfAttention() = default;
  // Loads `prefix` + names (e.g. "model.layers.0.self_attn."). The caller has validated the
  // sizes (num_heads a multiple of num_kv_heads, all positive).
  static SelfAttention load(WeightSource& w, const std::string& prefix, const SelfAttentionOptions& options,
                            const SelfAttentionNames& names = {});

  // x: (batch*seq_len, hidden_size) normed input of `seq_len` new tokens per row, cached at
  // [start, start + seq_len) of `cache` layer `layer`; positions: (batch*seq_len) position ids.
  // out: (batch*seq_len, hidden_size) = o_proj(attention); accumulate: out += (the residual).
  void forward(const float* x, int batch, int seq_len, int start, std::span<const int64_t> positions, KVCache& cache,
               int layer, Workspace& ws, float* out, bool accumulate) const;

  const SelfAttentionOptions& options() const { return options_; }

 private:
  void project(const float* x, int64_t rows, Workspace& ws, float* q, float* k, float* v) const;

  SelfAttentionOptions options_;
  TensorView q_proj, k_proj, v_proj;  // (num_heads*head_dim | num_kv_heads*head_dim, hidden_size)
  TensorView q_bias, k_bias, v_bias;  // (out_features) or empty
  TensorView qkv_proj, qkv_bias;      // kGrouped: (num_heads*head_dim + 2*num_kv_heads*head_dim, hidden_size)
  TensorView o_proj;                  // (hidden_size, num_heads*head_dim)
  TensorView o_bias;                  // (hidden_size) or empty
  Norm q_norm, k_norm;                // per QkNorm
  TensorView sinks;                   // (num_heads) or empty
};

}  // namespace autolm
