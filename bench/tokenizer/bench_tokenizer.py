#!/usr/bin/env python3
"""Run by hand (not a test): autolm's tokenizer vs PyPI `tokenizers`, side by side.

  cmake --build build-tok --target tokenizer_bench
  /work/venv/bin/python bench/tokenizer/bench_tokenizer.py [--bench build-tok/src_tokenizer/tokenizer_bench]

Measures loading the 33 MB gemma3 tokenizer.json and encoding ~1 MB of text single-threaded
(best of 3), prints both and the ratio (HF time / autolm time; > 1 means autolm is faster).
"""
import argparse, glob, gzip, json, os, shutil, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FX = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")


def find_bench():
    for p in glob.glob(os.path.join(ROOT, "build*", "**", "tokenizer_bench"), recursive=True):
        if os.access(p, os.X_OK):
            return p
    raise SystemExit("tokenizer_bench not built")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=None)
    ap.add_argument("--names", default="gemma3,qwen3,llama3,t5-unigram")
    args = ap.parse_args()
    from tokenizers import Tokenizer
    bench = args.bench or find_bench()
    tmp = tempfile.mkdtemp()
    # ~1 MB of mixed text built from the reference strings (multilingual, code, emoji).
    cases = json.load(open(os.path.join(FX, "refs", "tokenizers", "gpt2-bpe.json")))["cases"]
    unit = "\n".join(c["text"] for c in cases) + "\n"
    text = (unit * (1_000_000 // len(unit.encode()) + 1))
    text_path = os.path.join(tmp, "text.txt")
    open(text_path, "w").write(text)
    print(f"text: {len(text.encode())} bytes; times in seconds (HF tokenizers {__import__('tokenizers').__version__})")
    print(f"{'tokenizer':12} {'load HF':>9} {'load ours':>9} {'ratio':>6}   {'enc HF':>8} {'enc ours':>8} {'ratio':>6}  same #ids")
    for name in args.names.split(","):
        d = os.path.join(FX, "tokenizers", name)
        path = os.path.join(d, "tokenizer.json")
        if not os.path.exists(path):
            path = os.path.join(tmp, name + ".json")
            with gzip.open(os.path.join(d, "tokenizer.json.gz")) as f, open(path, "wb") as g:
                shutil.copyfileobj(f, g)
        t0 = time.perf_counter()
        hf = Tokenizer.from_file(path)
        hf_load = time.perf_counter() - t0
        hf_enc = 1e30
        for _ in range(3):
            t0 = time.perf_counter()
            ids = hf.encode(text, add_special_tokens=False).ids
            hf_enc = min(hf_enc, time.perf_counter() - t0)
        out = json.loads(subprocess.check_output([bench, path, text_path, "3"]))
        print(f"{name:12} {hf_load:9.3f} {out['load_s']:9.3f} {hf_load / out['load_s']:6.2f}   "
              f"{hf_enc:8.3f} {out['encode_s']:8.3f} {hf_enc / out['encode_s']:6.2f}  {len(ids) == out['tokens']}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    os.environ.setdefault("RAYON_NUM_THREADS", "1")  # single-threaded HF
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
