#!/usr/bin/env python3
"""Writes random-weight Hugging Face folders at the real shapes of ../shared/bench/model_shapes.json.

    make_models.py --models gpt2,t5-small --out ~/.cache/autolm-bench/models

Each folder holds config.json, model.safetensors (float32, written by transformers'
save_pretrained), generation_config.json and a placeholder tokenizer whose token i is "t<i>"
(special tokens keep their ids under the usual names). No engine in the benchmark tokenizes
text -- every engine receives the same token ids -- but converters (CTranslate2,
llama.cpp) read a vocabulary from the folder.

Generation-only settings of the checkpoints (forced_bos/eos, bad_words_ids, num_beams ...) are
dropped so that every engine runs the same plain greedy / beam search.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SHAPES = HERE.parent.parent / "shared" / "bench" / "model_shapes.json"
DROP_KEYS = {"forced_bos_token_id", "forced_eos_token_id", "bad_words_ids", "num_beams",
             "no_repeat_ngram_size", "early_stopping", "length_penalty", "max_length",
             "min_length", "task_specific_params"}
SEQ2SEQ_TYPES = {"t5", "mt5", "bart", "mbart", "marian"}


def special_ids(cfg: dict) -> dict:
    """role -> id for the tokens the converters need named."""
    out = {}
    for role in ("eos", "bos", "pad"):
        v = cfg.get(f"{role}_token_id")
        if isinstance(v, list):
            v = v[0] if v else None
        if v is not None:
            out[role] = int(v)
    if "unk" not in out:
        used = set(out.values())
        out["unk"] = next(i for i in (2, 3, 1, 4, 5) if i not in used)
    return out


def write_tokenizer(folder: Path, vocab_size: int, specials: dict) -> None:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit
    from transformers import PreTrainedTokenizerFast

    names = {"eos": "</s>", "bos": "<s>", "pad": "<pad>", "unk": "<unk>"}
    vocab = {f"t{i}": i for i in range(vocab_size)}
    token_of = {}
    for role, tid in specials.items():
        if tid in token_of:  # shared id (gpt2: bos = eos): keep the first name
            continue
        token_of[tid] = names[role]
    for tid, name in token_of.items():
        del vocab[f"t{tid}"]
        vocab[name] = tid
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token=token_of[specials["unk"]]))
    tok.pre_tokenizer = WhitespaceSplit()
    kwargs = {f"{role}_token": token_of[tid] for role, tid in specials.items()}
    # No pad id in the config: name the EOS token as pad, or a tokenizer class with a default pad
    # (Qwen2's "<|endoftext|>") adds one token beyond vocab_size and the converters refuse it.
    kwargs.setdefault("pad_token", token_of[specials["eos"]] if "eos" in specials else token_of[specials["unk"]])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)
    fast.save_pretrained(str(folder))


def make_one(name: str, shape: dict, out_dir: Path, force: bool) -> Path:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    folder = out_dir / name
    marker = folder / ".complete"
    if marker.exists() and not force:
        print(f"[make_models] {name}: cached at {folder}")
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    cfg_dict = {k: v for k, v in shape.items() if k not in DROP_KEYS and k != "model_type"}
    cfg_dict["dtype"] = "float32"
    config = AutoConfig.for_model(shape["model_type"], **cfg_dict)
    torch.manual_seed(0)
    cls = AutoModelForSeq2SeqLM if shape["model_type"] in SEQ2SEQ_TYPES else AutoModelForCausalLM
    model = cls.from_config(config, dtype=torch.float32)
    model.eval()
    model.save_pretrained(str(folder), safe_serialization=True)
    # Plain generation settings only (see DROP_KEYS): the special ids and nothing else.
    gen = {k: shape[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id") if k in shape}
    gen["transformers_version"] = transformers.__version__
    (folder / "generation_config.json").write_text(json.dumps(gen, indent=1))
    write_tokenizer(folder, int(shape["vocab_size"]), special_ids(shape))
    n = sum(p.numel() for p in model.parameters())
    (folder / "bench_info.json").write_text(json.dumps({
        "name": name, "model_type": shape["model_type"], "parameters": n,
        "seq2seq": shape["model_type"] in SEQ2SEQ_TYPES, "special_ids": special_ids(shape),
        "transformers": transformers.__version__}, indent=1))
    marker.write_text("ok\n")
    print(f"[make_models] {name}: {n/1e6:.1f}M parameters written to {folder} in {time.time()-t0:.1f}s")
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", required=True, help="comma-separated names from model_shapes.json")
    ap.add_argument("--shapes", default=str(DEFAULT_SHAPES))
    ap.add_argument("--out", default=os.environ.get("AUTOLM_BENCH_CACHE", str(Path.home() / ".cache/autolm-bench")) + "/models")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    shapes = json.loads(Path(args.shapes).read_text())
    for name in args.models.split(","):
        if name not in shapes:
            print(f"unknown model {name}; known: {', '.join(k for k in shapes if not k.startswith('_'))}", file=sys.stderr)
            return 2
        make_one(name, shapes[name], Path(args.out), args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
