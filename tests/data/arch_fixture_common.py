"""Shared by the architecture fixture generators (make_arch_fixtures_moe.py,
make_seq2seq_arch_fixtures.py, make_t5_arch_fixtures.py): the ONLY= filter, the prompts and
generation settings borrowed from an older fixture's cases, a random bfloat16 checkpoint from a
config, and the references written beside the others (tests/fixtures.h reads them).

Not run on its own; imported by the generators (run by hand with /work/venv-ref/bin/python).
"""
import json
import os
import shutil
import zlib

import torch
from safetensors.torch import save_file

import make_fixtures as mf

FX = mf.FX
MODELS = os.path.join(FX, "models")


def only_names():
    """The names in $ONLY (comma-separated); empty: every one."""
    return set(filter(None, os.environ.get("ONLY", "").split(",")))


def spec_like(model_name):
    """The prompts, greedy and beam4 settings and batch of `model_name`'s entry in cases.json (the
    repetition / min-length settings are generation processors, covered by the older fixtures)."""
    cases = json.load(open(os.path.join(FX, "cases.json"), encoding="utf-8"))
    base = cases["models"][model_name]
    return {"cases": [{"prompt": c["prompt"], "gen": {k: c["gen"][k] for k in ("greedy", "beam4")}}
                      for c in base["cases"]], "batch_params": base["batch_params"]}


def random_checkpoint(name, auto_class, config, **randomize):
    """MODELS/<name>: `auto_class` built from `config` in float32, randomized with a seed of the
    name (mf.randomize), tied, saved in bfloat16. Returns the folder."""
    folder = os.path.join(MODELS, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    model = auto_class.from_config(config, dtype=torch.float32).eval()
    mf.randomize(model, zlib.crc32(name.encode()), **randomize)
    model.tie_weights()
    model.to(torch.bfloat16).save_pretrained(folder)
    return folder


def save_refs(name, refs, tensors):
    """refs/models/<name>.json and its logits (<name>.logits.safetensors)."""
    mf.dump(os.path.join(FX, "refs", "models", name + ".json"), refs)
    save_file(tensors, os.path.join(FX, "refs", "models", name + ".logits.safetensors"))
    print("refs", name, refs["model_class"], flush=True)
