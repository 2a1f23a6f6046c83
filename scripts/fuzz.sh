#!/usr/bin/env bash
# libFuzzer runs of the fuzz/ targets (docs/SECURITY.md).
#   scripts/fuzz.sh                     # every target, 600 s each
#   scripts/fuzz.sh jinja 60            # one target ("jinja" or "fuzz_jinja"), 60 s
#   scripts/fuzz.sh all 90              # every target, 90 s each
#   scripts/fuzz.sh regress             # replay fuzz/regressions/*/* (fixed bugs must stay fixed)
# Builds with clang into build-fuzz/ (libraries instrumented with ASan + UBSan + coverage).
# Findings (crash-*, leak-*, timeout-*, oom-*) land in fuzz/crashes/<target>/ (not committed);
# minimize one with  build-fuzz/fuzz/fuzz_<target> -minimize_crash=1 -runs=10000 FILE  and
# commit it under fuzz/regressions/<target>/. Exits non-zero when any target found something.
# FUZZ_JOBS: build parallelism (default nproc). FUZZ_TIMEOUT: seconds per input (default 10; a
# timeout on a loaded machine is wall-clock, so replay one before filing it). FUZZ_KEEP_GOING=1: fork mode, keep fuzzing
# after a finding (collects several per run). FUZZ_CPU=1: the time is CPU-seconds of the fuzzer
# process, not wall-clock (on a loaded machine a wall-clock run gets less CPU than it says; the
# fuzzer is interrupted, with its final stats, once it has used that much CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
what=${1:-all}
seconds=${2:-600}
all_targets=(safetensors safetensors_index weight_cache quantized config tokenizer tokenizer_encode jinja messages openai)

# --- toolchain --------------------------------------------------------------------------------
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends clang libclang-rt-dev
fi

cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DAUTOLM_FUZZ=ON -DAUTOLM_BUILD_TESTS=OFF \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null

if [ "$what" = all ] || [ "$what" = regress ]; then
  targets=("${all_targets[@]}")
else
  targets=("${what#fuzz_}")
fi
cmake --build build-fuzz -j"${FUZZ_JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"

# Third-party noise only; see the files. Leaks are on (libFuzzer's -detect_leaks=1 default).
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$root/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$root/fuzz/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export OPENBLAS_NUM_THREADS=1 AUTOLM_NUM_THREADS=${AUTOLM_NUM_THREADS:-1}
# The targets write each input to a file: RAM-backed, and removed even when a target crashed.
AUTOLM_FUZZ_TMPDIR=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/autolm-fuzz-run-XXXXXX")
export AUTOLM_FUZZ_TMPDIR
trap 'rm -rf "$AUTOLM_FUZZ_TMPDIR"' EXIT

# --- replay -----------------------------------------------------------------------------------
if [ "$what" = regress ]; then
  failed=0
  for t in "${targets[@]}"; do
    [ -d fuzz/regressions/$t ] || continue
    for f in fuzz/regressions/$t/*; do
      [ -f "$f" ] || continue
      if build-fuzz/fuzz/fuzz_$t -rss_limit_mb=2048 -timeout=10 "$f" >build-fuzz/regress.log 2>&1; then
        echo "ok      $f"
      else
        echo "FAILED  $f: $(grep -m1 -E 'ERROR|==autolm-fuzz==|runtime error|Timeout|out-of-memory' build-fuzz/regress.log || true)"
        failed=1
      fi
    done
  done
  exit $failed
fi

# --- fuzzing ----------------------------------------------------------------------------------
max_len() {
  case $1 in
    safetensors|safetensors_index|weight_cache|tokenizer_encode|openai) echo 4096 ;;
    tokenizer) echo 16384 ;;
    *) echo 8192 ;;
  esac
}
dict_parts() {
  case $1 in
    safetensors|safetensors_index|weight_cache) echo json safetensors ;;
    config) echo json config ;;
    tokenizer) echo json tokenizer ;;
    tokenizer_encode) echo "" ;;
    jinja) echo jinja ;;
    messages) echo json jinja ;;
    openai) echo json openai ;;
  esac
}
# Extra seeds from ../shared/fixtures when it is there (not committed: they are large or many).
fixture_seeds() {
  local t=$1 out=build-fuzz/seeds/$1 fx=${AUTOLM_FIXTURES:-$root/../shared/fixtures}
  rm -rf "$out"; mkdir -p "$out"
  [ -d "$fx" ] || return 0
  case $t in
    config) for f in "$fx"/models/*/config.json "$fx"/demo/*/config.json "$fx"/models/*/generation_config.json; do
              if [ -f "$f" ]; then cp "$f" "$out/$(basename "$(dirname "$f")")_$(basename "$f")"; fi; done ;;
    tokenizer) for f in "$fx"/tokenizers/*/tokenizer.json "$fx"/models/*/tokenizer.json; do
                 # (an if, not an && chain: a skipped last file must not end the script under set -e)
                 if [ -f "$f" ] && [ "$(stat -c %s "$f")" -le "$(max_len tokenizer)" ]; then
                   cp "$f" "$out/$(basename "$(dirname "$f")")"
                 fi; done ;;
    messages|jinja) for f in "$fx"/tokenizers/*/tokenizer_config.json "$fx"/models/*/tokenizer_config.json; do
                      [ -f "$f" ] || continue
                      python3 - "$f" "$out" "$t" <<'PY' || true
