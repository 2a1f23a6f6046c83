// Per-request scratch the blocks write their intermediate activations into: grow-only
// Buffers owned by the DecodeState, so nothing is allocated per token after the first step.
#pragma once

#include "core/tensor.h"

namespace autolm {

struct Workspace {
  Buffer q, k, v;  // (tokens, heads*head_dim) projections
  Buffer qkv;      // (tokens, fused width): fused projections whose rows interleave per head
  Buffer attn;     // (tokens, num_heads*head_dim) attention output before o_proj
  Buffer gate, up; // (tokens, intermediate_size)
};

}  // namespace autolm
