/* The inner inference kernels, written once and compiled once per ISA. The including file
 * defines GN_SIMD_LEVEL, GN_INFER_NV_MAX (widest GEMM panel in vectors), GN_INFER_MR1 ...
 * GN_INFER_MR<NV_MAX> (tile rows for each panel width; sized so the accumulators fit the
 * register file), GN_INFER_ISA and GN_INFER_TABLE (the gn_infer_kernels table to define).
 * Everything here is static; the bodies are always-inline functions of constant sizes, so each
 * (rows, vectors) or (kernel, stride) case becomes its own fully unrolled kernel. */
#include "kernels/infer/infer.h"
#include "kernels/infer/vec.h"

#if defined(__GNUC__) || defined(__clang__)
#define GN_INFER_UNROLL _Pragma("GCC unroll 32")
#else
#define GN_INFER_UNROLL
#endif

#if GN_INFER_NV_MAX > GN_NV_LIMIT
#error "GN_INFER_NV_MAX exceeds GN_NV_LIMIT"
#endif

GN_INLINE gn_vf apply_act(gn_vf v, gn_act act)
{
    if (act == GN_ACT_RELU)
        return gn_vmax(v, gn_vzero());
    if (act == GN_ACT_HARD_SIGMOID) {
        gn_vf six = gn_vset1(6.0f);
        gn_vf t = gn_vmin(gn_vmax(gn_vadd(v, gn_vset1(3.0f)), gn_vzero()), six);
        return gn_vdiv(t, six); /* divide, as PyTorch does, so results match to the bit */
    }
    return v;
}

/* The epilogue of infer.h for one vector of `lanes` channels (GN_VL or fewer). raw and residual
 * may be NULL. */
GN_INLINE void finish(gn_vf v, int lanes, gn_act act, float *raw, const float *residual,
                      gn_act act_after, float *y)
{
    v = apply_act(v, act);
    if (lanes >= GN_VL) {
        if (raw)
            gn_vstore(raw, v);
        if (residual)
            v = gn_vadd(v, gn_vload(residual));
        gn_vstore(y, apply_act(v, act_after));
        return;
    }
    gn_vmask m = gn_vmask_first(lanes);
    if (raw)
        gn_vstore_m(raw, m, v);
    if (residual)
        v = gn_vadd(v, gn_vload_m(residual, m));
    gn_vstore_m(y, m, apply_act(v, act_after));
}

/* ---- GEMM tile ------------------------------------------------------------------------------ */

/* How far ahead the streaming tile prefetches its weights, in floats (4 KB). */
#define GN_STREAM_AHEAD 1024

/* stream (a constant): prefetch the panel GN_STREAM_AHEAD floats ahead of its reads, for
 * weights that come from memory (gn_conv_pack); the hardware's own prefetch left VGG-16's
 * 512-channel layers at batch 1 at 7-10 GB/s. */
GN_INLINE void gemm_tile_body(const int mr, const int nv, const int stream, const gn_tile *t)
{
    gn_vf acc[GN_TILE_ROWS][GN_INFER_NV_MAX];
    GN_INFER_UNROLL
    for (int i = 0; i < mr; i++) {
        GN_INFER_UNROLL
        for (int v = 0; v < nv; v++)
            acc[i][v] = gn_vzero();
    }
    const float *b = t->b;
    for (int tap = 0; tap < t->taps; tap++) {
        const float *a[GN_TILE_ROWS];
        ptrdiff_t offset = t->tap_offset[tap];
        GN_INFER_UNROLL
        for (int i = 0; i < mr; i++)
            a[i] = t->a[i] + offset;
        for (int k = 0; k < t->kc; k++) {
            gn_vf bv[GN_INFER_NV_MAX];
            GN_INFER_UNROLL
            for (int v = 0; v < nv; v++) {
                bv[v] = gn_vload(b + v * GN_VL);
                if (stream)
                    GN_PREFETCH(b + v * GN_VL + GN_STREAM_AHEAD);
            }
            GN_INFER_UNROLL
            for (int i = 0; i < mr; i++) {
                gn_vf av = gn_vset1(a[i][k]);
                GN_INFER_UNROLL
                for (int v = 0; v < nv; v++)
                    acc[i][v] = gn_vfma(av, bv[v], acc[i][v]);
            }
            b += nv * GN_VL;
        }
    }
    GN_INFER_UNROLL
    for (int i = 0; i < mr; i++) {
        GN_INFER_UNROLL
        for (int v = 0; v < nv; v++) {
            int lanes = t->nr - v * GN_VL;
            if (lanes <= 0)
                break;
            int at = v * GN_VL;
            finish(gn_vadd(acc[i][v], gn_vload(t->bias + at)), lanes, t->act,
                   t->raw ? t->raw[i] + at : NULL, t->residual ? t->residual[i] + at : NULL,
                   t->act_after, t->y[i] + at);
        }
    }
}