import json, os, sys
path, out, target = sys.argv[1:]
name = os.path.basename(os.path.dirname(path))
t = json.load(open(path)).get("chat_template")
if target == "jinja" and isinstance(t, str):
    open(os.path.join(out, name), "w").write(t)
PY
                    done
                    for f in "$fx"/refs/chat/*.json; do
                      [ -f "$f" ] && [ "$t" = messages ] && python3 - "$f" "$out" <<'PY' || true
import json, os, sys
path, out = sys.argv[1:]
for i, c in enumerate(json.load(open(path)).get("cases", [])):
    open(os.path.join(out, "%s_%d" % (os.path.basename(path)[:-5], i)), "w").write(json.dumps(c["messages"]))
PY
                    done ;;
  esac
}

status=0
summary=()
for t in "${targets[@]}"; do
  bin=build-fuzz/fuzz/fuzz_$t
  [ -x "$bin" ] || { summary+=("$(printf '%-18s not built' "$t")"); continue; }
  work=build-fuzz/corpus/$t crashes=fuzz/crashes/$t dict=build-fuzz/dicts/$t.dict
  mkdir -p "$work" "$crashes" build-fuzz/dicts build-fuzz/logs
  : >"$dict"
  for p in $(dict_parts "$t"); do cat "fuzz/dict/$p.dict" >>"$dict"; done
  fixture_seeds "$t"
  before=$(find "$crashes" -type f | wc -l)
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout="${FUZZ_TIMEOUT:-10}" -max_len="$(max_len "$t")"
        -artifact_prefix="$crashes/" -print_final_stats=1 -detect_leaks=1)
  [ -s "$dict" ] && args+=(-dict="$dict")
  [ "${FUZZ_KEEP_GOING:-0}" = 1 ] && args+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  log=build-fuzz/logs/$t.log
  echo "== fuzz_$t: ${seconds}s (log $log)"
  rc=0
  if [ "${FUZZ_CPU:-0}" = 1 ]; then
    args[0]=-max_total_time=$((seconds * 20))  # a wall-clock cap far above the CPU budget
    args+=(-interrupted_exit_code=0)           # our SIGINT at the budget is the normal end
    "$bin" "${args[@]}" "$work" "fuzz/corpus/$t" "build-fuzz/seeds/$t" >"$log" 2>&1 &
    pid=$!
    tck=$(getconf CLK_TCK) used=0
    while kill -0 "$pid" 2>/dev/null; do
      # utime + stime (fields 14, 15 of /proc/PID/stat; the name in field 2 has no spaces here)
      used=$(awk -v t="$tck" '{print int(($14 + $15) / t)}' "/proc/$pid/stat" 2>/dev/null || echo 0)
      if [ "${used:-0}" -ge "$seconds" ]; then kill -INT "$pid" 2>/dev/null || true; break; fi
      sleep 2
    done
    wait "$pid" || rc=$?
    # libFuzzer exits 72 when interrupted (clang 14 ignores -interrupted_exit_code): our SIGINT at
    # the budget is the normal end.
    if [ "$rc" = 72 ] && [ "${used:-0}" -ge "$seconds" ]; then rc=0; fi
  else
    "$bin" "${args[@]}" "$work" "fuzz/corpus/$t" "build-fuzz/seeds/$t" >"$log" 2>&1 || rc=$?
  fi
  found=$(( $(find "$crashes" -type f | wc -l) - before ))
  written=$(grep -c 'Test unit written to' "$log" || true)  # also counts a finding saved before
  [ "$written" -gt "$found" ] && found=$written
  execs=$(grep -oP 'stat::number_of_executed_units:\s+\K[0-9]+' "$log" | tail -1 || true)
  [ -z "$execs" ] && execs=$(grep -oP '^#\K[0-9]+' "$log" | tail -1 || true)
  cov=$(grep -oP 'cov: \K[0-9]+' "$log" | tail -1 || true)
  ft=$(grep -oP 'ft: \K[0-9]+' "$log" | tail -1 || true)
  rss=$(grep -oP 'stat::peak_rss_mb:\s+\K[0-9]+' "$log" | tail -1 || true)
  corp=$(find "$work" -type f | wc -l)
  line=$(printf '%-18s execs %-9s cov %-6s ft %-6s corpus %-5s peak_rss_mb %-5s findings %s' \
         "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp" "${rss:-?}" "$found")
  [ "${FUZZ_CPU:-0}" = 1 ] && line+="  cpu_s ${used}"
  if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
    status=1
    line+="  FAILED (rc $rc): $(grep -m1 -E 'ERROR: |==autolm-fuzz==|runtime error' "$log" | cut -c1-160 || true)"
  fi
  summary+=("$line")
  echo "${summary[-1]}"
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
