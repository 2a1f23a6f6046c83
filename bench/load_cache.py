#!/usr/bin/env python3
"""Load time with the cache of quantized weights (docs/PERFORMANCE.md, "Instant load").

For each model folder and dtype, in fresh processes of build/bench/autolm_bench:
  no-cache  AUTOLM_NO_CACHE=1: quantize at load, write nothing (the load before the cache existed)
  first     empty cache folder: quantize, then write the entry
  second    the entry is there: memory-mapped, nothing quantized
  (float32 / auto: the checkpoint memory-mapped, no cache involved)
and prints a Markdown table of the load call (`load_s`) and load + first token (`cold 1st tok`),
medians over --rounds. The cache lives in a temporary folder (removed afterwards); the files
just written are in the page cache, so "second" is a warm-page-cache number, as the next
`autolm` run after a first one is.

  python3 bench/load_cache.py --models ~/.cache/autolm-bench/models/SmolLM2-135M[,…] [--dtypes int8,int4]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bench(exe, folder, dtype, prompts, env):
    cmd = [str(exe), str(folder), "--prompts", str(prompts), "--workloads", "prefill", "--dtype", dtype]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", required=True, help="comma-separated model folders")
    ap.add_argument("--dtypes", default="int8,int4")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--exe", default=str(ROOT / "build" / "autolm_bench"), help="built with -DAUTOLM_BUILD_BENCH=ON")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="autolm_load_cache_") as tmp:
        prompts = Path(tmp) / "prompts.json"
        prompts.write_text(json.dumps({"greedy": [[1, 2, 3, 4, 5, 6, 7, 8]], "batch": [[1, 2, 3, 4]]}))
        cache = Path(tmp) / "cache"
        for folder in args.models.split(","):
            folder = Path(os.path.expanduser(folder))
            for dtype in ["auto"] + args.dtypes.split(","):
                results = {}
                for _ in range(args.rounds):
                    base = dict(os.environ, AUTOLM_CACHE=str(cache))
                    base.pop("AUTOLM_NO_CACHE", None)
                    steps = [("float (mmap)", dict(base, AUTOLM_NO_CACHE="1"))] if dtype == "auto" else [
                        ("no-cache", dict(base, AUTOLM_NO_CACHE="1")), ("first", base), ("second", base)]
                    shutil.rmtree(cache, ignore_errors=True)
                    for name, env in steps:
                        res = run_bench(args.exe, folder, dtype, prompts, env)
                        results.setdefault(name, []).append(res)
                entry = sum(f.stat().st_size for f in cache.glob("*")) if cache.exists() else 0
                for name, runs in results.items():
                    rows.append((folder.name, dtype, name, statistics.median(r["load_s"] for r in runs),
                                 statistics.median(r["load_to_first_token_s"] for r in runs),
                                 statistics.median(r["rss_after_load_mb"] for r in runs),
                                 entry if name == "second" else None))
    print(f"| model | dtype | load | load s | cold 1st tok s | RSS after load MB | cache entry MB |")
    print("|---|---|---|---|---|---|---|")
    for m, d, n, load, first, rss, entry in rows:
        print(f"| {m} | {d} | {n} | {load:.3f} | {first:.3f} | {rss:.0f} | {'' if entry is None else f'{entry / 2**20:.0f}'} |")
    print(f"(medians of {args.rounds} rounds; loadavg {os.getloadavg()[0]:.1f} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
