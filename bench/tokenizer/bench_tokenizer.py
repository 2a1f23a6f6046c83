#!/usr/bin/env python3
"""Run by hand (not a test): autolm's tokenizer vs PyPI `tokenizers`, side by side.

  cmake --build build-tok --target tokenizer_bench
  /work/venv/bin/python bench/tokenizer/bench_tokenizer.py [--bench PATH] [--runs 5] [--names gemma3,qwen3]

Text: ~1 MB built from the words of every reference string (multilingual, code, emoji,
special-token text), shuffled with random numbers mixed in (fixed seed), so few words repeat
and a word cache cannot stay hot. It is written to a temp file as UTF-8 and read back as
bytes by both sides (no newline translation).

Each run loads the tokenizer.json afresh and encodes the text once, single-threaded
(RAYON_NUM_THREADS=1), without special tokens, each engine in a fresh process (HF: this script
with --hf-worker; autolm: `tokenizer_bench`); the engines alternate run by run. Prints the median of the runs and
the ratio HF time / autolm time (> 1: autolm is faster), and checks that the ids are equal.
"""
import argparse, array, glob, gzip, json, os, random, shutil, statistics, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FX = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")


def find_bench():
    p = os.path.join(ROOT, "build-tok", "src", "tokenizer", "tokenizer_bench")
    if os.access(p, os.X_OK):
        return p
    for p in sorted(glob.glob(os.path.join(ROOT, "build*", "**", "tokenizer_bench"), recursive=True)):
        if os.access(p, os.X_OK) and os.path.isfile(p):
            return p
    raise SystemExit("tokenizer_bench not built")


def make_text(path, size=1_000_000, seed=1234):
    words = []
    for ref in sorted(glob.glob(os.path.join(FX, "refs", "tokenizers", "*.json"))):
        for c in json.load(open(ref, encoding="utf-8"))["cases"]:
            words += c["text"].split(" ")
    words = sorted(set(w for w in words if w))
    rng = random.Random(seed)
    out, n = [], 0
    while n < size:
        r = rng.random()
        if r < 0.3:
            w = str(rng.randrange(10 ** rng.randrange(1, 7)))
        elif r < 0.45:  # glue a number or another word on: new "words" for the pre-tokenizer
            w = rng.choice(words) + rng.choice([str(rng.randrange(1000)), rng.choice(words)])
        else:
            w = rng.choice(words)
        sep = rng.choice([" ", " ", " ", " ", "\n", "  ", "\t", ", ", ". "])
        out.append(w + sep)
        n += len((w + sep).encode("utf-8"))
    data = "".join(out).encode("utf-8", errors="surrogatepass")
    with open(path, "wb") as f:
        f.write(data)
    return data.decode("utf-8")


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def hf_worker(path, text_path, ids_path):
    from tokenizers import Tokenizer
    with open(text_path, "rb") as f:
        text = f.read().decode("utf-8")
    t0 = time.perf_counter()
    hf = Tokenizer.from_file(path)
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids = hf.encode(text, add_special_tokens=False).ids
    enc = time.perf_counter() - t0
    with open(ids_path, "wb") as f:
        f.write(array.array("i", ids).tobytes())
    print(json.dumps({"load_s": load, "encode_s": enc, "tokens": len(ids)}))


def read_ids(path):
    ids = array.array("i")
    with open(path, "rb") as f:
        ids.frombytes(f.read())
    return ids.tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hf-worker", nargs=3, metavar=("JSON", "TEXT", "IDS"))
    ap.add_argument("--bench", default=None)
    ap.add_argument("--names", default="gemma3,qwen3,llama3,t5-unigram")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if args.hf_worker:
        return hf_worker(*args.hf_worker)
    import sys
    import tokenizers
    bench = args.bench or find_bench()
    tmp = tempfile.mkdtemp()
    try:
        text_path = os.path.join(tmp, "text.txt")
        ids_path, hf_ids_path = os.path.join(tmp, "ids.bin"), os.path.join(tmp, "hf_ids.bin")
        make_text(text_path)
        with open(text_path, "rb") as f:
            text = f.read().decode("utf-8")
        print(f"text: {os.path.getsize(text_path)} bytes, {len(text)} chars; median of {args.runs} runs, seconds; "
              f"HF tokenizers {tokenizers.__version__}; ratio = HF / autolm")
        print(f"{'tokenizer':12} {'load HF':>8} {'autolm':>8} {'ratio':>6}   {'enc HF':>8} {'autolm':>8} {'ratio':>6}  ids")
        for name in args.names.split(","):
            d = os.path.join(FX, "tokenizers", name)
            path = os.path.join(d, "tokenizer.json")
            if not os.path.exists(path):
                path = os.path.join(tmp, name + ".json")
                with gzip.open(os.path.join(d, "tokenizer.json.gz")) as f, open(path, "wb") as g:
                    shutil.copyfileobj(f, g)
            hf_load, hf_enc, our_load, our_enc = [], [], [], []
            for _ in range(args.runs):
                out = json.loads(subprocess.check_output(
                    [sys.executable, os.path.abspath(__file__), "--hf-worker", path, text_path, hf_ids_path]))
                hf_load.append(out["load_s"])
                hf_enc.append(out["encode_s"])
                out = json.loads(subprocess.check_output([bench, path, text_path, "1", ids_path]))
                our_load.append(out["load_s"])
                our_enc.append(out["encode_s"])
            ours, hf_ids = read_ids(ids_path), read_ids(hf_ids_path)
            if ours == hf_ids:
                same = f"equal ({len(ours)})"
            else:
                i = first_diff(ours, hf_ids)
                same = (f"DIFFER: {len(ours)} vs HF {len(hf_ids)}, first at {i}: "
                        f"autolm {ours[max(0, i - 2):i + 3]} HF {hf_ids[max(0, i - 2):i + 3]}")
            m = statistics.median
            print(f"{name:12} {m(hf_load):8.3f} {m(our_load):8.3f} {m(hf_load) / m(our_load):6.2f}   "
                  f"{m(hf_enc):8.3f} {m(our_enc):8.3f} {m(hf_enc) / m(our_enc):6.2f}  {same}", flush=True)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    os.environ["RAYON_NUM_THREADS"] = "1"  # single-threaded HF (set before tokenizers starts its pool)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    main()
