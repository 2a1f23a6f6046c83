#!/usr/bin/env bash
# Creates the benchmark's virtualenv (outside the repository) and installs the
# peer engines from PyPI: transformers + torch, CTranslate2, llama-cpp-python
# (which compiles llama.cpp from source), gguf, safetensors, numpy.
#
#   bench/setup.sh                 # everything
#   bench/setup.sh --no-llama      # skip llama-cpp-python (long source build)
#   bench/setup.sh --llama-server  # also build llama.cpp's llama-server and llama-quantize from the
#                                  # same sdist's sources into $CACHE/llama-server (bench/serve_load.py;
#                                  # bench/run.py's llama.cpp-Q4_0 / -Q4_K_M quantize with it, or else
#                                  # through llama-cpp-python's llama_model_quantize binding)
#
# Environment:
#   AUTOLM_BENCH_CACHE  cache dir: venv, models, conversions, llama.cpp converter
#                       (default $HOME/.cache/autolm-bench)
#   AUTOLM_BENCH_VENV   venv path (default $AUTOLM_BENCH_CACHE/venv)
#   PYTHON              interpreter used to create the venv (default python3)
#   LLAMA_BUILD_JOBS    parallel jobs for the llama.cpp build (default 2)
set -u
CACHE="${AUTOLM_BENCH_CACHE:-$HOME/.cache/autolm-bench}"
VENV="${AUTOLM_BENCH_VENV:-$CACHE/venv}"
PY="${PYTHON:-python3}"
WITH_LLAMA=1
WITH_SERVER=0
for a in "$@"; do
  case "$a" in
    --no-llama) WITH_LLAMA=0 ;;
    --llama-server) WITH_SERVER=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done

log() { echo "[setup] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV" || { echo "venv creation failed" >&2; exit 1; }
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check)
"${PIP[@]}" -q --upgrade pip wheel setuptools >/dev/null 2>&1 || true

status=0
# torch: prefer the small CPU-only wheel when its index is reachable; otherwise
# plain PyPI (a CUDA build, which runs fine on CPU, just larger).
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if timeout 10 "$VENV/bin/python" -c \
      'import urllib.request; urllib.request.urlopen("https://download.pytorch.org/whl/cpu/", timeout=8)' 2>/dev/null; then
    log "installing torch (CPU wheel index)"
    "${PIP[@]}" torch --index-url https://download.pytorch.org/whl/cpu || status=1
  else
    log "installing torch from PyPI (CPU index unreachable)"
    "${PIP[@]}" torch || status=1
  fi
fi

log "installing numpy transformers safetensors sentencepiece ctranslate2 gguf"
"${PIP[@]}" numpy transformers safetensors sentencepiece protobuf ctranslate2 gguf || status=1

if [ "$WITH_LLAMA" = 1 ]; then
  # The sdist carries llama.cpp's sources, including convert_hf_to_gguf.py + conversion/ +
  # gguf-py/, which bench/gguf_convert.py uses: keep those under $CACHE/llama.cpp.
  SDIST_DIR="$CACHE/sdist"
  mkdir -p "$SDIST_DIR"
  SDIST=$(ls "$SDIST_DIR"/llama_cpp_python-*.tar.gz 2>/dev/null | tail -1)
  if [ -z "$SDIST" ]; then
    log "downloading the llama-cpp-python sdist"
    "$VENV/bin/python" -m pip download -q --no-deps --no-binary :all: llama-cpp-python -d "$SDIST_DIR" || status=1
    SDIST=$(ls "$SDIST_DIR"/llama_cpp_python-*.tar.gz 2>/dev/null | tail -1)
  fi
  if [ -n "$SDIST" ] && [ ! -f "$CACHE/llama.cpp/convert_hf_to_gguf.py" ]; then
    top=$(basename "$SDIST" .tar.gz)
    tmp=$(mktemp -d)
    tar xzf "$SDIST" -C "$tmp" --wildcards "$top/vendor/llama.cpp/convert_hf_to_gguf.py" \
        "$top/vendor/llama.cpp/conversion/*" "$top/vendor/llama.cpp/gguf-py/*" &&
      mkdir -p "$CACHE/llama.cpp" && cp -r "$tmp/$top/vendor/llama.cpp/." "$CACHE/llama.cpp/" ||
      { log "could not unpack llama.cpp's converter"; status=1; }
    rm -rf "$tmp"
  fi
  if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
    log "building llama-cpp-python from source (llama.cpp, CPU only; takes a while)"
    CMAKE_BUILD_PARALLEL_LEVEL="${LLAMA_BUILD_JOBS:-2}" \
    CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON -DGGML_CUDA=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF}" \
      "${PIP[@]}" --no-cache-dir "${SDIST:-llama-cpp-python}" ||
      { log "llama-cpp-python failed (the benchmark reports it as n/a)"; status=1; }
  fi
fi

if [ "$WITH_LLAMA" = 1 ] && [ "$WITH_SERVER" = 1 ] && [ -n "${SDIST:-}" ] && { [ ! -x "$CACHE/llama-server/build/bin/llama-server" ] || [ ! -x "$CACHE/llama-server/build/bin/llama-quantize" ]; }; then
  # llama.cpp's own server, from the llama-cpp-python sdist's vendored llama.cpp (CPU, native ISA).
  log "building llama-server and llama-quantize from $SDIST"
  top=$(tar tzf "$SDIST" | head -1 | cut -d/ -f1)
  mkdir -p "$CACHE/llama-server" && { [ -d "$CACHE/llama-server/$top" ] || tar xzf "$SDIST" -C "$CACHE/llama-server"; } &&
    cmake -S "$CACHE/llama-server/$top/vendor/llama.cpp" -B "$CACHE/llama-server/build" -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=ON -DGGML_BLAS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
      -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >/dev/null &&
    cmake --build "$CACHE/llama-server/build" -j "${LLAMA_BUILD_JOBS:-2}" --target llama-server llama-quantize >/dev/null ||
    { log "llama-server build failed"; status=1; }
fi

"$VENV/bin/python" - <<'EOF'
import importlib
for m in ["numpy", "torch", "transformers", "safetensors", "ctranslate2", "gguf", "llama_cpp"]:
    try:
        mod = importlib.import_module(m)
        print(f"  {m:14s} {getattr(mod, '__version__', '?')}")
    except Exception as e:
        print(f"  {m:14s} n/a ({type(e).__name__}: {e})")
EOF
log "venv: $VENV"
exit $status
