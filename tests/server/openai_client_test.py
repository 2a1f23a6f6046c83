"""End-to-end test of `autolm serve` with the official `openai` Python client (issue #16).

Run by scripts/openai_client_test.sh, which makes the venv, the model folder and the server:
    python openai_client_test.py http://127.0.0.1:PORT
The server must serve models/chat-tiny with Qwen2.5's chat template (Hermes <tool_call> format).
The demo model does not call tools by itself: the test steers it into a call with the HF field
`sequence_bias` (extra_body), built from /tokenize, so that the whole path (template, generation,
parsing, response shapes, the client's typed objects) is exercised.
"""
import json
import math
import sys
import urllib.request

from openai import OpenAI

BASE = sys.argv[1].rstrip("/")
client = OpenAI(base_url=BASE + "/v1", api_key="unused")
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]


def post(path, body):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def force(messages, tools, text):
    """sequence_bias making greedy decoding produce `text` then <|im_end|> (see test_openai_features.cc)."""
    prompt = post("/tokenize", {"messages": messages, "tools": tools})["tokens"]
    target = post("/tokenize", {"prompt": text + "<|im_end|>", "add_special_tokens": False})["tokens"]
    prefix, bias = prompt[-2:], []
    for t in target:
        bias.append([prefix + [t], 100.0])
        prefix = prefix + [t]
    return bias


def check(name, cond, detail=""):
    if not cond:
        raise SystemExit(f"FAIL {name}: {detail}")
    print(f"ok   {name}")


# /v1/models through the client; vLLM's max_model_len as an extra field.
models = client.models.list().data
check("models.list", len(models) == 1 and models[0].id == "chat-tiny", models)
check("max_model_len", (models[0].model_extra or {}).get("max_model_len") == 512, models[0])

# Tool call, whole.
bias = force(MESSAGES, TOOLS, CALL)
r = client.chat.completions.create(model="chat-tiny", messages=MESSAGES, tools=TOOLS, temperature=0, max_tokens=60,
                                   extra_body={"sequence_bias": bias})
choice = r.choices[0]
check("tool_calls finish_reason", choice.finish_reason == "tool_calls", choice)
calls = choice.message.tool_calls or []
check("tool_calls parsed", len(calls) == 1 and calls[0].type == "function" and calls[0].function.name == "get_weather"
      and json.loads(calls[0].function.arguments) == {"city": "Paris"} and calls[0].id.startswith("call_"), choice)
check("tool_calls content", choice.message.content is None, choice.message)

# Tool call, streamed: accumulate the deltas as clients do.
acc, finish = {}, None
for chunk in client.chat.completions.create(model="chat-tiny", messages=MESSAGES, tools=TOOLS, temperature=0,
                                            max_tokens=60, stream=True, extra_body={"sequence_bias": bias}):
    c = chunk.choices[0]
    for tc in c.delta.tool_calls or []:
        e = acc.setdefault(tc.index, {"name": "", "arguments": ""})
        e["name"] += tc.function.name or ""
        e["arguments"] += tc.function.arguments or ""
    finish = c.finish_reason or finish
check("streamed tool_calls", finish == "tool_calls" and len(acc) == 1 and acc[0]["name"] == "get_weather"
      and json.loads(acc[0]["arguments"]) == {"city": "Paris"}, (finish, acc))

