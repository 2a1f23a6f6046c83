"""References for the tokenizer-class behaviours transformers layers over tokenizer.json /
tokenizer.model (tests/data/tokenizer_classes), made with transformers' AutoTokenizer — never
with autolm.

Pinned reference: transformers 5.24.0, tokenizers 0.23.3, sentencepiece (CPU). Run by hand, in
a virtualenv outside the repository (see make_fixtures.py for the pip line):

    ~/venv-ref/bin/python tests/data/make_tokenizer_class_refs.py [--build-inputs]

Inputs (committed, not references): the folders under tests/data/tokenizer_classes/ — vendor
files where the licence allows (SOURCES.md there), and small equivalents built by this script
with `--build-inputs` where no vendor copy could be found (marian-tiny, pegasus-tiny,
gpt2-cleanup; see SOURCES.md). Files ending in .gz are gunzipped into a temporary copy of the
folder before loading (the C++ tests do the same).

Output: tests/data/tokenizer_classes/refs/<name>.json with, per text: AutoTokenizer's ids with
and without special tokens, and decode(ids) / decode(ids, skip_special_tokens=True); then
decodes of id lists that include ids past the tokenizer's vocabulary (models pad their
embedding matrix: T5 32128 vs 32100, Qwen2.5 151936 vs 151665, Phi-3 32064 vs 32011).
"""
import gzip
import json
import os
import shutil
import sys
import tempfile

import sentencepiece
import tokenizers
import transformers
from transformers import AutoTokenizer

PINNED = {"transformers": "5.24.0", "tokenizers": "0.23.3"}
HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(HERE, "tokenizer_classes")
VERSIONS = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "sentencepiece": sentencepiece.__version__, "python": sys.version.split()[0]}
if os.environ.get("ALLOW_OTHER_VERSIONS") != "1":
    for k, v in PINNED.items():
        assert VERSIONS[k] == v, f"{k} {VERSIONS[k]} is not the pinned {v} (ALLOW_OTHER_VERSIONS=1 overrides)"

# Texts for every folder (the per-folder extras below add class-specific ones).
TEXTS = [
    "Hi", "Hello world!", "a ?", "a ", " a", "a  b", "don't stop , ok .", "Hello , world ! It 's me .",
    "café naïve résumé", "किताब हिंदी", "1⃣ 2⃣", "e\u0301 a\u0300", "  leading and trailing  ",
    "line one\nline two", "tab\there", "ÄÖÜ straße", "数学 と 日本語", "emoji 😀!", "",
]
EXTRA = {
    "bert-base-uncased": ["[CLS] hi [SEP]", "[MASK] the [unused1]"],
    "clip-vit-base-patch32": ["a photo of a cat", "<|startoftext|>a dog<|endoftext|>", "A PHOTO, OF ... dogs!!"],
    "marian-tiny": ["Hi</s> there", "<unk> and <pad>", "x </s>y", ">>de<< Hello"],
    "pegasus-tiny": ["<mask_1> the cat . </s>", "a b  c", "<unk_7> x", "<unk_7>x", "<mask_1>the cat.</s>cat"],
    "mistral-v0.3-spm": ["<s> Hi", "Hi<s>there", "[INST] Hi [/INST]", "\nHi", "  Hi"],
    "llama-spm": ["<s> Hi", "Hi</s>x", "\nHi"],
    "t5-spm": ["Hi</s> x", "<extra_id_0> a", "a\n\nb"],
    "gpt2-cleanup": ["a ? b ! c . d , e 's f n't"],
}
# Class-specific files written by --build-inputs: (folder, trained model type, files).
CORPUS = [
    "the cat sat on the mat .", "a photo of a dog , and a cat !", "Hello world ? yes , hello .",
    "Hi there , how are you ?", "don't stop believing .", "we are the champions , my friends .",
    "Das ist ein Haus . Wir sind hier !", "the quick brown fox jumps over the lazy dog .",
] * 50


def train_spm(prefix, model_type, vocab_size, **kw):
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "c.txt")
        with open(corpus, "w") as f:
            f.write("\n".join(CORPUS) + "\n")
        sentencepiece.SentencePieceTrainer.train(
            input=corpus, model_prefix=os.path.join(tmp, "m"), vocab_size=vocab_size, model_type=model_type,
            character_coverage=1.0, minloglevel=2, hard_vocab_limit=False, **kw)
        shutil.copy(os.path.join(tmp, "m.model"), prefix)


