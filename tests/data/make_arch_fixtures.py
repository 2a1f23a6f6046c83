"""Tiny random checkpoints and their transformers references for the decoder-only
architectures added on the nn blocks (issue 14): each config keeps the switches of a real Hub
checkpoint (named beside it) with the sizes shrunk, is instantiated by transformers with a fixed
seed, and saved in bfloat16 (half the bytes; widening is exact, and the references are computed
in float32 from the saved file). References (logits, greedy / beam / batch sequences, the wrong
Auto class) come from make_fixtures.model_refs, as for every other fixture — never from autolm.

Run by hand with the pinned versions (see make_fixtures.py):
    ~/venv-ref/bin/python tests/data/make_arch_fixtures.py        # ONLY=gemma2-tiny,… for some
Writes tests/data/fixtures/models/<name>/ and tests/data/fixtures/refs/models/<name>.{json,logits.safetensors}.
"""
import json
import os
import shutil

import torch
import transformers
from safetensors.torch import save_file

from make_fixtures import FX, dump, model_refs

# Shared shrunk sizes: 4 query heads of 8, 2 kv heads, 2 layers, the 1024-token qwen-bpe
# tokenizer of qwen3-tiny.
SMALL = dict(vocab_size=1024, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=256, initializer_range=0.1, eos_token_id=2,
             pad_token_id=0, bos_token_id=None)

ARCHS = {
    # google/gemma-2-2b: sliding/full alternation, softcaps (shrunk so they bite), query_pre_attn_scalar.
    "gemma2-tiny": dict(model_type="gemma2", head_dim=8, query_pre_attn_scalar=8, sliding_window=4,
                        attn_logit_softcapping=5.0, final_logit_softcapping=3.0, hidden_activation="gelu_pytorch_tanh",
                        tie_word_embeddings=True),
    # allenai/OLMo-7B-0424-hf: non-parametric LayerNorm, clip_qkv (shrunk to bite), untied.
    "olmo-tiny": dict(model_type="olmo", clip_qkv=0.5, tie_word_embeddings=False, num_key_value_heads=4),
    # allenai/OLMo-2-1124-7B: post-norms only, q/k RMSNorm over the whole projection, untied.
    "olmo2-tiny": dict(model_type="olmo2", rms_norm_eps=1e-6, tie_word_embeddings=False, num_key_value_heads=4,
                       rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
    # ibm-granite/granite-3.0-2b-instruct: μP multipliers, tied.
    "granite-tiny": dict(model_type="granite", embedding_multiplier=12.0, attention_multiplier=0.125,
                         residual_multiplier=0.22, logits_scaling=8.0, tie_word_embeddings=True),
    # stabilityai/stablelm-2-1_6b: LayerNorm with bias, partial rotary 0.25, q/k/v bias, sequential residual.
    "stablelm-tiny": dict(model_type="stablelm", partial_rotary_factor=0.25, use_qkv_bias=True, qk_layernorm=False,
                          use_parallel_residual=False, num_key_value_heads=4, tie_word_embeddings=False),
    # stabilityai/stablelm-2-12b: per-head q/k LayerNorms, parallel residual, GQA.
    "stablelm2-12b-tiny": dict(model_type="stablelm", partial_rotary_factor=0.25, use_qkv_bias=False,
                               qk_layernorm=True, use_parallel_residual=True, tie_word_embeddings=False),
    # HuggingFaceTB/SmolLM3-3B: NoPE every few layers (here the second of two), tied.
    "smollm3-tiny": dict(model_type="smollm3", no_rope_layers=[1, 0], tie_word_embeddings=True,
                         rope_parameters={"rope_type": "default", "rope_theta": 5000000.0}),
    # CohereForAI/c4ai-command-r-plus: parallel block, per-head q/k LayerNorm, interleaved RoPE, logit_scale.
    "cohere-tiny": dict(model_type="cohere", use_qk_norm=True, logit_scale=0.0625, layer_norm_eps=1e-5,
                        tie_word_embeddings=True),
}

TOKENIZER_FROM = os.path.join(FX, "models", "qwen3-tiny")


def build(name, spec):
    folder = os.path.join(FX, "models", name)
    kwargs = dict(SMALL, **spec)
    model_type = kwargs.pop("model_type")
    config = transformers.AutoConfig.for_model(model_type, **kwargs)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    with torch.no_grad():  # norms start at ones / zeros: move them so their weights matter
        for pname, p in model.named_parameters():
            if "norm" in pname or pname.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    shutil.rmtree(folder, ignore_errors=True)
    model.to(torch.bfloat16).save_pretrained(folder)
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(os.path.join(TOKENIZER_FROM, f), folder)
    dump(os.path.join(folder, "generation_config.json"), {"eos_token_id": 2, "pad_token_id": 0})
    return folder


def main():
    cases = json.load(open(os.path.join(FX, "cases.json"), encoding="utf-8"))
    spec = cases["models"]["qwen3-tiny"]  # the same prompts and generation settings
    only = set(filter(None, os.environ.get("ONLY", "").split(",")))
    for name, arch in ARCHS.items():
        if only and name not in only:
            continue
        folder = build(name, arch)
        tensors = {}
        refs = model_refs(name, folder, "causal", spec, tensors)
        dump(os.path.join(FX, "refs", "models", name + ".json"), refs)
        save_file(tensors, os.path.join(FX, "refs", "models", name + ".logits.safetensors"))
        print("arch", name, refs["model_class"], flush=True)


if __name__ == "__main__":
    main()
