/* Single-precision GEMM for the training kernels: row-major C = alpha * op(A) * op(B) + beta * C.
 *
 * op(A) is m x k: A itself (m rows of lda >= k floats) or, with trans_a, the transpose of a k x m
 * matrix (k rows of lda >= m floats); likewise op(B) is k x n. C is m rows of ldc >= n floats.
 * As in BLAS, beta == 0 means C is only written, never read (it may hold NaN), and alpha == 0 or
 * k == 0 only scales C by beta. Any m, n, k >= 0.
 *
 * gn_sgemm packs A and B into cache-sized panels and runs a register-blocked microkernel of the
 * given ISA (AVX-512 14x32, AVX2 6x16, portable 4x8); an ISA the build has no kernels for (NEON,
 * or x86 variants on a build without the per-file ISA flags) runs the portable kernels. The
 * caller must only pass an ISA the CPU supports. No allocation: the packing buffers live in the
 * caller's workspace of gn_sgemm_workspace_bytes(isa, m, n, k) bytes (any alignment; the
 * kernels align inside it). Calls share no state, so threads may run them concurrently with
 * their own workspaces. */
#ifndef GN_GEMM_H
#define GN_GEMM_H

#include "kernels/cpu.h"

#include <stddef.h>

size_t gn_sgemm_workspace_bytes(gn_isa isa, int m, int n, int k);

void gn_sgemm(gn_isa isa, int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc,
              void *workspace);

/* The plain triple loop every optimised variant is tested against (double accumulation). */
void gn_sgemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc);

#endif
