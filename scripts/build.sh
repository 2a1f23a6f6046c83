#!/usr/bin/env bash
# Configures and builds autolm (Release) into ./build, with the Python package when its venv
# can be made (scripts/python_env.sh; AUTOLM_NO_PYTHON=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
python_args=()
if [ "${AUTOLM_NO_PYTHON:-0}" != 1 ]; then
  py=$(./scripts/python_env.sh)
  if [ -n "$py" ]; then
    python_args=(-DAUTOLM_PYTHON=ON "-DPython_EXECUTABLE=$py")
  elif [ "${CI:-}" = true ]; then
    echo "build.sh: CI must build and test the Python package (see the python_env message above)" >&2
    exit 1
  fi
fi
# ccache when installed: it also serves the second, shared-library build tree of the
# LibraryConsumer test (tests/consumer), whose sources compile with the same flags.
launcher_args=()
if command -v ccache >/dev/null 2>&1; then
  launcher_args=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${launcher_args[@]}" "${python_args[@]}"
cmake --build build -j"$(nproc)"
