"""Reference logits for RoPE scaling variants, made with transformers (never with autolm).

Run by hand with a virtualenv that has transformers + torch (e.g. bench/setup.sh's):
    python tests/data/make_rope_refs.py
Writes tests/data/rope/<variant>/ (tiny random Llama folders, float32) and
tests/data/rope/refs.json + refs.logits.safetensors. Each case also records the older
config spelling (rope_theta + rope_scaling) that Hub checkpoints use; both must load alike.
"""
import json
import os

import torch
import transformers
from safetensors.torch import save_file

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rope")
VARIANTS = {
    "default": {"rope_type": "default", "rope_theta": 10000.0},
    "linear": {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0},
    "dynamic": {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0},
    "yarn": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 16},
    "llama3": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
    "longrope": {"rope_type": "longrope", "rope_theta": 10000.0, "original_max_position_embeddings": 16,
                 "short_factor": [1.0, 1.1, 1.3, 1.7], "long_factor": [1.5, 2.5, 4.0, 7.0]},
}


def legacy(rope):
    """The pre-transformers-5 spelling: rope_theta at top level, the rest in rope_scaling."""
    scaling = {k: v for k, v in rope.items() if k != "rope_theta"}
    out = {"rope_theta": rope["rope_theta"]}
    if scaling.get("rope_type") != "default":
        scaling["type"] = scaling.pop("rope_type")  # oldest spelling: "type"
        out["rope_scaling"] = scaling
    return out


def main():
    torch.manual_seed(0)
    refs = {"versions": {"transformers": transformers.__version__, "torch": torch.__version__}, "cases": []}
    tensors = {}
    input_ids = [(i * 37 + 11) % 128 for i in range(40)]  # longer than max_position_embeddings (32)
    for name, rope in VARIANTS.items():
        cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                                       max_position_embeddings=32, rope_parameters=dict(rope),
                                       tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
        model = transformers.LlamaForCausalLM(cfg).float().eval()
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0, 0.3)
        d = os.path.join(HERE, name)
        model.save_pretrained(d)
        with torch.no_grad():
            logits = model(torch.tensor([input_ids])).logits[0]
        tensors[name] = logits.contiguous()
        config = json.load(open(os.path.join(d, "config.json")))
        legacy_config = {k: v for k, v in config.items() if k != "rope_parameters"}
        legacy_config.update(legacy(config["rope_parameters"]))
        # transformers itself must read the legacy spelling the same way
        reloaded = transformers.LlamaForCausalLM(transformers.LlamaConfig(**legacy_config)).eval()
        reloaded.load_state_dict(model.state_dict())
        with torch.no_grad():
            assert torch.allclose(reloaded(torch.tensor([input_ids])).logits[0], logits, atol=1e-5), name
        refs["cases"].append({"name": name, "input_ids": input_ids, "logits_tensor": name,
                              "legacy_config": legacy_config})
    save_file(tensors, os.path.join(HERE, "refs.logits.safetensors"))
    json.dump(refs, open(os.path.join(HERE, "refs.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
