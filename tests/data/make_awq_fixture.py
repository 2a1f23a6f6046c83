"""Tiny AWQ checkpoints (quant_method "awq", version "gemm", bits 4, zero_point true) and their
transformers references, for tests/quant/test_awq.cc:
    llama-awq-tiny   hidden 64, group 32, two layers; modules_to_not_convert ["model.layers.1.mlp"]
                     keeps layer 1's MLP in float16 (its plain .weight tensors), decided by
                     transformers' own should_convert_module
    llama-awq-g128   hidden 128, group 128 (the Hub's usual group), one layer

A random LlamaForCausalLM (fixed seed, as tests/data/make_gptq_fixture.py) has its decoder linear
weights quantized by AWQ's round-to-nearest with zero point (AutoAWQ's pseudo_quantize_tensor)
per group of `group` input features, without AWQ's activation-aware search (irrelevant to the
format), and written in AWQ's GEMM packing:
    qweight  int32 (in, out / 8):          weight [o, i] is nibble ORDER⁻¹[o % 8] of qweight[i, o // 8]
    qzeros   int32 (in / group, out / 8):  zero point of [g, o] is nibble ORDER⁻¹[o % 8] of qzeros[g, o // 8]
    scales   float16 (in / group, out)
where word c packs columns 8c + ORDER[j] in nibble j, ORDER = [0, 2, 4, 6, 1, 3, 5, 7] (so the
nibble of column 8c + k is [0, 4, 1, 5, 2, 6, 3, 7][k], AutoAWQ's AWQ_REVERSE_ORDER).
Quantization per group (AutoAWQ): s = (max − min) / 15 (≥ 1e-5), stored float16; z = clamp(−round(min / s), 0, 15);
q = clamp(round(w / s) + z, 0, 15). Dequantized (the documented formula, AutoAWQ's dequantize_gemm):
    W[o, i] = scales[g, o] · (q[i, o] − z[g, o]),  g = i // group
The reference logits come from transformers running that LlamaForCausalLM in float32 with the
dequantized weights put back (every other tensor rounded to float16, as stored).

Run by hand: /work/venv-ref/bin/python tests/data/make_awq_fixture.py
Writes tests/data/awq/<name>/{config.json,model.safetensors} and tests/data/awq/<name>.json.
"""
import os

import torch
from transformers.quantizers.quantizers_utils import should_convert_module

import prequantized_fixture_common as common

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "awq")
ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


def pack_awq(q):
    """(rows, out) nibbles → (rows, out / 8) int32: nibble j of word [r, c] = q[r, 8c + ORDER[j]]."""
    q = q.to(torch.int64)
    words = torch.zeros(q.shape[0], q.shape[1] // 8, dtype=torch.int64)
    for j in range(8):
        words |= q[:, ORDER[j]::8] << (4 * j)
    words = torch.where(words >= 2**31, words - 2**32, words)  # the bit pattern as int32
    return words.to(torch.int32)


def quantize(w, group):
    """w (out, in) float32 → qweight, qzeros, scales (AWQ GEMM packing) and the dequantized w."""
    out_f, in_f = w.shape
    wg = w.reshape(out_f, in_f // group, group)
    max_val, min_val = wg.amax(-1), wg.amin(-1)
    scale = ((max_val - min_val).clamp(min=1e-5) / 15).to(torch.float16)  # (out, groups), stored float16
    s = scale.float()
    zero = torch.clamp(-torch.round(min_val / s), 0, 15).to(torch.int64)  # (out, groups)
    q = torch.clamp(torch.round(wg / s.unsqueeze(-1)) + zero.unsqueeze(-1), 0, 15).to(torch.int64)
    deq = (s.unsqueeze(-1) * (q - zero.unsqueeze(-1)).float()).reshape(out_f, in_f)
    qweight = pack_awq(q.reshape(out_f, in_f).t().contiguous())  # (in, out / 8)
    qzeros = pack_awq(zero.t().contiguous())                       # (groups, out / 8)
    scales = scale.t().contiguous()                                # (groups, out) float16
    return qweight, qzeros, scales, deq


def build(fixture, group, hidden, intermediate, layers, not_convert):
    def quantize_linear(name, mod):
        if not should_convert_module(name, not_convert or None):  # kept as a float16 .weight
            return None
        qweight, qzeros, scales, deq = quantize(mod.weight.float(), group)
        return {"qweight": qweight, "qzeros": qzeros, "scales": scales}, deq

    common.build(OUT, fixture, quantize_linear,
                 {"quant_method": "awq", "bits": 4, "group_size": group, "zero_point": True, "version": "gemm",
                  "modules_to_not_convert": not_convert or None},
                 "W[o, i] = scales[g, o] * (q[i, o] - z[g, o]), g = i // group, AWQ nibble order [0,2,4,6,1,3,5,7]",
                 hidden=hidden, intermediate=intermediate, layers=layers)


def main():
    build("llama-awq-tiny", group=32, hidden=64, intermediate=128, layers=2, not_convert=["model.layers.1.mlp"])
    build("llama-awq-g128", group=128, hidden=128, intermediate=128, layers=1, not_convert=[])


if __name__ == "__main__":
    main()
