"""Tiny random checkpoints and transformers references for the encoder-decoder architectures of
issue 14 that share BART's layers (blenderbot, blenderbot-small, plbart). Made with transformers
on CPU — never with autolm.

Pinned reference: transformers 5.24.0, tokenizers 0.23.3 (see make_fixtures.py). Run by hand:

    /work/venv-ref/bin/python tests/data/make_seq2seq_arch_fixtures.py      # ONLY=blenderbot-tiny,… for some

Each checkpoint keeps the switches of a real Hub config (named in SOURCES below) with shrunk
sizes, random weights (biases, norm weights and final_logits_bias too, so every term shows)
stored in bfloat16 to keep the folders small, and the byte-level BPE tokenizer of the bart-tiny
fixture (<s> 0, <pad> 1, </s> 2). The references are made by make_fixtures.model_refs with the
prompts, greedy and beam settings and the right-padded batch of cases.json's bart-tiny entry:
refs/models/<name>.json + .logits.safetensors, the same format as every other fixture.
"""
import json
import os
import shutil
import zlib

import torch
import transformers
from safetensors.torch import save_file

import make_fixtures as mf

FX = mf.FX
MODELS = os.path.join(FX, "models")
TOKENIZER_FROM = "bart-tiny"

# Sizes every checkpoint shrinks to; the token ids are the tokenizer's.
SMALL = dict(vocab_size=1024, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
             decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
             dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, bos_token_id=0, pad_token_id=1,
             eos_token_id=2, forced_eos_token_id=None)

# name: (real Hub checkpoint whose switches are kept, config overrides)
SOURCES = {
    # facebook/blenderbot-400M-distill: pre-LN (mBART) layers with final layer norms, learned
    # positions without offset, no layernorm_embedding, scale_embedding, 2 encoder / 12 decoder
    # layers (kept asymmetric: 1 / 2).
    "blenderbot-tiny": ("facebook/blenderbot-400M-distill", dict(
        model_type="blenderbot", encoder_layers=1, scale_embedding=True, activation_function="gelu",
        decoder_start_token_id=0)),
    # facebook/blenderbot_small-90M: post-LN (BART) layers, layernorm_embedding (the decoder's
    # before its positions, on unscaled tokens), learned positions without offset, scale_embedding.
    "blenderbot_small-tiny": ("facebook/blenderbot_small-90M", dict(
        model_type="blenderbot-small", scale_embedding=True, activation_function="gelu",
        decoder_start_token_id=0)),
    # uclanlp/plbart-base: BART with learned positions + 2, layernorm_embedding, scale_embedding.
    "plbart-tiny": ("uclanlp/plbart-base", dict(
        model_type="plbart", scale_embedding=True, activation_function="gelu", decoder_start_token_id=2)),
}


def randomize(model, seed, std=0.2):
    """Every parameter random: matrices N(0, std), biases N(0, 0.1), norm weights 1 + N(0, 0.1);
    final_logits_bias (a buffer) N(0, 0.1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if p.dim() >= 2:
                p.copy_(noise * std)
            elif name.endswith("bias"):
                p.copy_(noise * 0.1)
            else:
                p.copy_(1 + noise * 0.1)
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias.copy_(torch.randn(model.final_logits_bias.shape, generator=g) * 0.1)


def make_checkpoint(name, overrides):
    folder = os.path.join(MODELS, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    kw = dict(SMALL, **overrides)
    config = transformers.AutoConfig.for_model(kw.pop("model_type"), **kw)
    model = transformers.AutoModelForSeq2SeqLM.from_config(config, dtype=torch.float32).eval()
    randomize(model, zlib.crc32(name.encode()))
    model.tie_weights()
    model.to(torch.bfloat16).save_pretrained(folder)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(MODELS, TOKENIZER_FROM, f), folder)
    # No forced tokens: the incremental-greedy parity test runs the model without processors.
    mf.dump(os.path.join(folder, "generation_config.json"),
            {"bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2,
             "decoder_start_token_id": kw["decoder_start_token_id"]})
    return folder


def main():
    only = set(filter(None, os.environ.get("ONLY", "").split(",")))
    cases = json.load(open(os.path.join(FX, "cases.json"), encoding="utf-8"))
    base = cases["models"]["bart-tiny"]
    spec = {"cases": [{"prompt": c["prompt"], "gen": {k: c["gen"][k] for k in ("greedy", "beam4")}}
                      for c in base["cases"]], "batch_params": base["batch_params"]}
    for name, (hub, overrides) in SOURCES.items():
        if only and name not in only:
            continue
        folder = make_checkpoint(name, overrides)
        tensors = {}
        refs = mf.model_refs(name, folder, "seq2seq", spec, tensors)
        refs["source_config"] = hub
        mf.dump(os.path.join(FX, "refs", "models", name + ".json"), refs)
        save_file(tensors, os.path.join(FX, "refs", "models", name + ".logits.safetensors"))
        print("refs", name, refs["model_class"], flush=True)


if __name__ == "__main__":
    main()
