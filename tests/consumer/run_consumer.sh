#!/usr/bin/env bash
# ctest LibraryConsumer (label `consumer`, issue 20): installs autolm and builds
# tests/consumer/project — an out-of-tree program that runs a generation on the bundled
# t5-numbers — against it four ways: find_package(autolm) and `pkg-config autolm`, each against
# the static libautolm.a of this build tree and against the shared libautolm.so of a second
# tree configured with -DBUILD_SHARED_LIBS=ON (sources compiled with the same flags, so ccache,
# when this tree uses it, serves that second build). Also checks `autolm --version`, the
# SONAME, that libautolm.so exports no internal symbols, and that a parent project using
# add_subdirectory gets none of autolm's compile options (tests/consumer/subproject).
# Usage: run_consumer.sh <source dir> <this build dir> <shared build dir> <c++ compiler> [launcher]
set -euo pipefail
src=$1 build=$2 shared_build=$3 cxx=$4 launcher=${5:-}
work=$build/consumer
rm -rf "$work"
mkdir -p "$work"
version=$(sed -n 's/^#define AUTOLM_VERSION_STRING "\(.*\)"$/\1/p' "$build/generated/include/autolm/version.h")
soversion=${version%.*}
model=$src/models/t5-numbers
expected="autolm $version: four thousand twenty-one"
cmake_args=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_COMPILER=$cxx")
[ -n "$launcher" ] && cmake_args+=("-DCMAKE_CXX_COMPILER_LAUNCHER=$launcher")
jobs=$(nproc 2>/dev/null || echo 2)

fail() { echo "FAIL: $*" >&2; exit 1; }
timed() {  # label, command...: runs quietly, prints the time, shows the output on failure
  local label=$1 start=$SECONDS log=$work/log.txt
  shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "$label"; }
  echo "[$((SECONDS - start)) s] $label"
}
run_consumer() {  # label, executable
  local out
  out=$("$2" "$model" "spell: 4021") || fail "$1: the consumer exited with $?"
  [ "$out" = "$expected" ] || fail "$1: printed \"$out\", expected \"$expected\""
  echo "ok: $1"
}
pkg_build() {  # prefix, output: the README's `c++ app.cc $(pkg-config --cflags --libs autolm)`
  local prefix=$1 out=$2
  # shellcheck disable=SC2046  # pkg-config prints flags to split
  "$cxx" -std=c++20 -O1 "$src/tests/consumer/project/main.cc" -o "$out" \
    $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs autolm)
}

# --- static: this build tree's libautolm.a
static=$work/static
install_tree() {  # build dir, prefix: the library's components (not the Python package's)
  cmake --install "$1" --prefix "$2" --component autolm_runtime &&
    cmake --install "$1" --prefix "$2" --component autolm_development
}
timed "install (static)" install_tree "$build" "$static"
[ -f "$static/lib/libautolm.a" ] || fail "no lib/libautolm.a installed"
[ -f "$static/include/autolm/autolm.h" ] && [ -f "$static/include/autolm/version.h" ] || fail "headers not installed"
if [ -x "$static/bin/autolm" ]; then
  [ "$("$static/bin/autolm" --version)" = "autolm $version" ] || fail "autolm --version"
  echo "ok: installed autolm --version"
fi
timed "find_package consumer (static)" bash -c "cmake -S '$src/tests/consumer/project' -B '$work/static-cmake' \
  -DCMAKE_PREFIX_PATH='$static' ${cmake_args[*]} && cmake --build '$work/static-cmake'"
run_consumer "find_package(autolm), static" "$work/static-cmake/consumer"
timed "pkg-config consumer (static)" pkg_build "$static" "$work/static-pkg-config"
run_consumer "pkg-config autolm, static" "$work/static-pkg-config"

# --- shared: a second tree with BUILD_SHARED_LIBS=ON, library only
shared=$work/shared
timed "configure (BUILD_SHARED_LIBS=ON)" cmake -S "$src" -B "$shared_build" -DBUILD_SHARED_LIBS=ON \
  -DAUTOLM_BUILD_TESTS=OFF -DAUTOLM_BUILD_TOOLS=OFF "${cmake_args[@]}"
timed "build libautolm.so" cmake --build "$shared_build" -j"$jobs"
timed "install (shared)" install_tree "$shared_build" "$shared"
lib=$shared/lib/libautolm.so
[ -f "$lib" ] && [ ! -e "$shared/lib/libautolm.a" ] || fail "expected lib/libautolm.so and no libautolm.a"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libautolm.so.$soversion" ] || fail "SONAME is \"$soname\", expected libautolm.so.$soversion"
echo "ok: SONAME $soname"
exported=$(nm -DC --defined-only "$lib" | grep -c ' autolm::' || true)
internal=$(nm -DC --defined-only "$lib" | grep -E ' (typeinfo for |vtable for )?autolm::(tokenizer_detail|jinja|grammar|cli)::| autolm::(WeightStore|ThreadPool|KVCache|MappedFile)' || true)
[ -z "$internal" ] || fail "libautolm.so exports internal symbols:"$'\n'"$(echo "$internal" | head -20)"
echo "ok: $exported autolm:: symbols exported, no internal ones"
timed "find_package consumer (shared)" bash -c "cmake -S '$src/tests/consumer/project' -B '$work/shared-cmake' \
  -DCMAKE_PREFIX_PATH='$shared' ${cmake_args[*]} && cmake --build '$work/shared-cmake'"
run_consumer "find_package(autolm), shared" "$work/shared-cmake/consumer"
timed "pkg-config consumer (shared)" pkg_build "$shared" "$work/shared-pkg-config"
LD_LIBRARY_PATH=$shared/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} run_consumer "pkg-config autolm, shared" "$work/shared-pkg-config"

# --- add_subdirectory: configured only; the parent's own target gets none of autolm's flags
timed "configure a parent project with add_subdirectory(autolm)" cmake -S "$src/tests/consumer/subproject" \
  -B "$work/subproject" "-DAUTOLM_SOURCE_DIR=$src" "-DCMAKE_CXX_COMPILER=$cxx"
flags=$(cat "$work/subproject/CMakeFiles/parent.dir/flags.make")
for leak in -Wall -Wextra -fvisibility -mavx -mfma -O2; do
  case "$flags" in *"$leak"*) fail "autolm's $leak reached the parent project's target: $flags" ;; esac
done
echo "ok: add_subdirectory leaks no flags; autolm's tests and tools are off"
