#!/usr/bin/env python3
"""Assisted generation side by side: autolm and transformers, plain greedy vs prompt lookup vs an
assistant model, on the same models and prompt ids, in one run (docs/PERFORMANCE.md).

    bench/assisted.py --python /path/to/venv/bin/python [--models chat-tiny,SmolLM2-135M] [--rounds 3]

Workload: a prompt whose continuation repeats prompt text. For each model the script first lets
autolm generate greedily from a short seed (S), then builds the prompt S + C + S + C[:8] from that
continuation C, so that a model that continues the pattern copies text it has seen (prompt
lookup's case: summarisation, code editing, quoting). Every engine then generates
--new-tokens tokens (min_new_tokens = max_new_tokens, greedy) three ways: plain, with
prompt_lookup_num_tokens=10, and with an assistant: the same model truncated to its first
--draft-layers decoder layers (a folder whose config.json says fewer layers, the weights linked).

Models: the demo models in models/ (chat-tiny, t5-numbers) and random-weight real shapes written by
bench/make_models.py into $AUTOLM_BENCH_CACHE/models (default ~/.cache/autolm-bench/models).
Each (engine, mode, round) runs in a fresh process, engines alternating; medians are reported
with acceptance (accepted / proposed drafts) and whether autolm's tokens equal its plain greedy's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = Path(os.environ.get("AUTOLM_BENCH_CACHE", Path.home() / ".cache/autolm-bench"))
DEMO = {"chat-tiny": ROOT / "models" / "chat-tiny", "t5-numbers": ROOT / "models" / "t5-numbers"}
LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_decoder_layers", "decoder_layers")

PEER = textwrap.dedent("""
    import json, sys, time, torch, transformers as T
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    auto = T.AutoModelForSeq2SeqLM if cfg["seq2seq"] else T.AutoModelForCausalLM
    model = auto.from_pretrained(cfg["model"], dtype=torch.float32).eval()
    kw = dict(max_new_tokens=cfg["new_tokens"], min_new_tokens=cfg["new_tokens"], do_sample=False, num_beams=1)
    if cfg["mode"] == "lookup":
        kw["prompt_lookup_num_tokens"] = cfg["lookup_tokens"]
    if cfg["mode"] == "assist":
        a = auto.from_pretrained(cfg["draft"], dtype=torch.float32).eval()
        a.generation_config.num_assistant_tokens = cfg["assistant_tokens"]
        a.generation_config.num_assistant_tokens_schedule = "constant"
        kw["assistant_model"] = a
    ids = torch.tensor([cfg["prompt"]])
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=2, min_new_tokens=2, do_sample=False)  # warm-up
        t0 = time.perf_counter()
        out = model.generate(ids, **kw)
        total = time.perf_counter() - t0
    new = out[0, (1 if cfg["seq2seq"] else ids.shape[1]):].tolist()  # without the decoder start / prompt
    print(json.dumps({"total_s": total, "new_tokens": len(new), "tokens": new}))
