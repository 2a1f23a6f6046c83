#!/usr/bin/env python3
"""One peer engine, one model, the benchmark's workloads; prints the same JSON as autolm_bench.
Run by bench/run.py inside the benchmark venv, one process per (engine, model, round).

    peers.py --engine transformers|ct2|llama.cpp|autolm-python --model <path> [--compute-type float32|int8]
             --prompts prompts.json --threads 2 --new-tokens 128 --workloads greedy,beam4,batch8

Every engine receives the same token ids and generates exactly --new-tokens tokens
(min length = max length; EOS cannot end a row early).
  transformers  model.generate(); a streamer's put() timestamps give TTFT and decode tok/s
  ct2           Translator.translate_batch / Generator.generate_batch; the per-token callback
                gives the timestamps (greedy only, as in CTranslate2)
  llama.cpp     llama-cpp-python Llama.generate() (greedy: temp 0); one sequence per context,
                so no batch workload
  autolm-python autolm's Python package (python/, docs/PYTHON.md) with the same user code as
                transformers (model.generate() + a streamer): the binding's overhead is its
                figures against the C++ autolm_bench's in the same run (bench/run.py puts the
                built package on PYTHONPATH)
"""
import argparse
import json
import os
import resource
import sys
import time


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def stream_result(batch, n, t0, stamps, t_end):
    r = {"batch": batch, "new_tokens": n, "total_s": t_end - t0,
         "throughput_tok_s": batch * n / (t_end - t0)}
    if stamps:
        r["ttft_s"] = stamps[0] - t0
        if len(stamps) > 1 and stamps[-1] > stamps[0]:
            r["decode_tok_s"] = (len(stamps) - 1) * batch / (stamps[-1] - stamps[0])
    return r


# --------------------------------------------------------------------------- transformers
class HF:
    def __init__(self, path, threads):
        import torch
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        import transformers
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM
        self.torch = torch
        cfg = AutoConfig.from_pretrained(path)
        self.seq2seq = bool(getattr(cfg, "is_encoder_decoder", False))
        cls = AutoModelForSeq2SeqLM if self.seq2seq else AutoModelForCausalLM
        self.model = cls.from_pretrained(path, dtype=torch.float32).eval()
        gc = self.model.generation_config
        self.pad = gc.pad_token_id if gc.pad_token_id is not None else (
            gc.eos_token_id[0] if isinstance(gc.eos_token_id, list) else gc.eos_token_id)
        self.versions = {"transformers": transformers.__version__, "torch": torch.__version__}

    def _gen(self, prompts, n, beams, streamer=None):
        torch = self.torch
        ids = torch.tensor(prompts, dtype=torch.long)
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                      num_beams=beams, max_new_tokens=n, min_new_tokens=n,
                                      pad_token_id=self.pad, streamer=streamer)
        return out.shape[1] - (1 if self.seq2seq else ids.shape[1])

    def streamed(self, prompts, n):
        stamps = []
        first = [True]

        class Streamer:
            def put(self, value):
                if first[0]:  # the prompt (causal) or the decoder start token (seq2seq)
                    first[0] = False
                    return
                stamps.append(time.perf_counter())

            def end(self):
                pass

        t0 = time.perf_counter()
        got = self._gen(prompts, n, 1, Streamer() if len(prompts) == 1 else None)
        return stream_result(len(prompts), got, t0, stamps, time.perf_counter())

    def beam(self, prompts, n, beams):
        t0 = time.perf_counter()
        got = self._gen(prompts, n, beams)
        r = stream_result(len(prompts), got, t0, [], time.perf_counter())
        r["num_beams"] = beams
        return r


# --------------------------------------------------------------------------- autolm (Python)
class AutolmPython(HF):
    """The transformers code path above with `import autolm` instead: the same generate() call,
    streamer and timing, so any difference to the C++ autolm_bench is the binding's."""

    def __init__(self, path, threads, dtype="auto"):
        import numpy
        import autolm
        self.np = numpy
        cfg = autolm.AutoConfig.from_pretrained(path)
        self.seq2seq = bool(cfg.is_encoder_decoder)
        cls = autolm.AutoModelForSeq2SeqLM if self.seq2seq else autolm.AutoModelForCausalLM
        self.model = cls.from_pretrained(path, dtype=dtype)
        gc = self.model.generation_config
        eos = gc.eos_token_id
        self.pad = gc.pad_token_id if gc.pad_token_id is not None else (eos[0] if isinstance(eos, list) else eos)
        self.versions = {"autolm": getattr(autolm, "__version__", "?"), "numpy": numpy.__version__}

    def _gen(self, prompts, n, beams, streamer=None):
        ids = self.np.asarray(prompts, dtype=self.np.int64)
        out = self.model.generate(input_ids=ids, attention_mask=self.np.ones_like(ids), do_sample=False,
                                  num_beams=beams, max_new_tokens=n, min_new_tokens=n,
                                  pad_token_id=self.pad, streamer=streamer)
        return out.shape[1] - (1 if self.seq2seq else ids.shape[1])


