/* Microkernel template, compiled once per ISA: the including file defines GN_SIMD_LEVEL (then
 * includes simd.h), GN_GEMM_MR, GN_GEMM_NV (vectors per tile row, so NR = NV * GN_VL), GN_DOT_MR,
 * GN_DOT_NR, the blocking GN_GEMM_KC / MC / NC and GN_GEMM_TABLE, the name of the
 * gn_gemm_kernels table to define. Bodies are always-inline functions of a constant row count,
 * so each switch case below becomes its own fully unrolled kernel with every accumulator in a
 * register. */
#include "kernels/gemm/gemm_engine.h"
#include "kernels/gemm/simd.h"

#define GN_NR (GN_GEMM_NV * GN_VL)

#if defined(__GNUC__) || defined(__clang__)
#define GN_UNROLL _Pragma("GCC unroll 16")
#else
#define GN_UNROLL
#endif

/* c = alpha * acc (+ beta * c) for one tile row of nr columns (nr == GN_NR: no masks). */
GN_INLINE void tile_store_row(float *c, const gn_vf *acc, int nr, float alpha, float beta)
{
    gn_vf va = gn_vset1(alpha), vb = gn_vset1(beta);
    GN_UNROLL
    for (int v = 0; v < GN_GEMM_NV; v++) {
        int cols = nr - v * GN_VL;
        float *cp = c + v * GN_VL;
        gn_vf r = gn_vmul(va, acc[v]);
        if (cols >= GN_VL) {
            if (beta != 0.0f)
                r = gn_vfma(vb, gn_vload(cp), r);
            gn_vstore(cp, r);
        } else if (cols > 0) {
            gn_vmask m = gn_vmask_first(cols);
            if (beta != 0.0f)
                r = gn_vfma(vb, gn_vload_m(cp, m), r);
            gn_vstore_m(cp, m, r);
        }
    }
}

/* The microtile of both kernels: row p of the B panel at b + p * GN_NR (packed, boff NULL) or
 * at b + boff[p] (read in place); always inlined, so each caller gets its own loop. */
GN_INLINE void tile_core(const int mr, int nr, int k, const float *a, const float *b,
                         const int *boff, float *c, ptrdiff_t ldc, float alpha, float beta)
{
    gn_vf acc[GN_GEMM_MR][GN_GEMM_NV];
    GN_UNROLL
    for (int i = 0; i < mr; i++) {
        GN_UNROLL
        for (int v = 0; v < GN_GEMM_NV; v++)
            acc[i][v] = gn_vzero();
    }
    for (int p = 0; p < k; p++) {
        const float *bp = boff ? b + boff[p] : b + (ptrdiff_t)p * GN_NR;
        gn_vf bv[GN_GEMM_NV];
        GN_UNROLL
        for (int v = 0; v < GN_GEMM_NV; v++)
            bv[v] = gn_vload(bp + v * GN_VL);
        GN_UNROLL
        for (int i = 0; i < mr; i++) {
            gn_vf av = gn_vset1(a[i]);
            GN_UNROLL
            for (int v = 0; v < GN_GEMM_NV; v++)
                acc[i][v] = gn_vfma(av, bv[v], acc[i][v]);
        }
        a += mr;
    }
    GN_UNROLL
    for (int i = 0; i < mr; i++)
        tile_store_row(c + (ptrdiff_t)i * ldc, acc[i], nr, alpha, beta);
}

GN_INLINE void tile_body(const int mr, int nr, int k, const float *a, const float *b, float *c,
                         ptrdiff_t ldc, float alpha, float beta)
{
    tile_core(mr, nr, k, a, b, NULL, c, ldc, alpha, beta);
}

static void tile(int mr, int nr, int k, const float *a, const float *b, float *c, ptrdiff_t ldc,
                 float alpha, float beta)
{
#define GN_TILE_CASE(M)                                                                        \
    case M:                                                                                    \
        tile_body(M, nr, k, a, b, c, ldc, alpha, beta);                                        \
        break;
    switch (mr) {
        GN_TILE_CASE(1)
        GN_TILE_CASE(2)
        GN_TILE_CASE(3)
        GN_TILE_CASE(4)
#if GN_GEMM_MR >= 6
        GN_TILE_CASE(5)
        GN_TILE_CASE(6)
#endif
#if GN_GEMM_MR >= 8
        GN_TILE_CASE(7)
        GN_TILE_CASE(8)
#endif
#if GN_GEMM_MR >= 14
        GN_TILE_CASE(9)
        GN_TILE_CASE(10)
        GN_TILE_CASE(11)
        GN_TILE_CASE(12)
        GN_TILE_CASE(13)
        GN_TILE_CASE(14)
#endif
    default:
        break;
    }
#undef GN_TILE_CASE
}

/* The tile of a direct convolution: B is not packed but read in place, row p of the panel at
 * b + boff[p] (a tap of a zero-padded input plane, shifted), so no im2col is ever built.
 * c[i * ldc + j] = sum_p a[p * mr + i] * b[boff[p] + j] (+ c when beta != 0), j < nr; columns
 * past nr are read (the caller's buffers have the slack) but not stored. */