def build_inputs():
    # Marian (Helsinki-NLP/opus-mt-* layout): source.spm, target.spm, vocab.json whose ids are
    # not the SentencePiece ids, config.json with model_type "marian", and a tokenizer_config.json
    # without tokenizer_class (as the opus-mt repositories have it).
    d = os.path.join(DIR, "marian-tiny")
    os.makedirs(d, exist_ok=True)
    train_spm(os.path.join(d, "source.spm"), "unigram", 120, unk_id=1, bos_id=-1, eos_id=2, pad_id=-1,
              unk_piece="<unk>", eos_piece="</s>")
    shutil.copy(os.path.join(d, "source.spm"), os.path.join(d, "target.spm"))
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(d, "source.spm"))
    pieces = ["</s>", "<unk>"] + [sp.id_to_piece(i) for i in range(sp.get_piece_size())
                                  if sp.id_to_piece(i) not in ("</s>", "<unk>")] + [">>de<<", "<pad>"]
    with open(os.path.join(d, "vocab.json"), "w") as f:
        json.dump({p: i for i, p in enumerate(pieces)}, f, ensure_ascii=False, indent=1)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"model_type": "marian", "vocab_size": len(pieces) + 8, "pad_token_id": len(pieces) - 1,
                   "eos_token_id": 0, "decoder_start_token_id": len(pieces) - 1}, f, indent=1)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"source_lang": "en", "target_lang": "de"}, f, indent=1)

    # Pegasus: a Unigram tokenizer.json whose pre-tokenizer is not the Metaspace(always, split)
    # that PegasusTokenizer installs (older exports carry other settings), made from a trained
    # SentencePiece model through transformers' own conversion, then the pre-tokenizer and
    # decoder replaced by Metaspace(prepend_scheme "first", split false), its normalizer removed.
    d = os.path.join(DIR, "pegasus-tiny")
    os.makedirs(d, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        train_spm(os.path.join(tmp, "spiece.model"), "unigram", 150, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                  pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
                  user_defined_symbols=["<mask_1>", "<mask_2>"] + [f"<unk_{i}>" for i in range(2, 8)])
        sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(tmp, "spiece.model"))
        vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
        tok = transformers.PegasusTokenizer(vocab=vocab, offset=8, mask_token="<mask_2>", mask_token_sent="<mask_1>")
        tok.save_pretrained(tmp)
        j = json.load(open(os.path.join(tmp, "tokenizer.json")))
        cfg = json.load(open(os.path.join(tmp, "tokenizer_config.json")))
    j["normalizer"] = None  # PegasusTokenizer installs its own ("\n" → " ", " {2,}" → " ")
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    j["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(j, f, ensure_ascii=False, indent=1)
    for k in ("backend", "is_local", "local_files_only"):
        cfg.pop(k, None)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=1)

    # GPT-2 files (MIT, tests/data/fixtures/tokenizers/gpt2) with clean_up_tokenization_spaces
    # true, as Phi-2's and Whisper's tokenizer_config.json have it.
    d = os.path.join(DIR, "gpt2-cleanup")
    os.makedirs(d, exist_ok=True)
    src = os.path.join(HERE, "fixtures", "tokenizers", "gpt2")
    shutil.copy(os.path.join(src, "tokenizer.json.gz"), d)
    cfg = json.load(open(os.path.join(src, "tokenizer_config.json")))
    cfg["clean_up_tokenization_spaces"] = True
    cfg.pop("backend", None)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=1)

    # SentencePiece-only folders (no tokenizer.json): the project's trained llama-spm and
    # t5-unigram models with their tokenizer_config.json.
    for name, src_name, model in (("llama-spm", "llama-spm", "tokenizer.model"), ("t5-spm", "t5-unigram", "spiece.model")):
        d = os.path.join(DIR, name)
        os.makedirs(d, exist_ok=True)
        src = os.path.join(HERE, "fixtures", "tokenizers", src_name)
        shutil.copy(os.path.join(src, model), d)
        cfg = json.load(open(os.path.join(src, "tokenizer_config.json")))
        for k in ("backend", "is_local", "local_files_only"):
            cfg.pop(k, None)
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(cfg, f, ensure_ascii=False, indent=1)


def unpacked(folder, tmp):
    out = os.path.join(tmp, os.path.basename(folder))
    os.makedirs(out)
    for f in os.listdir(folder):
        if f.endswith(".gz"):
            with gzip.open(os.path.join(folder, f), "rb") as g, open(os.path.join(out, f[:-3]), "wb") as o:
                o.write(g.read())
        else:
            shutil.copy(os.path.join(folder, f), out)
    return out


def attempt(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 — recorded as the reference
        return {"error": type(e).__name__}


def refs_for(name, folder):
    tok = AutoTokenizer.from_pretrained(folder)
    out = {"name": name, "versions": VERSIONS, "class": type(tok).__name__, "len": len(tok),
           "special_ids": sorted(set(tok.all_special_ids)), "cases": [], "padded": []}
    for text in TEXTS + EXTRA.get(name, []):
        with_special = tok(text)["input_ids"]
        no_special = tok(text, add_special_tokens=False)["input_ids"]
        out["cases"].append({
            "text": text, "ids": with_special, "ids_no_special": no_special,
            "tokens": tok.convert_ids_to_tokens(with_special),
            "decode": tok.decode(with_special), "decode_skip_special": tok.decode(with_special, skip_special_tokens=True),
            "decode_no_cleanup": tok.decode(with_special, clean_up_tokenization_spaces=False),
        })
    # ids past the tokenizer's vocabulary, between and after known ones
    n = len(tok)
    known = tok("Hello world!")["input_ids"]
    for ids in ([n], [n, n + 1, n + 100], known[:1] + [n + 3] + known[1:], known + [n, 2**31 - 1], [2**31 - 1], []):
        out["padded"].append({"ids": ids, "decode": attempt(lambda: tok.decode(ids)),
                              "decode_skip_special": attempt(lambda: tok.decode(ids, skip_special_tokens=True))})
    return out


def main():
    if "--build-inputs" in sys.argv:
        build_inputs()
    os.makedirs(os.path.join(DIR, "refs"), exist_ok=True)
    names = sorted(n for n in os.listdir(DIR) if os.path.isdir(os.path.join(DIR, n)) and n != "refs")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            r = refs_for(name, unpacked(os.path.join(DIR, name), tmp))
            with open(os.path.join(DIR, "refs", name + ".json"), "w", encoding="utf-8") as f:
                json.dump(r, f, ensure_ascii=False, indent=1)
                f.write("\n")
            print(name, r["class"], r["len"])


if __name__ == "__main__":
    main()
