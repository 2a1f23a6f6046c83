#!/usr/bin/env python3
"""Converts a random-weight HF folder to GGUF with llama.cpp's own converter (convert_hf_to_gguf.py
and its conversion/ package, as shipped in the llama-cpp-python sdist that bench/setup.sh
unpacks), for F32 / F16 / Q8_0.

    gguf_convert.py <hf dir> <out.gguf> --outtype f32|f16|q8_0 [--llama-cpp <vendor/llama.cpp dir>]

The only change to the converter's path: the vocabulary. The benchmark folders carry a placeholder
tokenizer ("t<i>") that llama.cpp's BPE pre-tokenizer detection would refuse, so set_vocab writes
a plain SentencePiece-style ("llama") token list of vocab_size entries with the config's special
ids instead. Tensors, hyper-parameters and quantisation are the converter's own.
"""
import argparse
import json
import os
import sys
import types
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--outtype", default="f32", choices=["f32", "f16", "q8_0"])
    ap.add_argument("--llama-cpp", default=os.environ.get(
        "AUTOLM_BENCH_LLAMA_CPP_SRC", str(Path(os.environ.get("AUTOLM_BENCH_CACHE", Path.home() / ".cache/autolm-bench")) / "llama.cpp")))
    args = ap.parse_args()

    src = Path(args.llama_cpp)
    if not (src / "convert_hf_to_gguf.py").exists():
        print(f"llama.cpp converter not found under {src} (run bench/setup.sh)", file=sys.stderr)
        return 3
    sys.path.insert(0, str(src / "gguf-py"))
    sys.path.insert(0, str(src))
    import torch  # noqa: F401  (the converter needs it)
    import gguf
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class

    dir_model = Path(args.model)
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[args.outtype]
    hparams = ModelBase.load_hparams(dir_model, False)
    arch = get_model_architecture(hparams, ModelType.TEXT)
    model_class = get_model_class(arch)
    cfg = json.loads((dir_model / "config.json").read_text())

    def placeholder_vocab(self):
        n = int(cfg["vocab_size"])
        w = self.gguf_writer
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list([f"t{i}" for i in range(n)])
        w.add_token_scores([0.0] * n)
        w.add_token_types([int(gguf.TokenType.NORMAL)] * n)
        eos = cfg.get("eos_token_id")
        eos = eos[0] if isinstance(eos, list) else eos
        if cfg.get("bos_token_id") is not None:
            w.add_bos_token_id(int(cfg["bos_token_id"]))
        if eos is not None:
            w.add_eos_token_id(int(eos))
        w.add_add_bos_token(False)
        w.add_add_eos_token(False)

    with torch.inference_mode():
        inst = model_class(dir_model, ftype, Path(args.out))
        if "n_positions" in inst.hparams:  # GPT-2: transformers 5 no longer writes n_ctx
            inst.hparams.setdefault("n_ctx", inst.hparams["n_positions"])
        inst.set_vocab = types.MethodType(placeholder_vocab, inst)
        inst.write()
    print(f"wrote {args.out} ({arch}, {args.outtype})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