GN_INLINE void otile_body(const int mr, int nr, int k, const float *a, const float *b,
                          const int *boff, float *c, ptrdiff_t ldc, float beta)
{
    tile_core(mr, nr, k, a, b, boff, c, ldc, 1.0f, beta);
}

static void otile(int mr, int nr, int k, const float *a, const float *b, const int *boff,
                  float *c, ptrdiff_t ldc, float beta)
{
#define GN_OTILE_CASE(M)                                                                       \
    case M:                                                                                    \
        otile_body(M, nr, k, a, b, boff, c, ldc, beta);                                        \
        break;
    switch (mr) {
        GN_OTILE_CASE(1)
        GN_OTILE_CASE(2)
        GN_OTILE_CASE(3)
        GN_OTILE_CASE(4)
#if GN_GEMM_MR >= 6
        GN_OTILE_CASE(5)
        GN_OTILE_CASE(6)
#endif
#if GN_GEMM_MR >= 8
        GN_OTILE_CASE(7)
        GN_OTILE_CASE(8)
#endif
#if GN_GEMM_MR >= 14
        GN_OTILE_CASE(9)
        GN_OTILE_CASE(10)
        GN_OTILE_CASE(11)
        GN_OTILE_CASE(12)
        GN_OTILE_CASE(13)
        GN_OTILE_CASE(14)
#endif
    default:
        break;
    }
#undef GN_OTILE_CASE
}

GN_INLINE void dot_body(const int mr, int nr, int nb, int len, const float *a, ptrdiff_t a_rs,
                        ptrdiff_t a_bs, const float *b, ptrdiff_t b_rs, ptrdiff_t b_bs, float *c,
                        ptrdiff_t ldc)
{
    gn_vf acc[GN_DOT_MR][GN_DOT_NR];
    ptrdiff_t boff[GN_DOT_NR];
    /* columns past nr re-read the last real row (cached) and their sums are dropped */
    GN_UNROLL
    for (int j = 0; j < GN_DOT_NR; j++)
        boff[j] = (ptrdiff_t)(j < nr ? j : nr - 1) * b_rs;
    GN_UNROLL
    for (int i = 0; i < mr; i++) {
        GN_UNROLL
        for (int j = 0; j < GN_DOT_NR; j++)
            acc[i][j] = gn_vzero();
    }
    int full = len - len % GN_VL, rest = len - full;
    gn_vmask m = gn_vmask_first(rest);
    for (int t = 0; t < nb; t++, a += a_bs, b += b_bs) {
        for (int q = 0; q < full; q += GN_VL) {
            gn_vf av[GN_DOT_MR];
            GN_UNROLL
            for (int i = 0; i < mr; i++)
                av[i] = gn_vload(a + i * a_rs + q);
            GN_UNROLL
            for (int j = 0; j < GN_DOT_NR; j++) {
                gn_vf bv = gn_vload(b + boff[j] + q);
                GN_UNROLL
                for (int i = 0; i < mr; i++)
                    acc[i][j] = gn_vfma(av[i], bv, acc[i][j]);
            }
        }
        if (rest) { /* masked lanes load as zero and add nothing */
            gn_vf av[GN_DOT_MR];
            GN_UNROLL
            for (int i = 0; i < mr; i++)
                av[i] = gn_vload_m(a + i * a_rs + full, m);
            GN_UNROLL
            for (int j = 0; j < GN_DOT_NR; j++) {
                gn_vf bv = gn_vload_m(b + boff[j] + full, m);
                GN_UNROLL
                for (int i = 0; i < mr; i++)
                    acc[i][j] = gn_vfma(av[i], bv, acc[i][j]);
            }
        }
    }
    GN_UNROLL
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            c[i * ldc + j] += gn_vsum(acc[i][j]);
}

static void dot(int mr, int nr, int nb, int len, const float *a, ptrdiff_t a_rs, ptrdiff_t a_bs,
                const float *b, ptrdiff_t b_rs, ptrdiff_t b_bs, float *c, ptrdiff_t ldc)
{
#define GN_DOT_CASE(M)                                                                         \
    case M:                                                                                    \
        dot_body(M, nr, nb, len, a, a_rs, a_bs, b, b_rs, b_bs, c, ldc);                        \
        break;
    switch (mr) {
        GN_DOT_CASE(1)
        GN_DOT_CASE(2)
#if GN_DOT_MR >= 3
        GN_DOT_CASE(3)
#endif
#if GN_DOT_MR >= 4
        GN_DOT_CASE(4)
#endif
    default:
        break;
    }
#undef GN_DOT_CASE
}

const gn_gemm_kernels GN_GEMM_TABLE = {
    .mr = GN_GEMM_MR,
    .nr = GN_NR,
    .kc = GN_GEMM_KC,
    .mc = GN_GEMM_MC,
    .nc = GN_GEMM_NC,
    .tile = tile,
    .otile = otile,
    .dot_mr = GN_DOT_MR,
    .dot_nr = GN_DOT_NR,
    .dot_vl = GN_VL,
    .dot = dot,
};
