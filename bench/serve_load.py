#!/usr/bin/env python3
"""Load benchmark of `autolm serve` on loopback, side by side with other servers.

    bench/serve_load.py [--baseline /path/to/previous/autolm] [--llama-server /path/to/llama-server]
                        [--model models/chat-tiny] [--gguf model.gguf] [--endpoint chat|completions]
                        [--concurrency 1,8,32] [--parallel 4] [--max-tokens 64] [--level-seconds 30]

For each server (this build's `autolm serve`, the baseline binary — e.g. a build of the previous
commit —, and llama.cpp's own `llama-server` on a GGUF conversion of the same model) and each
concurrency C, C clients each stream completions back to back over one kept-alive connection
(as the openai SDK and browsers do) for --level-seconds (a level ends when the requests still
running then have finished), while a prober asks GET /health on a new connection every 50 ms.
Reported per level: requests, generated tokens/s (SSE events carrying text), p50/p99 time to
first token and request latency, p50/p99 /health latency, and errors. Every server runs with the
same --parallel (autolm --parallel / --max-batch, llama-server -np) on the same model in the
same run; every request generates exactly --max-tokens tokens (greedy, EOS ignored:
`ignore_eos`, which all three accept). Writes bench/results/serve-<date>.json and .md.

llama-server: --gguf names the converted model; without it the HF folder is converted to F32 with
bench/gguf_convert.py (llama.cpp's converter) by $AUTOLM_BENCH_VENV/bin/python (needs torch) into
<out>/<model>-f32.gguf. llama-server gets -np --parallel, a context of --parallel × 512 tokens
(512 per slot) and -t os.cpu_count().

Standard library only; loopback only; bounded in time (levels × servers × --level-seconds,
plus start-up).
"""
import argparse
import datetime as dt
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def start_server(binary, model, port, parallel, extra, llama=False):
    if llama:
        cmd = [binary, "-m", model, "--port", str(port), "-np", str(parallel), "-c", str(512 * parallel),
               "-t", str(os.cpu_count()), "--log-disable"] + extra
    else:
        cmd = [binary, "serve", model, "--port", str(port), "--parallel", str(parallel)] + extra
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not become ready: " + " ".join(cmd))


