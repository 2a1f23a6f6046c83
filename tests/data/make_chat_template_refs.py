#!/usr/bin/env python3
"""References for real vendor chat templates: tests/data/chat/refs.json.gz (gzip).

Each template of tests/data/chat/templates/ (see tests/data/chat/SOURCES.md) is rendered by transformers'
own tokenizer.apply_chat_template(..., tokenize=False) over the conversations below: plain, system,
multi-turn, add_generation_prompt false, tools with tool-call turns whose content is None, tool results,
reasoning fields (reasoning_content / thinking / reasoning), documents, continue_final_message and extra
template variables (enable_thinking, reasoning_effort, ...). The tokenizer is the qwen3-tiny fixture with each
model's own special tokens set on it, so bos_token / eos_token are what the model's tokenizer_config gives;
the map the template saw is stored with each template. strftime_now sees 2024-07-26 09:05:03 local time
(tests/chat/chat_parity_test.cc pins the same moment).

A case is {"template", "conversation", "expected"} or {..., "error", "error_type"} when transformers raises
(raise_exception in the template, or apply_chat_template's own checks).

Pinned to transformers 5.24.0 / tokenizers 0.23.3 / jinja2 3.1.6:

    /work/venv-ref/bin/python tests/data/make_chat_template_refs.py
"""
import datetime as _dt
import gzip
import json
import os
import sys
from importlib.metadata import version

import transformers.utils.chat_template_utils as ctu
from transformers import AutoTokenizer

PINNED = {"transformers": "5.24.0", "tokenizers": "0.23.3", "jinja2": "3.1.6"}
HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "chat", "templates")
OUT = os.path.join(HERE, "chat", "refs.json.gz")
TOKENIZER = os.path.join(HERE, "fixtures", "models", "qwen3-tiny")


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2024, 7, 26, 9, 5, 3)


ctu.datetime = _FixedDatetime

LLAMA3 = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
QWEN = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
MISTRAL = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
DEEPSEEK = {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"}
# Template file -> the special tokens of that model's tokenizer_config.json.
SPECIAL = {
    "Qwen-Qwen2.5-7B-Instruct": QWEN,
    "Qwen-Qwen3-0.6B": QWEN,
    "Qwen-QwQ-32B": QWEN,
    "meetkai-functionary-medium-v3.1": LLAMA3,
    "meetkai-functionary-medium-v3.2": LLAMA3,
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use": {"bos_token": "<|begin_of_text|>", "eos_token": "<|im_end|>"},
    "ibm-granite-granite-3.3-2B-Instruct": {"bos_token": "<|end_of_text|>", "eos_token": "<|end_of_text|>",
                                            "pad_token": "<|end_of_text|>"},
    "microsoft-Phi-3.5-mini-instruct": {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>",
                                        "pad_token": "<|endoftext|>"},
    "mistralai-Mistral-Nemo-Instruct-2407": MISTRAL,
    "Mistral-Small-3.2-24B-Instruct-2506": MISTRAL,
    "unsloth-mistral-Devstral-Small-2507": MISTRAL,
    "openai-gpt-oss-120b": {"bos_token": "<|startoftext|>", "eos_token": "<|return|>", "pad_token": "<|endoftext|>"},
    "deepseek-ai-DeepSeek-V3.1": DEEPSEEK,
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": DEEPSEEK,
    "llama-cpp-deepseek-r1": DEEPSEEK,
    "autolm-probe-messages": QWEN,
    "ByteDance-Seed-OSS": {"bos_token": "<seed:bos>", "eos_token": "<seed:eos>", "pad_token": "<seed:pad>"},
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a timezone",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}

USER = {"role": "user", "content": "What is the capital of France?"}
SYSTEM = {"role": "system", "content": "You are a concise assistant."}
ANSWER = {"role": "assistant", "content": "Paris."}
FOLLOW = {"role": "user", "content": "And of Italy? Answer <b>briefly</b> & \"quoted\"."}

# name -> apply_chat_template arguments (messages + keyword arguments).
CONVERSATIONS = {
    "plain": {"messages": [USER], "add_generation_prompt": True},
    "system": {"messages": [SYSTEM, USER], "add_generation_prompt": True},
    "multi_turn": {"messages": [SYSTEM, USER, ANSWER, FOLLOW], "add_generation_prompt": True},
    "no_generation_prompt": {"messages": [USER, ANSWER], "add_generation_prompt": False},
    "tools_offered": {"messages": [USER], "tools": [WEATHER_TOOL, TIME_TOOL], "add_generation_prompt": True},
    "tool_call_content_null": {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp\": 21}"},
        ],
        "tools": [WEATHER_TOOL],
        "add_generation_prompt": True,
    },
    "tool_call_then_answer": {
        "messages": [
            SYSTEM,
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [CALL], "reasoning_content": None},
            {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "21 C"},
            {"role": "assistant", "content": "It is 21 C in Paris."},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [WEATHER_TOOL],
        "add_generation_prompt": True,
    },
    "tool_call_string_arguments": {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call12345", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "21 C"},
        ],
        "tools": [WEATHER_TOOL],
        "add_generation_prompt": True,
    },
    "tool_call_dict_arguments": {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call12345", "type": "function",
                 "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
            {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "21 C"},
            {"role": "assistant", "content": "It is 21 C."},
        ],
        "tools": [WEATHER_TOOL],
        "add_generation_prompt": False,
    },
    "reasoning_content": {
        "messages": [
            USER,
            {"role": "assistant", "content": "Paris.", "reasoning_content": "The user asks a geography question."},
            FOLLOW,
        ],
        "add_generation_prompt": True,
    },
    "reasoning_alias_thinking": {
        "messages": [USER, {"role": "assistant", "thinking": "Easy one.", "content": "Paris."}, FOLLOW],
        "add_generation_prompt": True,
    },
    "reasoning_alias_reasoning": {
        "messages": [USER, {"role": "assistant", "content": "Paris.", "reasoning": "Recall capitals."}],
        "add_generation_prompt": False,
    },
    "reasoning_two_fields": {
        "messages": [USER, {"role": "assistant", "content": "Paris.", "reasoning": "R", "thinking": "T",
                            "reasoning_content": None}, FOLLOW],
        "add_generation_prompt": True,
    },
    "documents": {
        "messages": [{"role": "user", "content": "Summarize the documents."}],
        "documents": [{"title": "Doc A", "text": "Paris is the capital of France."},
                      {"title": "Doc B", "text": "Rome is the capital of Italy."}],
        "add_generation_prompt": True,
    },
    "continue_final_message": {
        "messages": [USER, {"role": "assistant", "content": "The capital of France is"}],
        "continue_final_message": True,
    },
    "continue_trailing_space": {
        "messages": [USER, {"role": "assistant", "content": "The answer:  "}],
        "continue_final_message": True,
    },
    "continue_reasoning": {
        "messages": [USER, {"role": "assistant", "content": "", "reasoning_content": "Let me think"}],
        "continue_final_message": "reasoning_content",
    },
    "continue_content_blocks": {
        "messages": [USER, {"role": "assistant", "content": [
            {"type": "text", "text": "Part one."}, {"type": "image"}, {"type": "text", "text": "Part two "}]}],
        "continue_final_message": True,
    },
    "continue_no_text_block": {
        "messages": [USER, {"role": "assistant", "content": [{"type": "image"}]}],
        "continue_final_message": True,
    },
    "continue_missing_field": {
        "messages": [USER, {"role": "assistant", "content": None, "tool_calls": [CALL]}],
        "continue_final_message": True,
    },
    "continue_with_generation_prompt": {
        "messages": [USER, {"role": "assistant", "content": "The"}],
        "continue_final_message": True,
        "add_generation_prompt": True,
    },
    "enable_thinking_false": {"messages": [USER], "add_generation_prompt": True, "enable_thinking": False},
    "template_vars": {
        "messages": [SYSTEM, USER],
        "add_generation_prompt": True,
        "reasoning_effort": "high",
        "thinking": True,
        "builtin_tools": ["browser", "python"],
        "date_string": "26 Jul 2024",
        "model_identity": "You are a test model.",
    },
    "none_valued_keys": {
        "messages": [
            {"role": "system", "content": "Be brief.", "name": None},
            {"role": "user", "content": "Hi", "tool_calls": None},
        ],
        "add_generation_prompt": True,
    },
}