/* One function per panel width; the row count picks a fully unrolled case of BODY(M, NV, t).
 * Cases above the width's row limit are never taken (the driver never asks for them) and fold
 * away. */
#define GN_ROW_CASE(BODY, M, NV, LIMIT)                                                        \
    case M:                                                                                    \
        if (M <= (LIMIT))                                                                      \
            BODY(M, NV, t);                                                                    \
        break;
#define GN_ROWS_SWITCH(BODY, NV, LIMIT)                                                        \
    switch (t->mr) {                                                                           \
        GN_ROW_CASE(BODY, 1, NV, LIMIT) GN_ROW_CASE(BODY, 2, NV, LIMIT)                        \
        GN_ROW_CASE(BODY, 3, NV, LIMIT) GN_ROW_CASE(BODY, 4, NV, LIMIT)                        \
        GN_ROW_CASE(BODY, 5, NV, LIMIT) GN_ROW_CASE(BODY, 6, NV, LIMIT)                        \
        GN_ROW_CASE(BODY, 7, NV, LIMIT) GN_ROW_CASE(BODY, 8, NV, LIMIT)                        \
        GN_ROW_CASE(BODY, 9, NV, LIMIT) GN_ROW_CASE(BODY, 10, NV, LIMIT)                       \
        GN_ROW_CASE(BODY, 11, NV, LIMIT) GN_ROW_CASE(BODY, 12, NV, LIMIT)                      \
        GN_ROW_CASE(BODY, 13, NV, LIMIT) GN_ROW_CASE(BODY, 14, NV, LIMIT)                      \
        GN_ROW_CASE(BODY, 15, NV, LIMIT) GN_ROW_CASE(BODY, 16, NV, LIMIT)                      \
    default:                                                                                   \
        break;                                                                                 \
    }
#define GN_TILE_PLAIN(M, NV, t) gemm_tile_body(M, NV, 0, t)
#define GN_TILE_STREAM(M, NV, t) gemm_tile_body(M, NV, 1, t)
#define GN_GEMM_TILE_FN(NV, LIMIT)                                                             \
    static void gemm_tile_nv##NV(const gn_tile *t)                                             \
    {                                                                                          \
        GN_ROWS_SWITCH(GN_TILE_PLAIN, NV, LIMIT)                                               \
    }                                                                                          \
    static void gemm_stream_nv##NV(const gn_tile *t)                                           \
    {                                                                                          \
        GN_ROWS_SWITCH(GN_TILE_STREAM, NV, LIMIT)                                              \
    }

GN_GEMM_TILE_FN(1, GN_INFER_MR1)
#if GN_INFER_NV_MAX >= 2
GN_GEMM_TILE_FN(2, GN_INFER_MR2)
#endif
#if GN_INFER_NV_MAX >= 3
GN_GEMM_TILE_FN(3, GN_INFER_MR3)
#endif
#if GN_INFER_NV_MAX >= 4
GN_GEMM_TILE_FN(4, GN_INFER_MR4)
#endif
#if GN_INFER_NV_MAX >= 5
GN_GEMM_TILE_FN(5, GN_INFER_MR5)
GN_GEMM_TILE_FN(6, GN_INFER_MR6)
GN_GEMM_TILE_FN(7, GN_INFER_MR7)
GN_GEMM_TILE_FN(8, GN_INFER_MR8)
#endif

