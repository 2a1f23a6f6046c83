"""Shared by make_{gptq,awq,compressed_tensors}_fixture.py: a random tiny LlamaForCausalLM (fixed
seed, every tensor rounded to float16 as stored), its decoder linear layers replaced by a format's
quantized tensors with the dequantized weights put back, and transformers' float32 logits and
greedy continuation for those weights (tests/quant/prequantized_fixture.h reads them).

Not run on its own; imported by the generators (run by hand with /work/venv-ref/bin/python).
"""
import json
import os

import torch
import transformers
from safetensors.torch import save_file

INPUT_IDS = [1, 17, 42, 99, 3, 120, 7, 64, 127, 5]


def group_index(in_f, group, act_order, generator):
    """g_idx (in_f,) int32: input feature i belongs to group g_idx[i]; with act_order the groups
    follow a random column order (the order GPTQ visits the columns in), drawn from `generator`."""
    if not act_order:
        return torch.arange(in_f, dtype=torch.int32) // group
    perm = torch.randperm(in_f, generator=generator)
    g_idx = torch.empty(in_f, dtype=torch.int32)
    g_idx[perm] = (torch.arange(in_f) // group).to(torch.int32)
    return g_idx


def build(out_dir, fixture, quantize_linear, quantization_config, formula, hidden=64, intermediate=128, layers=2):
    """quantize_linear(name, module) → ({tensor suffix: tensor}, dequantized weight (out, in)), or
    None to keep the layer's float16 .weight. Writes <out_dir>/<fixture>/{config.json,
    model.safetensors} and <out_dir>/<fixture>.json."""
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=hidden, intermediate_size=intermediate,
                                   num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                                   max_position_embeddings=128, tie_word_embeddings=True, initializer_range=0.05,
                                   bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model = transformers.LlamaForCausalLM(cfg).eval()
    tensors, quantized = {}, set()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(p.to(torch.float16).float())  # every stored tensor is float16
        for name, mod in model.named_modules():
            if not isinstance(mod, torch.nn.Linear) or ".layers." not in name:
                continue
            result = quantize_linear(name, mod)
            if result is None:  # kept as a float16 .weight
                continue
            stored, deq = result
            for suffix, t in stored.items():
                tensors[name + "." + suffix] = t
            mod.weight.copy_(deq)
            quantized.add(name + ".weight")
        for name, p in model.named_parameters():
            if name not in quantized and name != "lm_head.weight":  # lm_head: tied to the embedding
                tensors[name] = p.detach().to(torch.float16).contiguous()

    ids = INPUT_IDS
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()  # (len, vocab)
        greedy = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False)[0].tolist()

    folder = os.path.join(out_dir, fixture)
    os.makedirs(folder, exist_ok=True)
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    config = cfg.to_dict()
    config["dtype"] = "float16"
    config["quantization_config"] = quantization_config
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=1, sort_keys=True)
    ref = {"transformers": transformers.__version__, "torch": torch.__version__, "input_ids": ids,
           "logits": [[round(v, 6) for v in row] for row in logits.tolist()], "greedy": greedy,
           "formula": formula}
    with open(os.path.join(out_dir, fixture + ".json"), "w") as f:
        json.dump(ref, f)
    print("wrote", folder, sum(t.numel() * t.element_size() for t in tensors.values()), "bytes of tensors")
