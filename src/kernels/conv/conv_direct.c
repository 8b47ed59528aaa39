/* Direct (im2col-free) convolution for narrow dense layers: ResNet/VGG-style 3x3 convs of 64
 * channels or fewer, at stride 1 or strided (the downsampling ones), where every im2col element
 * would feed only cout MACs and packing it costs as much as the arithmetic.
 *
 * Images are copied once into a zero-padded buffer, several side by side (dgeom), rows of wp
 * floats. An output pixel is computed at grid position q = oy * wp + (its image's column
 * offset) + ox, and tap (ky, kx) of input channel c is then the same padded buffer read at
 * q + c * ps + ky * wp + kx: for a run of consecutive q, a contiguous vector. So the forward
 * pass is a GEMM whose B panel rows are read in place (the otile microkernel with an offset
 * per row of K) over all oh * wp grid positions; the grid columns that fall on the gaps
 * between images are computed and dropped when the result is copied out. Stride-1 backward
 * data is the same pass over dY with the flipped, transposed weights and padding k - 1 - p.
 *
 * Stride s > 1. Forward: each padded input plane is split into s * s phase planes (padded row
 * u, column v to phase (u % s, v % s), element (u / s, v / s)); tap (ky, kx) of output (oy, ox)
 * is element (oy + ky / s, ox + kx / s) of phase (ky % s, kx % s), again a contiguous run in
 * ox. Backward data splits dX instead: the input pixels of phase (fu, fv) (padded coordinates
 * u = s * a + fu, v = s * b + fv) receive only taps ky = fu + s * j, kx = fv + s * l, from dY at
 * (a - j, b - l), a stride-1 correlation of dY with that subset of the taps; the s * s phases
 * are passes over one padded copy of dY, each with its own taps and weights, scattered into dX.
 *
 * The weight gradient is a GEMM on the same microkernel with the output pixels as its
 * reduction: dY packed as A, the padded input of one image per row transposed to
 * channels-innermost pixels as B, read in place (see gn_direct_backward_weight). */
#include "kernels/conv/conv_internal.h"

#include <string.h>

#define DIRECT_MAX_CHANNELS 64
#define DIRECT_MAX_STRIDE 4
#define DIRECT_MAX_FLOATS (320 * 1024) /* padded in + grid out of one image: bounds workspace */

/* The padded buffer of a pass: cin input planes of h x w per image, nb images side by side.
 * Element (r, x) of image i's plane c goes to buffer plane c * s * s + ((r + y0) % s) * s +
 * (x + x0) % s, row (r + y0) / s, column i * sw + (x + x0) / s; s is 1 except in a strided
 * forward pass, whose buffer planes are the phases of the input padded by y0 = x0 = p. Rows
 * of wp floats; what the images do not cover stays zero. Stride-1 passes let neighbouring
 * images share one gap of p zero columns (sw = w + p; a tap reaches at most p columns past
 * either side of its image), so fewer grid columns are computed only to be dropped: p of
 * every sw + the row's end, not 2p of every w + 2p. */
typedef struct dgeom {
    int cin, cout, k, h, w;
    int s, y0, x0;
    int planes, hb, wp; /* buffer planes (cin * s * s), rows of one, floats of a row */
    int nb, sw;         /* images side by side; columns from one image's slot to the next's */
    ptrdiff_t ps;       /* a buffer plane: hb * wp floats */
    ptrdiff_t gs;       /* grid positions of the tallest phase, rounded up to whole microtiles
                         * (nr) and to 16 floats */
    ptrdiff_t xsize;    /* the buffer, with the slack the last tile reads past its planes */
} dgeom;

/* One phase of a pass: K taps (0: none, its outputs are zeros) over oh grid rows, of which
 * ow columns per image slot are kept; grid element (g, col) of an image is element
 * (ry0 + g * rs, cx0 + col * cs) of that image's output planes. A strided backward pass's
 * phase is the dX phase (fu, fv), its taps (j, l) per dY channel (l fastest, nl of them),
 * its first grid element the phase's element (a_lo, b_lo). */
typedef struct dphase {
    int K, oh, ow, ry0, rs, cx0, cs;
    int fu, fv, a_lo, b_lo, nl;
} dphase;

