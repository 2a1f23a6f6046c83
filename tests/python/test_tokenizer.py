"""AutoTokenizer through the package equals transformers' AutoTokenizer outputs (refs/tokenizers)."""
import os

import numpy as np
import pytest

import autolm
from conftest import FX, load_ref

NAMES = sorted(n[:-5] for n in os.listdir(os.path.join(FX, "refs", "tokenizers")) if n.endswith(".json"))


@pytest.mark.parametrize("name", NAMES)
def test_encode_decode_match_transformers(tokenizer_dir, name):
    tok = autolm.AutoTokenizer.from_pretrained(tokenizer_dir(name))
    ref = load_ref("tokenizers", name + ".json")
    checked = 0
    for case in ref["cases"]:
        t = case.get("transformers")
        if not t:
            continue
        enc = tok(case["text"])
        assert enc["input_ids"] == t["input_ids"], repr(case["text"])
        assert enc.attention_mask == [1] * len(t["input_ids"])
        assert tok.decode(t["input_ids"]) == t["decode"], repr(case["text"])
        assert tok.decode(np.asarray(t["input_ids"]), skip_special_tokens=True) == t["decode_skip_special"]
        checked += 1
    assert checked > 0


def test_batch_padding_truncation_and_tensors(tokenizer_dir):
    tok = autolm.AutoTokenizer.from_pretrained(tokenizer_dir("qwen3"))
    texts = ["Hello world, this is a longer sentence.", "Hi"]
    single = [tok(t)["input_ids"] for t in texts]
    enc = tok(texts, padding=True, return_tensors="np")
    assert enc["input_ids"].shape == (2, len(single[0]))
    pad = tok.pad_token_id
    assert pad is not None
    # qwen3 pads on the right unless padding_side says otherwise
    side = tok.padding_side
    row = enc["input_ids"][1].tolist()
    n = len(single[0]) - len(single[1])
    assert row == (single[1] + [pad] * n if side == "right" else [pad] * n + single[1])
    assert enc["attention_mask"][1].sum() == len(single[1])
    tok.padding_side = "left"
    enc = tok(texts, padding=True)
    assert enc["input_ids"][1] == [pad] * n + single[1] and enc["attention_mask"][1][:n] == [0] * n
    trunc = tok(texts[0], truncation=True, max_length=3)["input_ids"]
    assert trunc == single[0][:3]
    with pytest.raises(ValueError):
        tok(texts, return_tensors="np")  # ragged without padding
    assert len(tok) == tok.vocab_size > 150000
    assert tok.batch_decode([single[0], single[1]]) == [tok.decode(single[0]), tok.decode(single[1])]


def test_truncation_keeps_special_tokens(tokenizer_dir):
    tok = autolm.AutoTokenizer.from_pretrained(tokenizer_dir("t5-unigram"))
    full = tok("a b c d e f g h")["input_ids"]
    assert full[-1] == tok.eos_token_id
    short = tok("a b c d e f g h", truncation=True, max_length=4)["input_ids"]
    assert len(short) == 4 and short[-1] == tok.eos_token_id and short[:3] == full[:3]


def test_torch_tensors(tokenizer_dir):
    torch = pytest.importorskip("torch")
    tok = autolm.AutoTokenizer.from_pretrained(tokenizer_dir("gpt2"))
    enc = tok(["a", "b c"], padding=True, return_tensors="pt") if tok.pad_token_id is not None else tok("a b", return_tensors="pt")
    assert isinstance(enc["input_ids"], torch.Tensor) and enc["input_ids"].dtype == torch.long