def render(tok, source, conv):
    kwargs = dict(conv)
    messages = kwargs.pop("messages")
    try:
        return {"expected": tok.apply_chat_template(messages, chat_template=source, tokenize=False, **kwargs)}
    except Exception as e:  # noqa: BLE001 - the reference is whatever transformers raises
        return {"error": str(e), "error_type": type(e).__name__}


def main():
    got = {k: version(k) for k in PINNED}
    if got != PINNED and "--any-version" not in sys.argv:
        sys.exit(f"pinned to {PINNED}, found {got} (pass --any-version to override)")
    names = sorted(f[: -len(".jinja")] for f in os.listdir(TEMPLATES) if f.endswith(".jinja"))
    missing = [n for n in names if n not in SPECIAL]
    if missing:
        sys.exit(f"no special tokens for {missing}")
    templates, cases = {}, []
    for name in names:
        with open(os.path.join(TEMPLATES, name + ".jinja"), encoding="utf-8") as f:
            source = f.read()
        tokens = {k: None for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
        tokens.update(SPECIAL[name])
        tok = AutoTokenizer.from_pretrained(TOKENIZER, **tokens)
        templates[name] = {"special_tokens": tok.special_tokens_map}
        for cname, conv in CONVERSATIONS.items():
            cases.append({"template": name, "conversation": cname, **render(tok, source, conv)})
    errors = sum("error" in c for c in cases)
    data = {
        "note": "Rendered by transformers 5.24.0 tokenizer.apply_chat_template(tokenize=False) (tokenizers 0.23.3, "
        "jinja2 3.1.6); strftime_now sees 2024-07-26 09:05:03 local time. Made by "
        "tests/data/make_chat_template_refs.py.",
        "conversations": CONVERSATIONS,
        "templates": templates,
        "cases": cases,
    }
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    with open(OUT, "wb") as f:  # mtime 0: the same refs give the same bytes
        f.write(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"{len(cases)} cases over {len(names)} templates ({errors} raise)", file=sys.stderr)


if __name__ == "__main__":
    main()
