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

/* c = alpha * acc (+ beta * c) for one tile row of nr columns in nv vectors (nr == nv * GN_VL:
 * no masks). */
GN_INLINE void tile_store_row(float *c, const gn_vf *acc, const int nv, int nr, float alpha,
                              float beta)
{
    gn_vf va = gn_vset1(alpha), vb = gn_vset1(beta);
    GN_UNROLL
    for (int v = 0; v < nv; v++) {
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

/* The microtile of both kernels, mr rows x nv vectors (nv <= GN_GEMM_NV): row p of the B panel
 * at b + p * GN_NR (packed, boff NULL) or at b + boff[p] (read in place); always inlined, so
 * each caller gets its own loop. */
GN_INLINE void tile_core(const int mr, const int nv, int nr, int k, const float *a,
                         const float *b, const int *boff, float *c, ptrdiff_t ldc, float alpha,
                         float beta)
{
    gn_vf acc[GN_GEMM_MR][GN_GEMM_NV];
    GN_UNROLL
    for (int i = 0; i < mr; i++) {
        GN_UNROLL
        for (int v = 0; v < nv; v++)
            acc[i][v] = gn_vzero();
    }
    for (int p = 0; p < k; p++) {
        const float *bp = boff ? b + boff[p] : b + (ptrdiff_t)p * GN_NR;
        gn_vf bv[GN_GEMM_NV];
        GN_UNROLL
        for (int v = 0; v < nv; v++)
            bv[v] = gn_vload(bp + v * GN_VL);
        GN_UNROLL
        for (int i = 0; i < mr; i++) {
            gn_vf av = gn_vset1(a[i]);
            GN_UNROLL
            for (int v = 0; v < nv; v++)
                acc[i][v] = gn_vfma(av, bv[v], acc[i][v]);
        }
        a += mr;
    }
    GN_UNROLL
    for (int i = 0; i < mr; i++)
        tile_store_row(c + (ptrdiff_t)i * ldc, acc[i], nv, nr, alpha, beta);
}

GN_INLINE void tile_body(const int mr, int nr, int k, const float *a, const float *b, float *c,
                         ptrdiff_t ldc, float alpha, float beta)
{
    tile_core(mr, GN_GEMM_NV, nr, k, a, b, NULL, c, ldc, alpha, beta);
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
 * past nr are read (the caller's buffers have the slack, up to GN_NR) but not stored. A tile of
 * at most one vector's columns (the weight gradient's last tile when a layer has 16 input
 * channels: 48 columns, one whole tile and a third of one) computes one vector per row instead
 * of GN_GEMM_NV, half the FMAs and loads on AVX-512 and AVX2, when it has rows enough (8) for
 * the independent FMA chains that two FMA pipes of 4 cycles' latency need. */
GN_INLINE void otile_body(const int mr, const int nv, int nr, int k, const float *a,
                          const float *b, const int *boff, float *c, ptrdiff_t ldc, float beta)
{
    tile_core(mr, nv, nr, k, a, b, boff, c, ldc, 1.0f, beta);
}

static void otile(int mr, int nr, int k, const float *a, const float *b, const int *boff,
                  float *c, ptrdiff_t ldc, float beta)
{
#define GN_OTILE_CASE(M)                                                                       \
    case M:                                                                                    \
        if (GN_GEMM_NV > 1 && M >= 8 && nr <= GN_VL)                                           \
            otile_body(M, 1, nr, k, a, b, boff, c, ldc, beta);                                 \
        else                                                                                   \
            otile_body(M, GN_GEMM_NV, nr, k, a, b, boff, c, ldc, beta);                        \
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

/* dst[j * dst_rs + i] = src[i * src_rs + j] for i < rows, j < cols: the packing transposes of
 * the direct weight gradient (NCHW planes to channels-innermost pixels). With AVX, 8 x 8 blocks
 * by unpack / shuffle / lane permutes, edges by masked loads and stores; scalar otherwise. */
#if GN_SIMD_LEVEL >= 1
GN_INLINE __m256i tr_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static void transpose(int rows, int cols, const float *src, ptrdiff_t src_rs, float *dst,
                      ptrdiff_t dst_rs)
{
    for (int i0 = 0; i0 < rows; i0 += 8) {
        int ni = rows - i0 < 8 ? rows - i0 : 8;
        __m256i store_mask = tr_mask(ni);
        for (int j0 = 0; j0 < cols; j0 += 8) {
            int nj = cols - j0 < 8 ? cols - j0 : 8;
            __m256i load_mask = tr_mask(nj);
            __m256 r[8];
            for (int i = 0; i < 8; i++) {
                const float *sp = src + (ptrdiff_t)(i0 + i) * src_rs + j0;
                r[i] = i >= ni ? _mm256_setzero_ps()
                       : nj == 8 ? _mm256_loadu_ps(sp)
                                 : _mm256_maskload_ps(sp, load_mask);
            }
            __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
            __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
            __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
            __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
            __m256 col[8] = {
                _mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
                _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
                _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
                _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31)};
            for (int j = 0; j < nj; j++) {
                float *dp = dst + (ptrdiff_t)(j0 + j) * dst_rs + i0;
                if (ni == 8)
                    _mm256_storeu_ps(dp, col[j]);
                else
                    _mm256_maskstore_ps(dp, store_mask, col[j]);
            }
        }
    }
}
#else
static void transpose(int rows, int cols, const float *src, ptrdiff_t src_rs, float *dst,
                      ptrdiff_t dst_rs)
{
    for (int i0 = 0; i0 < rows; i0 += 8)
        for (int j0 = 0; j0 < cols; j0 += 8)
            for (int i = i0; i < rows && i < i0 + 8; i++)
                for (int j = j0; j < cols && j < j0 + 8; j++)
                    dst[(ptrdiff_t)j * dst_rs + i] = src[(ptrdiff_t)i * src_rs + j];
}
#endif

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
    .transpose = transpose,
};
