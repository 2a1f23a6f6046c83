#!/usr/bin/env python3
"""autolm side-by-side benchmark: one command, see docs/PERFORMANCE.md.

    bench/run.py --models gpt2,t5-small,SmolLM2-135M --rounds 3

For each model (random weights at real shapes, written by bench/make_models.py) and each engine
(autolm, transformers+torch, CTranslate2 float32/int8, llama.cpp F32/F16/Q8_0 for decoder-only
shapes) it runs the workloads in a fresh process per (engine, round), engines alternating and
their order rotating every round, then reports medians, ratios against autolm measured in the
same run, and each batch-1 decode figure as a fraction of the memory-bandwidth roofline
(tokens/s x bytes of weights read per token / stream bandwidth), the machine's ceilings
(triad, sgemm) being measured in the same run. The bandwidth drifts on a shared machine, so it is
also measured quickly right before and after every engine's process, and each run's decode speed
is set against the mean of those two ("roofline (adjacent)", median over rounds) besides the
best bandwidth of the whole run ("roofline (best bw)"). Writes bench/results/<date>.json and .md.

This script needs only the Python standard library; the engines run in the benchmark venv
(bench/setup.sh) and the autolm binary from --build-dir (built here when missing).
"""
import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = Path(os.environ.get("AUTOLM_BENCH_CACHE", Path.home() / ".cache/autolm-bench"))
VENV = Path(os.environ.get("AUTOLM_BENCH_VENV", CACHE / "venv"))
SEQ2SEQ = {"t5", "mt5", "bart", "mbart", "marian"}
PREFILL_LEN = 512  # the prefill512 workload's prompt (source) length
LONG_LEN = 4096  # the long4k workload's prompt length (decoder-only models whose positions allow it)
ALL_ENGINES = ["autolm", "autolm-int8", "autolm-int4", "autolm-python", "transformers", "ct2-float32", "ct2-int8",
               "llama.cpp-F32", "llama.cpp-F16", "llama.cpp-Q8_0", "llama.cpp-Q4_0", "llama.cpp-Q4_K_M"]
# Bytes per weight as each engine stores it (Q8_0: 32 int8 + one fp16 scale per block; autolm int4:
# 32 nibbles + a float32 scale + a uint8 zero point per group of 32; Q4_0: 32 nibbles + one fp16
# scale per block; Q4_K_M is llama-quantize's mix: Q4_K (144 bytes per super-block of 256) for most
# matrices, Q6_K (210 / 256) for attn_v, half the layers' ffn_down and the output matrix — the
# entry is Q4_K's 144 / 256, a lower bound: llama-quantize prints the file's own bits per weight).
BYTES_PER_PARAM = {"autolm": 4.0, "autolm-int8": 1.0, "autolm-int4": 21 / 32, "autolm-python": 4.0, "transformers": 4.0,
                   "ct2-float32": 4.0, "ct2-int8": 1.0,
                   "llama.cpp-F32": 4.0, "llama.cpp-F16": 2.0, "llama.cpp-Q8_0": 34 / 32,
                   "llama.cpp-Q4_0": 18 / 32, "llama.cpp-Q4_K_M": 144 / 256}
# GGUF types made by llama.cpp's own quantizer from the converter's F16 GGUF (the converter itself
# writes only F32 / F16 / Q8_0); values are llama.h's LLAMA_FTYPE_MOSTLY_*.
LLAMA_QUANTIZED = {"Q4_0": 2, "Q4_K_M": 15}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(cmd, env=None, timeout=None, cwd=None):
    return subprocess.run(cmd, env=env, timeout=timeout, cwd=cwd, capture_output=True, text=True)


def thread_env(threads):
    env = dict(os.environ)
    for k in ("AUTOLM_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS"):
        env[k] = str(threads)
    # OpenBLAS picks its kernels from the CPU's features; an OPENBLAS_CORETYPE inherited from the
    # machine's environment (this sandbox exports "Haswell", the AVX2 kernels, on an AVX-512 CPU)
    # would make autolm's prompt GEMMs up to 1.7x slower than on a user's machine. Only autolm
    # uses OpenBLAS here (torch and CTranslate2 bring their own GEMMs, llama.cpp ggml's).
    env.pop("OPENBLAS_CORETYPE", None)
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["TRANSFORMERS_VERBOSITY"] = "error"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def tail(text, n=400):
    text = (text or "").strip().replace("\n", " | ")
    return text[-n:]


# ------------------------------------------------------------------------------ preparation
def python_env():
    """The interpreter with nanobind + NumPy that the Python package builds and runs with
    (scripts/python_env.sh: build/pyvenv), or None."""
    r = sh([str(ROOT / "scripts" / "python_env.sh")])
    py = r.stdout.strip()
    return py or None


