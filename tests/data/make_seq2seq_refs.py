"""Reference logits and greedy sequences for encoder-decoder types the shared fixtures do not
cover (pegasus, m2m_100 / NLLB, mt5, umt5), made with transformers (never with autolm).

Run by hand with a virtualenv that has transformers + torch (e.g. bench/setup.sh's):
    python tests/data/make_seq2seq_refs.py
Writes tests/data/seq2seq/<name>/ (tiny random float32 folders), refs.json and
refs.logits.safetensors.
"""
import json
import os

import torch
import transformers
from safetensors.torch import save_file

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seq2seq")
COMMON = dict(vocab_size=96, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
              decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
              dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, pad_token_id=1, eos_token_id=2,
              bos_token_id=0, decoder_start_token_id=2, forced_eos_token_id=None)
MODELS = {
    "pegasus-tiny": (transformers.PegasusConfig, transformers.PegasusForConditionalGeneration,
                     dict(COMMON, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, activation_function="relu",
                          scale_embedding=True)),
    "m2m100-tiny": (transformers.M2M100Config, transformers.M2M100ForConditionalGeneration,
                    dict(COMMON, activation_function="relu", scale_embedding=True)),
}
T5_COMMON = dict(vocab_size=96, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
                 relative_attention_num_buckets=8, relative_attention_max_distance=16, dropout_rate=0.0,
                 feed_forward_proj="gated-gelu", tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
                 decoder_start_token_id=0)
MODELS["mt5-tiny"] = (transformers.MT5Config, transformers.MT5ForConditionalGeneration, dict(T5_COMMON))
MODELS["umt5-tiny"] = (transformers.UMT5Config, transformers.UMT5ForConditionalGeneration, dict(T5_COMMON))


def main():
    torch.manual_seed(0)
    refs = {"versions": {"transformers": transformers.__version__, "torch": torch.__version__}, "cases": []}
    tensors = {}
    for name, (cfg_cls, model_cls, kw) in MODELS.items():
        model = model_cls(cfg_cls(**kw)).float().eval()
        with torch.no_grad():
            for n, p in model.named_parameters():
                p.normal_(0, 0.3)
        d = os.path.join(HERE, name)
        model.save_pretrained(d)
        model = model_cls.from_pretrained(d).float().eval()
        pad = kw["pad_token_id"]
        # Two inputs, the second right-padded: batched generation must equal each alone.
        src = [[5 + (i * 7) % 80 for i in range(11)] + [kw["eos_token_id"]], [9, 31, 44, 17, kw["eos_token_id"]]]
        width = max(len(s) for s in src)
        input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in src])
        mask = (input_ids != pad).long()
        dec = torch.tensor([[kw["decoder_start_token_id"], 7, 21, 33, 8]])
        with torch.no_grad():
            logits = model(input_ids=input_ids[:1], decoder_input_ids=dec).logits[0]
            seqs = model.generate(input_ids=input_ids, attention_mask=mask, do_sample=False, max_new_tokens=10,
                                  num_beams=1, min_new_tokens=10)
        tensors[name] = logits.contiguous()
        refs["cases"].append({"name": name, "model_type": model.config.model_type,
                              "input_ids": src, "decoder_input_ids": dec[0].tolist(), "logits_tensor": name,
                              "greedy": {"max_new_tokens": 10, "min_new_tokens": 10, "sequences": seqs.tolist()}})
    save_file(tensors, os.path.join(HERE, "refs.logits.safetensors"))
    json.dump(refs, open(os.path.join(HERE, "refs.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
