#!/usr/bin/env bash
# Installs the Debian packages convkit needs (idempotent; as root, or through
# sudo) and makes a release build in build/. chromium is for the tests, which
# load convkit report's pages in it, headless.
#   scripts/setup.sh           build dependencies, test tools, default data
#   scripts/setup.sh --bench   also the peers the benchmarks compare against
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config check sqlite3 libvips-tools
          libvips-dev libarchive-dev libsqlite3-dev libopenblas-dev libxxhash-dev
          zlib1g-dev libjansson-dev libhdf5-dev libplplot-dev plplot-driver-cairo
          libturbojpeg0-dev libtcmalloc-minimal4 dataset-fashion-mnist
          openmpi-bin libopenmpi-dev chromium)
if [ "${1:-}" = "--bench" ]; then
  packages+=(python3 python3-pil python3-numpy python3-torch python3-torchvision
             libjpeg-turbo-progs time jq)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/cli/convkit"
