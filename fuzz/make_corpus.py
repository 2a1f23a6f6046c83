#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/corpus/<target>/ (small: a few hundred KB).

Run from anywhere: python3 fuzz/make_corpus.py. Reads the bundled demos (models/), the tests'
own cases (tests/chat/jinja_cases.json, tests/tokenizer/component_cases.json) and, when
present, ../shared/fixtures; scripts/fuzz.sh adds the fixtures' larger files at run time.
"""
import glob
import hashlib
import json
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
FIX = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --- safetensors -----------------------------------------------------------------------------
def safetensors(tensors, metadata=None, pad_header=0):
    """tensors: list of (name, dtype, shape, bytes)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode() + b" " * pad_header
    return struct.pack("<Q", len(h)) + h + data


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def seeds_safetensors():
    bf16 = bytes([0x80, 0x3F, 0x00, 0x40, 0x40, 0x40, 0x80, 0x40])  # 1, 2, 3, 4
    f16 = struct.pack("<4e", 1, -2, 0.5, 65504)
    put("safetensors", "f32_matrix", safetensors([("w", "F32", [2, 3], f32(1, 2, 3, 4, 5, 6)), ("b", "F32", [3], f32(0, 1, 2))],
                                                  {"format": "pt"}))
    put("safetensors", "bf16_f16", safetensors([("a", "BF16", [2, 2], bf16), ("c", "F16", [4], f16)]))
    put("safetensors", "misaligned", safetensors([("x", "BF16", [1], bf16[:2]), ("y", "F32", [2], f32(1, 2))], pad_header=1))
    put("safetensors", "ints", safetensors([("i", "I64", [2], struct.pack("<2q", 1, -1)), ("u", "U8", [3], b"abc"),
                                            ("z", "F32", [0, 4], b""), ("s", "F32", [], f32(7))]))
    put("safetensors", "empty", safetensors([]))


def seeds_safetensors_index():
    wm = {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}
    put("safetensors_index", "valid", json.dumps({"metadata": {"total_size": 16}, "weight_map": wm}, indent=2))
    put("safetensors_index", "sub", dumps({"weight_map": {"c.weight": "sub/model.safetensors"}}))
    put("safetensors_index", "missing_shard", dumps({"weight_map": {"a.weight": "model-00003-of-00003.safetensors"}}))
    put("safetensors_index", "escape", dumps({"weight_map": {"a.weight": "../x.safetensors", "b": "/etc/passwd"}}))


# --- config.json -----------------------------------------------------------------------------
def seeds_config():
    for cfg in sorted(glob.glob(os.path.join(FIX, "models", "*", "config.json")) +
                      glob.glob(os.path.join(ROOT, "models", "*", "config.json"))):
        put("config", os.path.basename(os.path.dirname(cfg)), open(cfg, "rb").read())


# --- tokenizer.json --------------------------------------------------------------------------
def shrink(tok, keep=120):
    """A small tokenizer.json of the same shape: the first `keep` vocabulary entries."""
    m = tok["model"]
    if m["type"] in ("BPE", "WordPiece", "WordLevel"):
        vocab = dict(sorted(m["vocab"].items(), key=lambda kv: kv[1])[:keep])
        m["vocab"] = vocab
        if "merges" in m:
            def parts(x):
                return x if isinstance(x, list) else x.split(" ", 1)
            m["merges"] = [x for x in m["merges"] if all(p in vocab for p in parts(x)) and "".join(parts(x)) in vocab][:80]
    elif m["type"] == "Unigram":
        m["vocab"] = m["vocab"][:keep]
        if m.get("unk_id") is not None and m["unk_id"] >= keep:
            m["unk_id"] = 0
    tok["added_tokens"] = [a for a in tok.get("added_tokens", []) if a["id"] < keep][:8]

    def drop_charsmap(x):  # SentencePiece's precompiled normalizer table is ~300 KB
        if isinstance(x, dict):
            if "precompiled_charsmap" in x:
                x["precompiled_charsmap"] = ""
            for v in x.values():
                drop_charsmap(v)
        elif isinstance(x, list):
            for v in x:
                drop_charsmap(v)
    drop_charsmap(tok)
    return tok