def build_autolm(build_dir: Path, jobs: int, python=None):
    """Configures once, then always builds incrementally so that the binary is the working tree's.
    With `python` (the autolm-python engine) the Python package is built in the same tree, so the
    binding and autolm_bench run the same compiled code."""
    if not (build_dir / "CMakeCache.txt").exists() or (
            python and "AUTOLM_PYTHON:BOOL=ON" not in (build_dir / "CMakeCache.txt").read_text()):
        log(f"configuring {build_dir}")
        cmd = ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
               "-DAUTOLM_BUILD_TESTS=OFF", "-DAUTOLM_BUILD_BENCH=ON"]
        if python:
            cmd += ["-DAUTOLM_PYTHON=ON", f"-DPython_EXECUTABLE={python}"]
        r = sh(cmd)
        if r.returncode:
            sys.exit(f"cmake configure failed: {tail(r.stderr)}")
    targets = ["autolm_bench", "autolm_roofline"] + (["_autolm"] if python else [])
    log(f"building {', '.join(targets)} in {build_dir} (-j{jobs})")
    r = sh(["cmake", "--build", str(build_dir), "--target", *targets, f"-j{jobs}"])
    if r.returncode:
        sys.exit(f"build failed: {tail(r.stdout + r.stderr, 2000)}")
    return build_dir / "autolm_bench", build_dir / "autolm_roofline"


def venv_python():
    py = VENV / "bin" / "python"
    return py if py.exists() else None


