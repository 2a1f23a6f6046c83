"""Tiny GPTQ checkpoints (quant_method "gptq", bits 4) and their transformers references, for
tests/quant/test_gptq.cc:
    llama-gptq-tiny           desc_act false, sym (zero 8), g_idx = i // group
    llama-gptq-actorder-tiny  desc_act true (act-order), asymmetric: the input columns are visited in
                              a random order (standing in for GPTQ's order of decreasing Hessian
                              diagonal) and consecutive runs of `group` of them form a group, so
                              g_idx[perm[j]] = j // group is not monotonic in i.

A random LlamaForCausalLM (fixed seed) has every decoder linear weight quantized by round-to-nearest
with GPTQ's symmetric parameters per group of `group_size` input features and written in the
GPTQ ("v1", AutoGPTQ / optimum) packing:
    qweight  int32 (in / 8, out):          weight [o, i] is nibble i % 8 of qweight[i // 8, o]
    qzeros   int32 (in / group, out / 8):  zero point − 1 of [g, o] is nibble o % 8 of qzeros[g, o // 8]
    scales   float16 (in / group, out)
    g_idx    int32 (in): the group of input feature i (i // group when desc_act is false)
Dequantized (the documented formula, as the GPTQ kernels' reference dequantization does):
    W[o, i] = scales[g, o] · (q[i, o] − (qzeros_nibble[g, o] + 1)),  g = g_idx[i]
The reference logits come from transformers running that LlamaForCausalLM in float32 with the
dequantized weights put back (and every other tensor rounded to float16, as stored). The packing
here is GPTQ's; GPTQ's Hessian-guided choice of q is irrelevant to the format and not reproduced.

Run by hand: /work/venv-ref/bin/python tests/data/make_gptq_fixture.py
Writes tests/data/gptq/<name>/{config.json,model.safetensors} and tests/data/gptq/<name>.json.
"""
import os

import torch

import prequantized_fixture_common as common

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "gptq")
GROUP = 32
BITS = 4


def pack_rows(q):
    """(in, out) nibbles → (in / 8, out) int32, nibble j of word [r, o] = q[8r + j, o]."""
    q = q.to(torch.int64)
    words = torch.zeros(q.shape[0] // 8, q.shape[1], dtype=torch.int64)
    for j in range(8):
        words |= q[j::8, :] << (4 * j)
    words = torch.where(words >= 2**31, words - 2**32, words)  # the bit pattern as int32
    return words.to(torch.int32)


def pack_cols(q):
    """(rows, out) nibbles → (rows, out / 8) int32, nibble j of word [r, c] = q[r, 8c + j]."""
    q = q.to(torch.int64)
    words = torch.zeros(q.shape[0], q.shape[1] // 8, dtype=torch.int64)
    for j in range(8):
        words |= q[:, j::8] << (4 * j)
    words = torch.where(words >= 2**31, words - 2**32, words)
    return words.to(torch.int32)


def quantize(w, g_idx, sym):
    """w (out, in) float32, g_idx (in) → qweight, qzeros, scales and the dequantized w."""
    out_f, in_f = w.shape
    groups = in_f // GROUP
    scale = torch.zeros(out_f, groups)
    zero = torch.zeros(out_f, groups, dtype=torch.int64)
    for g in range(groups):
        wg = w[:, g_idx == g]  # (out, GROUP): the group's columns, wherever they are
        if sym:
            # GPTQ's Quantizer.find_params, sym=True: xmax = max(|min|, max) (0 in range), scale =
            # 2·xmax / maxq, zero = (maxq + 1) / 2.
            xmax = torch.maximum(wg.amin(-1).abs(), wg.amax(-1)).clamp_min(1e-8)
            scale[:, g] = 2 * xmax / 15
            zero[:, g] = 8
        else:
            # sym=False: the range [min(w, 0), max(w, 0)], scale = (xmax − xmin) / maxq,
            # zero = round(−xmin / scale).
            xmin, xmax = wg.amin(-1).clamp_max(0), wg.amax(-1).clamp_min(0)
            scale[:, g] = ((xmax - xmin) / 15).clamp_min(1e-8)
            zero[:, g] = torch.round(-xmin / scale[:, g].to(torch.float16).float()).to(torch.int64)
    scale = scale.to(torch.float16)  # stored as float16
    # v1 stores zero − 1: a zero of 0 would wrap (GPTQ v1's known flaw); none in these fixtures.
    assert int(zero.min()) >= 1 and int(zero.max()) <= 15, "zero point outside [1, 15]"
    s_col = scale.float()[:, g_idx.long()]  # (out, in): the scale of each weight's group
    z_col = zero[:, g_idx.long()]
    q = torch.clamp(torch.round(w / s_col) + z_col, 0, 15).to(torch.int64)  # (out, in)
    deq = s_col * (q - z_col).float()
    qweight = pack_rows(q.t().contiguous())          # (in / 8, out)
    qzeros = pack_cols((zero - 1).t().contiguous())  # (groups, out / 8), zero − 1 stored
    scales = scale.t().contiguous()                  # (groups, out) float16
    return qweight, qzeros, scales, deq


def build(fixture, desc_act, sym):
    order = torch.Generator().manual_seed(1)

    def quantize_linear(name, mod):
        g_idx = common.group_index(mod.weight.shape[1], GROUP, desc_act, order)
        qweight, qzeros, scales, deq = quantize(mod.weight.float(), g_idx, sym)
        return {"qweight": qweight, "qzeros": qzeros, "scales": scales, "g_idx": g_idx}, deq

    common.build(OUT, fixture, quantize_linear,
                 {"quant_method": "gptq", "bits": BITS, "group_size": GROUP, "desc_act": desc_act, "sym": sym,
                  "checkpoint_format": "gptq"},
                 "W[o, i] = scales[g, o] * (q[i, o] - (qzeros_nibble[g, o] + 1)), g = g_idx[i]")


def main():
    build("llama-gptq-tiny", desc_act=False, sym=True)
    build("llama-gptq-actorder-tiny", desc_act=True, sym=False)


if __name__ == "__main__":
    main()
