"""apply_chat_template through the package equals transformers' renderings (refs/chat)."""
import os

import pytest

import autolm
from conftest import FX, load_ref

CHAT = {"qwen3": "tokenizers/qwen3", "qwen-bpe": "tokenizers/qwen-bpe"}


@pytest.mark.parametrize("name", sorted(n[:-5] for n in os.listdir(os.path.join(FX, "refs", "chat"))))
def test_chat_matches_transformers(tokenizer_dir, name):
    tok = autolm.AutoTokenizer.from_pretrained(tokenizer_dir(name))
    ref = load_ref("chat", name + ".json")
    for case in ref["cases"]:
        kwargs = dict(case.get("kwargs") or {})
        for k in ("tools", "documents", "continue_final_message"):
            if k in case:
                kwargs[k] = case[k]
        text = tok.apply_chat_template(case["messages"], add_generation_prompt=case.get("add_generation_prompt", False),
                                       tokenize=False, **kwargs)
        assert text == case["rendered"], case["name"]
        if "ids" in case:
            enc = tok.apply_chat_template(case["messages"], add_generation_prompt=case.get("add_generation_prompt", False),
                                          **kwargs)
            assert enc["input_ids"] == case["ids"], case["name"]
            assert tok.apply_chat_template(case["messages"], add_generation_prompt=case.get("add_generation_prompt", False),
                                           return_dict=False, **kwargs) == case["ids"]


def test_chat_generate_round_trip():
    path = os.path.join(FX, "demo", "chat-tiny")
    tok = autolm.AutoTokenizer.from_pretrained(path)
    model = autolm.AutoModelForCausalLM.from_pretrained(path)
    ref = load_ref("demo", "chat-tiny.json")
    case = ref["cases"][0]
    inputs = tok(case["prompt"], add_special_tokens=False, return_tensors="np")
    assert inputs["input_ids"][0].tolist() == case["input_ids"]
    greedy = case["gen"]["greedy"]
    out = model.generate(**inputs, **greedy["params"])
    assert out.tolist() == greedy["sequences"]
    assert tok.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True) == greedy["text"]


def test_chat_errors(tokenizer_dir):
    tok = autolm.AutoTokenizer.from_pretrained(tokenizer_dir("qwen3"))
    with pytest.raises(ValueError):
        tok.apply_chat_template([])
    with pytest.raises(ValueError):
        tok.apply_chat_template([{"role": "user", "content": "x"}], add_generation_prompt=True,
                                continue_final_message=True)
