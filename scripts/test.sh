#!/usr/bin/env bash
# The full test suite, as CI runs it on a fresh Debian machine:
#   1. release build with -Werror (gcc) and every test, including the live PyTorch comparisons;
#   2. the same tests built with AddressSanitizer + UndefinedBehaviorSanitizer (clang);
#   3. an aarch64 cross build of the library's kernels and plan, its tests run under qemu-user;
#   4. install to a scratch prefix and build examples/ against it (CMake package and pkg-config).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/setup-debian.sh

# Each step names the free disk space: a full disk shows up as unrelated crashes (torch.save
# aborting the interpreter). A clean clone is ~0.6 GB after the whole suite (`du -sh` of it
# after `bash .ci/run`), plus up to ~0.4 GB of scratch while the PyTorch tests run.
step() { printf '\n=== %s ===\n' "$*"; df -h . | awk 'NR == 2 { print "(disk: " $4 " free)" }'; }

step "release build (gcc, -Werror)"
# GN_BUILD_BENCH: the kernel micro-benchmark is built (not run) so it keeps up with the kernels'
# signatures; it once fell behind them unnoticed while it was built only on request.
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DGN_WERROR=ON -DGN_BUILD_BENCH=ON >/dev/null
cmake --build build/release -j "$jobs"
ctest --test-dir build/release --output-on-failure -j "$jobs"

step "sanitizer build (clang, ASan + UBSan, -Werror)"
CC=clang cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGN_WERROR=ON \
  -DGN_SANITIZE=ON >/dev/null
cmake --build build/sanitize -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/sanitize --output-on-failure -j "$jobs"

step "aarch64 cross build (gcc-aarch64-linux-gnu, -Werror): NEON and portable kernels under qemu-user"
bash tests/cross/plan_aarch64.sh build/aarch64

step "install and build the example against the installed copy"
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install build/release --prefix "$prefix" >/dev/null
cmake -S examples -B build/example -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build build/example -j "$jobs"
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" cc -std=c11 -o build/example/classify-pc \
  examples/classify.c $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs ghostnet) -lm
"$prefix/bin/ghostnet" init --arch ghostnet --width 0.5 --classes 10 --seed 1 \
  -o build/example/model.safetensors
LD_LIBRARY_PATH="$prefix/lib" build/example/classify build/example/model.safetensors
LD_LIBRARY_PATH="$prefix/lib" build/example/classify-pc build/example/model.safetensors >/dev/null

step "all tests passed"
