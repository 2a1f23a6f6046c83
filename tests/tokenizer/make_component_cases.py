# Run by hand (never by the tests): derives the expected values in component_cases.json from
# the PyPI `tokenizers` package: /work/venv/bin/python make_component_cases.py > component_cases.json
import json
from tokenizers import Tokenizer, normalizers, pre_tokenizers, decoders
wl = {"type": "WordLevel", "vocab": {"<unk>": 0}, "unk_token": "<unk>"}
def base(**kw):
    d = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
         "pre_tokenizer": None, "post_processor": None, "decoder": None, "model": wl}
    d.update(kw); return d
texts = ["Hello, World! 123-456 foo--bar  baz", "  Héllo  wörld\tñ ÅÉ ﬁ ＡＢ ①  ", "caf\u00e9 cafe\u0301 İstanbul ΣΑΣ 你好世界!", "a-b--c-", "x2024y 3.14 ½ ٣"]
out = {"normalizers": [], "pre_tokenizers": [], "decoders": [], "encodings": []}
norms = [{"type": "NFC"}, {"type": "NFD"}, {"type": "NFKC"}, {"type": "NFKD"}, {"type": "Lowercase"},
         {"type": "Strip", "strip_left": True, "strip_right": True},
         {"type": "Strip", "strip_left": False, "strip_right": True},
         {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}]},
         {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": "_"},
         {"type": "Replace", "pattern": {"String": "o"}, "content": "00"},
         {"type": "Prepend", "prepend": "▁"},
         {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
         {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": False, "strip_accents": False, "lowercase": False}]
for n in norms:
    t = Tokenizer.from_str(json.dumps(base(normalizer=n)))
    out["normalizers"].append({"config": n, "cases": [{"text": s, "normalized": t.normalizer.normalize_str(s)} for s in texts]})
pres = [{"type": "Split", "pattern": {"String": "-"}, "behavior": b, "invert": False} for b in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]]
pres += [{"type": "Split", "pattern": {"Regex": "\\d+"}, "behavior": "Isolated", "invert": False},
         {"type": "Split", "pattern": {"Regex": "[a-z]+"}, "behavior": "Removed", "invert": True},
         {"type": "Whitespace"}, {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Isolated"},
         {"type": "Punctuation", "behavior": "Contiguous"}, {"type": "Digits", "individual_digits": True},
         {"type": "Digits", "individual_digits": False}, {"type": "BertPreTokenizer"},
         {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
         {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": False},
         {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
         {"type": "CharDelimiterSplit", "delimiter": "-"},
         {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Digits", "individual_digits": True}]}]
for p in pres:
    t = Tokenizer.from_str(json.dumps(base(pre_tokenizer=p)))
    out["pre_tokenizers"].append({"config": p, "cases": [{"text": s, "pieces": [[a, o[0], o[1]] for a, o in t.pre_tokenizer.pre_tokenize_str(s)]} for s in texts]})
decs = [({"type": "WordPiece", "prefix": "##", "cleanup": True}, ["hello", "##s", ",", "world", "do", "n't", "!"]),
        ({"type": "BPEDecoder", "suffix": "</w>"}, ["hel", "lo</w>", "wor", "ld</w>"]),
        ({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}, ["▁Hello", "▁", "▁world"]),
        ({"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 1}]},
         ["▁Hi", "<0xE4>", "<0xBD>", "<0xA0>", "<0xE4>", "▁x", "▁"]),
        ({"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}, ["ĠHello", "Ġw", "Ã©", "<x>", "ðŁ"]),
        ({"type": "CTC", "pad_token": "<pad>", "word_delimiter_token": "|", "cleanup": True}, ["h", "h", "<pad>", "i", "|", "t", "o"])]
for d, toks in decs:
    t = Tokenizer.from_str(json.dumps(base(decoder=d)))
    out["decoders"].append({"config": d, "tokens": toks, "decoded": t.decoder.decode(toks)})
bert_vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "##s", "un", "##aff", "##able", ",", "!", ".", "the", "##re", "你", "好"])}
encs = [base(normalizer={"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
             pre_tokenizer={"type": "BertPreTokenizer"},
             model={"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": bert_vocab},
             post_processor={"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
             decoder={"type": "WordPiece", "prefix": "##", "cleanup": True}),
        base(pre_tokenizer={"type": "Whitespace"}, model={"type": "WordLevel", "vocab": {"<unk>": 0, "hello": 1, "world": 2, "!": 3}, "unk_token": "<unk>"}),
        base(pre_tokenizer={"type": "Whitespace"}, model={"type": "BPE", "vocab": {"<unk>": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "abc": 5, "</w>": 6, "c</w>": 7, "b</w>": 8, "ab</w>": 9, "##b": 10, "##c": 11},
             "merges": [["a", "b"], ["ab", "c"], ["c", "</w>"], ["ab", "</w>"]], "unk_token": "<unk>", "end_of_word_suffix": "</w>", "fuse_unk": True, "byte_fallback": False},
             decoder={"type": "BPEDecoder", "suffix": "</w>"}),
        base(added_tokens=[{"id": 20, "content": "<mask>", "single_word": False, "lstrip": True, "rstrip": True, "normalized": False, "special": True},
                           {"id": 21, "content": "cat", "single_word": True, "lstrip": False, "rstrip": False, "normalized": True, "special": False}],
             normalizer={"type": "Lowercase"}, pre_tokenizer={"type": "WhitespaceSplit"},
             model={"type": "WordLevel", "vocab": {"<unk>": 0, "a": 1, "the": 2, "cats": 3, "cat.": 4}, "unk_token": "<unk>"})]
enc_texts = [["Hello, UNAFFABLE worlds! 你好 There.", "héllo\u0000 wor\u00adld", ""],
             ["hello world! foo", "hello,world"],
             ["abc ab a ac xab cab"],
             ["The CAT <mask>  cats Cat. a <mask>b", "CAT"]]
for cfg, ts in zip(encs, enc_texts):
    t = Tokenizer.from_str(json.dumps(cfg))
    cases = []
    for s in ts:
        e = t.encode(s)
        cases.append({"text": s, "ids": e.ids, "tokens": e.tokens, "offsets": [list(o) for o in e.offsets],
                      "decode": t.decode(e.ids, skip_special_tokens=False), "decode_skip": t.decode(e.ids, skip_special_tokens=True)})
    out["encodings"].append({"config": cfg, "cases": cases})
print(json.dumps(out, ensure_ascii=False, indent=1))
