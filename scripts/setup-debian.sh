#!/usr/bin/env bash
# Installs the Debian packages ghostnet needs to build, test and run its demo, skipping the
# update and install when everything is already there. Uses sudo when not run as root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  zlib1g-dev libstb-dev libjpeg-dev libpng-dev
  python3-torch python3-torchvision python3-numpy python3-onnx python3-pil python3-skimage
  dataset-fashion-mnist
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
