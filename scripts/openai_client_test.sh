#!/usr/bin/env bash
# End-to-end test of `autolm serve` with the official `openai` Python client (issue #16).
# Needs a built ./build/autolm. Makes a venv under build/openai-venv (pip install openai, from PyPI)
# and a model folder build/openai-client-model (models/chat-tiny with Qwen2.5's tool-calling chat
# template), starts the server on a free port, runs tests/server/openai_client_test.py.
# Not part of ctest (it needs the network once, for pip): run it by hand or in a job that has it.
# Exits 0 with "SKIP: …" when python3 -m venv or pip cannot provide the client.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[[ -x "$build/autolm" ]] || { echo "no $build/autolm: build first (scripts/build.sh)" >&2; exit 1; }

venv="$build/openai-venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import openai" 2>/dev/null; then
  if ! python3 -m venv "$venv" >/dev/null 2>&1 || ! "$venv/bin/pip" install -q openai >/dev/null 2>&1; then
    echo "SKIP: could not make a venv with the openai package (no python3-venv, pip or network)"
    exit 0
  fi
fi

model="$build/openai-client-model"
mkdir -p "$model"
cp models/chat-tiny/{config.json,generation_config.json,model.safetensors,tokenizer.json,tokenizer_config.json} "$model/"
cp tests/data/chat/templates/Qwen-Qwen2.5-7B-Instruct.jinja "$model/chat_template.jinja"

log=$(mktemp)
"$build/autolm" serve "$model" --port 0 --model-name chat-tiny >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$log" && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -1)
[[ -n "$url" ]] || { echo "the server did not start:" >&2; cat "$log" >&2; exit 1; }
"$venv/bin/python" tests/server/openai_client_test.py "$url"
