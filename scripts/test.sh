#!/usr/bin/env bash
# The test command: builds, then runs every test (unit, parity against ../shared/fixtures, CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
