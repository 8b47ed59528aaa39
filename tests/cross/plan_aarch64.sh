#!/usr/bin/env bash
# The inference plan and its kernels on aarch64 (NEON and portable): cross-compiles the library
# sources that need no third-party libraries (no zlib, libpng, libjpeg for arm64 on the build
# machine) with Debian's gcc-aarch64-linux-gnu at the project's warning level, links
# tests/test_plan_kernels.c, tests/test_plan.c and tests/test_plane.c, and runs them under
# qemu-user.
#   tests/cross/plan_aarch64.sh [build-dir]      (default build-aarch64)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-aarch64}
cc=aarch64-linux-gnu-gcc
mkdir -p "$out/obj"
flags=(-std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow -Wstrict-prototypes
       -Wmissing-prototypes -Wvla -Werror -Iinclude -Isrc)
sources=$(ls src/core/*.c src/layers/*.c src/kernels/*.c src/kernels/*/*.c src/plan/*.c \
          src/models/*.c src/train/*.c src/io/*.c | grep -v -e src/io/zip.c -e src/io/pth.c \
          -e src/io/checkpoint.c)
objects=()
for src in $sources; do
  objects+=("$out/obj/$(echo "$src" | tr / _).o")
done
# one compiler per core (xargs fails if any compile fails)
printf '%s\n' $sources |
  xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} sh -c \
    "$cc ${flags[*]} -c {} -o $out/obj/\$(echo {} | tr / _).o"
for test in test_plan_kernels test_plan test_plane; do
  "$cc" "${flags[@]}" "tests/$test.c" tests/harness.c "${objects[@]}" -o "$out/$test" -lm -lpthread
  GN_TEST_TMP="$out" qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/$test"
done
