"""Tiny random checkpoints and transformers references for the architectures of issue 14
(mixtral, qwen2_moe, qwen3_moe, phi, gpt_neox, falcon, starcoder2, gpt_bigcode, opt), plus the
MoE block references of tests/data/moe. Made with transformers on CPU — never with autolm.

Pinned reference: transformers 5.24.0, tokenizers 0.23.3 (see make_fixtures.py). Run by hand:

    ~/venv-ref/bin/python tests/data/make_arch_fixtures_moe.py

Each checkpoint keeps the switches of a real Hub config (named in SOURCES below) with shrunk
sizes, random weights (biases and norm weights too, so every term shows) stored in bfloat16 to
keep the folders small, and a tokenizer copied from an existing fixture. The references are
made by make_fixtures.model_refs with the prompts, greedy and beam settings of cases.json's llama-tiny entry:
refs/models/<name>.json + .logits.safetensors, the same format as every other fixture.
"""
import os
import shutil
import zlib

import torch
import transformers
from safetensors.torch import save_file

import arch_fixture_common as common
import make_fixtures as mf

FX = common.FX
MODELS = common.MODELS

# name: (real Hub checkpoint whose switches are kept, tokenizer fixture, config overrides)
SOURCES = {
    # mistralai/Mixtral-8x7B-v0.1: 8 experts, top-2, softmax router renormalised, GQA.
    "mixtral-tiny": ("mistralai/Mixtral-8x7B-v0.1", "llama-tiny", dict(
        model_type="mixtral", hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, rms_norm_eps=1e-5,
        rope_theta=1e6, sliding_window=None, max_position_embeddings=256, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2)),
    # Qwen/Qwen1.5-MoE-A2.7B: 60 experts top-4 without renormalisation, a shared expert with a
    # sigmoid gate, qkv bias.
    "qwen2_moe-tiny": ("Qwen/Qwen1.5-MoE-A2.7B", "qwen2-tiny", dict(
        model_type="qwen2_moe", hidden_size=32, intermediate_size=64, moe_intermediate_size=16,
        shared_expert_intermediate_size=64, num_experts=6, num_experts_per_tok=4, norm_topk_prob=False,
        decoder_sparse_step=1, mlp_only_layers=[], num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, rms_norm_eps=1e-6, rope_theta=1e6, use_sliding_window=False,
        max_window_layers=21, max_position_embeddings=256, tie_word_embeddings=False, eos_token_id=2)),
    # Qwen/Qwen3-30B-A3B: 128 experts top-8 renormalised, q/k RMSNorm, head_dim × heads ≠ hidden.
    "qwen3_moe-tiny": ("Qwen/Qwen3-30B-A3B", "qwen2-tiny", dict(
        model_type="qwen3_moe", hidden_size=32, intermediate_size=64, moe_intermediate_size=16,
        num_experts=8, num_experts_per_tok=3, norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[],
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-6,
        rope_theta=1e6, attention_bias=False, max_position_embeddings=256, tie_word_embeddings=False,
        eos_token_id=2)),
    # microsoft/phi-2: parallel attention + MLP on one LayerNorm, partial rotary 0.4, biases
    # everywhere (lm_head too), dense output projection.
    "phi-tiny": ("microsoft/phi-2", "gpt2-tiny", dict(
        model_type="phi", hidden_size=40, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, partial_rotary_factor=0.4, hidden_act="gelu_new", layer_norm_eps=1e-5,
        qk_layernorm=False, rope_theta=10000.0, max_position_embeddings=256, tie_word_embeddings=False,
        bos_token_id=0, eos_token_id=0)),
    # EleutherAI/pythia-70m: fused query_key_value laid out per head, parallel residual,
    # rotary_pct 0.25.
    "gpt_neox-tiny": ("EleutherAI/pythia-70m", "gpt2-tiny", dict(
        model_type="gpt_neox", hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        rotary_pct=0.25, rotary_emb_base=10000, use_parallel_residual=True, hidden_act="gelu",
        layer_norm_eps=1e-5, max_position_embeddings=256, tie_word_embeddings=False, bos_token_id=0,
        eos_token_id=0)),
    # tiiuae/falcon-7b: multi-query attention, parallel attention + MLP on one LayerNorm, no bias.
    "falcon-tiny": ("tiiuae/falcon-7b", "gpt2-tiny", dict(
        model_type="falcon", hidden_size=32, num_hidden_layers=2, num_attention_heads=4, multi_query=True,
        new_decoder_architecture=False, parallel_attn=True, bias=False, alibi=False, layer_norm_epsilon=1e-5,
        max_position_embeddings=256, bos_token_id=0, eos_token_id=0)),
    # tiiuae/falcon-40b: new_decoder_architecture (grouped kv heads, ln_attn + ln_mlp).
    "falcon-new-tiny": ("tiiuae/falcon-40b", "gpt2-tiny", dict(
        model_type="falcon", hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_kv_heads=2,
        new_decoder_architecture=True, parallel_attn=True, bias=False, alibi=False, layer_norm_epsilon=1e-5,
        max_position_embeddings=256, bos_token_id=0, eos_token_id=0)),
    # bigcode/starcoder2-3b: GQA, LayerNorm with bias, plain MLP, biases, sliding window (4096
    # there, shrunk to 8 so the prompts cross it).
    "starcoder2-tiny": ("bigcode/starcoder2-3b", "gpt2-tiny", dict(
        model_type="starcoder2", hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, hidden_act="gelu_pytorch_tanh", norm_epsilon=1e-5, use_bias=True,
        sliding_window=8, rope_theta=999999.4420358813, max_position_embeddings=256, tie_word_embeddings=True,
        bos_token_id=0, eos_token_id=0)),
    # bigcode/gpt_bigcode-santacoder: multi-query c_attn, learned positions, tied head.
    "gpt_bigcode-tiny": ("bigcode/gpt_bigcode-santacoder", "gpt2-tiny", dict(
        model_type="gpt_bigcode", n_embd=32, n_inner=128, n_layer=2, n_head=4, multi_query=True,
        activation_function="gelu_pytorch_tanh", n_positions=256, layer_norm_epsilon=1e-5,
        bos_token_id=0, eos_token_id=0)),
    # facebook/opt-350m: post-LayerNorm blocks, project_in/out (word_embed_proj_dim < hidden).
    "opt-tiny": ("facebook/opt-350m", "gpt2-tiny", dict(
        model_type="opt", hidden_size=32, word_embed_proj_dim=16, ffn_dim=64, num_hidden_layers=2,
        num_attention_heads=4, do_layer_norm_before=False, activation_function="relu",
        max_position_embeddings=256, bos_token_id=0, eos_token_id=0, pad_token_id=0)),
    # facebook/opt-125m: pre-LayerNorm blocks with a final LayerNorm.
    "opt-pre-tiny": ("facebook/opt-125m", "gpt2-tiny", dict(
        model_type="opt", hidden_size=32, word_embed_proj_dim=32, ffn_dim=64, num_hidden_layers=2,
        num_attention_heads=4, do_layer_norm_before=True, activation_function="relu",
        max_position_embeddings=256, bos_token_id=0, eos_token_id=0, pad_token_id=0)),
}