""")


def run(cmd, env=None, timeout=1800):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if r.returncode:
        raise RuntimeError(f"{cmd[0]} failed: {(r.stderr or r.stdout)[-600:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def model_dir(name):
    return DEMO.get(name, CACHE / "models" / name)


def truncated_draft(folder: Path, layers: int, work: Path) -> Path:
    """The same model cut to its first `layers` decoder layers (unused tensors are ignored)."""
    cfg = json.loads((folder / "config.json").read_text())
    out = work / (folder.name + f"-{layers}l")
    out.mkdir(parents=True, exist_ok=True)
    for key in LAYER_KEYS:
        if key in cfg:
            cfg[key] = min(cfg[key], layers)
    if isinstance(cfg.get("layer_types"), list):  # per-layer attention kinds (sliding / full)
        cfg["layer_types"] = cfg["layer_types"][:layers]
    (out / "config.json").write_text(json.dumps(cfg))
    for f in folder.iterdir():
        if f.name != "config.json" and not (out / f.name).exists():
            (out / f.name).symlink_to(f.resolve())
    return out


def autolm(exe, folder, prompt, work, args, workloads, draft=None):
    pf = work / "prompts.json"
    pf.write_text(json.dumps({"greedy": [prompt], "batch": [prompt]}))
    cmd = [str(exe), str(folder), "--prompts", str(pf), "--new-tokens", str(args.new_tokens),
           "--workloads", workloads, "--lookup-tokens", str(args.lookup_tokens),
           "--assistant-tokens", str(args.assistant_tokens)]
    if draft:
        cmd += ["--assistant", str(draft)]
    # The truncated draft links its weights to the model folder: allow that link (docs/SECURITY.md).
    env = dict(os.environ, AUTOLM_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
               AUTOLM_ALLOW_EXTERNAL_LINKS="1")
    return run(cmd, env)["workloads"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="chat-tiny,t5-numbers,SmolLM2-135M")
    ap.add_argument("--python", default=sys.executable, help="a Python with transformers and torch")
    ap.add_argument("--exe", default=str(ROOT / "build-bench" / "autolm_bench"), help="autolm_bench (cmake -DAUTOLM_BUILD_BENCH=ON)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=96)
    ap.add_argument("--lookup-tokens", type=int, default=10)
    ap.add_argument("--assistant-tokens", type=int, default=5)
    ap.add_argument("--draft-layers", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="autolm-assisted-"))
    report = {"args": vars(args), "date": time.strftime("%Y-%m-%d %H:%M:%S"), "models": {}}
    modes = ["plain", "lookup", "assist"]
    for name in args.models.split(","):
        folder = model_dir(name)
        if not (folder / "config.json").exists():
            print(f"skip {name}: {folder} missing (bench/make_models.py --models {name})", flush=True)
            continue
        cfg = json.loads((folder / "config.json").read_text())
        seq2seq = cfg.get("is_encoder_decoder", False)
        draft = truncated_draft(folder, args.draft_layers, work)
        seed = [int(x) % cfg["vocab_size"] for x in (11, 42, 7, 99, 23, 64, 5, 18)]
        cont = autolm(args.exe, folder, seed, work, argparse.Namespace(**{**vars(args), "new_tokens": 48}), "plain")
        c = cont["plain"]["tokens"]
        prompt = seed + c + seed + c[:8]
        rows = {}
        for r in range(args.rounds):
            for engine in (["autolm", "transformers"] if r % 2 == 0 else ["transformers", "autolm"]):
                for mode in modes:
                    if engine == "autolm":
                        res = autolm(args.exe, folder, prompt, work, args, mode, draft)[mode]
                    else:
                        peer = {"model": str(folder), "draft": str(draft), "seq2seq": seq2seq, "mode": mode,
                                "prompt": prompt, "new_tokens": args.new_tokens, "threads": args.threads,
                                "lookup_tokens": args.lookup_tokens, "assistant_tokens": args.assistant_tokens}
                        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), TRANSFORMERS_VERBOSITY="error",
                                   PYTHONWARNINGS="ignore")
                        res = run([args.python, "-c", PEER, json.dumps(peer)], env)
                    rows.setdefault((engine, mode), []).append(res)
                    print(f"{name} {engine} {mode} round {r}: {res['new_tokens'] / res['total_s']:.1f} tok/s", flush=True)
        out = {}
        for (engine, mode), runs in rows.items():
            tok_s = statistics.median(x["new_tokens"] / x["total_s"] for x in runs)
            entry = {"tok_s": tok_s, "tokens_equal_plain": runs[0]["tokens"] == rows[(engine, "plain")][0]["tokens"]}
            if "draft_tokens" in runs[0]:
                d, a = runs[0]["draft_tokens"], runs[0]["accepted_draft_tokens"]
                entry.update(draft_tokens=d, accepted_draft_tokens=a, acceptance=a / d if d else 0.0)
            out[f"{engine}/{mode}"] = entry
        report["models"][name] = {"prompt_len": len(prompt), "seq2seq": seq2seq, "results": out}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = Path(args.out) / f"assisted-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1))
    print(markdown(report))
    print(f"wrote {path}")


def markdown(report):
    lines = ["| model | mode | autolm tok/s | × plain | acceptance | = plain | transformers tok/s | × plain | = plain | autolm / transformers |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in report["models"].items():
        res = m["results"]
        for mode in ("plain", "lookup", "assist"):
            a, t = res.get(f"autolm/{mode}"), res.get(f"transformers/{mode}")
            if not a or not t:
                continue
            ap, tp = res["autolm/plain"]["tok_s"], res["transformers/plain"]["tok_s"]
            acc = f"{a['acceptance']:.0%}" if a.get("draft_tokens") else "–"
            lines.append(f"| {name} | {mode} | {a['tok_s']:.1f} | {a['tok_s'] / ap:.2f} | {acc} | "
                         f"{'yes' if a['tokens_equal_plain'] else 'NO'} | {t['tok_s']:.1f} | {t['tok_s'] / tp:.2f} | "
                         f"{'yes' if t['tokens_equal_plain'] else 'NO'} | {a['tok_s'] / t['tok_s']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
