#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_quantized.cc: one quantized layer (layer 0's q_proj) cut out of each
pre-quantized test checkpoint (tests/data/{gptq,awq,compressed_tensors}), prefixed with the
selector byte that makes the target read it with the checkpoint's own settings.

    python3 fuzz/make_corpus_quantized.py
"""
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus", "quantized")
GROUPS = [32, 64, 128]
METHODS = {"gptq": 0, "awq": 1, "compressed-tensors": 2}


def selector(q):
    """fuzz_quantized.cc's config_of(), inverted: method + 3·group + 9·zero_offset + 18·symmetric."""
    method = METHODS[q["quant_method"]]
    if method == 2:
        w = next(iter(q["config_groups"].values()))["weights"]
        group, zero_offset, symmetric = w["group_size"], 0, int(bool(w["symmetric"]))
    else:
        group = q["group_size"]
        zero_offset = int(method == 0 and q.get("checkpoint_format", "gptq") == "gptq")
        symmetric = 1
    return method + 3 * GROUPS.index(group) + 9 * zero_offset + 18 * symmetric


def layer_file(path, layer):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    out_header, out_body = {}, b""
    for name, info in sorted(header.items()):
        if name == "__metadata__" or not name.startswith(layer + "."):
            continue
        begin, end = info["data_offsets"]
        raw = body[begin:end]
        out_header[name] = {"dtype": info["dtype"], "shape": info["shape"],
                            "data_offsets": [len(out_body), len(out_body) + len(raw)]}
        out_body += raw
    h = json.dumps(out_header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + out_body


def main():
    os.makedirs(OUT, exist_ok=True)
    for family in ("gptq", "awq", "compressed_tensors"):
        base = os.path.join(ROOT, "tests", "data", family)
        for model in sorted(os.listdir(base)):
            folder = os.path.join(base, model)
            cfg_path = os.path.join(folder, "config.json")
            if not os.path.exists(cfg_path):
                continue
            q = json.load(open(cfg_path))["quantization_config"]
            data = bytes([selector(q)]) + layer_file(os.path.join(folder, "model.safetensors"),
                                                     "model.layers.0.self_attn.q_proj")
            with open(os.path.join(OUT, model), "wb") as f:
                f.write(data)
            print(model, len(data), "bytes, selector", data[0])


if __name__ == "__main__":
    main()