#define DIRECT_MAX_PHASES (DIRECT_MAX_STRIDE * DIRECT_MAX_STRIDE)

/* A pass: its buffer and its phases. Tap kk of a phase reads the buffer at q + boff[kk], and
 * row kk of its A holds w[o * ostride + widx[kk]] for output channel o (phase_taps). */
typedef struct dplan {
    dgeom d;
    int backward; /* backward data: dY in, dX out */
    int stride;   /* the layer's */
    int lc;       /* backward: the layer's input channels (the weights' I) */
    int J;        /* strided backward: zero rows above and columns left of each dY image */
    int yh, yw;   /* output planes */
    int nph, Ktot, ostride;
    dphase ph[DIRECT_MAX_PHASES];
} dplan;

static ptrdiff_t round_up(ptrdiff_t v, ptrdiff_t m)
{
    return (v + m - 1) / m * m;
}

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static size_t bytes_of(ptrdiff_t floats)
{
    return (size_t)round_up(floats, 16) * sizeof(float); /* 64-byte multiples */
}

/* boff and widx of phase f's taps (both NULL: neither is written); returns the largest offset
 * of a tap inside its buffer plane. Taps run channel by channel, then in kernel order. */
static ptrdiff_t phase_taps(const dplan *pl, int f, int *boff, int *widx)
{
    const dgeom *d = &pl->d;
    const dphase *ph = &pl->ph[f];
    int k = d->k, taps = k * k, s = pl->stride, per = d->cin ? ph->K / d->cin : 0, kk = 0;
    ptrdiff_t reach = 0;
    for (int c = 0; c < d->cin; c++)
        for (int t = 0; t < per; t++, kk++) {
            ptrdiff_t plane = c, in;
            int wi;
            if (!pl->backward) { /* forward, any stride: phase planes when strided */
                int ky = t / k, kx = t % k;
                plane = (ptrdiff_t)c * s * s + (ky % s) * s + kx % s;
                in = (ptrdiff_t)(ky / s) * d->wp + kx / s;
                wi = c * taps + t;
            } else if (s == 1) { /* flipped, transposed weights */
                in = (ptrdiff_t)(t / k) * d->wp + t % k;
                wi = c * pl->lc * taps + taps - 1 - t;
            } else { /* tap (j, l): weight (fu + s * j, fv + s * l), dY at (a - j, b - l) */
                int j = t / ph->nl, l = t % ph->nl;
                in = (ptrdiff_t)(ph->a_lo + pl->J - j) * d->wp + ph->b_lo + pl->J - l;
                wi = c * pl->lc * taps + (ph->fu + s * j) * k + ph->fv + s * l;
            }
            if (boff) {
                boff[kk] = (int)(plane * d->ps + in);
                widx[kk] = wi;
            }
            if (in > reach)
                reach = in;
        }
    return reach;
}

#define DIRECT_CHUNK_FLOATS (128 * 1024) /* padded in + grid out of the images side by side */

/* Sizes the buffer once its planes, rows, slot width and phases are set: images side by side
 * (as many as fit the chunk budget, at least one), tail zero columns after the last slot. */
static void finish_plan(dplan *pl, const gn_gemm_kernels *kr, int tail)
{
    dgeom *d = &pl->d;
    int gh = 0;
    for (int f = 0; f < pl->nph; f++)
        gh = imax(gh, pl->ph[f].oh);
    ptrdiff_t per = (ptrdiff_t)d->sw * ((ptrdiff_t)d->planes * d->hb + (ptrdiff_t)d->cout * gh);
    ptrdiff_t nb = DIRECT_CHUNK_FLOATS / (per > 0 ? per : 1);
    d->nb = nb < 1 ? 1 : nb > 64 ? 64 : (int)nb;
    d->wp = d->nb * d->sw + tail;
    d->ps = (ptrdiff_t)d->hb * d->wp;
    d->gs = round_up(round_up((ptrdiff_t)gh * d->wp, kr->nr), 16);
    ptrdiff_t reach = 0;
    for (int f = 0; f < pl->nph; f++) {
        ptrdiff_t r = phase_taps(pl, f, NULL, NULL);
        reach = r > reach ? r : reach;
    }
    /* a tile at q < gs reads up to q + reach + a whole NR of lanes */
    ptrdiff_t last = d->gs + reach + kr->nr;
    d->xsize = round_up((ptrdiff_t)(d->planes - 1) * d->ps + (last > d->ps ? last : d->ps), 16);
}