# The conversation continues with the tool's result (arguments go back as the client sends them).
follow = MESSAGES + [choice.message.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": calls[0].id, "content": "18 C, sunny"}]
r2 = client.chat.completions.create(model="chat-tiny", messages=follow, tools=TOOLS, temperature=0, max_tokens=8)
check("tool result turn", r2.choices[0].message.content is not None, r2)

# logprobs / top_logprobs (chat): the tokens spell the reply, top entries sorted, values <= 0.
r = client.chat.completions.create(model="chat-tiny", messages=[{"role": "user", "content": "What is 12 + 30?"}],
                                   temperature=0, max_tokens=12, logprobs=True, top_logprobs=3)
lp = r.choices[0].logprobs.content
check("chat logprobs tokens", "".join(t.token for t in lp) == r.choices[0].message.content, lp)
check("chat logprobs values", all(t.logprob <= 0 and len(t.top_logprobs) == 3 and t.top_logprobs[0].logprob >= t.top_logprobs[2].logprob
                                  and math.isclose(t.top_logprobs[0].logprob, t.logprob, abs_tol=1e-6) for t in lp), lp)

# logprobs (completions, legacy shape), streamed.
text, tokens = "", []
for chunk in client.completions.create(model="chat-tiny", prompt="Once upon a time", temperature=0, max_tokens=8,
                                       logprobs=2, stream=True):
    text += chunk.choices[0].text
    if chunk.choices[0].logprobs:
        tokens += chunk.choices[0].logprobs.tokens or []
check("completion logprobs streamed", "".join(tokens) == text and tokens, (tokens, text))

# OpenAI penalties and logit_bias through the typed parameters.
r = client.completions.create(model="chat-tiny", prompt="Once upon a time", temperature=0, max_tokens=6,
                              presence_penalty=1.0, frequency_penalty=0.5, logit_bias={"100": 100})
check("logit_bias", r.choices[0].text == post("/detokenize", {"tokens": [100] * 6})["prompt"], r.choices[0].text)

# The developer role and vLLM extras.
r = client.chat.completions.create(model="chat-tiny", messages=[{"role": "developer", "content": "Be brief."},
                                                                {"role": "user", "content": "hi"}],
                                   max_tokens=5, extra_body={"ignore_eos": True, "min_tokens": 5, "top_k": -1})
check("developer + ignore_eos", r.usage.completion_tokens == 5, r)

# tool_choice "required" / a named function: the call is forced by constrained decoding.
# Short names and values: chat-tiny spells the forced call mostly a character per token, and its
# tool prompt leaves ~70 of its 512 positions.
TWO = [{"type": "function", "function": {"name": "w", "parameters": {
           "type": "object", "properties": {"c": {"type": "string", "maxLength": 3}}, "required": ["c"]}}},
       {"type": "function", "function": {"name": "t", "parameters": {
           "type": "object", "properties": {"z": {"enum": ["U", "C"]}}, "required": ["z"]}}}]
SHORT = [{"role": "system", "content": "Call."}, {"role": "user", "content": "Paris?"}]  # a short system turn: more room
for choice, names in (("required", {"w", "t"}), ({"type": "function", "function": {"name": "t"}}, {"t"})):
    for seed in (1, 2):
        r = client.chat.completions.create(model="chat-tiny", messages=SHORT, tools=TWO, tool_choice=choice,
                                           temperature=1.0, seed=seed, max_tokens=64, parallel_tool_calls=False)
        c = r.choices[0]
        ok = c.finish_reason == "tool_calls" and len(c.message.tool_calls or []) == 1
        if ok:
            call = c.message.tool_calls[0]
            args = json.loads(call.function.arguments)
            ok = call.function.name in names and isinstance(args, dict) and (
                isinstance(args.get("c"), str) and len(args["c"]) <= 3 if call.function.name == "w" else args.get("z") in ("U", "C"))
        check(f"tool_choice {json.dumps(choice)} seed {seed}", ok, c)
acc, finish = {}, None
for chunk in client.chat.completions.create(model="chat-tiny", messages=SHORT, tools=TWO, tool_choice="required",
                                            temperature=0, max_tokens=64, stream=True, parallel_tool_calls=False):
    c = chunk.choices[0]
    for tc in c.delta.tool_calls or []:
        e = acc.setdefault(tc.index, {"name": "", "arguments": ""})
        e["name"] += tc.function.name or ""
        e["arguments"] += tc.function.arguments or ""
    finish = c.finish_reason or finish
check("tool_choice required streamed", finish == "tool_calls" and len(acc) == 1
      and acc[0]["name"] in ("w", "t") and isinstance(json.loads(acc[0]["arguments"]), dict), (finish, acc))

# response_format json_schema: the reply parses and follows the schema.
SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}, "age": {"type": "integer"},
                                           "pets": {"type": "array", "items": {"enum": ["cat", "dog"]}, "maxItems": 2}},
          "required": ["name", "age", "pets"], "additionalProperties": False}
for seed in (1, 2):
    r = client.chat.completions.create(model="chat-tiny", messages=[{"role": "user", "content": "A person as JSON"}],
                                       temperature=0.5, seed=seed, max_tokens=250,
                                       response_format={"type": "json_schema",
                                                        "json_schema": {"name": "person", "schema": SCHEMA}})
    c = r.choices[0]
    ok = c.finish_reason == "stop"
    if ok:
        v = json.loads(c.message.content)
        ok = (list(v) == ["name", "age", "pets"] and isinstance(v["name"], str) and len(v["name"]) <= 10
              and isinstance(v["age"], int) and len(v["pets"]) <= 2 and all(p in ("cat", "dog") for p in v["pets"]))
    check(f"response_format json_schema seed {seed}", ok, c)
print("all passed")
