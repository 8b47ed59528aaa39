/* Depthwise convolution (groups == in_c, out_c = in_c * mult): per (image, channel) the input
 * plane is copied once into zero-padded, stride-deinterleaved phase planes in the workspace
 * (conv_internal.h), then the ISA kernels run over it for each of the channel's mult outputs.
 * Multipliers are taken in blocks of MULT_BLOCK so the workspace does not grow with them. */
#include "kernels/conv/conv_internal.h"

#include <string.h>

#define MULT_BLOCK 16
#define MAX_VL 16 /* widest vector of any ISA: sizes the weight-gradient accumulators */

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static size_t align_floats(size_t floats)
{
    return (floats * sizeof(float) + GN_WS_ALIGN - 1) / GN_WS_ALIGN * GN_WS_ALIGN;
}

/* Derived sizes of one plane's buffers. */
typedef struct dw_geom {
    int mult, kk, ph, qw; /* padded height, phase row length */
    ptrdiff_t ihw, ohw, phase_size;
    int ml, dh, dw; /* backward data: dy margin, padded dy plane height and row length */
    int tcap;       /* longest phase row segment of one input row */
} dw_geom;

static dw_geom dw_geom_of(const gn_conv_geom *g)
{
    dw_geom d;
    int s = g->stride, p = g->padding, pw = g->in_w + 2 * p;
    d.mult = g->out_c / g->in_c;
    d.kk = g->kernel * g->kernel;
    d.ph = g->in_h + 2 * p;
    d.qw = (pw + s - 1) / s;
    d.ihw = (ptrdiff_t)g->in_h * g->in_w;
    d.ohw = (ptrdiff_t)g->out_h * g->out_w;
    d.phase_size = (ptrdiff_t)d.ph * d.qw;
    d.ml = (g->kernel - 1) / s;
    /* largest padded row / column index divided by the stride, or the last output index */
    int rmax = imax((p + g->in_h - 1) / s, g->out_h - 1);
    int tmax = imax((p + g->in_w - 1) / s, g->out_w - 1);
    d.dh = rmax + d.ml + 1;
    d.dw = tmax + d.ml + 1;
    d.tcap = tmax + 1;
    return d;
}

size_t gn_dw_workspace(const gn_conv_geom *g)
{
    dw_geom d = dw_geom_of(g);
    int mb = imin(d.mult, MULT_BLOCK);
    size_t fwd = align_floats((size_t)g->stride * d.phase_size) +
                 align_floats((size_t)mb * d.kk * MAX_VL);
    size_t bwd = align_floats((size_t)mb * d.dh * d.dw) + align_floats((size_t)d.tcap);
    return (fwd > bwd ? fwd : bwd) + GN_WS_ALIGN;
}

/* Output columns t of phase f whose padded column t * s + f - p is inside [0, in_w): [lo, hi). */
static void phase_range(int f, int s, int p, int in_w, int qw, int *lo, int *hi)
{
    int a = p - f, b = in_w - 1 + p - f;
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = b < 0 ? 0 : imin(b / s + 1, qw);
    if (*hi < *lo)
        *hi = *lo;
}

