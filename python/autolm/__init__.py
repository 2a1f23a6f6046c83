"""autolm: Hugging Face model folders and Hub ids, generated in C++ with transformers' semantics.

A drop-in for transformers' generation classes: switch the import and keep the code.

    from autolm import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained("Qwen/Qwen2.5-0.5B-Instruct")
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-0.5B-Instruct")
    inputs = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="np")
    out = model.generate(**inputs, max_new_tokens=64)
    print(tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))

See docs/PYTHON.md for what is supported.
"""
from ._config import GenerationConfig, PretrainedConfig
from ._modeling import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    GenerateBeamDecoderOnlyOutput,
    GenerateBeamEncoderDecoderOutput,
    GenerateDecoderOnlyOutput,
    GenerateEncoderDecoderOutput,
    PreTrainedModel,
)
from ._streamers import TextIteratorStreamer, TextStreamer
from ._tokenizer import AutoTokenizer, BatchEncoding, PreTrainedTokenizer

__version__ = "0.1.0"

__all__ = [
    "AutoConfig",
    "AutoModelForCausalLM",
    "AutoModelForSeq2SeqLM",
    "AutoTokenizer",
    "BatchEncoding",
    "GenerateBeamDecoderOnlyOutput",
    "GenerateBeamEncoderDecoderOutput",
    "GenerateDecoderOnlyOutput",
    "GenerateEncoderDecoderOutput",
    "GenerationConfig",
    "PreTrainedModel",
    "PreTrainedTokenizer",
    "PretrainedConfig",
    "TextIteratorStreamer",
    "TextStreamer",
]