def make_checkpoint(name, tok_src, overrides):
    kw = dict(overrides)
    config = transformers.AutoConfig.for_model(kw.pop("model_type"), vocab_size=1024, **kw)
    folder = common.random_checkpoint(name, transformers.AutoModelForCausalLM, config)
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        src = os.path.join(MODELS, tok_src, f)
        if os.path.exists(src):
            shutil.copy(src, folder)


# --- MoE blocks on their own: transformers' sparse MoE modules on a random input.
MOE_CASES = {
    "mixtral": ("mixtral", dict(hidden_size=16, intermediate_size=24, num_local_experts=5, num_experts_per_tok=2)),
    "qwen2_moe": ("qwen2_moe", dict(hidden_size=16, moe_intermediate_size=12, shared_expert_intermediate_size=20,
                                    num_experts=6, num_experts_per_tok=3, norm_topk_prob=False)),
    "qwen3_moe": ("qwen3_moe", dict(hidden_size=16, moe_intermediate_size=12, num_experts=7, num_experts_per_tok=3,
                                    norm_topk_prob=True)),
}


def moe_refs():
    out_dir = os.path.join(mf.HERE, "moe")
    os.makedirs(out_dir, exist_ok=True)
    for name, (mtype, kw) in MOE_CASES.items():
        config = transformers.AutoConfig.for_model(mtype, num_hidden_layers=1, num_attention_heads=2,
                                                   num_key_value_heads=2, vocab_size=32, **kw)
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
        mf.randomize(model, zlib.crc32(("moe-" + name).encode()), std=0.5)
        layer = model.model.layers[0]
        block = layer.mlp
        g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        x = torch.randn(1, 9, kw["hidden_size"], generator=g)
        with torch.no_grad():
            y = block(x)
        # The block's weights as the Hub checkpoints (and save_pretrained) name them.
        tmp = os.path.join(out_dir, "_tmp")
        model.save_pretrained(tmp)
        from safetensors.torch import load_file
        sd = load_file(os.path.join(tmp, "model.safetensors"))
        shutil.rmtree(tmp)
        prefix = "model.layers.0." + ("block_sparse_moe." if mtype == "mixtral" else "mlp.")
        tensors = {k[len(prefix):]: v.contiguous() for k, v in sd.items() if k.startswith(prefix)}
        tensors["input"] = x[0].contiguous()
        tensors["output"] = y[0].contiguous()
        save_file(tensors, os.path.join(out_dir, name + ".safetensors"))
        mf.dump(os.path.join(out_dir, name + ".json"),
                {"model_type": mtype, "config": {k: v for k, v in kw.items()}, "versions": mf.VERSIONS,
                 "hidden_act": config.hidden_act})
        print("moe", name, flush=True)


def main():
    only = common.only_names()
    if not only or "moe" in only:
        moe_refs()
    spec = common.spec_like("llama-tiny")
    for name, (hub, tok_src, overrides) in SOURCES.items():
        if only and name not in only:
            continue
        make_checkpoint(name, tok_src, overrides)
        folder = os.path.join(MODELS, name)
        tensors = {}
        refs = mf.model_refs(name, folder, "causal", spec, tensors)
        refs["source_config"] = hub
        common.save_refs(name, refs, tensors)


if __name__ == "__main__":
    main()
