/* Depthwise kernel template, compiled once per ISA (dw_portable.c, dw_avx2.c, dw_avx512.c): the
 * including file defines GN_SIMD_LEVEL and GN_DW_TABLE. Vectors run along output (or input)
 * columns; the phase-split planes (conv_internal.h) make every tap a contiguous load for any
 * stride, and the last partial vector of a row uses masked loads and stores. The bodies take
 * the kernel size and stride as arguments and are instantiated for the common (k, s) pairs with
 * constants, so the taps unroll and the weights stay in registers. */
#include "kernels/conv/conv_internal.h"
#include "kernels/gemm/simd.h"

/* Dispatches body(k, s, args...) to a constant-(k, s) instance, or the generic one. */
#define GN_DW_DISPATCH(body, k, s, ...)                                                        \
    do {                                                                                       \
        switch ((k) * 8 + (s)) {                                                               \
        case 1 * 8 + 1: body(1, 1, __VA_ARGS__); break;                                        \
        case 3 * 8 + 1: body(3, 1, __VA_ARGS__); break;                                        \
        case 3 * 8 + 2: body(3, 2, __VA_ARGS__); break;                                        \
        case 5 * 8 + 1: body(5, 1, __VA_ARGS__); break;                                        \
        case 5 * 8 + 2: body(5, 2, __VA_ARGS__); break;                                        \
        case 7 * 8 + 1: body(7, 1, __VA_ARGS__); break;                                        \
        case 7 * 8 + 2: body(7, 2, __VA_ARGS__); break;                                        \
        default: body(k, s, __VA_ARGS__); break;                                               \
        }                                                                                      \
    } while (0)

/* Output rows are done ROWS at a time: each weight is broadcast once for all of them, and the
 * ROWS accumulator chains are independent, which hides the FMA latency a single chain of k*k
 * dependent FMAs would expose. */
#if GN_VL > 1
#define ROWS 4
#else
#define ROWS 1 /* scalar: one row keeps the column loop simple enough to auto-vectorise */
#endif

/* Output vectors at base (phase-plane position of output row 0, this column) and y, for
 * nrows <= ROWS consecutive output rows. */
GN_INLINE void fwd_rows(const int k, const int s, const int nrows, const gn_dw_plane *p,
                        const float *w, float bias, const float *base, float *y, const int masked,
                        gn_vmask m)
{
    gn_vf acc[ROWS];
    for (int i = 0; i < nrows; i++)
        acc[i] = gn_vset1(bias);
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            gn_vf wv = gn_vset1(w[ky * k + kx]);
            const float *src = base + (kx % s) * p->phase_size + ky * p->qw + kx / s;
            for (int i = 0; i < nrows; i++) {
                const float *si = src + (ptrdiff_t)i * s * p->qw;
                acc[i] = gn_vfma(wv, masked ? gn_vload_m(si, m) : gn_vload(si), acc[i]);
            }
        }
    for (int i = 0; i < nrows; i++) {
        if (masked)
            gn_vstore_m(y + (ptrdiff_t)i * p->out_w, m, acc[i]);
        else
            gn_vstore(y + (ptrdiff_t)i * p->out_w, acc[i]);
    }
}

GN_INLINE void fwd_row_block(const int k, const int s, const int nrows, const gn_dw_plane *p,
                             const float *w, float bias, int oy, float *y)
{
    int full = p->out_w - p->out_w % GN_VL, rest = p->out_w - full;
    gn_vmask m = gn_vmask_first(rest);
    const float *base = p->ph + (ptrdiff_t)oy * s * p->qw;
    float *yr = y + (ptrdiff_t)oy * p->out_w;
    for (int ox = 0; ox < full; ox += GN_VL)
        fwd_rows(k, s, nrows, p, w, bias, base + ox, yr + ox, 0, m);
    if (rest)
        fwd_rows(k, s, nrows, p, w, bias, base + full, yr + full, 1, m);
}

GN_INLINE void fwd_body(const int k, const int s, const gn_dw_plane *p, const float *w, float bias,
                        float *y)
{
    int oy = 0;
    for (; oy + ROWS <= p->out_h; oy += ROWS)
        fwd_row_block(k, s, ROWS, p, w, bias, oy, y);
    for (; oy < p->out_h; oy++)
        fwd_row_block(k, s, 1, p, w, bias, oy, y);
}