def client(port, path, body, stop_at, out, lock):
    conn = None
    while time.time() < stop_at:
        t0 = time.time()
        ttft, tokens, ok = None, 0, False
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            try:
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                r = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed the kept-alive connection without saying so (llama-server
                # after a streamed response): a new connection, as the openai SDK's httpx does.
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                r = conn.getresponse()
            rest = b""
            while True:
                piece = r.read1(65536)
                if not piece:
                    break
                rest += piece
                while b"\n\n" in rest:
                    ev, rest = rest.split(b"\n\n", 1)
                    if not ev.startswith(b"data: ") or ev == b"data: [DONE]":
                        ok = ok or ev == b"data: [DONE]"
                        continue
                    j = json.loads(ev[6:])
                    for ch in j.get("choices", []):
                        if ch.get("delta", {}).get("content") or ch.get("text"):
                            tokens += 1
                            if ttft is None:
                                ttft = time.time() - t0
            ok = ok and r.status == 200
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception:
            ok = False
            if conn is not None:
                conn.close()
            conn = None
        with lock:
            out.append(dict(ok=ok, ttft=ttft, latency=time.time() - t0, tokens=tokens, t1=time.time()))


def prober(port, stop_at, out):
    while time.time() < stop_at:
        t0 = time.time()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/health")
            c.getresponse().read()
            c.close()
            out.append(time.time() - t0)
        except OSError:
            out.append(float("inf"))
        time.sleep(0.05)


def level(port, path, concurrency, body, seconds):
    results, health, lock = [], [], threading.Lock()
    t_start = time.time()
    stop_at = t_start + seconds
    threads = [threading.Thread(target=client, args=(port, path, body, stop_at, results, lock)) for _ in range(concurrency)]
    threads.append(threading.Thread(target=prober, args=(port, stop_at, health)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = max([r["t1"] for r in results] + [stop_at]) - t_start
    ok = [r for r in results if r["ok"]]
    tokens = sum(r["tokens"] for r in ok)
    ms = lambda v: None if v is None else round(v * 1e3, 1)
    return dict(concurrency=concurrency, requests=len(ok), errors=len(results) - len(ok), seconds=round(wall, 2),
                tokens_per_s=round(tokens / wall, 1),
                ttft_p50_ms=ms(pct([r["ttft"] for r in ok if r["ttft"] is not None], 50)),
                ttft_p99_ms=ms(pct([r["ttft"] for r in ok if r["ttft"] is not None], 99)),
                latency_p50_ms=ms(pct([r["latency"] for r in ok], 50)),
                latency_p99_ms=ms(pct([r["latency"] for r in ok], 99)),
                health_p50_ms=ms(pct(health, 50)), health_p99_ms=ms(pct(health, 99)), health_probes=len(health))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--autolm", default=str(ROOT / "build/autolm"), help="this build's autolm binary")
    ap.add_argument("--baseline", help="the server to compare with (another autolm binary)")
    ap.add_argument("--baseline-name", default="baseline")
    ap.add_argument("--llama-server", help="llama.cpp's llama-server binary (built from the llama-cpp-python sdist)")
    ap.add_argument("--gguf", help="the model as GGUF for llama-server (default: converted, see above)")
    ap.add_argument("--endpoint", choices=["chat", "completions"], default="completions",
                    help="chat: /v1/chat/completions (needs a chat template); completions: /v1/completions")
    ap.add_argument("--model", default=str(ROOT / "models/chat-tiny"))
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--level-seconds", type=float, default=30)
    ap.add_argument("--out", default=str(ROOT / "bench/results"))
    a = ap.parse_args()
    req = {"temperature": 0, "max_tokens": a.max_tokens, "ignore_eos": True, "stream": True}
    if a.endpoint == "chat":
        req["messages"] = [{"role": "user", "content": "Tell me a story about a cat."}]
    else:
        # Token ids: every server sees the same 12-token prompt, whatever its tokenizer (llama-server
        # cannot tokenize text with the bench models' placeholder vocabulary).
        # Ids past a small model's vocabulary (chat-tiny: 4096) wrap, so every request is valid.
        vocab = json.loads((Path(a.model) / "config.json").read_text()).get("vocab_size") or 32000
        req["prompt"] = [t % vocab for t in [101, 2023, 318, 257, 1332, 286, 257, 3797, 13, 4874, 2402, 257]]
    body = json.dumps(req)
    path = "/v1/chat/completions" if a.endpoint == "chat" else "/v1/completions"
    servers = [("autolm serve (this build)", a.autolm, a.model, ["--quiet", "--max-queue", "4096"], False)]
    if a.baseline:
        servers.append((a.baseline_name, a.baseline, a.model, ["--quiet", "--max-queue", "4096"], False))
    if a.llama_server:
        gguf = a.gguf
        if not gguf:
            gguf = str(Path(a.out) / (Path(a.model).name + "-f32.gguf"))
            if not Path(gguf).exists():
                py = str(Path(os.environ.get("AUTOLM_BENCH_VENV", "")) / "bin/python") if os.environ.get("AUTOLM_BENCH_VENV") else sys.executable
                subprocess.run([py, str(ROOT / "bench/gguf_convert.py"), a.model, gguf, "--outtype", "f32"], check=True)
        servers.append(("llama-server (llama.cpp)", a.llama_server, gguf, [], True))
    report = dict(date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), machine=platform.node(),
                  cpus=os.cpu_count(), model=a.model, parallel=a.parallel, max_tokens=a.max_tokens,
                  level_seconds=a.level_seconds, results={})
    for name, binary, model, extra, llama in servers:
        port = free_port()
        proc = start_server(binary, model, port, a.parallel, extra, llama)
        try:
            rows = []
            for c in [int(x) for x in a.concurrency.split(",")]:
                row = level(port, path, c, body, a.level_seconds)
                print(name, json.dumps(row), flush=True)
                rows.append(row)
            report["results"][name] = rows
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"serve-{stamp}.json").write_text(json.dumps(report, indent=1) + "\n")
    cols = ["concurrency", "requests", "errors", "tokens_per_s", "ttft_p50_ms", "ttft_p99_ms", "latency_p50_ms",
            "latency_p99_ms", "health_p50_ms", "health_p99_ms"]
    md = [f"# serve load, {report['date']}", "",
          f"model {a.model}, --parallel / -np {a.parallel}, {a.max_tokens} tokens per request ({path}, greedy, "
          f"ignore_eos), streamed, one kept-alive "
          f"connection per client, {a.level_seconds:g} s per level, {report['cpus']} CPUs", ""]
    for name, rows in report["results"].items():
        md += [f"## {name}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        md += ["| " + " | ".join(str(r[k]) for k in cols) + " |" for r in rows]
        md.append("")
    (out / f"serve-{stamp}.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
