#!/usr/bin/env python3
"""What the Python package adds to a generation: model.generate() through the binding against the
C++ autolm::generate() it calls, measured inside the same call (docs/PYTHON.md, issue #19).

    PYTHONPATH=build/python build/pyvenv/bin/python bench/python_overhead.py \
        [--models chat-tiny,t5-numbers,gpt2,SmolLM2-135M] [--new-tokens 64] [--repeats 5]

For every call the extension reports the seconds spent inside the C++ generate() and, of those,
inside the per-step callback into Python (taking the GIL, building the token lists, the user's
streamer). The binding's overhead of a call is everything that is not autolm's own work:

    overhead = wall time of model.generate()  -  (generate_s - callback_s)

i.e. argument conversion, the GenerationConfig JSON round trip, the callbacks and the result
conversion, as a fraction of the C++ work (decode time). Measured in the same call, the figure does
not depend on how loaded the machine is, unlike two separate processes (bench/run.py's
autolm-python engine, which runs the same user code as its transformers engine, beside the C++
autolm_bench, for the end-to-end comparison).

Workloads per model: batch 1 greedy with a streamer (the chat path), batch 1 greedy without, and
batch 4 greedy; every call generates exactly --new-tokens tokens (min_new_tokens = max_new_tokens).
Models: the demo models in models/ and random-weight real shapes written by bench/make_models.py
into $AUTOLM_BENCH_CACHE/models (default ~/.cache/autolm-bench/models); missing ones are skipped.
Prints a Markdown table and, with --json, writes the raw figures.
"""
import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = Path(os.environ.get("AUTOLM_BENCH_CACHE", Path.home() / ".cache/autolm-bench"))


def model_path(name):
    for p in (ROOT / "models" / name, CACHE / "models" / name):
        if (p / "config.json").exists():
            return p
    return None


class CountingStreamer:
    """transformers' streamer protocol (put / end) doing no work of its own."""

    def __init__(self):
        self.puts = 0

    def put(self, value):
        self.puts += 1

    def end(self):
        pass


def measure(model, ids, new_tokens, streamer):
    import numpy as np
    kw = dict(do_sample=False, num_beams=1, max_new_tokens=new_tokens, min_new_tokens=new_tokens)
    arr = np.asarray(ids, dtype=np.int64)
    t0 = time.perf_counter()
    out = model.generate(arr, attention_mask=np.ones_like(arr), streamer=streamer, **kw)
    wall = time.perf_counter() - t0
    t = model._last_timings
    core = t["generate_s"] - t["callback_s"]
    return {"wall_s": wall, "core_s": core, "callback_s": t["callback_s"], "overhead_s": wall - core,
            "tokens": int(out.shape[0]) * new_tokens}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="chat-tiny,t5-numbers,gpt2,SmolLM2-135M,t5-small")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="write the raw figures here")
    args = ap.parse_args()
    import autolm

    rng = random.Random(1234)
    rows, raw = [], {}
    for name in args.models.split(","):
        path = model_path(name)
        if path is None:
            print(f"skip {name}: no folder in models/ or {CACHE / 'models'}", file=sys.stderr)
            continue
        cfg = autolm.AutoConfig.from_pretrained(str(path))
        cls = autolm.AutoModelForSeq2SeqLM if cfg.is_encoder_decoder else autolm.AutoModelForCausalLM
        model = cls.from_pretrained(str(path))
        vocab = int(cfg["vocab_size"])
        prompt = [rng.randrange(10, min(vocab, 1000)) for _ in range(args.prompt_len)]
        workloads = {"batch 1, streamer": ([prompt], True), "batch 1": ([prompt], False),
                     "batch 4": ([prompt[:], prompt[::-1], prompt[1:] + prompt[:1], prompt[2:] + prompt[:2]], False)}
        measure(model, [prompt], 2, None)  # warm-up: first-touch of the weights, scratch allocation
        for wl, (ids, stream) in workloads.items():
            runs = [measure(model, ids, args.new_tokens, CountingStreamer() if stream else None)
                    for _ in range(args.repeats)]
            raw[f"{name} / {wl}"] = runs
            core = statistics.median(r["core_s"] for r in runs)
            over = [r["overhead_s"] / r["core_s"] for r in runs]
            rows.append((name, wl, runs[0]["tokens"], core * 1e3 / runs[0]["tokens"] * len(ids),
                         statistics.median(r["overhead_s"] for r in runs) * 1e3, statistics.median(over) * 100,
                         max(over) * 100))
            print(f"{name:14s} {wl:18s} core {core:.3f}s  overhead median {rows[-1][5]:.3f}%  max {rows[-1][6]:.3f}%",
                  file=sys.stderr, flush=True)

    print(f"| model | workload | tokens | ms / step (C++) | binding overhead ms / call | overhead % (median) | overhead % (max) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.3f} | {r[6]:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "runs": raw}, indent=1))
    worst = max((r[5] for r in rows), default=0.0)
    print(f"\nworst median overhead: {worst:.3f} % of decode time (target < 2 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