static void dw_forward(const gn_dw_plane *p, const float *w, float bias, float *y)
{
    GN_DW_DISPATCH(fwd_body, p->k, p->s, p, w, bias, y);
}

/* The weight gradient keeps one accumulator per tap over the whole plane, for TAPS_MAX taps
 * (whole kernel rows) at a time: nine independent chains for 3x3, and dy is loaded once per
 * vector for all of them. AVX2 has 16 registers, so it takes fewer taps per pass. */
#if GN_SIMD_LEVEL == 1
#define TAPS_MAX 8
#else
#define TAPS_MAX 16
#endif

/* acc[a * nkx + t] += dy vector d times tap (ky0 + a, kx0 + t) at output column ox of the row
 * whose tap-row-0 input is xr, each input vector loaded by LOAD(src). A macro rather than a
 * function: passing acc by pointer makes compilers keep it in memory. */
#define GN_BW_TAPS(LOAD)                                                                       \
    for (int a = 0; a < nky; a++)                                                              \
        for (int t = 0; t < nkx; t++) {                                                        \
            int kx = kx0 + t;                                                                  \
            const float *src = xr + a * p->qw + (kx % s) * p->phase_size + kx / s + ox;        \
            acc[a * nkx + t] = gn_vfma(d, LOAD, acc[a * nkx + t]);                             \
        }

/* Kernel rows [ky0, ky0 + nky) of the weight gradient (nky * k <= TAPS_MAX, or nky == 1 and
 * the taps of that row taken TAPS_MAX at a time by the caller: kx0, nkx). */
GN_INLINE void bwd_weight_taps(const int s, const int nky, const int nkx, const gn_dw_plane *p,
                               const float *dy, int ky0, int kx0, float *vacc)
{
    gn_vf acc[TAPS_MAX];
    for (int a = 0; a < nky; a++)
        for (int t = 0; t < nkx; t++)
            acc[a * nkx + t] = gn_vload(vacc + ((ky0 + a) * p->k + kx0 + t) * GN_VL);
    int full = p->out_w - p->out_w % GN_VL, rest = p->out_w - full;
    gn_vmask m = gn_vmask_first(rest);
    for (int oy = 0; oy < p->out_h; oy++) {
        const float *xr = p->ph + (ptrdiff_t)(oy * s + ky0) * p->qw, *dr = dy + oy * p->out_w;
        int ox = 0;
        for (; ox < full; ox += GN_VL) {
            gn_vf d = gn_vload(dr + ox);
            GN_BW_TAPS(gn_vload(src))
        }
        if (rest) { /* masked lanes are zero in both factors */
            gn_vf d = gn_vload_m(dr + ox, m);
            GN_BW_TAPS(gn_vload_m(src, m))
        }
    }
    for (int a = 0; a < nky; a++)
        for (int t = 0; t < nkx; t++)
            gn_vstore(vacc + ((ky0 + a) * p->k + kx0 + t) * GN_VL, acc[a * nkx + t]);
}
#undef GN_BW_TAPS

GN_INLINE void bwd_weight_body(const int k, const int s, const gn_dw_plane *p, const float *dy,
                               float *vacc)
{
    if (k <= TAPS_MAX) {
        const int nky = TAPS_MAX / k < k ? TAPS_MAX / k : k;
        int ky = 0;
        for (; ky + nky <= k; ky += nky)
            bwd_weight_taps(s, nky, k, p, dy, ky, 0, vacc);
        for (; ky < k; ky++)
            bwd_weight_taps(s, 1, k, p, dy, ky, 0, vacc);
        return;
    }
    for (int ky = 0; ky < k; ky++) { /* kernels wider than TAPS_MAX */
        int kx0 = 0;
        for (; kx0 + TAPS_MAX <= k; kx0 += TAPS_MAX)
            bwd_weight_taps(s, 1, TAPS_MAX, p, dy, ky, kx0, vacc);
        if (kx0 < k)
            bwd_weight_taps(s, 1, k - kx0, p, dy, ky, kx0, vacc);
    }
}

static void dw_backward_weight(const gn_dw_plane *p, const float *dy, float *vacc)
{
    GN_DW_DISPATCH(bwd_weight_body, p->k, p->s, p, dy, vacc);
}

/* Stride 1, rows [iy, iy + nrows) of dx at once: row iy + i takes dy rows iy + i + p - ky, so
 * the rows share every weight broadcast and run independent chains. */