/* ---- k-paired GEMM tile, for panels of at most GN_VL / 2 columns ---------------------------- */

#if GN_VL >= 4
/* A panel of a few columns would leave most lanes of a vector idle. Here lane 2j + e holds
 * column j's products for the k-steps of parity e: one 64-bit broadcast of a row's inputs k and
 * k + 1 and one FMA do two k-steps of every column, and the epilogue adds the lane pairs. The
 * packed panel holds, in row (tap, q), w[2q][j] and w[2q + 1][j] side by side; an odd kc ends
 * with a row whose odd lanes are zero, met with a one-float broadcast so that no input is read
 * past the row. */
GN_INLINE void gemm_paired_body(const int mr, const gn_tile *t)
{
    gn_vf acc[GN_TILE_ROWS];
    GN_INFER_UNROLL
    for (int i = 0; i < mr; i++)
        acc[i] = gn_vzero();
    const float *b = t->b;
    if (t->step_offset) {
        const float *a[GN_TILE_ROWS];
        GN_INFER_UNROLL
        for (int i = 0; i < mr; i++)
            a[i] = t->a[i];
        int steps = t->taps * (t->kc / 2);
        for (int s = 0; s < steps; s++, b += GN_VL) {
            ptrdiff_t offset = t->step_offset[s];
            gn_vf bv = gn_vload(b);
            GN_INFER_UNROLL
            for (int i = 0; i < mr; i++)
                acc[i] = gn_vfma(gn_vset1_pair(a[i] + offset), bv, acc[i]);
        }
    } else {
        for (int tap = 0; tap < t->taps; tap++) {
            const float *a[GN_TILE_ROWS];
            ptrdiff_t offset = t->tap_offset[tap];
            GN_INFER_UNROLL
            for (int i = 0; i < mr; i++)
                a[i] = t->a[i] + offset;
            int k = 0;
            for (; k + 1 < t->kc; k += 2, b += GN_VL) {
                gn_vf bv = gn_vload(b);
                GN_INFER_UNROLL
                for (int i = 0; i < mr; i++)
                    acc[i] = gn_vfma(gn_vset1_pair(a[i] + k), bv, acc[i]);
            }
            if (k < t->kc) {
                gn_vf bv = gn_vload(b);
                GN_INFER_UNROLL
                for (int i = 0; i < mr; i++)
                    acc[i] = gn_vfma(gn_vset1(a[i][k]), bv, acc[i]);
                b += GN_VL;
            }
        }
    }
    gn_vf bias = gn_vload(t->bias);
    GN_INFER_UNROLL
    for (int i = 0; i < mr; i++)
        finish(gn_vadd(gn_vpair_sums(acc[i]), bias), t->nr, t->act, t->raw ? t->raw[i] : NULL,
               t->residual ? t->residual[i] : NULL, t->act_after, t->y[i]);
}

#define GN_PAIRED_CASE(M)                                                                      \
    case M:                                                                                    \
        if (M <= GN_INFER_MR1)                                                                 \
            gemm_paired_body(M, t);                                                            \
        break;

static void gemm_tile_paired(const gn_tile *t)
{
    switch (t->mr) {
        GN_PAIRED_CASE(1) GN_PAIRED_CASE(2) GN_PAIRED_CASE(3) GN_PAIRED_CASE(4)
        GN_PAIRED_CASE(5) GN_PAIRED_CASE(6) GN_PAIRED_CASE(7) GN_PAIRED_CASE(8)
        GN_PAIRED_CASE(9) GN_PAIRED_CASE(10) GN_PAIRED_CASE(11) GN_PAIRED_CASE(12)
        GN_PAIRED_CASE(13) GN_PAIRED_CASE(14) GN_PAIRED_CASE(15) GN_PAIRED_CASE(16)
    default:
        break;
    }
}

/* ---- k-quad GEMM tile (AVX-512), for panels of at most GN_VL columns ----------------------- */

