#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is missing, build, train a GhostNet on
# Fashion-MNIST (Debian's dataset-fashion-mnist) for a few minutes on all cores, evaluate it on
# the 10,000 test images, classify a few of them, and print params, MACs and latency.
# A second run reuses the trained model (delete demo/ to train again).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/setup-debian.sh

echo "=== build ==="
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$jobs" --target ghostnet >/dev/null
gn=build/release/ghostnet
mkdir -p demo
model=demo/ghostnet-fashion.safetensors

# GhostNet 0.5x with a stride-1 stem (--small-input) for 28x28 images: 1.3M parameters,
# 3.9M MACs per image.
if [ -f "$model" ]; then
  echo "=== reusing $model (delete demo/ to train again) ==="
else
  echo "=== train (GhostNet 0.5x, small input, Fashion-MNIST, $jobs threads) ==="
  "$gn" train --arch ghostnet --width 0.5 --small-input --data fashion-mnist \
    --epochs 3 --batch 128 --lr 0.2 --schedule cosine --warmup-epochs 0.3 \
    --label-smoothing 0.1 --crop-padding 2 --threads "$jobs" --seed 1 \
    -o "$model"
fi

echo "=== model ==="
"$gn" info --weights "$model" | tail -n 1 | awk '{print "params " $2 ", MACs per image " $3}'

echo "=== evaluate on the Fashion-MNIST test set ==="
"$gn" eval --weights "$model" --data fashion-mnist --threads "$jobs" --show 6

if "$gn" bench --help >/dev/null 2>&1; then
  echo "=== latency (batch 1, 1 thread) ==="
  "$gn" bench --weights "$model" --threads 1 --batch 1 --runs 200
fi