GN_INLINE void bwd_data_rows_s1(const int k, const int nrows, const gn_dw_bd *d, int iy, int t,
                                float *out, const int masked, gn_vmask m)
{
    gn_vf acc[ROWS];
    for (int i = 0; i < nrows; i++)
        acc[i] = masked ? gn_vload_m(out + i * d->in_w, m) : gn_vload(out + i * d->in_w);
    for (int j = 0; j < d->mult; j++) {
        const float *plane = d->dyp + j * d->dyp_size + d->ml + t, *w = d->w + j * k * k;
        for (int ky = 0; ky < k; ky++) {
            const float *row = plane + (ptrdiff_t)(iy + d->p - ky + d->ml) * d->dw;
            for (int kx = 0; kx < k; kx++) {
                gn_vf wv = gn_vset1(w[ky * k + kx]);
                for (int i = 0; i < nrows; i++) {
                    const float *src = row + (ptrdiff_t)i * d->dw - kx;
                    acc[i] = gn_vfma(wv, masked ? gn_vload_m(src, m) : gn_vload(src), acc[i]);
                }
            }
        }
    }
    for (int i = 0; i < nrows; i++) {
        if (masked)
            gn_vstore_m(out + i * d->in_w, m, acc[i]);
        else
            gn_vstore(out + i * d->in_w, acc[i]);
    }
}

#if GN_VL > 1
GN_INLINE void bwd_data_block_s1(const int k, const int nrows, const gn_dw_bd *d, int iy, float *dx)
{
    int full = d->in_w - d->in_w % GN_VL, rest = d->in_w - full;
    gn_vmask m = gn_vmask_first(rest);
    float *row = dx + (ptrdiff_t)iy * d->in_w;
    /* padded column of input column ix is ix + p, element t = ix + p of the (single) phase */
    for (int ix = 0; ix < full; ix += GN_VL)
        bwd_data_rows_s1(k, nrows, d, iy, ix + d->p, row + ix, 0, m);
    if (rest)
        bwd_data_rows_s1(k, nrows, d, iy, full + d->p, row + full, 1, m);
}
#else
/* Scalar: tap by tap over the whole row, a plain loop compilers vectorise for the baseline ISA. */
GN_INLINE void bwd_data_block_s1(const int k, const int nrows, const gn_dw_bd *d, int iy, float *dx)
{
    (void)nrows; /* ROWS is 1 */
    float *restrict row = dx + (ptrdiff_t)iy * d->in_w;
    for (int j = 0; j < d->mult; j++)
        for (int ky = 0; ky < k; ky++) {
            const float *src = d->dyp + j * d->dyp_size +
                               (ptrdiff_t)(iy + d->p - ky + d->ml) * d->dw + d->ml + d->p;
            for (int kx = 0; kx < k; kx++) {
                float w = d->w[j * k * k + ky * k + kx];
                const float *restrict s = src - kx;
                for (int ix = 0; ix < d->in_w; ix++)
                    row[ix] += w * s[ix];
            }
        }
}
#endif

/* Strides above 1 split dx by phase: padded row r = R * s + rho, column u = t * s + phi takes
 * exactly the taps ky = rho + s * l, kx = phi + s * c, from dy[R - l][t - c]. Per phase that is
 * a stride-1 correlation over (R, t), computed ROWS rows at a time into tmp (rows of cnt
 * floats) and then scattered into every s-th column of the dx rows. */
GN_INLINE void bwd_data_phase_rows(const int k, const int s, const int rho, const int phi,
                                   const int nrows, const gn_dw_bd *d, int R, int t, float *out,
                                   int ld, const int masked, gn_vmask m)
{
    gn_vf acc[ROWS];
    for (int i = 0; i < nrows; i++)
        acc[i] = gn_vzero();
    for (int j = 0; j < d->mult; j++) {
        const float *plane = d->dyp + j * d->dyp_size + d->ml + t, *w = d->w + j * k * k;
        for (int ky = rho, l = 0; ky < k; ky += s, l++) {
            const float *row = plane + (ptrdiff_t)(R - l + d->ml) * d->dw;
            for (int kx = phi, c = 0; kx < k; kx += s, c++) {
                gn_vf wv = gn_vset1(w[ky * k + kx]);
                for (int i = 0; i < nrows; i++) {
                    const float *src = row + (ptrdiff_t)i * d->dw - c;
                    acc[i] = gn_vfma(wv, masked ? gn_vload_m(src, m) : gn_vload(src), acc[i]);
                }
            }
        }
    }
    for (int i = 0; i < nrows; i++) {
        if (masked)
            gn_vstore_m(out + i * ld, m, acc[i]);
        else
            gn_vstore(out + i * ld, acc[i]);
    }
}