/* The forward pass of g. */
static dplan forward_plan(const gn_gemm_kernels *kr, const gn_conv_geom *g)
{
    dplan pl;
    memset(&pl, 0, sizeof pl);
    dgeom *d = &pl.d;
    int s = g->stride, p = g->padding, k = g->kernel;
    d->cin = g->in_c, d->cout = g->out_c, d->k = k, d->h = g->in_h, d->w = g->in_w;
    d->s = s, d->y0 = p, d->x0 = p;
    d->planes = g->in_c * s * s;
    d->hb = (g->in_h + 2 * p + s - 1) / s;
    d->sw = s == 1 ? g->in_w + p : (g->in_w + 2 * p + s - 1) / s;
    pl.stride = s;
    pl.yh = g->out_h, pl.yw = g->out_w;
    pl.nph = 1;
    pl.Ktot = pl.ostride = g->in_c * k * k;
    dphase *ph = &pl.ph[0];
    ph->K = pl.Ktot, ph->oh = g->out_h, ph->ow = g->out_w, ph->rs = ph->cs = 1;
    finish_plan(&pl, kr, s == 1 ? p : 0);
    return pl;
}

/* The backward-data pass of g: dY in (the pass's cin = the layer's out_c), dX out. */
static dplan backward_plan(const gn_gemm_kernels *kr, const gn_conv_geom *g)
{
    dplan pl;
    memset(&pl, 0, sizeof pl);
    dgeom *d = &pl.d;
    int s = g->stride, p = g->padding, k = g->kernel;
    d->cin = g->out_c, d->cout = g->in_c, d->k = k, d->h = g->out_h, d->w = g->out_w;
    d->s = 1;
    d->planes = g->out_c;
    pl.backward = 1, pl.stride = s, pl.lc = g->in_c;
    pl.yh = g->in_h, pl.yw = g->in_w;
    pl.Ktot = g->out_c * k * k;
    pl.ostride = k * k;
    if (s == 1) {
        int q = k - 1 - p;
        d->y0 = d->x0 = q;
        d->hb = g->out_h + 2 * q;
        d->sw = g->out_w + q;
        pl.nph = 1;
        dphase *ph = &pl.ph[0];
        ph->K = pl.Ktot, ph->oh = g->in_h, ph->ow = g->in_w, ph->rs = ph->cs = 1;
        finish_plan(&pl, kr, q);
        return pl;
    }
    int J = (k - 1) / s, amax = 0, bmax = 0;
    pl.J = J;
    d->y0 = d->x0 = J;
    pl.nph = s * s;
    for (int f = 0; f < pl.nph; f++) {
        dphase *ph = &pl.ph[f];
        int a_hi, b_hi;
        ph->fu = f / s, ph->fv = f % s;
        int nj = ph->fu < k ? (k - 1 - ph->fu) / s + 1 : 0;
        ph->nl = ph->fv < k ? (k - 1 - ph->fv) / s + 1 : 0;
        gn_dw_phase_range(ph->fu, s, p, g->in_h, g->in_h + 2 * p, &ph->a_lo, &a_hi);
        gn_dw_phase_range(ph->fv, s, p, g->in_w, g->in_w + 2 * p, &ph->b_lo, &b_hi);
        ph->K = g->out_c * nj * ph->nl;
        ph->oh = a_hi - ph->a_lo, ph->ow = b_hi - ph->b_lo;
        ph->ry0 = s * ph->a_lo + ph->fu - p, ph->rs = s;
        ph->cx0 = s * ph->b_lo + ph->fv - p, ph->cs = s;
        amax = imax(amax, a_hi), bmax = imax(bmax, b_hi);
    }
    /* reads reach dY row a_hi - 1 + J; a slot's columns past its image stay zero up to where
     * the next image starts */
    d->hb = imax(amax, g->out_h) + J;
    d->sw = imax(bmax, g->out_w + J);
    finish_plan(&pl, kr, J);
    return pl;
}

