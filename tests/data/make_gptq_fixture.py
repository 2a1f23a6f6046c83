"""A tiny GPTQ checkpoint (quant_method "gptq", bits 4, desc_act false, sym) and its transformers
reference, for tests/quant/test_gptq.cc.

A random LlamaForCausalLM (fixed seed) has every decoder linear weight quantized by round-to-nearest
with GPTQ's symmetric parameters per group of `group_size` input features and written in the
GPTQ ("v1", AutoGPTQ / optimum) packing:
    qweight  int32 (in / 8, out):          weight [o, i] is nibble i % 8 of qweight[i // 8, o]
    qzeros   int32 (in / group, out / 8):  zero point − 1 of [g, o] is nibble o % 8 of qzeros[g, o // 8]
    scales   float16 (in / group, out)
    g_idx    int32 (in): i // group (desc_act false)
Dequantized (the documented formula, as the GPTQ kernels' reference dequantization does):
    W[o, i] = scales[g, o] · (q[i, o] − (qzeros_nibble[g, o] + 1)),  g = g_idx[i]
The reference logits come from transformers running that LlamaForCausalLM in float32 with the
dequantized weights put back (and every other tensor rounded to float16, as stored). The packing
here is GPTQ's; GPTQ's Hessian-guided choice of q is irrelevant to the format and not reproduced.

Run by hand: /work/venv-ref/bin/python tests/data/make_gptq_fixture.py
Writes tests/data/gptq/llama-gptq-tiny/{config.json,model.safetensors} and tests/data/gptq/llama-gptq-tiny.json.
"""
import json
import os

import torch
import transformers
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "gptq")
NAME = "llama-gptq-tiny"
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


def quantize(w):
    """w (out, in) float32 → qweight, qzeros, scales, g_idx (GPTQ packing) and the dequantized w."""
    out_f, in_f = w.shape
    groups = in_f // GROUP
    wg = w.reshape(out_f, groups, GROUP)
    # GPTQ's Quantizer.find_params with sym=True: xmax = max(|min|, max) (0 in range), scale =
    # 2·xmax / maxq, zero = (maxq + 1) / 2.
    xmax = torch.maximum(wg.amin(-1).abs(), wg.amax(-1)).clamp_min(1e-8)
    scale = (2 * xmax / 15).to(torch.float16)  # (out, groups), stored as float16
    zero = torch.full_like(scale, 8, dtype=torch.int64)
    q = torch.clamp(torch.round(wg / scale.float().unsqueeze(-1)) + 8, 0, 15).to(torch.int64)  # (out, groups, G)
    deq = (scale.float().unsqueeze(-1) * (q - zero.unsqueeze(-1)).float()).reshape(out_f, in_f)
    q = q.reshape(out_f, in_f)
    qweight = pack_rows(q.t().contiguous())                 # (in / 8, out)
    qzeros = pack_cols((zero - 1).t().contiguous())         # (groups, out / 8), zero − 1 stored
    scales = scale.t().contiguous()                         # (groups, out) float16
    g_idx = torch.arange(in_f, dtype=torch.int32) // GROUP  # (in)
    return qweight, qzeros, scales, g_idx, deq


def main():
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                   tie_word_embeddings=True, initializer_range=0.05, bos_token_id=1, eos_token_id=2,
                                   pad_token_id=0)
    model = transformers.LlamaForCausalLM(cfg).eval()
    tensors, quantized = {}, set()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(p.to(torch.float16).float())  # every stored tensor is float16
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.Linear) and ".layers." in name:
                qweight, qzeros, scales, g_idx, deq = quantize(mod.weight.float())
                tensors[name + ".qweight"] = qweight
                tensors[name + ".qzeros"] = qzeros
                tensors[name + ".scales"] = scales
                tensors[name + ".g_idx"] = g_idx
                mod.weight.copy_(deq)
                quantized.add(name + ".weight")
        for name, p in model.named_parameters():
            if name not in quantized and name != "lm_head.weight":  # lm_head: tied to the embedding
                tensors[name] = p.detach().to(torch.float16).contiguous()

    ids = [1, 17, 42, 99, 3, 120, 7, 64, 127, 5]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()  # (len, vocab)
        greedy = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False)[0].tolist()

    folder = os.path.join(OUT, NAME)
    os.makedirs(folder, exist_ok=True)
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    config = cfg.to_dict()
    config["dtype"] = "float16"
    config["quantization_config"] = {"quant_method": "gptq", "bits": BITS, "group_size": GROUP, "desc_act": False,
                                     "sym": True, "checkpoint_format": "gptq"}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=1, sort_keys=True)
    ref = {"transformers": transformers.__version__, "torch": torch.__version__, "input_ids": ids,
           "logits": [[round(v, 6) for v in row] for row in logits.tolist()], "greedy": greedy,
           "formula": "W[o, i] = scales[g, o] * (q[i, o] - (qzeros_nibble[g, o] + 1)), g = g_idx[i]"}
    with open(os.path.join(OUT, NAME + ".json"), "w") as f:
        json.dump(ref, f)
    print("wrote", folder, sum(t.numel() * t.element_size() for t in tensors.values()), "bytes of tensors")


if __name__ == "__main__":
    main()