# --------------------------------------------------------------------------- CTranslate2
class CT2:
    def __init__(self, path, threads, compute_type):
        import ctranslate2
        self.ct2 = ctranslate2
        cfg = json.load(open(os.path.join(path, "config.json")))
        self.seq2seq = cfg.get("decoder_start_token") is not None
        for name in ("shared_vocabulary.json", "vocabulary.json", "target_vocabulary.json"):
            p = os.path.join(path, name)
            if os.path.exists(p):
                self.vocab = json.load(open(p))
                break
        kw = dict(device="cpu", compute_type=compute_type, intra_threads=threads, inter_threads=1)
        self.model = (ctranslate2.Translator if self.seq2seq else ctranslate2.Generator)(path, **kw)
        self.versions = {"ctranslate2": ctranslate2.__version__}

    def _run(self, prompts, n, beams, callback=None):
        toks = [[self.vocab[i] for i in p] for p in prompts]
        if self.seq2seq:
            res = self.model.translate_batch(toks, beam_size=beams, max_decoding_length=n, min_decoding_length=n,
                                             max_batch_size=0, callback=callback)
            return min(len(r.hypotheses[0]) for r in res)
        res = self.model.generate_batch(toks, beam_size=beams, max_length=n, min_length=n, sampling_topk=1,
                                        include_prompt_in_result=False, max_batch_size=0, callback=callback)
        return min(len(r.sequences_ids[0]) for r in res)

    def streamed(self, prompts, n):
        stamps = []
        t0 = time.perf_counter()
        cb = (lambda step: stamps.append(time.perf_counter())) if len(prompts) == 1 else None
        got = self._run(prompts, n, 1, cb)
        return stream_result(len(prompts), got, t0, stamps, time.perf_counter())

    def beam(self, prompts, n, beams):
        t0 = time.perf_counter()
        got = self._run(prompts, n, beams)
        r = stream_result(len(prompts), got, t0, [], time.perf_counter())
        r["num_beams"] = beams
        return r


# --------------------------------------------------------------------------- llama.cpp
class LlamaCpp:
    def __init__(self, path, threads, n_ctx):
        import llama_cpp
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_batch=512, n_threads=threads,
                                   n_threads_batch=threads, verbose=False, use_mmap=True)
        self.seq2seq = False
        self.versions = {"llama_cpp_python": llama_cpp.__version__}

    def streamed(self, prompts, n):
        if len(prompts) != 1:
            raise NotImplementedError("llama-cpp-python generates one sequence per context")
        self.llm.reset()  # no KV-cache prefix reuse between workloads
        stamps = []
        t0 = time.perf_counter()
        for _tok in self.llm.generate(list(prompts[0]), top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
            stamps.append(time.perf_counter())
            if len(stamps) == n:
                break
        return stream_result(1, len(stamps), t0, stamps, time.perf_counter())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True, choices=["transformers", "ct2", "llama.cpp", "autolm-python"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--compute-type", default="float32")
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--workloads", default="greedy")
    args = ap.parse_args()
    prompts = json.load(open(args.prompts))
    greedy, batch = prompts["greedy"], prompts["batch"]
    n = args.new_tokens
    out = {}
    t_load = time.perf_counter()
    if args.engine == "transformers":
        eng = HF(args.model, args.threads)
    elif args.engine == "autolm-python":
        eng = AutolmPython(args.model, args.threads, args.compute_type if args.compute_type != "float32" else "auto")
    elif args.engine == "ct2":
        eng = CT2(args.model, args.threads, args.compute_type)
    else:
        eng = LlamaCpp(args.model, args.threads, n_ctx=max(len(greedy[0]) + n, len(prompts.get("prefill512", [[]])[0]) + 1,
                                                       len(prompts.get("long4k", [[]])[0]) + n) + 16)
    out["load_s"] = time.perf_counter() - t_load
    eng.streamed(greedy, 1)  # cold: prefill + first token
    out["load_to_first_token_s"] = time.perf_counter() - t_load
    out["rss_after_load_mb"] = peak_rss_mb()
    w = {}
    for name in args.workloads.split(","):
        try:
            if name == "greedy":
                w[name] = eng.streamed(greedy, n)
                w[name]["peak_rss_mb"] = peak_rss_mb()
            elif name == "batch8":
                w[name] = eng.streamed(batch, n)
            elif name == "beam4":
                w[name] = eng.beam(greedy, n, 4)
            elif name == "prefill512":  # TTFT of the 512-token prompt: median of 3
                times = sorted(eng.streamed(prompts["prefill512"], 1)["ttft_s"] for _ in range(3))
                w[name] = {"batch": 1, "ttft_s": times[1], "ttft_best_s": times[0]}
            elif name == "long4k":  # a 4,096-token prompt, then greedy decoding (bench/run.py checks the positions)
                w[name] = eng.streamed(prompts["long4k"], n)
                w[name]["peak_rss_mb"] = peak_rss_mb()
            else:
                w[name] = {"error": f"unknown workload {name}"}
        except NotImplementedError as e:
            w[name] = {"error": str(e)}
    out["workloads"] = w
    out["peak_rss_mb"] = peak_rss_mb()
    out["versions"] = eng.versions
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