int gn_direct_applies(const gn_conv_geom *g)
{
    /* a 1x1 at stride 1 is a plain GEMM over the planes (conv.c's pointwise path) */
    if (g->groups != 1 || g->stride < 1 || g->stride > DIRECT_MAX_STRIDE ||
        g->kernel < (g->stride == 1 ? 2 : 1) || g->padding > g->kernel - 1)
        return 0;
    if (g->in_c > DIRECT_MAX_CHANNELS || g->out_c > DIRECT_MAX_CHANNELS)
        return 0;
    /* bounds one image's buffer and grid in either pass (a strided pass's phases hold at most
     * s more rows and columns than the padded plane) */
    int s = g->stride, e = s == 1 ? 0 : s;
    ptrdiff_t hp = g->in_h + 2 * g->padding + e, wp = g->in_w + 2 * g->padding + e;
    int q = g->kernel - 1 - g->padding;
    ptrdiff_t hq = g->out_h + 2 * q + e, wq = g->out_w + 2 * q + e;
    return (g->in_c + g->out_c) * hp * wp <= DIRECT_MAX_FLOATS &&
           (g->in_c + g->out_c) * hq * wq <= DIRECT_MAX_FLOATS;
}

static size_t pass_workspace(const dplan *pl)
{
    const dgeom *d = &pl->d;
    return bytes_of((ptrdiff_t)d->cout * pl->Ktot) + 2 * bytes_of(pl->Ktot) /* boff, widx */ +
           bytes_of(d->xsize) + bytes_of((ptrdiff_t)d->cout * d->gs);
}

/* Weight gradient by the otile microkernel, in the layout that makes it a GEMM with no im2col:
 * acc[o][(ky, kx, c)] (cout x taps * cin) += dY[o][q] * xT[((s * oy + ky) * wp + s * ox + kx)
 * * cin + c] over the output pixels (oy, ox) of a chunk of images. xT is the padded input (rows
 * of wp = w + 2p pixels) in pixel-major (channels innermost) order, so for fixed ky the k * cin
 * columns (kx, c) of an output pixel are one contiguous run, a B row read in place at xT +
 * ky * wp * cin + boff, with one offset per real output pixel (the reduction lists no
 * padding). A is dY packed into microtile panels: a transpose of cout x oh * ow floats per
 * image, against cout * oh * ow * cin * k * k MACs. */
typedef struct wgeom {
    int cin, cout, k, s, p, h, w, oh, ow, wp;
    ptrdiff_t ps;      /* a padded plane: (h + 2p) * wp pixels */
    ptrdiff_t xstride; /* floats of one image's xT, with the slack the last rows read past */
    int nb;            /* images per chunk */
    int pixels;        /* output pixels of an image: oh * ow */
    int kmax;          /* output pixels of a chunk: nb * pixels */
} wgeom;

#define WG_CHUNK_POSITIONS 1024 /* K of one chunk: dY panels of a microtile row stay in L2 */

static wgeom wgeom_of(const gn_gemm_kernels *kr, const gn_conv_geom *g)
{
    wgeom w;
    w.cin = g->in_c, w.cout = g->out_c, w.k = g->kernel, w.s = g->stride, w.p = g->padding;
    w.h = g->in_h, w.w = g->in_w, w.oh = g->out_h, w.ow = g->out_w;
    w.wp = g->in_w + 2 * g->padding;
    w.ps = (ptrdiff_t)(g->in_h + 2 * g->padding) * w.wp;
    /* the last output pixel's run ends inside the plane; a whole NR of lanes past it */
    w.xstride = round_up((w.ps + w.k) * w.cin + kr->nr, 16);
    w.pixels = w.oh * w.ow;
    w.nb = WG_CHUNK_POSITIONS / w.pixels > 1 ? WG_CHUNK_POSITIONS / w.pixels : 1;
    w.kmax = w.nb * w.pixels;
    return w;
}

static ptrdiff_t wg_floats(const wgeom *w)
{
    return round_up((ptrdiff_t)w->k * w->k * w->cin * w->cout, 16) /* acc */ +
           round_up(w->kmax, 16) /* int boff */ + w->xstride * w->nb /* xT */ +
           round_up((ptrdiff_t)w->cout * w->kmax, 16) /* dY panels */ +
           round_up((ptrdiff_t)w->cin * w->w, 16) /* one input row through an xform */;
}

