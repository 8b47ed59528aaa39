/* Direct (im2col-free) convolution for narrow dense stride-1 layers: ResNet/VGG-style 3x3
 * convs of 64 channels or fewer, where every im2col element would feed only cout MACs and
 * packing it costs as much as the arithmetic.
 *
 * Images are copied once into a zero-padded buffer, several side by side (dgeom), rows of wp
 * floats. An output pixel is computed at grid position q = oy * wp + (its image's column
 * offset) + ox, and tap (ky, kx) of input channel c is then the same padded buffer read at
 * q + c * ps + ky * wp + kx: for a run of consecutive q, a contiguous vector. So the forward
 * pass is a GEMM whose B panel rows are read in place (the otile microkernel with an offset
 * per row of K) over all oh * wp grid positions; the grid columns that fall on the gaps
 * between images are computed and dropped when the result is copied out. Stride-1 backward
 * data is the same pass over dY with the flipped, transposed weights and padding k - 1 - p.
 * The weight gradient is a GEMM on the same microkernel with the output pixels as its
 * reduction: dY packed as A, the padded input of one image per row transposed to
 * channels-innermost pixels as B, read in place (see gn_direct_backward_weight). */
#include "kernels/conv/conv_internal.h"

#include <string.h>

#define DIRECT_MAX_CHANNELS 64
#define DIRECT_MAX_FLOATS (320 * 1024) /* padded in + grid out of one image: bounds workspace */

/* One pass: cin planes h x w in, padding p, kernel k, cout planes oh x ow out; nb images side
 * by side in one padded buffer, each w columns and a shared gap of p zero columns (a tap
 * reaches at most p columns past either side of its image), rows of wp = p + nb * sw floats.
 * Image i's output column ox is then grid column i * sw + ox, so fewer grid columns are
 * computed only to be dropped: p of every sw + the row's end, not 2p of every w + 2p. */
typedef struct dgeom {
    int cin, cout, k, p, h, w, oh, ow, wp;
    int nb, sw;      /* images side by side; columns from one image's start to the next's */
    ptrdiff_t ps;    /* padded plane: (h + 2p) * wp floats */
    ptrdiff_t ngrid; /* grid positions of the output: oh * wp */
    ptrdiff_t gs;    /* ngrid rounded up to whole microtiles (nr) and to 16 floats */
    ptrdiff_t xsize; /* one padded image, with the slack the last tile reads past its plane */
} dgeom;

static ptrdiff_t round_up(ptrdiff_t v, ptrdiff_t m)
{
    return (v + m - 1) / m * m;
}

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static dgeom dgeom_of(int cin, int cout, int h, int w, int k, int p, int nr, int nb)
{
    dgeom d;
    d.nb = nb;
    d.sw = w + p;
    d.cin = cin;
    d.cout = cout;
    d.k = k;
    d.p = p;
    d.h = h;
    d.w = w;
    d.oh = h + 2 * p - k + 1;
    d.ow = w + 2 * p - k + 1;
    d.wp = p + nb * d.sw;
    d.ps = (ptrdiff_t)(h + 2 * p) * d.wp;
    d.ngrid = (ptrdiff_t)d.oh * d.wp;
    d.gs = round_up(round_up(d.ngrid, nr), 16);
    /* a tile at q < gs reads up to q + (k - 1) * wp + k - 1 + a whole NR of lanes */
    ptrdiff_t reach = d.gs + (ptrdiff_t)(k - 1) * d.wp + k + nr;
    d.xsize = round_up((ptrdiff_t)(cin - 1) * d.ps + (reach > d.ps ? reach : d.ps), 16);
    return d;
}

static size_t bytes_of(ptrdiff_t floats)
{
    return (size_t)round_up(floats, 16) * sizeof(float); /* 64-byte multiples */
}

#define DIRECT_CHUNK_FLOATS (128 * 1024) /* padded in + grid out of the images side by side */

/* Images side by side in a pass: as many as fit the chunk budget (at least one). */
static int side_by_side(int cin, int cout, int h, int w, int k, int p)
{
    ptrdiff_t per = (ptrdiff_t)(w + p) * (cin * (h + 2 * p) + cout * (h + 2 * p - k + 1));
    ptrdiff_t nb = DIRECT_CHUNK_FLOATS / (per > 0 ? per : 1);
    return nb < 1 ? 1 : nb > 64 ? 64 : (int)nb;
}

/* The forward-shaped pass of g, and its backward-data pass (dY in, dX out); one image per
 * row (nb = 1) for the weight gradient's geometry. */
