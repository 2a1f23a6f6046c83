"""Reference outputs for the in-repo parity fixtures (tests/data/fixtures), made with
transformers on CPU — never with autolm.

Pinned reference: transformers 5.24.0, tokenizers 0.23.3 (float32, CPU). Run by hand, in a
virtualenv outside the repository:

    python -m venv ~/venv-ref && ~/venv-ref/bin/pip install transformers==5.24.0 \
        tokenizers==0.23.3 torch safetensors sentencepiece protobuf jinja2
    ~/venv-ref/bin/python tests/data/make_fixtures.py

Inputs (committed, not references): tests/data/fixtures/models/<name>/ (tiny random float32
checkpoints, originally written by the project's fixture generator), the bundled demo models
in models/, the tokenizer folders in tests/data/fixtures/tokenizers/ (trained by the project,
or vendor files whose licence allows it: see tokenizers/SOURCES.md), and cases.json (prompts,
generation settings, conversations, test strings). Outputs: tests/data/fixtures/refs/.

The reference formats are those of ../shared/fixtures (its README): models/<name>.json +
<name>.logits.safetensors, demo/…, tokenizers/<name>.json, chat/<name>.json.
"""
import gzip
import json
import os
import shutil
import sys
import tempfile

import tokenizers
import torch
import transformers
from safetensors.torch import save_file
from tokenizers import Tokenizer

