#!/usr/bin/env bash
# Installs the Debian packages autolm builds against (Debian 12). Idempotent.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libgtest-dev libgmock-dev libbenchmark-dev
      nlohmann-json3-dev libonig-dev libutf8proc-dev libsentencepiece-dev
      libopenblas-dev libcli11-dev zlib1g-dev libcpp-httplib-dev libboost-dev libcurl4-openssl-dev
      python3-dev python3-venv ccache)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
