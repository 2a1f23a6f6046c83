"""Package behaviour around generate(): streaming, threads, errors, Ctrl-C, python -m autolm."""
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import autolm
from conftest import FX, load_ref

CHAT = os.path.join(FX, "demo", "chat-tiny")
T5 = os.path.join(FX, "demo", "t5-numbers")


@pytest.fixture(scope="module")
def chat():
    return autolm.AutoTokenizer.from_pretrained(CHAT), autolm.AutoModelForCausalLM.from_pretrained(CHAT)


def test_text_iterator_streamer_in_a_thread(chat):
    tok, model = chat
    case = load_ref("demo", "chat-tiny.json")["cases"][0]
    streamer = autolm.TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
    params = case["gen"]["greedy"]["params"]
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("out", model.generate(
        np.asarray([case["input_ids"]]), streamer=streamer, **params)))
    t.start()
    text = "".join(piece for piece in streamer)
    t.join()
    assert text == case["gen"]["greedy"]["text"][0]
    assert result["out"].tolist() == case["gen"]["greedy"]["sequences"]


def test_text_streamer_prints(chat, capsys):
    tok, model = chat
    case = load_ref("demo", "chat-tiny.json")["cases"][0]
    model.generate([case["input_ids"]], streamer=autolm.TextStreamer(tok, skip_prompt=True, skip_special_tokens=True),
                   **case["gen"]["greedy"]["params"])
    assert capsys.readouterr().out == case["gen"]["greedy"]["text"][0] + "\n"


def test_seq2seq_streamer():
    tok = autolm.AutoTokenizer.from_pretrained(T5)
    model = autolm.AutoModelForSeq2SeqLM.from_pretrained(T5)
    inputs = tok("spell: 4021", return_tensors="np")
    streamer = autolm.TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
    t = threading.Thread(target=model.generate, kwargs=dict(**inputs, streamer=streamer, max_new_tokens=20))
    t.start()
    text = "".join(streamer)
    t.join()
    assert text == "four thousand twenty-one"


def test_threads_generate_concurrently(chat):
    tok, model = chat
    case = load_ref("demo", "chat-tiny.json")["cases"][0]
    expect = case["gen"]["greedy"]["sequences"]
    outs = [None] * 4

    def run(i):
        outs[i] = model.generate([case["input_ids"]], **case["gen"]["greedy"]["params"]).tolist()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outs == [expect] * 4


def test_wrong_class_and_errors(chat):
    with pytest.raises(ValueError, match="AutoModelForSeq2SeqLM"):
        autolm.AutoModelForCausalLM.from_pretrained(T5)
    with pytest.raises(ValueError, match="AutoModelForCausalLM"):
        autolm.AutoModelForSeq2SeqLM.from_pretrained(CHAT)
    with pytest.raises((FileNotFoundError, ValueError)):
        autolm.AutoModelForCausalLM.from_pretrained(os.path.join(FX, "no-such-model"))
    with pytest.raises(ValueError, match="dtype"):
        autolm.AutoModelForCausalLM.from_pretrained(CHAT, dtype="float16")
    tok, model = chat
    ids = [[1, 2, 3]]
    with pytest.raises(ValueError, match="max_new_tokens|not used"):
        model.generate(ids, max_new_token=3)  # a typo is refused, as transformers refuses unused kwargs
    with pytest.raises(ValueError, match="penalty_alpha"):
        model.generate(ids, penalty_alpha=0.6, top_k=4)  # contrastive search: not supported, named
    with pytest.raises(ValueError, match="num_beams|beam"):
        model.generate(ids, num_beams=2, streamer=autolm.TextStreamer(tok))
    with pytest.raises(ValueError):
        model.generate(ids, temperature=-1.0, do_sample=True)


def test_int8_loads_and_generates(chat):
    m = autolm.AutoModelForCausalLM.from_pretrained(CHAT, dtype="int8")
    out = m.generate([[1, 283, 201]], max_new_tokens=5)
    assert out.shape == (1, 8)


def test_weight_cache_kwarg(tmp_path, monkeypatch):
    # The cache of quantized weights (docs/PERFORMANCE.md, "Instant load") in a temporary folder:
    # weight_cache=False writes nothing; the default writes one entry that the next load maps.
    monkeypatch.delenv("AUTOLM_NO_CACHE", raising=False)
    monkeypatch.setenv("AUTOLM_CACHE", str(tmp_path / "cache"))
    off = autolm.AutoModelForCausalLM.from_pretrained(CHAT, dtype="int8", weight_cache=False)
    assert not (tmp_path / "cache").exists()
    want = off.generate([[1, 283, 201]], max_new_tokens=5)
    autolm.AutoModelForCausalLM.from_pretrained(CHAT, dtype="int8")
    assert len(list((tmp_path / "cache").iterdir())) == 1
    cached = autolm.AutoModelForCausalLM.from_pretrained(CHAT, dtype="int8")
    assert np.array_equal(cached.generate([[1, 283, 201]], max_new_tokens=5), want)


def test_ctrl_c_interrupts_generate(chat):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    tok, model = chat

    class Interrupter:
        """Once generation has started, a SIGINT arrives from another thread (as Ctrl-C would)."""

        def __init__(self):
            self.steps = 0

        def put(self, value):
            self.steps += 1
            if self.steps == 2:  # the first generated token: the main thread is inside generate()
                threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT)).start()

        def end(self):
            pass

    streamer = Interrupter()
    rows = [[1, 283, 201]] * 16
    with pytest.raises(KeyboardInterrupt):
        # EOS banned and many tokens: still running when the signal arrives
        model.generate(rows, do_sample=True, seed=1, max_new_tokens=500, min_new_tokens=500, streamer=streamer)
    assert 2 <= streamer.steps < 501


def test_python_m_autolm_runs_the_cli():
    r = subprocess.run([sys.executable, "-m", "autolm", "generate", T5, "spell: 4021"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "four thousand twenty-one"


def test_readme_python_example():
    # The README's Python example, as written there.
    import re

    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md"), encoding="utf-8").read()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "12 + 30 = 42.\n"