static dgeom pass_of(const gn_gemm_kernels *kr, int cin, int cout, int h, int w, int k, int p,
                     int chunked)
{
    return dgeom_of(cin, cout, h, w, k, p, kr->nr,
                    chunked ? side_by_side(cin, cout, h, w, k, p) : 1);
}

static dgeom forward_pass(const gn_gemm_kernels *kr, const gn_conv_geom *g, int chunked)
{
    return pass_of(kr, g->in_c, g->out_c, g->in_h, g->in_w, g->kernel, g->padding, chunked);
}

static dgeom backward_pass(const gn_gemm_kernels *kr, const gn_conv_geom *g)
{
    return pass_of(kr, g->out_c, g->in_c, g->out_h, g->out_w, g->kernel,
                   g->kernel - 1 - g->padding, 1);
}

int gn_direct_applies(const gn_conv_geom *g)
{
    if (g->groups != 1 || g->stride != 1 || g->kernel < 2 || g->padding > g->kernel - 1)
        return 0;
    if (g->in_c > DIRECT_MAX_CHANNELS || g->out_c > DIRECT_MAX_CHANNELS)
        return 0;
    ptrdiff_t hp = g->in_h + 2 * g->padding, wp = g->in_w + 2 * g->padding;
    int q = g->kernel - 1 - g->padding;
    ptrdiff_t hq = g->out_h + 2 * q, wq = g->out_w + 2 * q;
    return (g->in_c + g->out_c) * hp * wp <= DIRECT_MAX_FLOATS &&
           (g->in_c + g->out_c) * hq * wq <= DIRECT_MAX_FLOATS;
}

static size_t pass_workspace(const dgeom *d)
{
    ptrdiff_t K = (ptrdiff_t)d->cin * d->k * d->k;
    return bytes_of((ptrdiff_t)d->cout * K) + bytes_of(K) /* int offsets */ + bytes_of(d->xsize) +
           bytes_of((ptrdiff_t)d->cout * d->gs);
}

/* Weight gradient by the otile microkernel, in the layout that makes it a GEMM with no im2col:
 * acc[o][(ky, kx, c)] (cout x taps * cin) += dY[o][q] * xT[(q + ky * wp + kx) * cin + c] over
 * the output pixels q = oy * wp + ox (ox < ow) of a chunk of images. xT is the padded input in
 * pixel-major (channels innermost) order, so for fixed ky the k * cin columns (kx, c) of a
 * pixel are one contiguous run, a B row read in place at xT + ky * wp * cin + q * cin; the
 * reduction lists only real output pixels (an offset each), none of the grid's dropped
 * columns. A is dY packed into microtile panels: a transpose of cout x oh * ow floats per
 * image, against cout * oh * ow * cin * k * k MACs. */
typedef struct wgeom {
    dgeom d;
    ptrdiff_t xstride; /* floats of one image's xT, with the slack the last rows read past */
    int nb;            /* images per chunk */
    int pixels;        /* output pixels of an image: oh * ow */
    int kmax;          /* output pixels of a chunk: nb * pixels */
} wgeom;

#define WG_CHUNK_POSITIONS 1024 /* K of one chunk: dY panels of a microtile row stay in L2 */

static wgeom wgeom_of(const gn_gemm_kernels *kr, const gn_conv_geom *g)
{
    wgeom w;
    w.d = forward_pass(kr, g, 0);
    /* the last grid position reads pixel ps + k - 2, plus a whole NR of lanes */
    w.xstride = round_up(((ptrdiff_t)w.d.ps + w.d.k) * w.d.cin + kr->nr, 16);
    w.pixels = w.d.oh * w.d.ow;
    w.nb = WG_CHUNK_POSITIONS / w.pixels > 1 ? WG_CHUNK_POSITIONS / w.pixels : 1;
    w.kmax = w.nb * w.pixels;
    return w;
}

static ptrdiff_t wg_floats(const wgeom *w)
{
    const dgeom *d = &w->d;
    return round_up((ptrdiff_t)d->k * d->k * d->cin * d->cout, 16) /* acc */ +
           round_up(w->kmax, 16) /* int boff */ + w->xstride * w->nb /* xT */ +
           round_up((ptrdiff_t)d->cout * w->kmax, 16) /* dY panels */;
}

