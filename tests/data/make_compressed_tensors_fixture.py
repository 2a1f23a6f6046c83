"""Tiny compressed-tensors checkpoints (quant_method "compressed-tensors", format "pack-quantized",
4-bit ints in groups, as llm-compressor's W4A16 schemes write them) and their transformers
references, for tests/quant/test_compressed_tensors.cc:
    llama-ct-asym-actorder  asymmetric (weight_zero_point), actorder "group" (weight_g_idx a
                            shuffled permutation of the groups), bfloat16 scales, two layers
    llama-ct-sym            symmetric (no zero point), float16 scales, one layer

A random LlamaForCausalLM (fixed seed, as tests/data/make_gptq_fixture.py) has its decoder linear
weights quantized by round-to-nearest with compressed-tensors' min-max parameters per group of
`group` input features (GPTQ's error feedback is irrelevant to the format and not reproduced),
and written in the pack-quantized layout (compressed-tensors' pack_to_int32: values in [−8, 7]
stored + 8 as unsigned nibbles, eight per int32, the first in the low bits):
    weight_packed      int32 (out, in / 8):          w[o, i] + 8 in nibble i % 8 of word [o, i // 8]
    weight_scale       bfloat16 / float16 (out, in / group)
    weight_zero_point  int32 (ceil(out / 8), in / group) (asymmetric): zp[o, g] + 8 in nibble o % 8
                       of word [o // 8, g] (packed along dim 0)
    weight_g_idx       int32 (in) (actorder "group"): the group of input feature i
    weight_shape       int64 (2): (out, in)
Quantization per group: asymmetric s = (max(w, 0) − min(w, 0)) / 15, zp = clamp(round(−min / s) − 8, −8, 7);
symmetric s = max|w| / 7.5, zp = 0; w_q = clamp(round(w / s) + zp, −8, 7) (s rounded to the stored dtype first).
Dequantized (the documented formula, compressed-tensors' unpack_from_int32 + dequantize):
    W[o, i] = scale[o, g] · (w_q[o, i] − zp[o, g]),  g = g_idx[i] (i // group without actorder)
The reference logits come from transformers running that LlamaForCausalLM in float32 with the
dequantized weights put back (every other tensor rounded to float16, as stored).

Run by hand: /work/venv-ref/bin/python tests/data/make_compressed_tensors_fixture.py
Writes tests/data/compressed_tensors/<name>/{config.json,model.safetensors} and <name>.json.
"""
import os

import torch

import prequantized_fixture_common as common

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "compressed_tensors")
GROUP = 32


def pack_to_int32(value, dim):
    """int values in [−8, 7] → int32 words of 8 nibbles (value + 8) along `dim` (1: columns, 0: rows)."""
    v = (value.to(torch.int64) + 8)
    if dim == 0:
        v = v.t()
    rows, cols = v.shape
    pad = (-cols) % 8
    v = torch.nn.functional.pad(v, (0, pad))
    words = torch.zeros(rows, (cols + pad) // 8, dtype=torch.int64)
    for j in range(8):
        words |= v[:, j::8] << (4 * j)
    words = torch.where(words >= 2**31, words - 2**32, words).to(torch.int32)  # the bit pattern as int32
    return words.t().contiguous() if dim == 0 else words


def quantize(w, g_idx, sym, scale_dtype):
    """w (out, in) → weight_packed, weight_scale, weight_zero_point (or None) and the dequantized w."""
    out_f, in_f = w.shape
    groups = in_f // GROUP
    scale = torch.zeros(out_f, groups)
    zp = torch.zeros(out_f, groups, dtype=torch.int64)
    for g in range(groups):
        wg = w[:, g_idx == g]
        if sym:
            scale[:, g] = (wg.abs().amax(-1) / 7.5).clamp_min(1e-8)
        else:
            lo, hi = wg.amin(-1).clamp_max(0), wg.amax(-1).clamp_min(0)
            scale[:, g] = ((hi - lo) / 15).clamp_min(1e-8)
            s = scale[:, g].to(scale_dtype).float()
            zp[:, g] = torch.clamp(torch.round(-lo / s) - 8, -8, 7).to(torch.int64)
    scale = scale.to(scale_dtype)
    s_col = scale.float()[:, g_idx.long()]
    zp_col = zp[:, g_idx.long()]
    wq = torch.clamp(torch.round(w / s_col) + zp_col, -8, 7).to(torch.int64)
    deq = s_col * (wq - zp_col).float()
    return pack_to_int32(wq, 1), scale.contiguous(), None if sym else pack_to_int32(zp, 0), deq


def build(fixture, sym, actorder, scale_dtype, layers):
    order = torch.Generator().manual_seed(1)

    def quantize_linear(name, mod):
        out_f, in_f = mod.weight.shape
        g_idx = common.group_index(in_f, GROUP, actorder, order)
        packed, scale, zero_point, deq = quantize(mod.weight.float(), g_idx, sym, scale_dtype)
        stored = {"weight_packed": packed, "weight_scale": scale,
                  "weight_shape": torch.tensor([out_f, in_f], dtype=torch.int64)}
        if zero_point is not None:
            stored["weight_zero_point"] = zero_point
        if actorder:
            stored["weight_g_idx"] = g_idx
        return stored, deq

    weights = {"num_bits": 4, "type": "int", "symmetric": sym, "strategy": "group", "group_size": GROUP,
               "dynamic": False, "actorder": "group" if actorder else None, "observer": "minmax",
               "block_structure": None, "observer_kwargs": {}}
    common.build(OUT, fixture, quantize_linear, {
        "quant_method": "compressed-tensors", "format": "pack-quantized", "quantization_status": "compressed",
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights, "input_activations": None,
                                      "output_activations": None}},
        "ignore": ["lm_head"], "kv_cache_scheme": None, "sparsity_config": {}, "global_compression_ratio": None},
        "W[o, i] = scale[o, g] * (w_q[o, i] - zp[o, g]), g = g_idx[i], nibbles = value + 8", layers=layers)


def main():
    build("llama-ct-asym-actorder", sym=False, actorder=True, scale_dtype=torch.bfloat16, layers=2)
    build("llama-ct-sym", sym=True, actorder=False, scale_dtype=torch.float16, layers=1)


if __name__ == "__main__":
    main()
