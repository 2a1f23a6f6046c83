"""pytest fixtures for the Python package: the repository's own fixtures and references
(tests/data/fixtures, made by transformers 5.24 — see its README)."""
import gzip
import json
import os
import shutil

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FX = os.path.join(ROOT, "tests", "data", "fixtures")


def load_ref(*parts):
    with open(os.path.join(FX, "refs", *parts), encoding="utf-8") as f:
        return json.load(f)


def model_names():
    return sorted(n[:-5] for n in os.listdir(os.path.join(FX, "refs", "models"))
                  if n.endswith(".json") and n != "index.json")


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    """A tokenizer folder of tests/data/fixtures/tokenizers with any tokenizer.json.gz unpacked."""
    cache = {}

    def get(name):
        if name not in cache:
            src = os.path.join(FX, "tokenizers", name)
            dst = str(tmp_path_factory.mktemp(name))
            for f in os.listdir(src):
                if f.endswith(".gz"):
                    with gzip.open(os.path.join(src, f), "rb") as i, open(os.path.join(dst, f[:-3]), "wb") as o:
                        shutil.copyfileobj(i, o)
                else:
                    shutil.copy(os.path.join(src, f), dst)
            cache[name] = dst
        return cache[name]

    return get