def seeds_tokenizer():
    sources = [os.path.join(FIX, "tokenizers", n, "tokenizer.json") for n in ("bart-bpe", "qwen-bpe", "llama-spm", "t5-unigram", "gpt2-bpe")]
    sources += [os.path.join(ROOT, "models", n, "tokenizer.json") for n in ("chat-tiny", "t5-numbers")]
    base = None
    for path in sources:
        if not os.path.exists(path):
            continue
        tok = shrink(json.load(open(path)))
        name = os.path.basename(os.path.dirname(path))
        put("tokenizer", name, dumps(tok))
        if base is None and tok["model"]["type"] == "BPE":
            base = tok
    if base is None:
        return
    # One seed per component configuration the tests know, on the small BPE model.
    cases = json.load(open(os.path.join(ROOT, "tests", "tokenizer", "component_cases.json")))
    field = {"normalizers": "normalizer", "pre_tokenizers": "pre_tokenizer", "decoders": "decoder",
             "post_processors": "post_processor"}
    for kind, entries in cases.items():
        for i, entry in enumerate(entries):
            if kind not in field or "config" not in entry:
                continue
            tok = json.loads(json.dumps(base))
            tok[field[kind]] = entry["config"]
            put("tokenizer", "%s_%02d_%s" % (field[kind], i, entry["config"].get("type", "x")), dumps(tok))
    # The other model types.
    vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "hello": 3, "world": 4, "##s": 5, "h": 6, "##ello": 7, ",": 8, "!": 9}
    put("tokenizer", "wordpiece", dumps({"version": "1.0", "added_tokens": [], "normalizer": {"type": "BertNormalizer", "lowercase": True},
                                         "pre_tokenizer": {"type": "BertPreTokenizer"},
                                         "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
                                         "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
                                         "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                                                   "max_input_chars_per_word": 100, "vocab": vocab}}))
    put("tokenizer", "wordlevel", dumps({"version": "1.0", "added_tokens": [], "pre_tokenizer": {"type": "Whitespace"},
                                         "model": {"type": "WordLevel", "unk_token": "[UNK]", "vocab": vocab}}))


def seeds_tokenizer_encode():
    texts = ["Hello, world!", " leading  spaces\tand\ttabs\n", "caf\u00e9 \u4f60\u597d \U0001F600 \u2581x",
             "<s> </s> <|im_start|>user\nhi<|im_end|>", "12345 3.14 \u00bd \u0663", "a" * 200]
    cases = json.load(open(os.path.join(ROOT, "tests", "tokenizer", "component_cases.json")))
    for entries in cases.values():
        for entry in entries:
            for c in entry.get("cases", []):
                if isinstance(c, dict) and isinstance(c.get("text"), str):
                    texts.append(c["text"])
    for t in dict.fromkeys(texts):
        put("tokenizer_encode", hashlib.sha1(t.encode()).hexdigest()[:12], t)
    put("tokenizer_encode", "invalid_utf8", b"\xff\xfe ab \xc3 \xed\xa0\x80 \xf4\x90\x80\x80")


# --- Jinja -----------------------------------------------------------------------------------
def seeds_jinja():
    cases = json.load(open(os.path.join(ROOT, "tests", "chat", "jinja_cases.json")))["cases"]
    for c in cases:
        put("jinja", "case_" + c["name"], c["template"])
    for path in [os.path.join(ROOT, "models", "chat-tiny", "chat_template.jinja")]:
        if os.path.exists(path):
            put("jinja", "chat-tiny", open(path, "rb").read())
    for name in ("qwen3", "llama3", "gemma3"):
        cfg = os.path.join(FIX, "tokenizers", name, "tokenizer_config.json")
        if os.path.exists(cfg):
            t = json.load(open(cfg)).get("chat_template")
            if isinstance(t, str):
                put("jinja", "template_" + name, t)


# --- chat messages ---------------------------------------------------------------------------
def seeds_messages():
    for ref in sorted(glob.glob(os.path.join(FIX, "refs", "chat", "*.json"))):
        for c in json.load(open(ref)).get("cases", []):
            put("messages", os.path.basename(ref)[:-5] + "_" + c["name"], dumps(c["messages"]))
    put("messages", "basic", dumps([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}]))
    put("messages", "tools", dumps({"messages": [{"role": "user", "content": "weather?"},
                                                 {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get", "arguments": {"city": "Paris"}}}]},
                                                 {"role": "tool", "content": "sunny"}],
                                    "tools": [{"type": "function", "function": {"name": "get", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
                                    "add_generation_prompt": True}))
    put("messages", "parts", dumps([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]))


# --- OpenAI requests -------------------------------------------------------------------------
def seeds_openai():
    reqs = {
        "completion": {"prompt": "Hello", "max_tokens": 5, "temperature": 0},
        "completion_ids": {"prompt": [1, 2, 3], "max_tokens": 3, "n": 2, "stop": ["\n", "."], "seed": 1, "top_p": 0.5},
        "completion_batch": {"prompt": ["a", "b"], "stream": True, "stream_options": {"include_usage": True}},
        "completion_batch_ids": {"prompt": [[1, 2], [3]], "logit_bias": {"5": -100}, "echo": False},
        "chat": {"messages": [{"role": "user", "content": "What is 12 + 30?"}], "temperature": 0, "max_completion_tokens": 8},
        "chat_parts": {"messages": [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "stop": "x", "n": 1},
        "chat_tools": {"messages": [{"role": "user", "content": "weather"}],
                       "tools": [{"type": "function", "function": {"name": "get", "parameters": {}}}], "tool_choice": "auto",
                       "chat_template_kwargs": {"enable_thinking": False}},
        "generation_extras": {"prompt": "x", "num_beams": 2, "num_return_sequences": 2, "do_sample": False,
                              "max_new_tokens": 4, "stop_strings": ["y"], "presence_penalty": 0.5, "frequency_penalty": 0.5},
    }
    for name, body in reqs.items():
        put("openai", name, dumps(body))


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for f in (seeds_safetensors, seeds_safetensors_index, seeds_config, seeds_tokenizer, seeds_tokenizer_encode,
              seeds_jinja, seeds_messages, seeds_openai):
        f()
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(OUT, "*", "*")))
    print("fuzz/corpus: %d files, %d KB" % (len(glob.glob(os.path.join(OUT, "*", "*"))), total // 1024))


if __name__ == "__main__":
    main()