size_t gn_direct_workspace(const gn_gemm_kernels *kr, const gn_conv_geom *g)
{
    dplan f = forward_plan(kr, g), b = backward_plan(kr, g);
    size_t fwd = pass_workspace(&f), bwd = pass_workspace(&b);
    wgeom wg = wgeom_of(kr, g);
    size_t wgt = bytes_of(wg_floats(&wg));
    size_t most = fwd > bwd ? fwd : bwd;
    return (most > wgt ? most : wgt) + GN_WS_ALIGN;
}

/* Microtile rows: cout split into the fewest tiles of at most mr rows, as even as possible. */
static int tile_count(const gn_gemm_kernels *kr, int cout)
{
    return (cout + kr->mr - 1) / kr->mr;
}

static int tile_rows(int cout, int m0, int tiles_left)
{
    return (cout - m0 + tiles_left - 1) / tiles_left;
}

/* A (cout x K) into microtile panels: panel rows m0.., element (kk, i) at panel[kk * mr + i],
 * A(o, kk) = w[o * ostride + widx[kk]]. */
static void pack_weights(const gn_gemm_kernels *kr, int cout, int K, const float *w,
                         int ostride, const int *widx, float *apack)
{
    int tiles = tile_count(kr, cout), m0 = 0;
    for (int t = 0; t < tiles; t++) {
        int mr = tile_rows(cout, m0, tiles - t);
        for (int kk = 0; kk < K; kk++)
            for (int i = 0; i < mr; i++)
                apack[(ptrdiff_t)kk * mr + i] = w[(ptrdiff_t)(m0 + i) * ostride + widx[kk]];
        apack += (ptrdiff_t)mr * K;
        m0 += mr;
    }
}

/* Copies image planes (cin x h x w) into slot i of the buffer, whose zeros are already there;
 * through xf (stride 1 only; NULL: none) with pk's affine. */
static void fill_padded(const dgeom *d, const float *x, int i, float *xpad,
                        const gn_conv_xform *xf, const gn_plane_kernels *pk)
{
    int s = d->s;
    for (int c = 0; c < d->cin; c++)
        for (int r = 0; r < d->h; r++) {
            const float *src = x + ((ptrdiff_t)c * d->h + r) * d->w;
            int u = r + d->y0;
            if (s == 1) {
                float *dst = xpad + c * d->ps + (ptrdiff_t)u * d->wp + i * d->sw + d->x0;
                if (xf)
                    pk->affine(src, dst, (size_t)d->w, xf->scale[c], xf->shift[c], xf->floor);
                else
                    memcpy(dst, src, (size_t)d->w * sizeof(float));
                continue;
            }
            if (u % s >= d->k) /* no tap reads this row's phases (kernel < stride) */
                continue;
            for (int fx = 0; fx < imin(s, d->k); fx++) { /* columns x: (x + x0) % s == fx */
                int c0 = ((fx - d->x0) % s + s) % s;
                float *dst = xpad + ((ptrdiff_t)c * s * s + (u % s) * s + fx) * d->ps +
                             (ptrdiff_t)(u / s) * d->wp + i * d->sw + (c0 + d->x0) / s;
                int cnt = c0 < d->w ? (d->w - 1 - c0) / s + 1 : 0;
                if (s == 2) /* a constant stride the compiler vectorises */
                    for (int t = 0; t < cnt; t++)
                        dst[t] = src[c0 + 2 * t];
                else
                    for (int t = 0; t < cnt; t++)
                        dst[t] = src[c0 + s * t];
            }
        }
}

/* Row g of a strided phase's grid (output columns cs apart) for one image and output channel
 * into its output row; rows of adjacent columns (cs == 1) go by the ISA's row store. */
static void store_strided_row(float *dst, const float *src, int len, int cs, gn_store_mode store)
{
    if (store == GN_STORE_ADD)
        for (int j = 0; j < len; j++)
            dst[(ptrdiff_t)j * cs] += src[j];
    else if (store == GN_STORE_FRESH)
        for (int j = 0; j < len; j++)
            dst[(ptrdiff_t)j * cs] = 0.0f + src[j];
    else
        for (int j = 0; j < len; j++)
            dst[(ptrdiff_t)j * cs] = src[j];
}

