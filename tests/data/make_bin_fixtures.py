"""PyTorch-checkpoint fixtures (tests/data/bin): the in-repo tiny models saved as transformers 4
saved them (`torch.save(model.state_dict())`, sharded with `pytorch_model.bin.index.json`), checked
to load in transformers 5.24 with the same logits as their safetensors copy, and hostile files
that a weights_only loader must refuse. Made with torch + transformers, never with autolm:

    ~/venv-ref/bin/python tests/data/make_bin_fixtures.py
"""
import io
import json
import os
import pickle
import shutil
import tempfile
import zipfile

import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "fixtures", "models")
OUT = os.path.join(HERE, "bin")


def state_dict(name):
    cfg = json.load(open(os.path.join(MODELS, name, "config.json")))
    auto = transformers.AutoModelForSeq2SeqLM if cfg.get("is_encoder_decoder") else transformers.AutoModelForCausalLM
    return auto, {k: v.contiguous() for k, v in auto.from_pretrained(os.path.join(MODELS, name)).state_dict().items()}


def check_loads(name, auto, bin_dir):
    """transformers 5.24 loads the .bin folder and gives the safetensors copy's logits."""
    tmp = tempfile.mkdtemp()
    for f in os.listdir(os.path.join(MODELS, name)):
        if not f.startswith("model.safetensors"):
            shutil.copy(os.path.join(MODELS, name, f), tmp)
    for f in os.listdir(bin_dir):
        shutil.copy(os.path.join(bin_dir, f), tmp)
    a = auto.from_pretrained(tmp).eval()
    b = auto.from_pretrained(os.path.join(MODELS, name)).eval()
    ids = torch.tensor([[5, 9, 13, 2, 7]])
    kw = {"decoder_input_ids": torch.tensor([[0, 4, 6]])} if auto is transformers.AutoModelForSeq2SeqLM else {}
    with torch.no_grad():
        assert torch.equal(a(input_ids=ids, **kw).logits, b(input_ids=ids, **kw).logits), name
    shutil.rmtree(tmp)


def single(name, dtype=None):
    auto, sd = state_dict(name)
    if dtype is not None:
        sd = {k: v.to(dtype) for k, v in sd.items()}
    d = os.path.join(OUT, name + ("" if dtype is None else "-" + str(dtype).split(".")[-1]))
    os.makedirs(d, exist_ok=True)
    torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    if dtype is None:
        check_loads(name, auto, d)
    print("wrote", d)


def sharded(name):
    auto, sd = state_dict(name)
    d = os.path.join(OUT, name + "-sharded")
    os.makedirs(d, exist_ok=True)
    keys = list(sd)
    half = len(keys) // 2
    weight_map = {}
    for i, part in enumerate((keys[:half], keys[half:])):
        fname = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        torch.save({k: sd[k] for k in part}, os.path.join(d, fname))
        weight_map.update({k: fname for k in part})
    size = sum(v.numel() * v.element_size() for v in sd.values())
    json.dump({"metadata": {"total_size": size}, "weight_map": weight_map},
              open(os.path.join(d, "pytorch_model.bin.index.json"), "w"), indent=2)
    check_loads(name, auto, d)
    print("wrote", d)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/autolm-pwned",))


class EvilEval:
    def __reduce__(self):
        return (eval, ("1+1",))


def hostile():
    d = os.path.join(OUT, "hostile")
    os.makedirs(d, exist_ok=True)
    # A zip checkpoint whose data.pkl calls os.system / eval: torch.save pickles the object.
    torch.save({"w": torch.zeros(2), "x": Evil()}, os.path.join(d, "os_system.bin"))
    torch.save({"w": EvilEval()}, os.path.join(d, "eval.bin"))
    # A tensor whose storage is shorter than its size claims: rewrite the numel in data.pkl.
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(4, 4)}, buf)
    zin = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(os.path.join(d, "storage_past_end.bin"), "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("data.pkl"):
                # size (4, 4) -> (40, 4), stride unchanged: BININT1 4, BININT1 4 after the storage offset
                data = data.replace(b"K\x04K\x04\x86", b"K\x28K\x04\x86", 1)
            zout.writestr(item, data)
    # The legacy (pre-1.6, non-zip) format.
    torch.save({"w": torch.zeros(2)}, os.path.join(d, "legacy.bin"), _use_new_zipfile_serialization=False)
    # A plain pickle (not a torch checkpoint) of an object.
    with open(os.path.join(d, "plain_pickle.bin"), "wb") as f:
        pickle.dump(Evil(), f)
    assert not os.path.exists("/tmp/autolm-pwned")
    print("wrote", d)


if __name__ == "__main__":
    single("llama-tiny")
    single("gpt2-tiny")
    single("llama-tiny", torch.bfloat16)
    sharded("t5-tiny")
    hostile()
