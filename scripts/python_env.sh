#!/usr/bin/env bash
# The venv the README's test command uses for the Python package (docs/PYTHON.md):
# build/pyvenv with nanobind (to build the extension), NumPy and pytest, from PyPI, and the
# official `openai` client for the end-to-end server test (ctest openai_client,
# scripts/openai_client_test.sh; optional: without it that test is skipped).
# Prints the interpreter's path on success; on failure (no network, no python3-venv) says why
# on stderr and prints nothing, and scripts/build.sh then builds without the Python package.
set -uo pipefail
cd "$(dirname "$0")/.."
venv=build/pyvenv
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then echo "python_env: no python3; the Python package is not built" >&2; exit 0; fi
if ! "$venv/bin/python" -c "import nanobind, numpy, pytest" >/dev/null 2>&1; then
  mkdir -p build
  if ! { "$py" -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check \
           "nanobind>=2.0" numpy pytest; } >&2; then
    echo "python_env: could not make $venv (python3-venv missing or PyPI unreachable); the Python package is not built" >&2
    exit 0
  fi
fi
if ! "$venv/bin/python" -c "import openai" >/dev/null 2>&1; then
  "$venv/bin/pip" install -q --disable-pip-version-check openai >&2 ||
    echo "python_env: could not install openai; the openai_client test will be skipped" >&2
fi
echo "$PWD/$venv/bin/python"