/* y = the pass (or as store says) for n images: x planes (cin x h x w) at image stride x_bs, y
 * planes (cout x yh x yw) at y_bs; d->nb images at a time, side by side. With plane_sums (a
 * forward pass: one phase covering the output), each image's output planes are summed by pk
 * as soon as they are written (still in L1/L2). Every output is the same sum over K in the
 * same order wherever its image sits, so the bits do not depend on nb. */
static void run_pass(const gn_gemm_kernels *kr, const gn_wino_kernels *wk, const dplan *pl,
                     int n, const float *x, ptrdiff_t x_bs, const gn_conv_xform *xf,
                     const float *w, float *y, ptrdiff_t y_bs, gn_store_mode store, void *ws,
                     const gn_plane_kernels *pk, double *plane_sums)
{
    const dgeom *d = &pl->d;
    int tiles = tile_count(kr, d->cout);
    float *apack = gn_ws_align(ws);
    int *boff = (int *)((char *)apack + bytes_of((ptrdiff_t)d->cout * pl->Ktot));
    int *widx = (int *)((char *)boff + bytes_of(pl->Ktot));
    float *xpad = (float *)((char *)widx + bytes_of(pl->Ktot));
    float *grid = xpad + round_up(d->xsize, 16);
    for (int f = 0, k0 = 0; f < pl->nph; k0 += pl->ph[f].K, f++) {
        phase_taps(pl, f, boff + k0, widx + k0);
        pack_weights(kr, d->cout, pl->ph[f].K, w, pl->ostride, widx + k0,
                     apack + (ptrdiff_t)d->cout * k0);
    }
    ptrdiff_t yplane = (ptrdiff_t)pl->yh * pl->yw;
    /* slots a short last chunk leaves unfilled keep an earlier image: their grid columns are
     * dropped, and the gaps keep the used slots from reading them */
    memset(xpad, 0, (size_t)d->xsize * sizeof(float));
    for (int b0 = 0; b0 < n; b0 += d->nb) {
        int nb = imin(d->nb, n - b0);
        for (int i = 0; i < nb; i++)
            fill_padded(d, x + (b0 + i) * x_bs, i, xpad, xf, pk);
        for (int f = 0, k0 = 0; f < pl->nph; k0 += pl->ph[f].K, f++) {
            const dphase *ph = &pl->ph[f];
            if (ph->oh <= 0 || ph->ow <= 0 || (ph->K == 0 && store == GN_STORE_ADD))
                continue;
            if (ph->K == 0) { /* no tap reaches these outputs */
                for (int i = 0; i < nb; i++)
                    for (int o = 0; o < d->cout; o++)
                        for (int r = 0; r < ph->oh; r++) {
                            float *dst = y + (b0 + i) * y_bs + o * yplane +
                                         (ptrdiff_t)(ph->ry0 + r * ph->rs) * pl->yw + ph->cx0;
                            for (int j = 0; j < ph->ow; j++)
                                dst[(ptrdiff_t)j * ph->cs] = 0.0f;
                        }
                continue;
            }
            /* grid positions past the last used slot's last kept column are not needed */
            ptrdiff_t used = (ptrdiff_t)(ph->oh - 1) * d->wp + (ptrdiff_t)(nb - 1) * d->sw + ph->ow;
            ptrdiff_t gend = round_up(used, kr->nr) < d->gs ? round_up(used, kr->nr) : d->gs;
            const float *a0 = apack + (ptrdiff_t)d->cout * k0;
            for (ptrdiff_t q0 = 0; q0 < gend; q0 += kr->nr) {
                const float *ap = a0;
                for (int t = 0, m0 = 0; t < tiles; t++) {
                    int mr = tile_rows(d->cout, m0, tiles - t);
                    kr->otile(mr, kr->nr, ph->K, ap, xpad + q0, boff + k0,
                              grid + m0 * d->gs + q0, d->gs, 0.0f);
                    ap += (ptrdiff_t)mr * ph->K;
                    m0 += mr;
                }
            }
            for (int i = 0; i < nb; i++) {
                int b = b0 + i;
                float *yb = y + b * y_bs;
                for (int o = 0; o < d->cout; o++) {
                    float *dst = yb + o * yplane + (ptrdiff_t)ph->ry0 * pl->yw + ph->cx0;
                    const float *src = grid + o * d->gs + i * d->sw;
                    if (ph->cs == 1) { /* whole vectors (the ISA's row store), same bits */
                        wk->store(dst, (ptrdiff_t)ph->rs * pl->yw, src, d->wp, ph->oh, ph->ow,
                                  store);
                        continue;
                    }
                    for (int r = 0; r < ph->oh; r++)
                        store_strided_row(dst + (ptrdiff_t)r * ph->rs * pl->yw,
                                          src + (ptrdiff_t)r * d->wp, ph->ow, ph->cs, store);
                }
                for (int o = 0; plane_sums && o < d->cout; o++) {
                    const float *plane = yb + o * yplane;
                    double *at = plane_sums + ((ptrdiff_t)b * d->cout + o) * 2;
                    at[0] = at[1] = 0.0;
                    pk->sums(plane, plane, (size_t)yplane, &at[0], &at[1]);
                }
            }
        }
    }
}