#if GN_SIMD_LEVEL == 2
#define GN_INFER_MR_QUAD1 16
#define GN_INFER_MR_QUAD2 12
#define GN_INFER_MR_QUAD3 8
#define GN_INFER_MR_QUAD4 6
/* Lanes 4j..4j + 3 of vector v hold column 4v + j for four consecutive input channels: one
 * 128-bit broadcast of a row's four inputs and nv FMAs do four k-steps of 4 * nv columns. The
 * paired tile needs a broadcast per FMA, and with Ghost primaries of 8 outputs (16 -> 8 in
 * Ghost-ResNet-56's first stage) it ran at 62 GMAC/s; a throwaway loop of the same shape ran
 * 67 GMAC/s paired and 88 as quads, but in the network the 18 primaries only went from 0.333
 * to 0.311 ms (1 thread): the epilogue, which adds each group of four lanes and gathers the
 * sums into lanes 0..4 * nv - 1 (column order), and the driver cost as much per tile. Only for
 * kc a multiple of 4 and long reductions, with step_offset set (gn_conv_pack). Panels of 9
 * to 16 columns take three or four vectors of quads (rows: 8 and 6): the one-vector tile they
 * had loads a broadcast per FMA (9 loads per 8 FMAs); a loop of ResNet-56's 16 -> 16 3x3 shape
 * alone ran 60 GMAC/s that way and 75 as quads. */
/* Every lane of a 128-bit block gets the block's sum. */
GN_INLINE __m512 quad_block_sums(__m512 v)
{
    v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
    return _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
}

/* Lane j < 4 * nv gets block j's sum (blocks 4..7 from v[1], 8..15 from v[2] and v[3]). */
GN_INLINE __m512 quad_sums(int nv, const __m512 *v)
{
    const __m512i blocks = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 28, 24, 20, 16, 12, 8, 4, 0);
    if (nv == 1)
        return _mm512_permutexvar_ps(blocks, quad_block_sums(v[0]));
    __m512 lo = _mm512_permutex2var_ps(quad_block_sums(v[0]), blocks, quad_block_sums(v[1]));
    if (nv == 2)
        return lo;
    __m512 hi = nv == 3 ? _mm512_permutexvar_ps(blocks, quad_block_sums(v[2]))
                        : _mm512_permutex2var_ps(quad_block_sums(v[2]), blocks,
                                                 quad_block_sums(v[3]));
    return _mm512_shuffle_f32x4(lo, hi, 0x44);
}

/* The reduction into acc. grouped (a constant): the rows' inputs from a pointer per group of
 * four rows and three strides (t->row_step set); 12 rows' pointers, the panel, the offsets and
 * the loop bound did not fit the 15 usable registers, and the spilled pointers cost 15% in a
 * loop of the shape alone (66 -> 76 GMAC/s), ~2% of Ghost-ResNet-56 at 1 thread. */
