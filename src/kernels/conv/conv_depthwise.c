/* Depthwise convolution (groups == in_c, out_c = in_c * mult): per (image, channel) the input
 * plane is copied once into zero-padded, stride-deinterleaved phase planes in the workspace
 * (conv_internal.h), then the ISA kernels run over it for each of the channel's mult outputs.
 * Multipliers are taken in blocks of MULT_BLOCK so the workspace does not grow with them. */
#include "kernels/conv/conv_internal.h"

#include <string.h>

#define MULT_BLOCK 16
#define MAX_VL 16 /* widest vector of any ISA: sizes the weight-gradient accumulators */
#define DW_ROWS 4 /* most rows a backward data phase computes at once (ROWS in dw_kernels.h) */

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
    size_t bwd = align_floats((size_t)mb * d.dh * d.dw) + align_floats((size_t)DW_ROWS * d.tcap);
    return (fwd > bwd ? fwd : bwd) + GN_WS_ALIGN;
}

/* Zero padding never changes from plane to plane, so the phase planes are cleared once per call
 * and each plane only overwrites the positions of real input elements. */
static void clear_phases(const gn_conv_geom *g, const dw_geom *d, float *ph)
{
    memset(ph, 0, (size_t)g->stride * d->phase_size * sizeof(float));
}

static void fill_phases(const gn_dw_kernels *kr, const gn_conv_geom *g, const dw_geom *d,
                        const float *x, float *ph)
{
    int s = g->stride, p = g->padding;
    if (s == 1) {
        kr->copy_rows(ph + (ptrdiff_t)p * d->qw + p, d->qw, x, g->in_w, g->in_h, g->in_w);
        return;
    }
    for (int f = 0; f < s; f++) {
        int lo, hi;
        gn_dw_phase_range(f, s, p, g->in_w, d->qw, &lo, &hi);
        float *pf = ph + f * d->phase_size + (ptrdiff_t)p * d->qw;
        for (int iy = 0; iy < g->in_h; iy++) {
            float *restrict row = pf + (ptrdiff_t)iy * d->qw;
            const float *restrict src = x + (ptrdiff_t)iy * g->in_w + f - p; /* t at t * s */
            for (int t = lo; t < hi; t++)
                row[t] = src[t * s];
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
    clear_phases(g, &d, ph);
    for (int b = 0; b < n; b++)
        for (int c = 0; c < g->in_c; c++) {
            fill_phases(kr, g, &d, x + ((ptrdiff_t)b * g->in_c + c) * d.ihw, ph);
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
        fill_phases(kr, g, d, x + ((ptrdiff_t)b * g->in_c + c) * d->ihw, ph);
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
    clear_phases(g, &d, ph);
    for (int c = 0; c < g->in_c; c++)
        for (int j0 = 0; j0 < d.mult; j0 += MULT_BLOCK)
            dw_weight_block(kr, g, &d, n, c, j0, imin(MULT_BLOCK, d.mult - j0), x, dy, dw, ph,
                            vacc);
}

/* dy planes of outputs [oc0, oc0 + mb) of one image into the interiors of the padded planes
 * (ml zero rows above, ml zero columns left: the most taps any output reaches back), whose
 * zeros were written once per call. */
static void pad_dy(const gn_dw_kernels *kr, const gn_conv_geom *g, const dw_geom *d,
                   const float *dy, int mb, float *dyp)
{
    size_t plane = (size_t)d->dh * d->dw;
    for (int j = 0; j < mb; j++)
        kr->copy_rows(dyp + j * plane + (size_t)d->ml * d->dw + d->ml, d->dw,
                      dy + (ptrdiff_t)j * d->ohw, g->out_w, g->out_h, g->out_w);
}

void gn_dw_backward_data(const gn_dw_kernels *kr, const gn_conv_geom *g, int n, const float *dy,
                         const float *w, float *dx, void *ws)
{
    dw_geom d = dw_geom_of(g);
    int mb_max = imin(d.mult, MULT_BLOCK);
    float *dyp = gn_ws_align(ws);
    float *tmp = (float *)(void *)((char *)dyp + align_floats((size_t)mb_max * d.dh * d.dw));
    memset(dyp, 0, (size_t)mb_max * d.dh * d.dw * sizeof(float));
    for (int b = 0; b < n; b++)
        for (int c = 0; c < g->in_c; c++)
            for (int j0 = 0; j0 < d.mult; j0 += MULT_BLOCK) {
                int mb = imin(MULT_BLOCK, d.mult - j0), oc0 = c * d.mult + j0;
                pad_dy(kr, g, &d, dy + ((ptrdiff_t)b * g->out_c + oc0) * d.ohw, mb, dyp);
                gn_dw_bd bd = {dyp, w + (ptrdiff_t)oc0 * d.kk, (ptrdiff_t)d.dh * d.dw, d.dw, d.ml,
                               mb, g->kernel, g->stride, g->in_h, g->in_w, g->padding};
                kr->backward_data(&bd, dx + ((ptrdiff_t)b * g->in_c + c) * d.ihw, tmp);
            }
}
