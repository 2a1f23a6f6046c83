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
import json
import os

import torch
import transformers
from safetensors.torch import save_file

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
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                   tie_word_embeddings=True, initializer_range=0.05, bos_token_id=1, eos_token_id=2,
                                   pad_token_id=0)
    model = transformers.LlamaForCausalLM(cfg).eval()
    tensors, quantized = {}, set()
    order = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(p.to(torch.float16).float())  # every stored tensor is float16
        for name, mod in model.named_modules():
            if not isinstance(mod, torch.nn.Linear) or ".layers." not in name:
                continue
            out_f, in_f = mod.weight.shape
            if actorder:
                perm = torch.randperm(in_f, generator=order)  # GPTQ's column order
                g_idx = torch.empty(in_f, dtype=torch.int32)
                g_idx[perm] = (torch.arange(in_f) // GROUP).to(torch.int32)
            else:
                g_idx = torch.arange(in_f, dtype=torch.int32) // GROUP
            packed, scale, zero_point, deq = quantize(mod.weight.float(), g_idx, sym, scale_dtype)
            tensors[name + ".weight_packed"] = packed
            tensors[name + ".weight_scale"] = scale
            tensors[name + ".weight_shape"] = torch.tensor([out_f, in_f], dtype=torch.int64)
            if zero_point is not None:
                tensors[name + ".weight_zero_point"] = zero_point
            if actorder:
                tensors[name + ".weight_g_idx"] = g_idx
            mod.weight.copy_(deq)
            quantized.add(name + ".weight")
        for name, p in model.named_parameters():
            if name not in quantized and name != "lm_head.weight":  # lm_head: tied to the embedding
                tensors[name] = p.detach().to(torch.float16).contiguous()

    ids = [1, 17, 42, 99, 3, 120, 7, 64, 127, 5]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()  # (len, vocab)
        greedy = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False)[0].tolist()

    folder = os.path.join(OUT, fixture)
    os.makedirs(folder, exist_ok=True)
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    config = cfg.to_dict()
    config["dtype"] = "float16"
    weights = {"num_bits": 4, "type": "int", "symmetric": sym, "strategy": "group", "group_size": GROUP,
               "dynamic": False, "actorder": "group" if actorder else None, "observer": "minmax",
               "block_structure": None, "observer_kwargs": {}}
    config["quantization_config"] = {
        "quant_method": "compressed-tensors", "format": "pack-quantized", "quantization_status": "compressed",
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights, "input_activations": None,
                                      "output_activations": None}},
        "ignore": ["lm_head"], "kv_cache_scheme": None, "sparsity_config": {}, "global_compression_ratio": None}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=1, sort_keys=True)
    ref = {"transformers": transformers.__version__, "torch": torch.__version__, "input_ids": ids,
           "logits": [[round(v, 6) for v in row] for row in logits.tolist()], "greedy": greedy,
           "formula": "W[o, i] = scale[o, g] * (w_q[o, i] - zp[o, g]), g = g_idx[i], nibbles = value + 8"}
    with open(os.path.join(OUT, fixture + ".json"), "w") as f:
        json.dump(ref, f)
    print("wrote", folder, sum(t.numel() * t.element_size() for t in tensors.values()), "bytes of tensors")


def main():
    build("llama-ct-asym-actorder", sym=False, actorder=True, scale_dtype=torch.bfloat16, layers=2)
    build("llama-ct-sym", sym=True, actorder=False, scale_dtype=torch.float16, layers=1)


if __name__ == "__main__":
    main()