size_t gn_direct_workspace(const gn_gemm_kernels *kr, const gn_conv_geom *g)
{
    dgeom f = forward_pass(kr, g, 1), b = backward_pass(kr, g);
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

/* A (cout x K) into microtile panels: panel rows m0.., element (kk, i) at panel[kk * mr + i].
 * Forward: A(o, (c, tap)) = w[o][c][tap]; flipped (backward data, o = input channel of the
 * layer, c = its output channel): A(o, (c, tap)) = w[c][o][taps - 1 - tap]. */
static void pack_weights(const gn_gemm_kernels *kr, const dgeom *d, const float *w, int flipped,
                         float *apack)
{
    int taps = d->k * d->k, K = d->cin * taps, tiles = tile_count(kr, d->cout), m0 = 0;
    for (int t = 0; t < tiles; t++) {
        int mr = tile_rows(d->cout, m0, tiles - t);
        for (int kk = 0; kk < K; kk++) {
            int c = kk / taps, tap = kk % taps;
            for (int i = 0; i < mr; i++) {
                int o = m0 + i;
                apack[(ptrdiff_t)kk * mr + i] =
                    flipped ? w[((ptrdiff_t)c * d->cout + o) * taps + taps - 1 - tap]
                            : w[((ptrdiff_t)o * d->cin + c) * taps + tap];
            }
        }
        apack += (ptrdiff_t)mr * K;
        m0 += mr;
    }
}

/* Copies image planes (cin x h x w) into slot i of a padded buffer whose borders and gaps are
 * already zero. */
static void fill_padded(const dgeom *d, const float *x, int i, float *xpad)
{
    for (int c = 0; c < d->cin; c++)
        for (int r = 0; r < d->h; r++)
            memcpy(xpad + c * d->ps + (ptrdiff_t)(r + d->p) * d->wp + d->p + i * d->sw,
                   x + ((ptrdiff_t)c * d->h + r) * d->w, (size_t)d->w * sizeof(float));
}

/* How run_pass stores: y = conv, y += conv, or y = 0.0f + conv (the bits y += conv gives on a
 * zeroed y, over garbage). */
typedef enum store_mode { STORE_COPY, STORE_ADD, STORE_FRESH } store_mode;

/* y = conv (or as store says) for n images: x planes (cin x h x w) at image stride x_bs, y
 * planes (cout x oh x ow) at y_bs, weights packed by pack_weights; d->nb images at a time, side
 * by side. With plane_sums, each image's output planes are summed by pk as soon as they are
 * written (still in L1/L2). Every output is the same sum over K in the same order wherever
 * its image sits, so the bits do not depend on nb. */
static void run_pass(const gn_gemm_kernels *kr, const dgeom *d, int n, const float *x,
                     ptrdiff_t x_bs, const float *w, int flipped, float *y, ptrdiff_t y_bs,
                     store_mode store, void *ws, const gn_plane_kernels *pk,
                     double *plane_sums)
{
    int taps = d->k * d->k, K = d->cin * taps, tiles = tile_count(kr, d->cout);
    float *apack = gn_ws_align(ws);
    int *boff = (int *)((char *)apack + bytes_of((ptrdiff_t)d->cout * K));
    float *xpad = (float *)((char *)boff + bytes_of(K));
    float *grid = xpad + round_up(d->xsize, 16);
    pack_weights(kr, d, w, flipped, apack);
    for (int kk = 0; kk < K; kk++) {
        int c = kk / taps, tap = kk % taps;
        boff[kk] = (int)(c * d->ps + (tap / d->k) * d->wp + tap % d->k);
    }
    /* slots a short last chunk leaves unfilled keep an earlier image: their grid columns are
     * dropped, and the gaps keep the used slots from reading them */
    memset(xpad, 0, (size_t)d->xsize * sizeof(float));
    for (int b0 = 0; b0 < n; b0 += d->nb) {
        int nb = imin(d->nb, n - b0);
        for (int i = 0; i < nb; i++)
            fill_padded(d, x + (b0 + i) * x_bs, i, xpad);
        /* grid columns past the last used slot are not needed */
        ptrdiff_t used = d->ngrid - (ptrdiff_t)(d->nb - nb) * d->sw;
        ptrdiff_t gend = round_up(used, kr->nr) < d->gs ? round_up(used, kr->nr) : d->gs;
        for (ptrdiff_t q0 = 0; q0 < gend; q0 += kr->nr) {
            const float *ap = apack;
            for (int t = 0, m0 = 0; t < tiles; t++) {
                int mr = tile_rows(d->cout, m0, tiles - t);
                kr->otile(mr, kr->nr, K, ap, xpad + q0, boff, grid + m0 * d->gs + q0, d->gs,
                          0.0f);
                ap += (ptrdiff_t)mr * K;
                m0 += mr;
            }
        }
        for (int i = 0; i < nb; i++) {
            int b = b0 + i;
            float *yb = y + b * y_bs;
            for (int o = 0; o < d->cout; o++)
                for (int r = 0; r < d->oh; r++) {
                    float *dst = yb + ((ptrdiff_t)o * d->oh + r) * d->ow;
                    const float *src = grid + o * d->gs + (ptrdiff_t)r * d->wp + i * d->sw;
                    if (store == STORE_ADD)
                        for (int j = 0; j < d->ow; j++)
                            dst[j] += src[j];
                    else if (store == STORE_FRESH)
                        for (int j = 0; j < d->ow; j++)
                            dst[j] = 0.0f + src[j];
                    else
                        memcpy(dst, src, (size_t)d->ow * sizeof(float));
                }
            for (int o = 0; plane_sums && o < d->cout; o++) {
                const float *plane = yb + (ptrdiff_t)o * d->oh * d->ow;
                double *at = plane_sums + ((ptrdiff_t)b * d->cout + o) * 2;
                at[0] = at[1] = 0.0;
                pk->sums(plane, plane, (size_t)d->oh * d->ow, &at[0], &at[1]);
            }
        }
    }
}

void gn_direct_forward(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n, const float *x,
                       const float *w, float *y, void *ws, const gn_plane_kernels *pk,
                       double *plane_sums)
{
    dgeom d = forward_pass(kr, g, 1);
    run_pass(kr, &d, n, x, (ptrdiff_t)g->in_c * g->in_h * g->in_w, w, 0, y,
             (ptrdiff_t)g->out_c * g->out_h * g->out_w, STORE_COPY, ws, pk, plane_sums);
}

void gn_direct_backward_data(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n,
                             const float *dy, const float *w, float *dx, void *ws, int fresh)
{
    dgeom d = backward_pass(kr, g);
    run_pass(kr, &d, n, dy, (ptrdiff_t)g->out_c * g->out_h * g->out_w, w, 1, dx,
             (ptrdiff_t)g->in_c * g->in_h * g->in_w, fresh ? STORE_FRESH : STORE_ADD, ws, NULL,
             NULL);
}

void gn_direct_backward_weight(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n,
                               const float *x, const float *dy, float *dw, void *ws)
{
    wgeom wg = wgeom_of(kr, g);
    const dgeom *d = &wg.d;
    int k = d->k, taps = k * k, cin = d->cin, cout = d->cout, tiles = tile_count(kr, cout);
    int ncols = taps * cin, run = k * cin; /* acc columns; the contiguous (kx, c) run of a ky */
    float *acc = gn_ws_align(ws);
    int *boff = (int *)(acc + round_up((ptrdiff_t)ncols * cout, 16));
    float *xt = (float *)boff + round_up(wg.kmax, 16);
    float *apack = xt + wg.xstride * wg.nb;
    memset(acc, 0, (size_t)ncols * cout * sizeof(float));
    /* borders and slack of every xT stay zero; only interiors are rewritten */
    memset(xt, 0, (size_t)(wg.xstride * wg.nb) * sizeof(float));
    for (int t = 0, kk = 0; t < wg.nb; t++)
        for (int oy = 0; oy < d->oh; oy++)
            for (int ox = 0; ox < d->ow; ox++)
                boff[kk++] = (int)(t * wg.xstride + ((ptrdiff_t)oy * d->wp + ox) * cin);
    ptrdiff_t x_bs = (ptrdiff_t)cin * d->h * d->w, dy_bs = (ptrdiff_t)cout * d->oh * d->ow;
    for (int b0 = 0; b0 < n; b0 += wg.nb) {
        int nb = imin(wg.nb, n - b0), K = nb * wg.pixels;
        for (int t = 0; t < nb; t++) {
            const float *xb = x + (b0 + t) * x_bs;
            float *xtb = xt + t * wg.xstride;
            /* a row at a time: its w * cin floats stay in L1 while the planes stream in */
            for (int r = 0; r < d->h; r++)
                kr->transpose(cin, d->w, xb + (ptrdiff_t)r * d->w, (ptrdiff_t)d->h * d->w,
                              xtb + ((ptrdiff_t)(r + d->p) * d->wp + d->p) * cin, cin);
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
        /* K blocks keep a panel block in L1 while every B column tile reads it */
        for (int k0 = 0; k0 < K; k0 += kr->kc) {
            int kb = imin(kr->kc, K - k0);
            ap = apack;
            for (int tile = 0, m0 = 0; tile < tiles; tile++) {
                int mr = tile_rows(cout, m0, tiles - tile);
                for (int ky = 0; ky < k; ky++)
                    for (int j0 = 0; j0 < run; j0 += kr->nr)
                        kr->otile(mr, imin(kr->nr, run - j0), kb, ap + (ptrdiff_t)k0 * mr,
                                  xt + (ptrdiff_t)ky * d->wp * cin + j0, boff + k0,
                                  acc + (ptrdiff_t)m0 * ncols + ky * run + j0, ncols, 1.0f);
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