static void build_phases(const gn_conv_geom *g, const dw_geom *d, const float *x, float *ph)
{
    int s = g->stride, p = g->padding;
    for (int f = 0; f < s; f++) {
        int lo, hi;
        phase_range(f, s, p, g->in_w, d->qw, &lo, &hi);
        for (int r = 0; r < d->ph; r++) {
            float *row = ph + f * d->phase_size + (ptrdiff_t)r * d->qw;
            int iy = r - p;
            if (iy < 0 || iy >= g->in_h) {
                memset(row, 0, (size_t)d->qw * sizeof(float));
                continue;
            }
            const float *src = x + (ptrdiff_t)iy * g->in_w + f - p; /* element t at t * s */
            memset(row, 0, (size_t)lo * sizeof(float));
            if (s == 1)
                memcpy(row + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
            else
                for (int t = lo; t < hi; t++)
                    row[t] = src[t * s];
            memset(row + hi, 0, (size_t)(d->qw - hi) * sizeof(float));
        }
    }
}

static gn_dw_plane plane_of(const gn_conv_geom *g, const dw_geom *d, const float *ph)
{
    gn_dw_plane p = {ph, d->phase_size, d->qw, g->stride, g->kernel, g->out_h, g->out_w};
    return p;
}

void gn_dw_forward(const gn_dw_kernels *kr, const gn_conv_geom *g, int n, const float *x,
                   const float *w, const float *bias, float *y, void *ws)
{
    dw_geom d = dw_geom_of(g);
    float *ph = gn_ws_align(ws);
    gn_dw_plane plane = plane_of(g, &d, ph);
    for (int b = 0; b < n; b++)
        for (int c = 0; c < g->in_c; c++) {
            build_phases(g, &d, x + ((ptrdiff_t)b * g->in_c + c) * d.ihw, ph);
            for (int j = 0; j < d.mult; j++) {
                int oc = c * d.mult + j;
                kr->forward(&plane, w + (ptrdiff_t)oc * d.kk, bias ? bias[oc] : 0.0f,
                            y + ((ptrdiff_t)b * g->out_c + oc) * d.ohw);
            }
        }
}

/* The weight gradient of channel c's outputs [j0, j0 + mb): vector partial sums per tap over
 * the whole slice, reduced once at the end. */
static void dw_weight_block(const gn_dw_kernels *kr, const gn_conv_geom *g, const dw_geom *d,
                            int n, int c, int j0, int mb, const float *x, const float *dy,
                            float *dw, float *ph, float *vacc)
{
    gn_dw_plane plane = plane_of(g, d, ph);
    size_t per = (size_t)d->kk * kr->vl;
    memset(vacc, 0, (size_t)mb * per * sizeof(float));
    for (int b = 0; b < n; b++) {
        build_phases(g, d, x + ((ptrdiff_t)b * g->in_c + c) * d->ihw, ph);
        for (int j = 0; j < mb; j++) {
            int oc = c * d->mult + j0 + j;
            kr->backward_weight(&plane, dy + ((ptrdiff_t)b * g->out_c + oc) * d->ohw,
                                vacc + j * per);
        }
    }
    for (int j = 0; j < mb; j++)
        for (int t = 0; t < d->kk; t++) {
            const float *v = vacc + j * per + (size_t)t * kr->vl;
            float sum = 0.0f;
            for (int l = 0; l < kr->vl; l++)
                sum += v[l];
            dw[((ptrdiff_t)c * d->mult + j0 + j) * d->kk + t] += sum;
        }
}

void gn_dw_backward_weight(const gn_dw_kernels *kr, const gn_conv_geom *g, int n, const float *x,
                           const float *dy, float *dw, void *ws)
{
    dw_geom d = dw_geom_of(g);
    float *ph = gn_ws_align(ws);
    float *vacc = (float *)(void *)((char *)ph + align_floats((size_t)g->stride * d.phase_size));
    for (int c = 0; c < g->in_c; c++)
        for (int j0 = 0; j0 < d.mult; j0 += MULT_BLOCK)
            dw_weight_block(kr, g, &d, n, c, j0, imin(MULT_BLOCK, d.mult - j0), x, dy, dw, ph,
                            vacc);
}

/* dy planes of outputs [oc0, oc0 + mb) of one image, each with ml zero rows above and ml zero
 * columns left (the most taps any output reaches back), zero beyond. */
static void pad_dy(const gn_conv_geom *g, const dw_geom *d, const float *dy, int mb, float *dyp)
{
    size_t plane = (size_t)d->dh * d->dw;
    memset(dyp, 0, (size_t)mb * plane * sizeof(float));
    for (int j = 0; j < mb; j++)
        for (int oy = 0; oy < g->out_h; oy++)
            memcpy(dyp + j * plane + (size_t)(oy + d->ml) * d->dw + d->ml,
                   dy + (ptrdiff_t)j * d->ohw + (ptrdiff_t)oy * g->out_w,
                   (size_t)g->out_w * sizeof(float));
}

/* dx plane += contributions of the mb outputs in D. Padded row r = iy + p splits as R * s + rho;
 * stride 1 accumulates straight into dx rows, other strides go phase by phase through tmp. */
static void dw_data_plane(const gn_dw_kernels *kr, const gn_conv_geom *g, const dw_geom *d,
                          const gn_dw_bd *bd, float *dx, float *tmp)
{
    int s = g->stride, p = g->padding;
    for (int iy = 0; iy < g->in_h; iy++) {
        int r = iy + p;
        float *row = dx + (ptrdiff_t)iy * g->in_w;
        if (s == 1) {
            kr->backward_data_row(bd, r, 0, 0, p, g->in_w, row);
            continue;
        }
        for (int f = 0; f < s; f++) {
            int lo, hi;
            phase_range(f, s, p, g->in_w, d->tcap, &lo, &hi);
            if (hi <= lo)
                continue;
            memset(tmp, 0, (size_t)(hi - lo) * sizeof(float));
            kr->backward_data_row(bd, r / s, r % s, f, lo, hi - lo, tmp);
            for (int t = lo; t < hi; t++)
                row[t * s + f - p] += tmp[t - lo];
        }
    }
}

void gn_dw_backward_data(const gn_dw_kernels *kr, const gn_conv_geom *g, int n, const float *dy,
                         const float *w, float *dx, void *ws)
{
    dw_geom d = dw_geom_of(g);
    int mb_max = imin(d.mult, MULT_BLOCK);
    float *dyp = gn_ws_align(ws);
    float *tmp = (float *)(void *)((char *)dyp + align_floats((size_t)mb_max * d.dh * d.dw));
    for (int b = 0; b < n; b++)
        for (int c = 0; c < g->in_c; c++)
            for (int j0 = 0; j0 < d.mult; j0 += MULT_BLOCK) {
                int mb = imin(MULT_BLOCK, d.mult - j0), oc0 = c * d.mult + j0;
                pad_dy(g, &d, dy + ((ptrdiff_t)b * g->out_c + oc0) * d.ohw, mb, dyp);
                gn_dw_bd bd = {dyp, w + (ptrdiff_t)oc0 * d.kk, (ptrdiff_t)d.dh * d.dw, d.dw,
                               d.ml, d.ml, mb, g->kernel, g->stride};
                dw_data_plane(kr, g, &d, &bd, dx + ((ptrdiff_t)b * g->in_c + c) * d.ihw, tmp);
            }
}