GN_INLINE void quad_reduce(const int mr, const int nv, const int grouped, const gn_tile *t,
                           __m512 (*acc)[4])
{
    const float *a[GN_TILE_ROWS];
    GN_INFER_UNROLL
    for (int i = 0; i < mr; i++)
        a[i] = grouped && i % 4 ? NULL : t->a[i];
    const ptrdiff_t s1 = grouped ? t->row_step : 0, step[4] = {0, s1, 2 * s1, 3 * s1};
    const float *b = t->b;
    int steps = t->taps * (t->kc / 4);
    for (int s = 0; s < steps; s++, b += nv * GN_VL) {
        ptrdiff_t offset = t->step_offset[s];
        __m512 bv[4];
        GN_INFER_UNROLL
        for (int v = 0; v < nv; v++)
            bv[v] = _mm512_loadu_ps(b + v * GN_VL);
        GN_INFER_UNROLL
        for (int i = 0; i < mr; i++) {
            const float *row = grouped ? a[i - i % 4] + offset + step[i % 4] : a[i] + offset;
            __m512 av = _mm512_broadcast_f32x4(_mm_loadu_ps(row));
            GN_INFER_UNROLL
            for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
}

GN_INLINE void gemm_quad_body(const int mr, const int nv, const gn_tile *t)
{
    __m512 acc[GN_TILE_ROWS][4];
    GN_INFER_UNROLL
    for (int i = 0; i < mr; i++) {
        GN_INFER_UNROLL
        for (int v = 0; v < nv; v++)
            acc[i][v] = _mm512_setzero_ps();
    }
    if (t->row_step)
        quad_reduce(mr, nv, 1, t, acc);
    else
        quad_reduce(mr, nv, 0, t, acc);
    gn_vf bias = gn_vload(t->bias);
    GN_INFER_UNROLL
    for (int i = 0; i < mr; i++)
        finish(gn_vadd(quad_sums(nv, acc[i]), bias), t->nr,
               t->act, t->raw ? t->raw[i] : NULL, t->residual ? t->residual[i] : NULL,
               t->act_after, t->y[i]);
}

#define GN_QUAD_TILE_FN(NV, LIMIT)                                                             \
    static void gemm_tile_quad_nv##NV(const gn_tile *t)                                        \
    {                                                                                          \
        GN_ROWS_SWITCH(gemm_quad_body, NV, LIMIT)                                              \
    }
GN_QUAD_TILE_FN(1, GN_INFER_MR_QUAD1)
GN_QUAD_TILE_FN(2, GN_INFER_MR_QUAD2)
GN_QUAD_TILE_FN(3, GN_INFER_MR_QUAD3)
GN_QUAD_TILE_FN(4, GN_INFER_MR_QUAD4)
#endif
#endif

/* ---- first-layer convolution over an NCHW image ------------------------------------------- */

/* cols output columns from x0, nv vectors of output channels: acc[j][v] += x[c][iy][ix] *
 * b[(tap, c)][v], the input broadcast straight from its plane. One flat loop over the packed
 * rows (tap, channel), whose input offsets the driver computed once. checked: skip taps
 * outside the image (the border columns and rows); otherwise every tap is inside. */
GN_INLINE void nchw_columns(const int cols, const int nv, const int checked,
                            const gn_nchw_row *r, int x0)
{
    gn_vf acc[GN_TILE_ROWS][GN_INFER_NV_MAX];
    GN_INFER_UNROLL
    for (int j = 0; j < cols; j++) {
        GN_INFER_UNROLL
        for (int v = 0; v < nv; v++)
            acc[j][v] = gn_vzero();
    }
    const int s = r->stride, width = nv * GN_VL, rows = r->kernel * r->kernel * r->channels;
    const int iy0 = r->oy * s - r->padding, ix0 = x0 * s - r->padding;
    /* indices, not pointers: a checked tap's address may lie before the image */
    const ptrdiff_t origin = (ptrdiff_t)iy0 * r->x_rs + ix0;
    const float *b = r->b;
    for (int t = 0; t < rows; t++, b += width) {
        int ky = t / r->channels / r->kernel, kx = t / r->channels % r->kernel;
        if (checked && (iy0 + ky < 0 || iy0 + ky >= r->in_h))
            continue;
        gn_vf bv[GN_INFER_NV_MAX];
        GN_INFER_UNROLL
        for (int v = 0; v < nv; v++)
            bv[v] = gn_vload(b + v * GN_VL);
        ptrdiff_t at = origin + r->tap_offset[t];
        GN_INFER_UNROLL
        for (int j = 0; j < cols; j++) {
            if (checked && (ix0 + j * s + kx < 0 || ix0 + j * s + kx >= r->in_w))
                continue;
            gn_vf av = gn_vset1(r->x[at + j * s]);
            GN_INFER_UNROLL
            for (int v = 0; v < nv; v++)
                acc[j][v] = gn_vfma(av, bv[v], acc[j][v]);
        }
    }
    GN_INFER_UNROLL
    for (int j = 0; j < cols; j++) {
        ptrdiff_t x = x0 + j;
        GN_INFER_UNROLL
        for (int v = 0; v < nv; v++) {
            int lanes = r->nr - v * GN_VL, at = v * GN_VL;
            if (lanes <= 0)
                break;
            finish(gn_vadd(acc[j][v], gn_vload(r->bias + at)), lanes, r->act,
                   r->raw ? r->raw + x * r->raw_ps + at : NULL,
                   r->residual ? r->residual + x * r->residual_ps + at : NULL, r->act_after,
                   r->y + x * r->y_ps + at);
        }
    }
}

/* Columns [x0, x1) in blocks of the tile height for nv vectors, then one by one. */
#define GN_NCHW_CASE(NV, ROWS)                                                                 \
    case NV:                                                                                   \
        for (; x + (ROWS) <= r->x1; x += (ROWS))                                               \
            r->checked ? nchw_columns(ROWS, NV, 1, r, x) : nchw_columns(ROWS, NV, 0, r, x);    \
        for (; x < r->x1; x++)                                                                 \
            r->checked ? nchw_columns(1, NV, 1, r, x) : nchw_columns(1, NV, 0, r, x);          \
        break;

static void nchw_row(const gn_nchw_row *r)
{
    int x = r->x0;
    switch (r->nv) {
        GN_NCHW_CASE(1, GN_INFER_MR1)
#if GN_INFER_NV_MAX >= 2
        GN_NCHW_CASE(2, GN_INFER_MR2)
#endif
#if GN_INFER_NV_MAX >= 3
        GN_NCHW_CASE(3, GN_INFER_MR3)
#endif
#if GN_INFER_NV_MAX >= 4
        GN_NCHW_CASE(4, GN_INFER_MR4)
#endif
#if GN_INFER_NV_MAX >= 5
        GN_NCHW_CASE(5, GN_INFER_MR5)
        GN_NCHW_CASE(6, GN_INFER_MR6)
        GN_NCHW_CASE(7, GN_INFER_MR7)
        GN_NCHW_CASE(8, GN_INFER_MR8)
#endif
    default:
        break;
    }
}

/* ---- depthwise row -------------------------------------------------------------------------- */

/* Output columns per step: each kernel row's input columns are loaded once and shared by the
 * neighbouring outputs whose windows overlap (stride 1 shares k - 1 of k columns), and the
 * columns' accumulators are independent FMA chains, enough of them to cover the FMA latency
 * (an ISA with 32 vector registers sets more). */
#ifndef GN_DW_COLUMNS
#define GN_DW_COLUMNS 4
#endif

/* Columns [x0, x0 + cols) of one output row for the channel vector at c. kernel and stride are
 * constants in the specialised calls (the weights then live in registers); 0 means "read them
 * from r" for the generic case. */
GN_INLINE void dw_columns(const int kernel_c, const int stride_c, const int cols,
                          const gn_dw_row *r, const gn_vf *wv, gn_vf bias, int x0, int c,
                          int lanes)
{
    const int k = kernel_c ? kernel_c : r->kernel, s = stride_c ? stride_c : r->stride;
    gn_vf acc[GN_DW_COLUMNS];
    GN_INFER_UNROLL
    for (int j = 0; j < cols; j++)
        acc[j] = bias;
    const float *row = r->x + (ptrdiff_t)x0 * s * r->x_ps + (c - r->x_c);
    for (int ky = 0; ky < k; ky++) {
        GN_INFER_UNROLL
        for (int j = 0; j < cols; j++) {
            GN_INFER_UNROLL
            for (int kx = 0; kx < k; kx++) {
                gn_vf in = gn_vload(row + (ptrdiff_t)(j * s + kx) * r->x_ps);
                gn_vf w = kernel_c ? wv[ky * k + kx]
                                   : gn_vload(r->w + (ptrdiff_t)(ky * k + kx) * r->w_stride + c);
                acc[j] = gn_vfma(in, w, acc[j]);
            }
        }
        row += r->x_rs;
    }
    GN_INFER_UNROLL
    for (int j = 0; j < cols; j++) {
        ptrdiff_t x = x0 + j;
        finish(acc[j], lanes, r->act, r->raw ? r->raw + x * r->raw_ps + c : NULL,
               r->residual ? r->residual + x * r->residual_ps + c : NULL, r->act_after,
               r->y + x * r->y_ps + c);
    }
}

GN_INLINE void dw_row_body(const int kernel_c, const int stride_c, const gn_dw_row *r)
{
    enum { TAPS = 49 };
    gn_vf wv[TAPS];
    for (int c = r->c0; c < r->c1; c += GN_VL) {
        int lanes = r->c1 - c;
        if (kernel_c) {
            GN_INFER_UNROLL
            for (int t = 0; t < kernel_c * kernel_c; t++)
                wv[t] = gn_vload(r->w + (ptrdiff_t)t * r->w_stride + c);
        }
        gn_vf bias = gn_vload(r->bias + c);
        int x = 0;
        for (; x + GN_DW_COLUMNS <= r->out_w; x += GN_DW_COLUMNS)
            dw_columns(kernel_c, stride_c, GN_DW_COLUMNS, r, wv, bias, x, c, lanes);
        for (; x < r->out_w; x++)
            dw_columns(kernel_c, stride_c, 1, r, wv, bias, x, c, lanes);
    }
}

static void dw_row(const gn_dw_row *r)
{
    if (r->kernel == 3 && r->stride == 1)
        dw_row_body(3, 1, r);
    else if (r->kernel == 3 && r->stride == 2)
        dw_row_body(3, 2, r);
    else if (r->kernel == 5 && r->stride == 1)
        dw_row_body(5, 1, r);
    else if (r->kernel == 5 && r->stride == 2)
        dw_row_body(5, 2, r);
    else if (r->kernel == 7 && r->stride == 1) /* Ghost cheap operations with d = 7 */
        dw_row_body(7, 1, r);
    else
        dw_row_body(0, 0, r);
}

/* Channel multiplier: every input channel repeated m times. A constant m lets the compiler
 * turn the inner loops into vector shuffles; the groups cut by c0 and c1 go one by one. */
GN_INLINE void dw_repeat(const int m, const float *src, int groups, float *out)
{
    for (int i = 0; i < groups; i++)
        for (int j = 0; j < m; j++)
            out[i * m + j] = src[i];
}

static void dw_expand(const float *src, ptrdiff_t src_ps, int pixels, int m, int c0, int c1,
                      int width, float *out)
{
    /* c0 may fall inside a group of m: `head` copies of input channel i0 first, then whole
     * groups, then `tail` copies of the next channel. */
    const int i0 = c0 / m, count = c1 - c0;
    int head = (m - c0 % m) % m;
    head = head < count ? head : count;
    const int groups = (count - head) / m, tail = count - head - groups * m;
    const int first = i0 + (head > 0), next = first + groups;
    for (int px = 0; px < pixels; px++, src += src_ps, out += width) {
        float *o = out;
        for (int t = 0; t < head; t++)
            *o++ = src[i0];
        switch (m) {
        case 2: dw_repeat(2, src + first, groups, o); break;
        case 3: dw_repeat(3, src + first, groups, o); break;
        case 4: dw_repeat(4, src + first, groups, o); break;
        case 5: dw_repeat(5, src + first, groups, o); break;
        default: dw_repeat(m, src + first, groups, o); break;
        }
        o += groups * m;
        for (int t = 0; t < tail; t++)
            *o++ = src[next];
        for (int t = count; t < width; t++)
            *o++ = 0.0f;
    }
}

/* ---- element-wise, pooling ------------------------------------------------------------------ */

static void affine_row(const gn_affine_row *r)
{
    for (int p = 0; p < r->count; p++) {
        const float *x = r->x + (ptrdiff_t)p * r->x_ps;
        const float *res = r->residual ? r->residual + (ptrdiff_t)p * r->residual_ps : NULL;
        float *y = r->y + (ptrdiff_t)p * r->y_ps;
        for (int c = r->c0; c < r->c1; c += GN_VL) {
            int lanes = r->c1 - c;
            gn_vmask m = gn_vmask_first(lanes < GN_VL ? lanes : GN_VL);
            gn_vf v = gn_vload_m(x + c, m);
            if (r->scale)
                v = gn_vmul(v, gn_vload_m(r->scale + c, m));
            if (r->shift)
                v = gn_vadd(v, gn_vload_m(r->shift + c, m));
            finish(v, lanes, r->act, NULL, res ? res + c : NULL, r->act_after, y + c);
        }
    }
}

static void maxpool_row(const gn_maxpool_row *r)
{
    for (int ox = 0; ox < r->out_w; ox++) {
        int y0 = r->oy * r->stride - r->padding, x0 = ox * r->stride - r->padding;
        for (int c = r->c0; c < r->c1; c += GN_VL) {
            int lanes = r->c1 - c;
            gn_vmask m = gn_vmask_first(lanes < GN_VL ? lanes : GN_VL);
            gn_vf best = gn_vset1(-3.402823466e38f);
            for (int iy = y0 < 0 ? 0 : y0; iy < y0 + r->kernel && iy < r->in_h; iy++)
                for (int ix = x0 < 0 ? 0 : x0; ix < x0 + r->kernel && ix < r->in_w; ix++)
                    best = gn_vmax(best, gn_vload_m(r->x + iy * r->x_rs + ix * r->x_ps + c, m));
            finish(best, lanes, GN_ACT_NONE, NULL, NULL, GN_ACT_NONE,
                   r->y + (ptrdiff_t)ox * r->y_ps + c);
        }
    }
}

/* Each lane sums its channel's pixels in the reference's order, so the means match it exactly. */
static void global_avgpool(const float *x, ptrdiff_t x_rs, ptrdiff_t x_ps, int h, int w, int c0,
                           int c1, float *y)
{
    gn_vf count = gn_vset1((float)((size_t)h * (size_t)w));
    for (int c = c0; c < c1; c += GN_VL) {
        int lanes = c1 - c;
        gn_vmask m = gn_vmask_first(lanes < GN_VL ? lanes : GN_VL);
        gn_vf sum = gn_vzero();
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++)
                sum = gn_vadd(sum, gn_vload_m(x + iy * x_rs + ix * x_ps + c, m));
        finish(gn_vdiv(sum, count), lanes, GN_ACT_NONE, NULL, NULL, GN_ACT_NONE, y + c);
    }
}

const gn_infer_kernels GN_INFER_TABLE = {
    .isa = GN_INFER_ISA,
    .vl = GN_VL,
    .nv_max = GN_INFER_NV_MAX,
    .mr = {0, GN_INFER_MR1,
#if GN_INFER_NV_MAX >= 2
           GN_INFER_MR2,
#endif
#if GN_INFER_NV_MAX >= 3
           GN_INFER_MR3,
#endif
#if GN_INFER_NV_MAX >= 4
           GN_INFER_MR4,
#endif
#if GN_INFER_NV_MAX >= 5
           GN_INFER_MR5, GN_INFER_MR6, GN_INFER_MR7, GN_INFER_MR8,
#endif
    },
    .gemm_tile = {NULL, gemm_tile_nv1,
#if GN_INFER_NV_MAX >= 2
                  gemm_tile_nv2,
#endif
#if GN_INFER_NV_MAX >= 3
                  gemm_tile_nv3,
#endif
#if GN_INFER_NV_MAX >= 4
                  gemm_tile_nv4,
#endif
#if GN_INFER_NV_MAX >= 5
                  gemm_tile_nv5, gemm_tile_nv6, gemm_tile_nv7, gemm_tile_nv8,
#endif
    },
    .gemm_tile_stream = {NULL, gemm_stream_nv1,
#if GN_INFER_NV_MAX >= 2
                         gemm_stream_nv2,
#endif
#if GN_INFER_NV_MAX >= 3
                         gemm_stream_nv3,
#endif
#if GN_INFER_NV_MAX >= 4
                         gemm_stream_nv4,
#endif
#if GN_INFER_NV_MAX >= 5
                         gemm_stream_nv5, gemm_stream_nv6, gemm_stream_nv7, gemm_stream_nv8,
#endif
    },
#if GN_VL >= 4
    .gemm_tile_paired = gemm_tile_paired,
#endif
#if GN_SIMD_LEVEL == 2
    .gemm_tile_quad = {NULL, gemm_tile_quad_nv1, gemm_tile_quad_nv2, gemm_tile_quad_nv3,
                       gemm_tile_quad_nv4},
    .mr_quad = {0, GN_INFER_MR_QUAD1, GN_INFER_MR_QUAD2, GN_INFER_MR_QUAD3, GN_INFER_MR_QUAD4},
#endif
    .nchw_row = nchw_row,
    .dw_row = dw_row,
    .dw_expand = dw_expand,
    .affine_row = affine_row,
    .maxpool_row = maxpool_row,
    .global_avgpool = global_avgpool,
};
