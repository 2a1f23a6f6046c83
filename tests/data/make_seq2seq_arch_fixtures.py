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
import os
import shutil

import torch
import transformers

import arch_fixture_common as common
import make_fixtures as mf

FX = common.FX
MODELS = common.MODELS
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
    # facebook/wmt19-en-de: separate source / target vocabularies (here 1024 / 512), fairseq
    # sinusoidal positions past padding_idx, post-LN layers, no layernorm_embedding, untied
    # output_projection, relu.
    "fsmt-tiny": ("facebook/wmt19-en-de", dict(
        model_type="fsmt", vocab_size=None, src_vocab_size=1024, tgt_vocab_size=512, langs=["en", "de"],
        scale_embedding=True, activation_function="relu", tie_word_embeddings=False, decoder_start_token_id=2,
        num_beams=None, max_length=None, max_position_embeddings=64)),
    # allenai/led-base-16384: BART's post-LN layers and layernorm_embedding with learned positions
    # without offset (separate encoder / decoder tables), and Longformer's local attention in the
    # encoder: each token sees attention_window[layer] / 2 tokens either side (here windows 4 and
    # 8, shorter than the prompts; the input is padded to a multiple of the largest). No global
    # attention: generate() gets no global_attention_mask.
    "led-tiny": ("allenai/led-base-16384", dict(
        model_type="led", max_position_embeddings=None, max_encoder_position_embeddings=64,
        max_decoder_position_embeddings=64, attention_window=[4, 8], activation_function="gelu",
        decoder_start_token_id=2)),
}


# LED with global attention (LEDEncoderSelfAttention's query_global / key_global / value_global):
# references of the led-tiny checkpoint as it is (not remade) with a global_attention_mask passed
# to forward and generate(): each prompt's first two tokens global (the CLI's
# --global-attention-tokens 2), and in the right-padded batch the first and fourth token of every
# row. Written to refs/models/led-tiny-global.json + .logits.safetensors.
GLOBAL_NAME, GLOBAL_CHECKPOINT = "led-tiny-global", "led-tiny"


def first_two_global(enc):
    g = torch.zeros_like(enc["input_ids"])
    g[:, :2] = 1
    return {"global_attention_mask": g}


def first_and_fourth_global(enc):
    g = torch.zeros_like(enc["input_ids"])
    g[:, [0, 3]] = 1
    return {"global_attention_mask": g * enc["attention_mask"]}


def make_checkpoint(name, overrides):
    kw = dict(SMALL, **overrides)
    kw = {k: v for k, v in kw.items() if v is not None or k == "forced_eos_token_id"}
    config = transformers.AutoConfig.for_model(kw.pop("model_type"), **kw)
    folder = common.random_checkpoint(name, transformers.AutoModelForSeq2SeqLM, config)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(MODELS, TOKENIZER_FROM, f), folder)
    # No forced tokens: the incremental-greedy parity test runs the model without processors.
    mf.dump(os.path.join(folder, "generation_config.json"),
            {"bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2,
             "decoder_start_token_id": kw["decoder_start_token_id"]})
    return folder


def fsmt_causal_forward(folder, refs, tensors):
    """FSMTModel.forward applies the decoder's causal mask only with use_cache=False (with the
    config's use_cache=True a multi-token decoder input attends to later tokens too; generation
    feeds one token per step and is unaffected). The forward references of FSMT are therefore
    taken with use_cache=False: fairseq's causal decoder, what generation computes."""
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=torch.float32).eval()
    for ci, case in enumerate(refs["cases"]):
        enc = tok(case["prompt"], return_tensors="pt")
        dec = torch.tensor([case["forward"]["decoder_input_ids"]])
        with torch.no_grad():
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], decoder_input_ids=dec,
                           use_cache=False).logits[0]
        idx, rows = mf.rows_of(logits)
        assert idx == case["forward"]["positions"]
        tensors[case["forward"]["logits_tensor"]] = rows.float().cpu()
    refs["forward_use_cache"] = False


def main():
    only = common.only_names()
    spec = common.spec_like("bart-tiny")
    for name, (hub, overrides) in SOURCES.items():
        if only and name not in only:
            continue
        folder = make_checkpoint(name, overrides)
        tensors = {}
        refs = mf.model_refs(name, folder, "seq2seq", spec, tensors)
        if overrides["model_type"] == "fsmt":
            fsmt_causal_forward(folder, refs, tensors)
        refs["source_config"] = hub
        common.save_refs(name, refs, tensors)
    if not only or GLOBAL_NAME in only:
        led_global_refs(spec)


def led_global_refs(spec):
    tensors = {}
    folder = os.path.join(MODELS, GLOBAL_CHECKPOINT)
    refs = mf.model_refs(GLOBAL_NAME, folder, "seq2seq", spec, tensors,
                         extra_inputs=lambda enc: (first_two_global if enc["input_ids"].shape[0] == 1
                                                   else first_and_fourth_global)(enc))
    refs["checkpoint"] = GLOBAL_CHECKPOINT
    common.save_refs(GLOBAL_NAME, refs, tensors)


if __name__ == "__main__":
    main()
