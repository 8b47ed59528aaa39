/* The GEMM engine under gn_sgemm and the convolutions: a BLIS-style blocked driver (gemm.c) that
 * is shared by every ISA, over operands described by packing callbacks, so a convolution can
 * feed its input through an implicit im2col packer instead of materialising the column matrix.
 * Only the microkernels (gemm_ukr.h, instantiated per ISA) are ISA-specific. */
#ifndef GN_GEMM_ENGINE_H
#define GN_GEMM_ENGINE_H

#include "kernels/cpu.h"

#include <stddef.h>

typedef struct gn_gemm_src gn_gemm_src;

/* Packs one micro-panel of an operand. For the A operand (m x k): rows [r0, r0 + rows) of M and
 * columns [c0, c0 + cols) of K go to dst[c * width + r] with width == rows. For the B operand
 * (k x n): rows [r0, r0 + rows) of K and columns [c0, c0 + cols) of N go to dst[r * width + c],
 * columns [cols, width) zero-filled (width is the microkernel's NR). */
typedef void (*gn_pack_fn)(const gn_gemm_src *src, int r0, int rows, int c0, int cols,
                           float *dst, int width);

/* An operand: a packer and, for the strided packers, element (r, c) at p[r * rs + c * cs].
 * Other packers embed this struct as the first member of their own and cast back. */
struct gn_gemm_src {
    gn_pack_fn pack;
    const float *p;
    ptrdiff_t rs, cs;
};

void gn_pack_a_strided(const gn_gemm_src *src, int r0, int rows, int c0, int cols, float *dst,
                       int width);
void gn_pack_b_strided(const gn_gemm_src *src, int r0, int rows, int c0, int cols, float *dst,
                       int width);

/* The output: element (i, j) at p[i * rs + (j / cb) * cbs + j % cb]. Columns come in blocks of
 * cb contiguous floats, so one GEMM can write a batch of NCHW images (cb = H*W, cbs = C*H*W). */
typedef struct gn_gemm_dst {
    float *p;
    ptrdiff_t rs, cb, cbs;
} gn_gemm_dst;

/* One ISA's microkernels and cache blocking. */
typedef struct gn_gemm_kernels {
    int mr, nr;     /* largest microtile; packed A panels are <= mr rows, B panels nr columns */
    int kc, mc, nc; /* K, M, N cache blocks; mc is a multiple of mr, nc of nr                  */
    /* c[i * ldc + j] = alpha * sum_p a[p * mr + i] * b[p * nr_max + j] (+ beta * c), i < mr,
     * j < nr; beta == 0 does not read c. */
    void (*tile)(int mr, int nr, int k, const float *a, const float *b, float *c, ptrdiff_t ldc,
                 float alpha, float beta);
    /* The direct-convolution tile: as tile, but row p of the B panel is read in place at
     * b + boff[p] (nr columns used, a whole NR read: callers leave slack), alpha 1. */
    void (*otile)(int mr, int nr, int k, const float *a, const float *b, const int *boff,
                  float *c, ptrdiff_t ldc, float beta);
    int dot_mr, dot_nr, dot_vl; /* dot_vl: lanes of its accumulators (1: scalar) */
    /* Dot-product kernel for C += A * B^T when both operands are contiguous along K, which is
     * how NCHW stores the two factors of a weight gradient; it needs no packing. For i < mr,
     * j < nr: c[i * ldc + j] += sum over t < nb, q < len of
     *   a[t * a_bs + i * a_rs + q] * b[t * b_bs + j * b_rs + q]. */
    void (*dot)(int mr, int nr, int nb, int len, const float *a, ptrdiff_t a_rs, ptrdiff_t a_bs,
                const float *b, ptrdiff_t b_rs, ptrdiff_t b_bs, float *c, ptrdiff_t ldc);
    /* dst[j * dst_rs + i] = src[i * src_rs + j], i < rows, j < cols. */
    void (*transpose)(int rows, int cols, const float *src, ptrdiff_t src_rs, float *dst,
                      ptrdiff_t dst_rs);
} gn_gemm_kernels;

extern const gn_gemm_kernels gn_gemm_kernels_portable;
extern const gn_gemm_kernels gn_gemm_kernels_avx2;
extern const gn_gemm_kernels gn_gemm_kernels_avx512;

/* The kernels for isa, or the portable ones when this build has none for it. */
const gn_gemm_kernels *gn_gemm_kernels_for(gn_isa isa);

/* Workspace gn_gemm_run needs for an m x n x k product (n may be huge: the N block caps it). */
size_t gn_gemm_workspace(const gn_gemm_kernels *kr, int m, int n, int k);

/* C = alpha * A * B + beta * C through the operands' packers. */
void gn_gemm_run(const gn_gemm_kernels *kr, int m, int n, int k, float alpha, const gn_gemm_src *a,
                 const gn_gemm_src *b, float beta, const gn_gemm_dst *c, void *ws);

/* 64-byte aligned pointer into a workspace, and the slack a workspace size must include. */
#define GN_WS_ALIGN 64
float *gn_ws_align(void *p);

#endif
