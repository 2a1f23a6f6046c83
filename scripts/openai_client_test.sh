#!/usr/bin/env bash
# End-to-end test of `autolm serve` with the official `openai` Python client (issue #16): tools
# (auto, required, named; whole and streamed), response_format json_schema, logprobs, penalties.
#   scripts/openai_client_test.sh [--ctest] [build]
# Needs a built build/autolm. The client comes from $AUTOLM_OPENAI_PYTHON, build/pyvenv
# (scripts/python_env.sh installs openai there) or build/openai-venv; without --ctest, a missing
# client is installed into build/openai-venv with pip (PyPI). It makes a model folder
# build/openai-client-model (models/chat-tiny with Qwen2.5's tool-calling chat template), starts
# the server on a free port and runs tests/server/openai_client_test.py.
# ctest runs it as `openai_client` with --ctest: no pip; no client means "SKIP: …" and exit 77
# (the test's SKIP_RETURN_CODE). By hand, no client after trying pip is "SKIP: …" and exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
ctest=0
if [[ "${1:-}" == --ctest ]]; then ctest=1; shift; fi
build=${1:-build}
[[ -x "$build/autolm" ]] || { echo "no $build/autolm: build first (scripts/build.sh)" >&2; exit 1; }

skip() {
  echo "SKIP: $1"
  if [[ $ctest == 1 ]]; then exit 77; fi
  exit 0
}
python=
for p in "${AUTOLM_OPENAI_PYTHON:-}" "$build/pyvenv/bin/python" "$build/openai-venv/bin/python"; do
  if [[ -n "$p" && -x "$p" ]] && "$p" -c "import openai" 2>/dev/null; then python=$p; break; fi
done
if [[ -z "$python" ]]; then
  [[ $ctest == 1 ]] && skip "no Python with the openai package (scripts/python_env.sh installs it into $build/pyvenv)"
  venv="$build/openai-venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1 || ! "$venv/bin/pip" install -q openai >/dev/null 2>&1; then
    skip "could not make a venv with the openai package (no python3-venv, pip or network)"
  fi
  python="$venv/bin/python"
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
"$python" tests/server/openai_client_test.py "$url"
