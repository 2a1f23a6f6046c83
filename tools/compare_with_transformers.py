"""The same user code run with `import transformers` and with `import autolm`: are the ids identical?

Outside CI (it needs torch and transformers). From the repository root, with the extension built
(scripts/test.sh builds it into build/python) and a venv that has transformers and torch:

    PYTHONPATH=build/python ~/venv-ref/bin/python tools/compare_with_transformers.py

Covers the bundled demo models (chat with a template, seq2seq) and every fixture checkpoint in
tests/data/fixtures/models: greedy, beam search, a left-padded batch, and the tokenizer and chat
template calls that produce the inputs. Exits 1 if any result differs.
"""
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FX = os.path.join(ROOT, "tests", "data", "fixtures")


def user_code(lib, folder, seq2seq, chat):
    """What a transformers user writes; `lib` is the transformers or the autolm module."""
    tok = lib.AutoTokenizer.from_pretrained(folder)
    cls = lib.AutoModelForSeq2SeqLM if seq2seq else lib.AutoModelForCausalLM
    # float32 arithmetic in both (transformers' default dtype="auto" would compute a bfloat16
    # checkpoint in bfloat16, autolm always computes in float32).
    model = cls.from_pretrained(folder, dtype="float32")
    results = {}
    if chat:
        messages = [{"role": "user", "content": "What is 12 + 30?"}]
        inputs = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    else:
        inputs = tok("spell: 4021" if seq2seq else "Once upon a time", return_tensors="pt")
    results["inputs"] = inputs["input_ids"].tolist()
    results["greedy"] = model.generate(**inputs, max_new_tokens=16, do_sample=False).tolist()
    beam = model.generate(**inputs, max_new_tokens=10, num_beams=3, num_return_sequences=2, do_sample=False,
                          return_dict_in_generate=True, output_scores=True)
    results["beam"] = beam.sequences.tolist()
    results["beam_scores"] = [float(s) for s in beam.sequences_scores]
    if not seq2seq and tok.pad_token_id is not None:
        tok.padding_side = "left"
        batch = tok(["Hello", "A much longer prompt than the first"], padding=True, return_tensors="pt")
        results["batch"] = model.generate(**batch, max_new_tokens=8, do_sample=False).tolist()
    results["text"] = tok.batch_decode(results["greedy"], skip_special_tokens=True)
    return results


def same(a, b):
    """Equal ids and texts; beam scores (floats) within 1e-4."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= 1e-4 * max(1.0, abs(a))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def main():
    import transformers

    sys.path.insert(0, os.path.join(ROOT, "build", "python"))
    import autolm

    cases = [(os.path.join(ROOT, "models", "chat-tiny"), False, True),
             (os.path.join(ROOT, "models", "t5-numbers"), True, False)]
    for name in sorted(os.listdir(os.path.join(FX, "models"))):
        folder = os.path.join(FX, "models", name)
        family = json.load(open(os.path.join(FX, "refs", "models", name + ".json")))["family"]
        cases.append((folder, family == "seq2seq", False))

    failed = 0
    for folder, seq2seq, chat in cases:
        want = user_code(transformers, folder, seq2seq, chat)
        got = user_code(autolm, folder, seq2seq, chat)
        ok = same(want, got)
        failed += not ok
        print(f"{'identical' if ok else 'DIFFERENT'}  {os.path.relpath(folder, ROOT)}")
        if not ok:
            for k in want:
                if not same(want[k], got.get(k)):
                    print(f"    {k}: transformers {want[k]}\n    {' ' * len(k)}  autolm       {got.get(k)}")
    print(f"{len(cases) - failed}/{len(cases)} identical (transformers {transformers.__version__})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
