#!/usr/bin/env bash
# Fresh Debian 12 machine → working autolm: installs dependencies, builds, and runs the bundled
# demo models (a trained T5 that spells numbers, and a tiny chat model).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
echo '$ ./build/autolm generate models/t5-numbers "spell: 4021"'
./build/autolm generate models/t5-numbers "spell: 4021"
echo '$ ./build/autolm chat models/chat-tiny --messages <(echo '"'"'[{"role":"user","content":"What is 12 + 30?"}]'"'"')'
./build/autolm chat models/chat-tiny --messages <(echo '[{"role":"user","content":"What is 12 + 30?"}]')