def machine_info(threads, build_dir):
    info = {"date": dt.datetime.now().isoformat(timespec="seconds"), "threads": threads,
            "platform": platform.platform(), "logical_cpus": os.cpu_count()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
        info["simd"] = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile") if f in flags]
    except Exception:
        pass
    try:
        lscpu = sh(["lscpu"]).stdout
        for line in lscpu.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("L2 cache", "L3 cache", "Model name", "Thread(s) per core"):
                info[k.strip()] = v.strip()
    except Exception:
        pass
    info["mem_total_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    v = {}
    r = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    v["autolm"] = (r.stdout.strip() or "?") + ("+dirty" if dirty else "")
    v["g++"] = sh(["g++", "-dumpfullversion"]).stdout.strip()
    cache = build_dir / "CMakeCache.txt"
    if cache.exists():
        for line in cache.read_text().splitlines():
            if line.startswith("BLAS_LIBRARIES") or line.startswith("CMAKE_CXX_FLAGS_RELEASE"):
                k, _, val = line.partition("=")
                v[k.split(":")[0]] = val
    r = sh(["bash", "-c", "dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || dpkg-query -W -f='${Version}' libopenblas0"])
    v["openblas"] = r.stdout.strip() or "?"
    py = venv_python()
    if py:
        code = ("import importlib,json;d={}\n"
                "for m in ['torch','transformers','ctranslate2','llama_cpp','numpy']:\n"
                "  try: d[m]=importlib.import_module(m).__version__\n"
                "  except Exception as e: d[m]='n/a'\n"
                "print(json.dumps(d))")
        r = sh([str(py), "-c", code])
        try:
            v.update(json.loads(r.stdout))
        except Exception:
            pass
        v["python"] = sh([str(py), "-c", "import sys;print(sys.version.split()[0])"]).stdout.strip()
    exe = build_dir / "autolm_bench"
    if exe.exists():
        v["autolm_bench_built"] = dt.datetime.fromtimestamp(exe.stat().st_mtime).isoformat(timespec="minutes")
    info["versions"] = v
    return info


def roofline(roof_exe, threads, reps=3):
    runs = []
    for _ in range(reps):
        r = sh([str(roof_exe)], env=thread_env(threads), timeout=300)
        if r.returncode == 0:
            runs.append(json.loads(r.stdout))
    if not runs:
        return {"error": "autolm_roofline failed"}
    out = {"triad_GBps": max(x["triad_GBps"] for x in runs), "read_GBps": max(x.get("read_GBps", 0) for x in runs),
           "sgemm_GFLOPs": max(x["sgemm_GFLOPs"] for x in runs),
           "triad_GBps_runs": [x["triad_GBps"] for x in runs], "sgemm_GFLOPs_runs": [x["sgemm_GFLOPs"] for x in runs]}
    # The roofline's bandwidth: the better of the triad and the read-only stream (a decode step
    # mostly reads weights).
    out["bandwidth_GBps"] = max(out["triad_GBps"], out["read_GBps"])
    return out


def quick_bandwidth(roof_exe, threads):
    """One `autolm_roofline --quick` (best of 3 triads + 3 reads, no sgemm; well under 2 s): the
    bandwidth of this moment, measured right before each round's engines."""
    t = time.time()
    try:
        r = sh([str(roof_exe), "--quick"], env=thread_env(threads), timeout=120)
    except subprocess.TimeoutExpired:
        return {"error": "autolm_roofline --quick timed out", "time": t}
    if r.returncode:
        return {"error": f"autolm_roofline --quick: exit {r.returncode}: {tail(r.stderr, 200)}", "time": t}
    try:
        x = json.loads(r.stdout)
    except Exception:
        return {"error": f"autolm_roofline --quick: bad output: {tail(r.stdout, 200)}", "time": t}
    return {"triad_GBps": x["triad_GBps"], "read_GBps": x["read_GBps"],
            "bandwidth_GBps": max(x["triad_GBps"], x["read_GBps"]), "time": t}


def greedy_tok_s(res, new_tokens):
    """One round's batch-1 greedy decode tok/s, or None where summarize() would drop it."""
    if "error" in res:
        return None
    g = res.get("workloads", {}).get("greedy")
    if not g or "error" in g or g.get("new_tokens", new_tokens) != new_tokens:
        return None
    return g.get("decode_tok_s")


def adjacent_fractions(rounds_results, bytes_per_token, new_tokens):
    """Per round: that run's decode tok/s x bytes per token / the bandwidth measured around it
    (None where the run failed or both bandwidth checks did)."""
    out = []
    for res in rounds_results:
        tok_s = greedy_tok_s(res, new_tokens)
        bw = res.get("adjacent_bandwidth_GBps")
        out.append(tok_s * bytes_per_token / (bw * 1e9) if tok_s and bw else None)
    return out


def weights_read_per_token(folder: Path):
    """Parameters a decode step reads: every decoder weight plus the LM head (vocab x d_model),
    not the embedding lookups (one row), the encoder, nor cross-attention K/V projections
    (computed once per source in every engine). Read from the safetensors header only."""
    total = 0
    cfg = json.loads((folder / "config.json").read_text())
    s2s = cfg["model_type"] in SEQ2SEQ
    skip = ("embed_tokens", "wte.", "wpe.", "shared.", "embed_positions", "lm_head.", "final_logits_bias")
    cross_kv = ("encoder_attn.k_proj", "encoder_attn.v_proj", "EncDecAttention.k.", "EncDecAttention.v.")
    for f in folder.glob("*.safetensors"):
        with open(f, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n))
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            if any(s in name for s in skip):
                continue
            if s2s and (name.startswith("model.encoder.") or name.startswith("encoder.") or any(c in name for c in cross_kv)):
                continue
            count = 1
            for d in meta["shape"]:
                count *= d
            total += count
    d_model = cfg.get("d_model") or cfg.get("hidden_size") or cfg.get("n_embd")
    return total + int(cfg["vocab_size"]) * int(d_model)


def make_prompts(folder: Path, prompt_len, batch, seed, path: Path):
    cfg = json.loads((folder / "config.json").read_text())
    special = set()
    for k in ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"):
        v = cfg.get(k)
        for x in (v if isinstance(v, list) else [v]):
            if x is not None:
                special.add(int(x))
    rng = random.Random(seed)
    hi = int(cfg["vocab_size"]) - 8

    def row(length=prompt_len):
        out = []
        while len(out) < length:
            t = rng.randrange(16, hi)
            if t not in special:
                out.append(t)
        return out
    greedy, rows = [row()], [row() for _ in range(batch)]
    # prefill512: TTFT of one 512-token prompt; long4k: one 4,096-token prompt (drawn after the
    # others, which stay as they were)
    prefill = [row(PREFILL_LEN)]
    path.write_text(json.dumps({"greedy": greedy, "batch": rows, "prefill512": prefill, "long4k": [row(LONG_LEN)]}))


def prepare_peers(name, folder: Path, engines, seq2seq, py):
    """Converted models per engine: {engine: path} or {engine: 'n/a (reason)'}."""
    out = {}
    if py is None:  # autolm's engines still run
        for e in engines:
            out[e] = str(folder) if e.startswith("autolm") else f"n/a (no benchmark venv at {VENV}; run bench/setup.sh)"
        return out
    env = thread_env(2)
    for e in engines:
        if e.startswith("autolm"):
            out[e] = str(folder)
        elif e == "transformers":
            r = sh([str(py), "-c", "import torch, transformers"], env=env)
            out[e] = str(folder) if r.returncode == 0 else f"n/a (import failed: {tail(r.stderr, 120)})"
        elif e.startswith("ct2-"):
            q = e.split("-", 1)[1]
            dst = CACHE / "ct2" / f"{name}-{q}"
            if not (dst / "model.bin").exists():
                conv = VENV / "bin" / "ct2-transformers-converter"
                if not conv.exists():
                    out[e] = "n/a (ctranslate2 not installed)"
                    continue
                log(f"{name}: converting to CTranslate2 {q}")
                r = sh([str(conv), "--model", str(folder), "--output_dir", str(dst), "--quantization", q, "--force"],
                       env=env, timeout=1800)
                if r.returncode:
                    out[e] = f"n/a (ct2 conversion failed: {tail(r.stderr, 160)})"
                    continue
            out[e] = str(dst)
        elif e.startswith("llama.cpp-"):
            if seq2seq:
                out[e] = "n/a (llama.cpp: decoder-only shapes only)"
                continue
            r = sh([str(py), "-c", "import llama_cpp"], env=env)
            if r.returncode:
                out[e] = f"n/a (llama-cpp-python not installed: {tail(r.stderr, 100)})"
                continue
            q = e.split("-", 1)[1]
            src = q if q not in LLAMA_QUANTIZED else "F16"  # what llama.cpp's converter writes
            paths = {t: CACHE / "gguf" / f"{name}-{t}.gguf" for t in {src, q}}
            err = None
            if not paths[src].exists():
                paths[src].parent.mkdir(parents=True, exist_ok=True)
                log(f"{name}: converting to GGUF {src}")
                tmp = paths[src].with_suffix(".tmp.gguf")
                r = sh([str(py), str(HERE / "gguf_convert.py"), str(folder), str(tmp), "--outtype", src.lower()],
                       env=env, timeout=1800)
                if r.returncode or not tmp.exists():
                    err = f"n/a (GGUF conversion failed: {tail(r.stderr, 160)})"
                else:
                    tmp.rename(paths[src])
            if err is None and not paths[q].exists():
                log(f"{name}: quantizing the F16 GGUF to {q} (llama.cpp's quantizer)")
                err = quantize_gguf(py, env, paths[src], paths[q], q)
            out[e] = err or str(paths[q])
    return out


def llama_quantize_exe():
    """llama.cpp's llama-quantize: $AUTOLM_BENCH_LLAMA_QUANTIZE, else the one bench/setup.sh
    --llama-server builds beside llama-server from the same sdist; None if neither."""
    for p in (os.environ.get("AUTOLM_BENCH_LLAMA_QUANTIZE"), CACHE / "llama-server" / "build" / "bin" / "llama-quantize"):
        if p and Path(p).is_file() and os.access(p, os.X_OK):
            return Path(p)
    return None


def quantize_gguf(py, env, f16, dst, q):
    """F16 GGUF -> Q4_0 / Q4_K_M with llama.cpp's own quantizer: the llama-quantize binary if there
    is one, else llama-cpp-python's binding of the same llama_model_quantize(). None on success,
    else the n/a line."""
    tmp = dst.with_suffix(".tmp.gguf")
    exe = llama_quantize_exe()
    if exe:
        cmd = [str(exe), str(f16), str(tmp), q, "2"]
    else:
        cmd = [str(py), "-c",
               "import ctypes, sys, llama_cpp\n"
               "p = llama_cpp.llama_model_quantize_default_params()\n"
               f"p.ftype = {LLAMA_QUANTIZED[q]}\n"
               "p.nthread = 2\n"
               "sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(p)))",
               str(f16), str(tmp)]
    r = sh(cmd, env=env, timeout=1800)
    if r.returncode or not tmp.exists():
        return f"n/a (llama.cpp quantize to {q} failed: {tail(r.stderr or r.stdout, 160)})"
    tmp.rename(dst)
    return None


# ------------------------------------------------------------------------------ running
def run_engine(engine, path, exe, py, prompts, threads, new_tokens, workloads, timeout, pkg=None):
    env = thread_env(threads)
    if engine == "autolm-python":  # the package built beside autolm_bench, in the interpreter it was built for
        if pkg is None:
            return {"error": "no Python package (scripts/python_env.sh could not make build/pyvenv)"}
        py_exe, pkg_dir = pkg
        cmd = [py_exe, str(HERE / "peers.py"), "--engine", "autolm-python", "--model", path, "--prompts", str(prompts),
               "--threads", str(threads), "--new-tokens", str(new_tokens), "--workloads", ",".join(workloads)]
        env["PYTHONPATH"] = str(pkg_dir)
    elif engine.startswith("autolm"):
        # int8 / int4: the cache of quantized weights in the bench's own folder, written by the
        # untimed warm-up load before the rounds (as the peers' GGUF / CTranslate2 conversions are
        # made once): "load s" is the memory-mapped load (bench/load_cache.py splits first / second).
        env["AUTOLM_CACHE"] = str(CACHE / "autolm-weights")
        cmd = [str(exe), path, "--prompts", str(prompts), "--new-tokens", str(new_tokens),
               "--workloads", ",".join(workloads), "--dtype", {"autolm-int8": "int8", "autolm-int4": "int4"}.get(engine, "auto")]
    else:
        kind = "transformers" if engine == "transformers" else ("ct2" if engine.startswith("ct2") else "llama.cpp")
        cmd = [str(py), str(HERE / "peers.py"), "--engine", kind, "--model", path, "--prompts", str(prompts),
               "--threads", str(threads), "--new-tokens", str(new_tokens), "--workloads", ",".join(workloads)]
        if kind == "ct2":
            cmd += ["--compute-type", engine.split("-", 1)[1]]
    t0 = time.time()
    load_before = os.getloadavg()[0]
    try:
        r = sh(cmd, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout}s"}
    if r.returncode:
        return {"error": f"exit {r.returncode}: {tail(r.stderr, 300)}"}
    try:
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except Exception:
        return {"error": f"bad output: {tail(r.stdout, 200)}"}
    res["wall_s"] = time.time() - t0
    res["loadavg_1m_before"] = load_before  # other work on the machine (the run is not isolated)
    return res


METRICS = {  # (workload, key) -> column
    ("", "load_s"): "load_s",
    ("", "load_to_first_token_s"): "cold_first_token_s",
    ("greedy", "peak_rss_mb"): "peak_rss_mb",
    ("greedy", "ttft_s"): "ttft_s",
    ("greedy", "decode_tok_s"): "greedy_tok_s",
    ("beam4", "throughput_tok_s"): "beam4_tok_s",
    ("batch8", "throughput_tok_s"): "batch8_tok_s",
    ("prefill512", "ttft_s"): "prefill512_ttft_s",
    ("long4k", "ttft_s"): "long4k_ttft_s",
    ("long4k", "decode_tok_s"): "long4k_decode_tok_s",
    ("long4k", "kv_cache_mb"): "long4k_kv_cache_mb",
    ("long4k", "peak_rss_mb"): "long4k_peak_rss_mb",
}


def summarize(rounds_results, new_tokens):
    """Median of each metric over the rounds that succeeded; a workload whose token count is
    short (an engine that stopped early) is dropped."""
    vals = {}
    errors = []
    for res in rounds_results:
        if "error" in res:
            errors.append(res["error"])
            continue
        for (wl, key), col in METRICS.items():
            src = res if not wl else res.get("workloads", {}).get(wl)
            if not src:
                continue
            if "error" in src:
                errors.append(f"{wl}: {src['error']}")
                continue
            if "skipped" in src:
                continue
            if wl and wl != "prefill512" and src.get("new_tokens", new_tokens) != new_tokens and key != "peak_rss_mb":
                errors.append(f"{wl}: generated {src.get('new_tokens')} tokens, not {new_tokens}")
                continue
            if key in src:
                vals.setdefault(col, []).append(src[key])
    out = {col: statistics.median(v) for col, v in vals.items()}
    out["rounds_ok"] = sum(1 for r in rounds_results if "error" not in r)
    out["spread"] = {col: [round(min(v), 4), round(max(v), 4)] for col, v in vals.items()}
    if errors:
        out["errors"] = sorted(set(errors))
    return out


def fmt(x, digits=1):
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    return f"{x:.{digits}f}"


def ratio(a, b, higher_better=True):
    if a is None or b is None or a == 0 or b == 0:
        return None
    return a / b if higher_better else b / a


def markdown(report):
    m = report["machine"]
    v = m["versions"]
    roof = report["roofline"]
    L = []
    L.append(f"# autolm benchmark {m['date']}\n")
    L.append(f"- CPU: {m.get('cpu', '?')} ({m['logical_cpus']} logical CPUs, SIMD: {', '.join(m.get('simd', []))}), "
             f"{m['mem_total_gb']} GiB; **{m['threads']} threads for every engine**")
    L.append("- Versions: " + ", ".join(f"{k} {v[k]}" for k in
             ("autolm", "autolm_bench_built", "CMAKE_CXX_FLAGS_RELEASE", "g++", "openblas", "torch", "transformers", "ctranslate2", "llama_cpp", "python") if k in v))
    L.append(f"- Ceilings measured in this run (best of the checks before the first model, after each model and "
             f"after the run): STREAM triad **{fmt(roof.get('triad_GBps'))} GB/s**, "
             f"read-only stream {fmt(roof.get('read_GBps'))} GB/s (roofline (best bw) uses "
             f"{fmt(roof.get('bandwidth_GBps'))}), OpenBLAS sgemm 2048³ **{fmt(roof.get('sgemm_GFLOPs'))} GFLOP/s** "
             f"({m['threads']} threads)")
    rbw = [r for mr in report["models"].values() if isinstance(mr, dict)
           for r in mr.get("round_bandwidth_GBps", []) if r]
    if rbw:
        L.append(f"- Bandwidth between engine runs (`autolm_roofline --quick`, better of triad and read, "
                 f"{len(rbw)} checks): {fmt(min(rbw))} to {fmt(max(rbw))} GB/s, median {fmt(statistics.median(rbw))}")
    a = report["args"]
    L.append(f"- Workloads: prompt/source {a['prompt_len']} random token ids, {a['new_tokens']} new tokens forced "
             f"(min = max new tokens); greedy batch 1, beam 4 (seq2seq), greedy batch {a['batch']}; "
             f"median of {a['rounds']} rounds, engines alternating in rotating order, one process per run\n")
    L.append("Columns: **decode tok/s** = batch-1 greedy tokens/s after the first token; **× autolm** = that "
             "engine's speed ÷ autolm's (>1: the peer is faster); **roofline (adjacent)** = median over rounds of "
             "that run's decode tok/s × bytes of weights read per token ÷ the mean of the bandwidths measured "
             "right before and right after that engine's process (the bandwidth drifts on a shared machine, so "
             "this compares each speed with the machine as it was at the time); **roofline (best bw)** = median decode tok/s × bytes of weights read per "
             "token ÷ the best bandwidth measured in the whole run (a lower figure when rounds ran in slow "
             "periods); **TTFT** = prompt/encoder + first token (warm); **beam4 / batch8** = "
             "generated tokens/s; **load** = load call; **cold 1st tok** = process-level load + first token; "
             "**RSS** = peak resident MB after the batch-1 run.\n")
    for name, mr in report["models"].items():
        if "info" not in mr:
            L.append(f"## {name}\n\n{mr.get('error', 'failed')}\n")
            continue
        info = mr["info"]
        L.append(f"## {name} ({info['model_type']}, {info['parameters_m']:.1f}M parameters, "
                 f"{info['decode_params_m']:.1f}M read per decode step)\n")
        rc = mr.get("round_bandwidth_GBps")
        if rc:
            L.append("Bandwidth after each engine run, GB/s: " +
                     ", ".join(fmt(r) if r else "failed" for r in rc) + "\n")
        L.append("| engine | decode tok/s | × autolm | roofline (adjacent) | roofline (best bw) | TTFT ms | beam4 tok/s | × autolm | batch8 tok/s | × autolm | load s | cold 1st tok s | RSS MB |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        base = mr["engines"].get("autolm", {})
        for eng, s in mr["engines"].items():
            if isinstance(s, str):
                L.append(f"| {eng} | {s} |" + " |" * 12)
                continue
            g = s.get("greedy_tok_s")
            roofv = s.get("roofline_fraction")
            roofr = s.get("roofline_fraction_adjacent")
            cells = [eng, fmt(g), fmt(ratio(g, base.get("greedy_tok_s")), 2) if eng != "autolm" else "1.00",
                     f"{roofr*100:.0f}%" if roofr is not None else "—",
                     f"{roofv*100:.0f}%" if roofv is not None else "—",
                     fmt(s["ttft_s"] * 1000, 0) if s.get("ttft_s") is not None else "—",
                     fmt(s.get("beam4_tok_s")) if mr["seq2seq"] else "n/a",
                     (fmt(ratio(s.get("beam4_tok_s"), base.get("beam4_tok_s")), 2) if eng != "autolm" else "1.00") if mr["seq2seq"] else "",
                     fmt(s.get("batch8_tok_s")) if s.get("batch8_tok_s") else "n/a",
                     (fmt(ratio(s.get("batch8_tok_s"), base.get("batch8_tok_s")), 2) if eng != "autolm" else "1.00") if s.get("batch8_tok_s") else "",
                     fmt(s.get("load_s"), 2), fmt(s.get("cold_first_token_s"), 2), fmt(s.get("peak_rss_mb"), 0)]
            L.append("| " + " | ".join(cells) + " |")
        lng = {e: s for e, s in mr["engines"].items() if isinstance(s, dict) and s.get("long4k_ttft_s")}
        if lng:
            L.append(f"\nlong4k (a {LONG_LEN}-token prompt, then greedy decoding; KV cache = bytes per token × "
                     f"(prompt + new tokens), autolm only):\n")
            L.append("| engine | TTFT s | decode tok/s | KV cache MB | peak RSS MB |")
            L.append("|---|---|---|---|---|")
            for eng, s in lng.items():
                L.append(f"| {eng} | {fmt(s['long4k_ttft_s'], 2)} | {fmt(s.get('long4k_decode_tok_s'))} | "
                         f"{fmt(s.get('long4k_kv_cache_mb'), 0) if s.get('long4k_kv_cache_mb') else '—'} | "
                         f"{fmt(s.get('long4k_peak_rss_mb'), 0)} |")
        elif info.get("long4k_skipped"):
            L.append(f"\nlong4k skipped: {info['long4k_skipped']}")
        pre = {e: s["prefill512_ttft_s"] for e, s in mr["engines"].items() if isinstance(s, dict) and s.get("prefill512_ttft_s")}
        if pre:
            L.append(f"\nprefill512 (TTFT of a {PREFILL_LEN}-token prompt; GFLOP/s = 2 × {PREFILL_LEN} × the decoder's "
                     f"weights ÷ TTFT, attention not counted; × peak = ÷ the sgemm ceiling, {fmt(roof.get('sgemm_GFLOPs'))} GFLOP/s):\n")
            L.append("| engine | TTFT ms | × autolm | GFLOP/s | × sgemm peak |")
            L.append("|---|---|---|---|---|")
            for eng, t in pre.items():
                gf = 2 * PREFILL_LEN * info["prefill_params_m"] * 1e6 / t / 1e9 if info.get("prefill_params_m") else None
                peak = roof.get("sgemm_GFLOPs")
                L.append(f"| {eng} | {fmt(t * 1000, 0)} | {fmt(ratio(t, pre.get('autolm'), higher_better=False), 2)} | "
                         f"{fmt(gf)} | {fmt(gf / peak, 2) if gf and peak else '—'} |")
        errs = [(e, s["errors"]) for e, s in mr["engines"].items() if isinstance(s, dict) and s.get("errors")]
        if errs:
            L.append("")
            for e, es in errs:
                L.append(f"- {e}: " + "; ".join(es))
        L.append("")
    return "\n".join(L)


def finalize(report):
    """Ceilings = the best of the full checks anywhere in the run (other load only lowers them);
    every best-bandwidth roofline fraction recomputed against that one bandwidth. The same-round
    fractions (each round against its own quick check) need no recomputation."""
    roof = report["roofline"]
    after = report.get("roofline_after", {})
    for k in ("triad_GBps", "read_GBps", "sgemm_GFLOPs"):
        roof[k] = max([roof.get(k, 0), after.get(k, 0)] +
                      [m.get("ceilings_after", {}).get(k, 0) for m in report["models"].values() if isinstance(m, dict)])
    roof["bandwidth_GBps"] = max(roof["triad_GBps"], roof["read_GBps"])
    if not roof["bandwidth_GBps"]:
        return
    for m in report["models"].values():
        for s in m.get("engines", {}).values():
            if isinstance(s, dict) and s.get("bytes_per_token") and s.get("greedy_tok_s"):
                s["roofline_tok_s"] = roof["bandwidth_GBps"] * 1e9 / s["bytes_per_token"]
                s["roofline_fraction"] = s["greedy_tok_s"] * s["bytes_per_token"] / (roof["bandwidth_GBps"] * 1e9)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="gpt2,t5-small,SmolLM2-135M")
    ap.add_argument("--engines", default=",".join(ALL_ENGINES))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workloads", default="greedy,beam4,batch8",
                    help="greedy, beam4 (seq2seq shapes only), batch8, prefill512 (TTFT of a 512-token prompt), "
                         "long4k (TTFT, decode tok/s, KV-cache MB and peak RSS at a 4,096-token prompt)")
    ap.add_argument("--build-dir", default=str(ROOT / "build-bench"))
    ap.add_argument("--build-jobs", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per engine process")
    ap.add_argument("--shapes", default=str(ROOT.parent / "shared" / "bench" / "model_shapes.json"))
    args = ap.parse_args()

    engines = [e for e in args.engines.split(",") if e]
    py_pkg = python_env() if "autolm-python" in engines else None
    exe, roof_exe = build_autolm(Path(args.build_dir), args.build_jobs, py_pkg)
    pkg = (py_pkg, Path(args.build_dir) / "python") if py_pkg else None
    py = venv_python()
    machine = machine_info(args.threads, Path(args.build_dir))
    log(f"CPU {machine.get('cpu')}, {args.threads} threads; versions {machine['versions']}")
    log("measuring the machine's ceilings (triad, sgemm)")
    roof = roofline(roof_exe, args.threads)
    log(f"triad {roof.get('triad_GBps')} GB/s, sgemm {roof.get('sgemm_GFLOPs')} GFLOP/s")
    report = {"args": vars(args), "machine": machine, "roofline": roof, "models": {}}
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")

    for name in args.models.split(","):
        log(f"=== {name}")
        folder = CACHE / "models" / name
        if not (folder / ".complete").exists():
            if py is None:
                sys.exit(f"no benchmark venv at {VENV}: run bench/setup.sh (or set AUTOLM_BENCH_VENV)")
            r = subprocess.run([str(py), str(HERE / "make_models.py"), "--models", name, "--shapes", args.shapes,
                                "--out", str(CACHE / "models")], env=thread_env(args.threads))
            if r.returncode:
                report["models"][name] = {"error": "make_models failed"}
                continue
        cfg = json.loads((folder / "config.json").read_text())
        seq2seq = cfg["model_type"] in SEQ2SEQ
        binfo = json.loads((folder / "bench_info.json").read_text())
        decode_params = weights_read_per_token(folder)
        info = {"model_type": cfg["model_type"], "parameters_m": binfo["parameters"] / 1e6,
                "decode_params_m": decode_params / 1e6}
        if not seq2seq:  # prefill512's GEMMs: every decoder weight once per prompt token (not the LM head)
            d_model = cfg.get("d_model") or cfg.get("hidden_size") or cfg.get("n_embd")
            info["prefill_params_m"] = (decode_params - int(cfg["vocab_size"]) * int(d_model)) / 1e6
        workloads = [w for w in args.workloads.split(",") if w != "beam4" or seq2seq]
        if "long4k" in workloads:  # a 4,096-token prompt + the new tokens must fit the model's positions
            max_pos = cfg.get("max_position_embeddings") or cfg.get("n_positions") or 0
            if seq2seq or (max_pos and max_pos < LONG_LEN + args.new_tokens):
                workloads.remove("long4k")
                info["long4k_skipped"] = ("seq2seq model" if seq2seq else
                                          f"max_position_embeddings {max_pos} < {LONG_LEN} + {args.new_tokens} new tokens")
        prompts = CACHE / "prompts" / f"{name}-{args.prompt_len}-{args.batch}.json"
        prompts.parent.mkdir(parents=True, exist_ok=True)
        make_prompts(folder, args.prompt_len, args.batch, 1234, prompts)
        paths = prepare_peers(name, folder, engines, seq2seq, py)
        runnable = [e for e in engines if not str(paths.get(e, "n/a")).startswith("n/a")]
        for e in runnable:
            if e in ("autolm-int8", "autolm-int4"):  # writes the cache of quantized weights (untimed)
                run_engine(e, paths[e], exe, py, prompts, args.threads, 1, ["prefill"], args.timeout, pkg)
        raw = {e: [] for e in runnable}
        round_ceilings = []
        last_bw = None
        for rnd in range(args.rounds):
            order = runnable[rnd % len(runnable):] + runnable[:rnd % len(runnable)] if runnable else []
            for e in order:
                # The bandwidth of the moment, measured right before and right after this engine's
                # process (the machine's bandwidth drifts with other tenants' load, by tens of
                # percent within a minute); the run's fraction uses their mean.
                before = last_bw if last_bw and "error" not in last_bw else quick_bandwidth(roof_exe, args.threads)
                res = run_engine(e, paths[e], exe, py, prompts, args.threads, args.new_tokens, workloads, args.timeout, pkg)
                after = quick_bandwidth(roof_exe, args.threads)
                last_bw = after
                bws = [b["bandwidth_GBps"] for b in (before, after) if "error" not in b]
                res["adjacent_bandwidth_GBps"] = statistics.mean(bws) if bws else None
                round_ceilings.append({"engine": e, "round": rnd, "before": before, "after": after})
                raw[e].append(res)
                g = res.get("workloads", {}).get("greedy", {})
                fr = adjacent_fractions([res], decode_params * BYTES_PER_PARAM[e], args.new_tokens)[0]
                log(f"{name} round {rnd+1}/{args.rounds} {e}: " +
                    (res["error"] if "error" in res else
                     (f"decode {g.get('decode_tok_s', 0):.2f} tok/s" if g or "prefill512" not in res.get("workloads", {})
                      else f"prefill512 TTFT {res['workloads']['prefill512'].get('ttft_s', 0) * 1000:.0f} ms")
                     + (f" ({fr*100:.0f}% of {res['adjacent_bandwidth_GBps']:.1f} GB/s measured around it)" if fr is not None else "")
                     + f", wall {res.get('wall_s', 0):.0f}s"))
        # Ceilings: the best measured in this run (before the first model and after each one),
        # since other load on the machine can only lower them.
        extra = roofline(roof_exe, args.threads, reps=1)
        for k in ("triad_GBps", "read_GBps", "sgemm_GFLOPs", "bandwidth_GBps"):
            if k in extra:
                roof[k] = max(roof.get(k, 0), extra[k])
        engines_summary = {}
        for e in engines:
            if e not in raw:
                engines_summary[e] = paths.get(e, "n/a")
                continue
            s = summarize(raw[e], args.new_tokens)
            if s["rounds_ok"] == 0:
                engines_summary[e] = "n/a (" + "; ".join(s.get("errors", ["failed"]))[:300] + ")"
                continue
            if s.get("greedy_tok_s"):
                bpt = decode_params * BYTES_PER_PARAM[e]
                s["bytes_per_token"] = bpt
                if roof.get("bandwidth_GBps"):
                    s["roofline_tok_s"] = roof["bandwidth_GBps"] * 1e9 / bpt
                    s["roofline_fraction"] = s["greedy_tok_s"] * bpt / (roof["bandwidth_GBps"] * 1e9)
                fr = adjacent_fractions(raw[e], bpt, args.new_tokens)
                s["roofline_fraction_rounds"] = fr
                ok = [f for f in fr if f is not None]
                if ok:
                    s["roofline_fraction_adjacent"] = statistics.median(ok)
                    s["spread"]["roofline_fraction_adjacent"] = [round(min(ok), 4), round(max(ok), 4)]
            engines_summary[e] = s
        report["models"][name] = {"info": info, "seq2seq": seq2seq, "engines": engines_summary, "raw": raw,
                                  "ceilings_after": extra, "round_ceilings": round_ceilings,
                                  "round_bandwidth_GBps": [r["after"].get("bandwidth_GBps") for r in round_ceilings]}
        # Write after every model so that a long run leaves results behind.
        (out_dir / f"{stamp}.json").write_text(json.dumps(report, indent=1))
        (out_dir / f"{stamp}.md").write_text(markdown(report))
    log("ceilings again after the run (drift check)")
    report["roofline_after"] = roofline(roof_exe, args.threads, reps=2)
    finalize(report)
    (out_dir / f"{stamp}.json").write_text(json.dumps(report, indent=1))
    md = markdown(report)
    (out_dir / f"{stamp}.md").write_text(md)
    print(md)
    log(f"wrote {out_dir / (stamp + '.json')} and .md")


if __name__ == "__main__":
    main()