void gn_direct_forward(const gn_gemm_kernels *kr, const gn_wino_kernels *wk,
                       const gn_conv_geom *g, int n, const float *x, const gn_conv_xform *xf,
                       const float *w, float *y, void *ws, const gn_plane_kernels *pk,
                       double *plane_sums)
{
    dplan pl = forward_plan(kr, g);
    run_pass(kr, wk, &pl, n, x, (ptrdiff_t)g->in_c * g->in_h * g->in_w, xf, w, y,
             (ptrdiff_t)g->out_c * g->out_h * g->out_w, GN_STORE_COPY, ws, pk, plane_sums);
}

void gn_direct_backward_data(const gn_gemm_kernels *kr, const gn_wino_kernels *wk,
                             const gn_conv_geom *g, int n, const float *dy, const float *w,
                             float *dx, void *ws, int fresh)
{
    dplan pl = backward_plan(kr, g);
    run_pass(kr, wk, &pl, n, dy, (ptrdiff_t)g->out_c * g->out_h * g->out_w, NULL, w, dx,
             (ptrdiff_t)g->in_c * g->in_h * g->in_w, fresh ? GN_STORE_FRESH : GN_STORE_ADD, ws,
             NULL, NULL);
}

void gn_direct_backward_weight(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n,
                               const float *x, const gn_conv_xform *xf, const float *dy,
                               float *dw, void *ws, const gn_plane_kernels *pk)
{
    wgeom wg = wgeom_of(kr, g);
    const wgeom *d = &wg;
    int k = d->k, taps = k * k, cin = d->cin, cout = d->cout, tiles = tile_count(kr, cout);
    int ncols = taps * cin, run = k * cin; /* acc columns; the contiguous (kx, c) run of a ky */
    float *acc = gn_ws_align(ws);
    int *boff = (int *)(acc + round_up((ptrdiff_t)ncols * cout, 16));
    float *xt = (float *)boff + round_up(wg.kmax, 16);
    float *apack = xt + wg.xstride * wg.nb;
    float *xrow = apack + round_up((ptrdiff_t)cout * wg.kmax, 16); /* cin x w, for xf */
    memset(acc, 0, (size_t)ncols * cout * sizeof(float));
    /* borders and slack of every xT stay zero; only interiors are rewritten */
    memset(xt, 0, (size_t)(wg.xstride * wg.nb) * sizeof(float));
    for (int t = 0, kk = 0; t < wg.nb; t++)
        for (int oy = 0; oy < d->oh; oy++)
            for (int ox = 0; ox < d->ow; ox++)
                boff[kk++] = (int)(t * wg.xstride +
                                   ((ptrdiff_t)d->s * oy * d->wp + (ptrdiff_t)d->s * ox) * cin);
    ptrdiff_t x_bs = (ptrdiff_t)cin * d->h * d->w, dy_bs = (ptrdiff_t)cout * d->oh * d->ow;
    for (int b0 = 0; b0 < n; b0 += wg.nb) {
        int nb = imin(wg.nb, n - b0), K = nb * wg.pixels;
        for (int t = 0; t < nb; t++) {
            const float *xb = x + (b0 + t) * x_bs;
            float *xtb = xt + t * wg.xstride;
            /* a row at a time: its w * cin floats stay in L1 while the planes stream in
             * (through xf: the row of every channel transformed, then transposed) */
            for (int r = 0; r < d->h; r++) {
                float *dst = xtb + ((ptrdiff_t)(r + d->p) * d->wp + d->p) * cin;
                const float *src = xb + (ptrdiff_t)r * d->w;
                if (!xf) {
                    kr->transpose(cin, d->w, src, (ptrdiff_t)d->h * d->w, dst, cin);
                    continue;
                }
                for (int c = 0; c < cin; c++)
                    pk->affine(src + (ptrdiff_t)c * d->h * d->w, xrow + (ptrdiff_t)c * d->w,
                               (size_t)d->w, xf->scale[c], xf->shift[c], xf->floor);
                kr->transpose(cin, d->w, xrow, d->w, dst, cin);
            }
        }
        /* dY panels: microtile rows m0.., element (kk, i) at [kk * mr + i], kk = (image,
         * pixel): each image's planes transposed whole */
        float *ap = apack;
        for (int tile = 0, m0 = 0; tile < tiles; tile++) {
            int mr = tile_rows(cout, m0, tiles - tile);
            for (int t = 0; t < nb; t++)
                kr->transpose(mr, wg.pixels, dy + (b0 + t) * dy_bs + (ptrdiff_t)m0 * wg.pixels,
                              wg.pixels, ap + (ptrdiff_t)t * wg.pixels * mr, mr);
            ap += (ptrdiff_t)mr * K;
            m0 += mr;
        }
        /* the next chunk's images are brought from memory into L2 while this one computes,
         * a share before every microkernel call (spread out, so the requests never pile up) */
        const float *pre[2] = {NULL, NULL};
        ptrdiff_t pre_left[2] = {0, 0}, share = 0;
        if (b0 + nb < n) {
            int nn = imin(wg.nb, n - b0 - nb);
            pre[0] = x + (b0 + nb) * x_bs, pre_left[0] = nn * x_bs;
            pre[1] = dy + (b0 + nb) * dy_bs, pre_left[1] = nn * dy_bs;
            ptrdiff_t calls = (ptrdiff_t)((K + kr->kc - 1) / kr->kc) * tiles * k *
                              ((run + kr->nr - 1) / kr->nr);
            share = round_up((pre_left[0] + pre_left[1]) / calls + 1, 16);
        }
        /* K blocks keep a panel block in L1 while every B column tile reads it */
        for (int k0 = 0; k0 < K; k0 += kr->kc) {
            int kb = imin(kr->kc, K - k0);
            ap = apack;
            for (int tile = 0, m0 = 0; tile < tiles; tile++) {
                int mr = tile_rows(cout, m0, tiles - tile);
                for (int ky = 0; ky < k; ky++)
                    for (int j0 = 0; j0 < run; j0 += kr->nr) {
                        int which = pre_left[0] > 0 ? 0 : 1;
                        if (pre_left[which] > 0) {
                            ptrdiff_t len = share < pre_left[which] ? share : pre_left[which];
                            gn_prefetch_floats(pre[which], len);
                            pre[which] += len;
                            pre_left[which] -= len;
                        }
                        kr->otile(mr, imin(kr->nr, run - j0), kb, ap + (ptrdiff_t)k0 * mr,
                                  xt + (ptrdiff_t)ky * d->wp * cin + j0, boff + k0,
                                  acc + (ptrdiff_t)m0 * ncols + ky * run + j0, ncols, 1.0f);
                    }
                ap += (ptrdiff_t)mr * K;
                m0 += mr;
            }
        }
    }
    for (int o = 0; o < cout; o++)
        for (int c = 0; c < cin; c++)
            for (int tap = 0; tap < taps; tap++)
                dw[((ptrdiff_t)o * cin + c) * taps + tap] +=
                    acc[(ptrdiff_t)o * ncols + tap * cin + c];
}