PINNED = {"transformers": "5.24.0", "tokenizers": "0.23.3"}
HERE = os.path.dirname(os.path.abspath(__file__))
FX = os.path.join(HERE, "fixtures")
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VERSIONS = {"torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "python": sys.version.split()[0]}

if os.environ.get("ALLOW_OTHER_VERSIONS") != "1":
    for k, v in PINNED.items():
        assert VERSIONS[k] == v, f"{k} {VERSIONS[k]} is not the pinned {v} (ALLOW_OTHER_VERSIONS=1 overrides)"
torch.manual_seed(0)
torch.set_num_threads(max(1, os.cpu_count() or 1))


def dump(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def margins(scores):
    """Smallest gap between the best and second-best processed score over a greedy run."""
    m = [float((torch.topk(s.float(), 2, dim=-1).values.diff(dim=-1).abs()).min()) for s in scores]
    return min(m) if m else None


def rows_of(logits):
    T = logits.shape[0]
    idx = list(range(T)) if T <= 6 else [0, 1] + list(range(T - 4, T))
    return idx, logits[idx].contiguous()


def randomize(model, seed, std=0.2, zero_centred_norms=False):
    """The issue-14 architecture fixtures' weights (make_arch_fixtures_moe.py,
    make_seq2seq_arch_fixtures.py, make_t5_arch_fixtures.py): every parameter random, from one
    generator seeded with `seed` in named_parameters() order: matrices N(0, std), biases
    N(0, 0.1), norm weights 1 + N(0, 0.1) (zero_centred_norms: N(0, 0.1), for (1 + w) norms
    such as T5Gemma's); then the BART family's final_logits_bias buffer N(0, 0.1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if p.dim() >= 2:
                p.copy_(noise * std)
            elif pname.endswith("bias") or zero_centred_norms:
                p.copy_(noise * 0.1)
            else:
                p.copy_(1 + noise * 0.1)
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias.copy_(torch.randn(model.final_logits_bias.shape, generator=g) * 0.1)


def model_refs(name, folder, family, spec, tensors, extra_inputs=None):
    """extra_inputs(enc) -> {name: tensor}: more model inputs for every forward and generate()
    (LED's global_attention_mask), stored beside input_ids / attention_mask as lists."""
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    auto = transformers.AutoModelForSeq2SeqLM if family == "seq2seq" else transformers.AutoModelForCausalLM
    model = auto.from_pretrained(folder, dtype=torch.float32).eval()
    out = {"name": name, "family": family, "versions": VERSIONS, "cases": [], "batch": None,
           "auto_class": auto.__name__, "model_class": type(model).__name__}
    prompts = [c["prompt"] for c in spec["cases"]]
    for ci, c in enumerate(spec["cases"]):
        enc = tok(c["prompt"], return_tensors="pt")
        enc = {k: enc[k] for k in ("input_ids", "attention_mask")}
        ids = enc["input_ids"]
        case = {"prompt": c["prompt"], "input_ids": ids[0].tolist(), "gen": {}}
        if extra_inputs:
            enc.update(extra_inputs(enc))
            case.update({k: v[0].tolist() for k, v in enc.items() if k not in ("input_ids", "attention_mask")})
        with torch.no_grad():
            if family == "seq2seq":
                dec = model.generate(**enc, do_sample=False, max_new_tokens=4)[0][:4].unsqueeze(0)
                logits = model(**enc, decoder_input_ids=dec).logits[0]
                case["forward"] = {"decoder_input_ids": dec[0].tolist()}
            else:
                logits = model(**enc).logits[0]
                case["forward"] = {}
            idx, rows = rows_of(logits)
            key = f"case{ci}.logits"
            tensors[key] = rows.float().cpu()
            case["forward"].update({"logits_tensor": key, "positions": idx})
            for gname, params in c["gen"].items():
                r = model.generate(**enc, return_dict_in_generate=True, output_scores=True, **params)
                seqs = r.sequences.tolist()
                n_in = 0 if family == "seq2seq" else ids.shape[1]
                entry = {"params": params, "sequences": seqs, "new_tokens": [s[n_in:] for s in seqs],
                         "text": [tok.decode(s[n_in:], skip_special_tokens=True) for s in seqs]}
                if getattr(r, "sequences_scores", None) is not None:
                    entry["sequences_scores"] = r.sequences_scores.tolist()
                if params.get("num_beams", 1) == 1 and r.scores:
                    entry["min_top2_margin"] = margins(r.scores)
                case["gen"][gname] = entry
        out["cases"].append(case)
    if family == "causal":
        tok.padding_side = "left"
    if tok.pad_token is None:  # gpt2: pad with eos for the batch, as users do
        tok.pad_token = tok.eos_token
    enc = tok(prompts, return_tensors="pt", padding=True)
    enc = {k: enc[k] for k in ("input_ids", "attention_mask")}
    if extra_inputs:
        enc.update(extra_inputs(enc))
    with torch.no_grad():
        r = model.generate(**enc, **spec["batch_params"])
    out["batch"] = {"padding_side": tok.padding_side, "input_ids": enc["input_ids"].tolist(),
                    "attention_mask": enc["attention_mask"].tolist(), "sequences": r.tolist(),
                    "params": spec["batch_params"]}
    out["batch"].update({k: v.tolist() for k, v in enc.items() if k not in ("input_ids", "attention_mask")})
    other = transformers.AutoModelForCausalLM if family == "seq2seq" else transformers.AutoModelForSeq2SeqLM
    try:
        out["wrong_class"] = {"loaded_as": type(other.from_pretrained(folder)).__name__}
    except Exception as ex:  # noqa: BLE001 - the refusal is the reference
        out["wrong_class"] = {"error": f"{type(ex).__name__}: {str(ex)[:600]}"}
    return out


def unpacked(folder):
    """A temp copy of a tokenizer folder with tokenizer.json.gz decompressed."""
    tmp = tempfile.mkdtemp()
    for f in os.listdir(folder):
        src = os.path.join(folder, f)
        if f.endswith(".gz"):
            with gzip.open(src, "rb") as i, open(os.path.join(tmp, f[:-3]), "wb") as o:
                shutil.copyfileobj(i, o)
        else:
            shutil.copy(src, tmp)
    return tmp


def tokenizer_refs(name, folder, strings):
    d = unpacked(folder)
    raw = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    hf = transformers.AutoTokenizer.from_pretrained(d)
    res = {"name": name, "versions": VERSIONS, "cases": []}
    for s in strings:
        c = {"text": s}
        for asp, key in ((True, "with_special"), (False, "no_special")):
            e = raw.encode(s, add_special_tokens=asp)
            c[key] = {"ids": e.ids, "tokens": e.tokens, "offsets": [list(o) for o in e.offsets]}
        ids = c["with_special"]["ids"]
        c["decode"] = raw.decode(ids, skip_special_tokens=False)
        c["decode_skip_special"] = raw.decode(ids, skip_special_tokens=True)
        hids = hf(s)["input_ids"]
        c["transformers"] = {"input_ids": hids, "decode_skip_special": hf.decode(hids, skip_special_tokens=True),
                             "decode": hf.decode(hids, skip_special_tokens=False)}
        res["cases"].append(c)
    shutil.rmtree(d)
    return res


def chat_refs(name, folder, cases):
    d = unpacked(folder)
    t = transformers.AutoTokenizer.from_pretrained(d)
    out = {"name": name, "versions": VERSIONS, "cases": []}
    for c in cases:
        extra = {"tools": c["tools"]} if "tools" in c else {}
        s = t.apply_chat_template(c["messages"], tokenize=False, add_generation_prompt=c["add_generation_prompt"],
                                  **extra, **c.get("kwargs", {}))
        out["cases"].append(dict(c, rendered=s, ids=t(s, add_special_tokens=False)["input_ids"]))
    shutil.rmtree(d)
    return out


def main():
    cases = json.load(open(os.path.join(FX, "cases.json"), encoding="utf-8"))
    only = set(filter(None, os.environ.get("ONLY", "").split(",")))
    index = {"versions": VERSIONS, "models": []}
    for kind, base in (("models", os.path.join(FX, "models")), ("demo", os.path.join(ROOT, "models"))):
        for name, spec in cases[kind].items():
            if only and name not in only:
                continue
            folder = os.path.join(base, name)
            family = "seq2seq" if json.load(open(os.path.join(folder, "config.json"))).get("is_encoder_decoder") else "causal"
            tensors = {}
            refs = model_refs(name, folder, family, spec, tensors)
            dump(os.path.join(FX, "refs", kind, name + ".json"), refs)
            save_file(tensors, os.path.join(FX, "refs", kind, name + ".logits.safetensors"))
            index["models"].append({"name": name, "family": family, "class": refs["model_class"]})
            print("refs", kind, name, flush=True)
    if not only:
        dump(os.path.join(FX, "refs", "models", "index.json"), index)
    tok_dir = os.path.join(FX, "tokenizers")
    for name in sorted(os.listdir(tok_dir)):
        folder = os.path.join(tok_dir, name)
        if not os.path.isdir(folder) or (only and name not in only):
            continue
        dump(os.path.join(FX, "refs", "tokenizers", name + ".json"), tokenizer_refs(name, folder, cases["strings"]))
        print("refs tokenizer", name, flush=True)
        if name in cases["chat"]:
            dump(os.path.join(FX, "refs", "chat", name + ".json"), chat_refs(name, folder, cases["chat"][name]))
            print("refs chat", name, flush=True)


if __name__ == "__main__":
    main()
