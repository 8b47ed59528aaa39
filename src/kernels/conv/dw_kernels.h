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

/* One output vector: bias + sum of taps, loaded with mask m when masked. */
GN_INLINE gn_vf fwd_vec(const int k, const int s, const gn_dw_plane *p, const float *w,
                        const float *base, gn_vf acc, const int masked, gn_vmask m)
{
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            const float *src = base + (kx % s) * p->phase_size + ky * p->qw + kx / s;
            gn_vf xv = masked ? gn_vload_m(src, m) : gn_vload(src);
            acc = gn_vfma(gn_vset1(w[ky * k + kx]), xv, acc);
        }
    return acc;
}

GN_INLINE void fwd_body(const int k, const int s, const gn_dw_plane *p, const float *w, float bias,
                        float *y)
{
    int full = p->out_w - p->out_w % GN_VL, rest = p->out_w - full;
    gn_vmask m = gn_vmask_first(rest);
    for (int oy = 0; oy < p->out_h; oy++) {
        const float *base = p->ph + (ptrdiff_t)oy * s * p->qw;
        float *yr = y + (ptrdiff_t)oy * p->out_w;
        for (int ox = 0; ox < full; ox += GN_VL)
            gn_vstore(yr + ox, fwd_vec(k, s, p, w, base + ox, gn_vset1(bias), 0, m));
        if (rest)
            gn_vstore_m(yr + full, m, fwd_vec(k, s, p, w, base + full, gn_vset1(bias), 1, m));
    }
}

static void dw_forward(const gn_dw_plane *p, const float *w, float bias, float *y)
{
    GN_DW_DISPATCH(fwd_body, p->k, p->s, p, w, bias, y);
}

/* Taps (ky, kx0 .. kx0 + nkx) of the weight gradient; nkx <= 8 accumulators. */
GN_INLINE void bwd_weight_taps(const int s, const gn_dw_plane *p, const float *dy, int ky, int kx0,
                               const int nkx, float *vacc)
{
    gn_vf acc[8];
    for (int t = 0; t < nkx; t++)
        acc[t] = gn_vload(vacc + (ky * p->k + kx0 + t) * GN_VL);
    int full = p->out_w - p->out_w % GN_VL, rest = p->out_w - full;
    gn_vmask m = gn_vmask_first(rest);
    for (int oy = 0; oy < p->out_h; oy++) {
        const float *xr = p->ph + (ptrdiff_t)(oy * s + ky) * p->qw, *dr = dy + oy * p->out_w;
        for (int ox = 0; ox < full; ox += GN_VL) {
            gn_vf d = gn_vload(dr + ox);
            for (int t = 0; t < nkx; t++) {
                int kx = kx0 + t;
                acc[t] = gn_vfma(d, gn_vload(xr + (kx % s) * p->phase_size + kx / s + ox), acc[t]);
            }
        }
        if (rest) { /* masked lanes are zero in both factors */
            gn_vf d = gn_vload_m(dr + full, m);
            for (int t = 0; t < nkx; t++) {
                int kx = kx0 + t;
                const float *src = xr + (kx % s) * p->phase_size + kx / s + full;
                acc[t] = gn_vfma(d, gn_vload_m(src, m), acc[t]);
            }
        }
    }
    for (int t = 0; t < nkx; t++)
        gn_vstore(vacc + (ky * p->k + kx0 + t) * GN_VL, acc[t]);
}

GN_INLINE void bwd_weight_body(const int k, const int s, const gn_dw_plane *p, const float *dy,
                               float *vacc)
{
    for (int ky = 0; ky < k; ky++) {
        int kx0 = 0;
        for (; kx0 + 8 <= k; kx0 += 8)
            bwd_weight_taps(s, p, dy, ky, kx0, 8, vacc);
        if (kx0 < k)
            bwd_weight_taps(s, p, dy, ky, kx0, k - kx0, vacc);
    }
}

static void dw_backward_weight(const gn_dw_plane *p, const float *dy, float *vacc)
{
    GN_DW_DISPATCH(bwd_weight_body, p->k, p->s, p, dy, vacc);
}

/* Sum of every (multiplier, tap) contribution to one vector of a padded input row. */
GN_INLINE gn_vf bwd_data_vec(const int k, const int s, const gn_dw_bd *d, int R, int rho, int phi,
                             int t, const int masked, gn_vmask m)
{
    gn_vf acc = gn_vzero();
    for (int j = 0; j < d->mult; j++) {
        const float *plane = d->dyp + j * d->dyp_size + d->mm + t, *w = d->w + j * k * k;
        for (int ky = rho, l = 0; ky < k; ky += s, l++) {
            const float *row = plane + (ptrdiff_t)(R - l + d->ml) * d->dw;
            for (int kx = phi, c = 0; kx < k; kx += s, c++) {
                gn_vf v = masked ? gn_vload_m(row - c, m) : gn_vload(row - c);
                acc = gn_vfma(gn_vset1(w[ky * k + kx]), v, acc);
            }
        }
    }
    return acc;
}

GN_INLINE void bwd_data_body(const int k, const int s, const gn_dw_bd *d, int R, int rho, int phi,
                             int t0, int cnt, float *out)
{
    int full = cnt - cnt % GN_VL, rest = cnt - full;
    gn_vmask m = gn_vmask_first(rest);
    for (int t = 0; t < full; t += GN_VL)
        gn_vstore(out + t,
                  gn_vadd(gn_vload(out + t), bwd_data_vec(k, s, d, R, rho, phi, t0 + t, 0, m)));
    if (rest)
        gn_vstore_m(out + full, m,
                    gn_vadd(gn_vload_m(out + full, m),
                            bwd_data_vec(k, s, d, R, rho, phi, t0 + full, 1, m)));
}

static void dw_backward_data_row(const gn_dw_bd *d, int R, int rho, int phi, int t0, int cnt,
                                 float *out)
{
    GN_DW_DISPATCH(bwd_data_body, d->k, d->s, d, R, rho, phi, t0, cnt, out);
}

const gn_dw_kernels GN_DW_TABLE = {
    .vl = GN_VL,
    .forward = dw_forward,
    .backward_weight = dw_backward_weight,
    .backward_data_row = dw_backward_data_row,
};
