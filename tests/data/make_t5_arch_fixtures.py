"""Tiny random checkpoints and transformers references for the encoder-decoder architectures
built on the T5 stack or beside it (issue 14): switch_transformers, t5gemma, longt5. Made with
transformers on CPU — never with autolm.

Pinned reference: transformers 5.24.0, tokenizers 0.23.3 (see make_fixtures.py). Run by hand:

    /work/venv-ref/bin/python tests/data/make_t5_arch_fixtures.py     # ONLY=switch-tiny,… for some

Each checkpoint keeps the switches of a real Hub config (named in SOURCES) with shrunk sizes and
random weights (norm weights too, so every term shows), saved in bfloat16 to keep the folders
small (the references are computed in float32 from the saved file). The tokenizer is the
project's t5-unigram (tests/data/fixtures/tokenizers/t5-unigram, vocab 1100): it is used to make
the references but not copied into the model folders (it would triple their size; the parity
tests work on token ids). The references are made by make_fixtures.model_refs with the prompts,
greedy and beam settings and batch of cases.json's t5-tiny entry:
refs/models/<name>.json + .logits.safetensors, the same format as every other fixture.
"""
import os
import shutil
import tempfile

import torch
import transformers

import arch_fixture_common as common
import make_fixtures as mf

FX = common.FX
MODELS = common.MODELS
TOKENIZER = os.path.join(FX, "tokenizers", "t5-unigram")
T5_SMALL = dict(vocab_size=1100, d_model=32, d_kv=8, d_ff=64, num_heads=4, dropout_rate=0.0, pad_token_id=0,
                eos_token_id=1, decoder_start_token_id=0)

T5GEMMA_MODULE = dict(vocab_size=1100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=8, hidden_activation="gelu_pytorch_tanh", max_position_embeddings=256,
                      rms_norm_eps=1e-6, query_pre_attn_scalar=8, sliding_window=3, attn_logit_softcapping=5.0,
                      final_logit_softcapping=3.0, attention_bias=False, pad_token_id=0, eos_token_id=1, bos_token_id=2,
                      rope_parameters={"rope_type": "default", "rope_theta": 10000.0})

# name: (real Hub checkpoint whose switches are kept, model_type, config kwargs)
SOURCES = {
    # google/switch-base-8: a sparse feed-forward every other layer (num_sparse_* = num_layers / 2),
    # 8 experts top-1, relu experts, no router bias, float32 router, tied head rescaled by
    # d_model**-0.5. expert_capacity 64 there; 8 here so the longer encoder inputs (40 tokens) overflow experts.
    "switch-tiny": ("google/switch-base-8", "switch_transformers", dict(
        T5_SMALL, num_layers=2, num_decoder_layers=2, num_sparse_encoder_layers=1, num_sparse_decoder_layers=1,
        num_experts=4, expert_capacity=8, router_bias=False, router_jitter_noise=0.01, router_dtype="float32",
        dense_act_fn="relu", relative_attention_num_buckets=32, relative_attention_max_distance=128,
        tie_word_embeddings=True)),
    # google/t5gemma-2b-2b-ul2: Gemma-2 encoder and decoder (RMSNorm 1 + w, sandwich norms, GQA,
    # query_pre_attn_scalar, alternating sliding / full layers, attention and final logit softcaps,
    # embeddings × sqrt(hidden_size)), cross-attention in every decoder layer, head tied to the
    # decoder embedding. Sliding window 4096 there, 3 here (the encoder's is bidirectional; the
    # 4-token decoder forward crosses it); softcaps shrunk (50 / 30 there) so they bite.
    "t5gemma-tiny": ("google/t5gemma-2b-2b-ul2", "t5gemma", dict(
        encoder=dict(T5GEMMA_MODULE), decoder=dict(T5GEMMA_MODULE), vocab_size=1100, tie_word_embeddings=True,
        dropout_rate=0.0, attention_dropout=0.0)),
    # google/long-t5-tglobal-base: transient-global encoder attention (local_radius 127,
    # global_block_size 16 there; 3 and 4 here so the prompts of 8-40 tokens span several local
    # windows and global blocks, the last one incomplete), gated-gelu, untied (no output rescale).
    "longt5-tglobal-tiny": ("google/long-t5-tglobal-base", "longt5", dict(
        T5_SMALL, num_layers=2, num_decoder_layers=2, feed_forward_proj="gated-gelu",
        encoder_attention_type="transient-global", local_radius=3, global_block_size=4,
        relative_attention_num_buckets=32, relative_attention_max_distance=128, tie_word_embeddings=False)),
    # google/long-t5-local-base: local encoder attention only.
    "longt5-local-tiny": ("google/long-t5-local-base", "longt5", dict(
        T5_SMALL, num_layers=2, num_decoder_layers=2, feed_forward_proj="gated-gelu", encoder_attention_type="local",
        local_radius=3, relative_attention_num_buckets=32, relative_attention_max_distance=128,
        tie_word_embeddings=False)),
}


def make_checkpoint(name, model_type, kwargs):
    config = transformers.AutoConfig.for_model(model_type, **kwargs)
    return common.random_checkpoint(name, transformers.AutoModelForSeq2SeqLM, config,
                                    zero_centred_norms=model_type == "t5gemma")


def main():
    only = common.only_names()
    spec = common.spec_like("t5-tiny")
    for name, (hub, model_type, kwargs) in SOURCES.items():
        if only and name not in only:
            continue
        folder = make_checkpoint(name, model_type, kwargs)
        # References from a copy with the tokenizer beside the weights.
        with tempfile.TemporaryDirectory() as tmp:
            work = os.path.join(tmp, name)
            shutil.copytree(folder, work)
            for f in os.listdir(TOKENIZER):
                shutil.copy(os.path.join(TOKENIZER, f), work)
            tensors = {}
            refs = mf.model_refs(name, work, "seq2seq", spec, tensors)
        refs["source_config"] = hub
        common.save_refs(name, refs, tensors)


if __name__ == "__main__":
    main()