GN_INLINE void bwd_data_phase_block(const int k, const int s, const int rho, const int phi,
                                    const int nrows, const gn_dw_bd *d, int R, int lo, int cnt,
                                    float *dx, float *tmp)
{
    int full = cnt - cnt % GN_VL, rest = cnt - full;
    gn_vmask m = gn_vmask_first(rest);
    for (int t = 0; t < full; t += GN_VL)
        bwd_data_phase_rows(k, s, rho, phi, nrows, d, R, lo + t, tmp + t, cnt, 0, m);
    if (rest)
        bwd_data_phase_rows(k, s, rho, phi, nrows, d, R, lo + full, tmp + full, cnt, 1, m);
    for (int i = 0; i < nrows; i++) {
        float *row = dx + (ptrdiff_t)((R + i) * s + rho - d->p) * d->in_w + lo * s + phi - d->p;
        const float *src = tmp + i * cnt;
        for (int t = 0; t < cnt; t++)
            row[t * s] += src[t];
    }
}

GN_INLINE void bwd_data_phase(const int k, const int s, const int rho, const int phi,
                              const gn_dw_bd *d, float *dx, float *tmp)
{
    int r_lo, r_hi, lo, hi;
    gn_dw_phase_range(rho, s, d->p, d->in_h, d->in_h + d->p, &r_lo, &r_hi);
    gn_dw_phase_range(phi, s, d->p, d->in_w, d->in_w + d->p, &lo, &hi);
    if (hi <= lo)
        return;
    int R = r_lo;
    for (; R + ROWS <= r_hi; R += ROWS)
        bwd_data_phase_block(k, s, rho, phi, ROWS, d, R, lo, hi - lo, dx, tmp);
    for (; R < r_hi; R++)
        bwd_data_phase_block(k, s, rho, phi, 1, d, R, lo, hi - lo, dx, tmp);
}

/* Stride 1 adds straight into the dx rows; stride 2 has its four phases as constants (so the
 * taps unroll); other strides take the phases as variables. */
GN_INLINE void bwd_data_body(const int k, const int s, const gn_dw_bd *d, float *dx, float *tmp)
{
    if (s == 1) {
        int iy = 0;
        for (; iy + ROWS <= d->in_h; iy += ROWS)
            bwd_data_block_s1(k, ROWS, d, iy, dx);
        for (; iy < d->in_h; iy++)
            bwd_data_block_s1(k, 1, d, iy, dx);
    } else if (s == 2) {
        bwd_data_phase(k, 2, 0, 0, d, dx, tmp);
        bwd_data_phase(k, 2, 0, 1, d, dx, tmp);
        bwd_data_phase(k, 2, 1, 0, d, dx, tmp);
        bwd_data_phase(k, 2, 1, 1, d, dx, tmp);
    } else {
        for (int rho = 0; rho < s; rho++)
            for (int phi = 0; phi < s; phi++)
                bwd_data_phase(k, s, rho, phi, d, dx, tmp);
    }
}

static void dw_backward_data(const gn_dw_bd *d, float *dx, float *tmp)
{
    GN_DW_DISPATCH(bwd_data_body, d->k, d->s, d, dx, tmp);
}

/* Row-by-row copy with whole vectors and a masked tail: the many short rows of small planes
 * would spend more time in memcpy calls than in copying. */
static void dw_copy_rows(float *dst, ptrdiff_t dst_stride, const float *src, ptrdiff_t src_stride,
                         int rows, int cols)
{
    int full = cols - cols % GN_VL, rest = cols - full;
    gn_vmask m = gn_vmask_first(rest);
    for (int r = 0; r < rows; r++, dst += dst_stride, src += src_stride) {
        for (int c = 0; c < full; c += GN_VL)
            gn_vstore(dst + c, gn_vload(src + c));
        if (rest)
            gn_vstore_m(dst + full, m, gn_vload_m(src + full, m));
    }
}

const gn_dw_kernels GN_DW_TABLE = {
    .copy_rows = dw_copy_rows,
    .vl = GN_VL,
    .forward = dw_forward,
    .backward_weight = dw_backward_weight,
    .backward_data = dw_backward_data,
};
