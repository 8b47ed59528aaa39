/* Winograd F(2x2, 3x3) for the training passes of dense 3x3 stride-1 pad-1 convolutions (the
 * ResNet and VGG layers of 64 channels or fewer): the forward pass, and the backward-data pass,
 * which is the forward pass of dY with the flipped, transposed weights. Each 2x2 block of
 * outputs (a tile) costs 16 multiplies per (input, output) channel pair instead of 36 (Lavin &
 * Gray 2016):
 *   Y = A^T [ (G g G^T) . (B^T d B) ] A,   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 * with d the 4x4 input patch of the tile (rows 2ty - 1 .. 2ty + 2, zero outside the image) and
 * A, B as in wino_kernels.h. The sum over input channels happens between the transforms, as 16
 * GEMMs (one per element of the 4x4 tile) of the transformed weights U (cout x cin) with the
 * transformed input V (cin x tiles), on the otile microkernel.
 *
 * Layout. Each zero-padded input plane is split into its 2 x 2 phases (padded row u,
 * column v to phase (u % 2, v % 2), element (u / 2, v / 2)), nb images side by side in slots
 * of sw = tw + 1 phase columns (tw tiles a row; 2 * tw + 2 padded columns). Numbering tile
 * positions q = ty * wp + k * sw + tx for tile (ty, tx) of slot k (wp = nb * sw, the positions
 * of a row), element (i, j) of the tile's input patch is element (i / 2) * wp + j / 2 + q of
 * phase (i % 2, j % 2): every element of every tile is one fixed offset from q, and both
 * transforms run along q with contiguous vectors (wino_kernels.h). The position past the last
 * tile of a slot is computed and dropped, like the outputs of tiles that hang over an odd
 * plane's edge (correct, but about a quarter of a 7x7 plane's work: gn_wino_applies keeps odd
 * planes on the direct path). Tile rows go in blocks small enough that V and the products M
 * stay in L2.
 *
 * The results differ from the direct path's in rounding only: tests/test_conv_kernels.c holds
 * both to the reference kernels with the same tolerance, and the training tests compare them
 * with PyTorch. */
#include "kernels/conv/conv_internal.h"

#include <string.h>

/* Where it pays (measured on Zen 5, AVX-512, 64 images, forward pass against the direct path,
 * interleaved, median time ratios): 32 channels at 14x14 0.74-0.76, 16x16 0.87-0.88; 64 at 8x8
 * 0.85-0.86; but 16 channels at 28x28 1.01-1.03 and 32x32 1.04 (the transforms cost more than
 * the 16 short GEMMs save: the GEMM is a third of the time), and 64 at 7x7 1.02-1.03 (the
 * 4x4 tiles of a 7x7 plane compute 64 outputs for 49). So: at least 32 channels into the
 * pass, and even planes. */
#define WINO_MIN_K 32
#define WINO_PHASE_FLOATS (32 * 1024) /* the phase planes of one chunk of images           */
#define WINO_BLOCK_FLOATS (64 * 1024) /* V and M of one block of tile rows                 */

typedef struct wplan {
    int cin, cout, h, w; /* the pass: cin planes of h x w in, cout planes of h x w out */
    int backward;        /* weights flipped and transposed (backward data)             */
    int th, tw;          /* tiles of an image: rows, columns                           */
    int sw, nb;          /* tile positions per image slot (tw + 1); images per chunk   */
    ptrdiff_t wp, ps;    /* tile positions of a row (nb * sw); floats of a phase plane */
    ptrdiff_t psize;     /* the 4 * cin phase planes and the slack the last block reads */
    int rows;            /* tile rows per block                                         */
    ptrdiff_t bs;        /* floats of one plane of a block: rows * wp, in whole NR      */
} wplan;

static ptrdiff_t round_up(ptrdiff_t v, ptrdiff_t m)
{
    return (v + m - 1) / m * m;
}

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static size_t bytes_of(ptrdiff_t floats)
{
    return (size_t)round_up(floats, 16) * sizeof(float);
}

int gn_wino_applies(const gn_conv_geom *g, int backward)
{
    if (g->groups != 1 || g->kernel != 3 || g->stride != 1 || g->padding != 1)
        return 0;
    if (!gn_direct_applies(g)) /* <= 64 channels; its weight gradient stays alongside */
        return 0;
    return (backward ? g->out_c : g->in_c) >= WINO_MIN_K && g->in_h % 2 == 0 && g->in_w % 2 == 0;
}

static wplan plan_of(const gn_gemm_kernels *kr, const gn_conv_geom *g, int backward)
{
    wplan p;
    p.cin = backward ? g->out_c : g->in_c;
    p.cout = backward ? g->in_c : g->out_c;
    p.h = g->in_h, p.w = g->in_w; /* = out_h, out_w */
    p.backward = backward;
    p.th = (p.h + 1) / 2, p.tw = (p.w + 1) / 2;
    p.sw = p.tw + 1;
    ptrdiff_t per_image = (ptrdiff_t)4 * p.cin * (p.th + 1) * p.sw;
    ptrdiff_t nb = WINO_PHASE_FLOATS / per_image;
    p.nb = nb < 1 ? 1 : nb > 64 ? 64 : (int)nb;
    p.wp = (ptrdiff_t)p.nb * p.sw;
    p.ps = (ptrdiff_t)(p.th + 1) * p.wp;
    ptrdiff_t rows = WINO_BLOCK_FLOATS / ((ptrdiff_t)16 * (p.cin + p.cout) * p.wp);
    p.rows = rows < 1 ? 1 : rows > p.th ? p.th : (int)rows;
    p.bs = round_up(round_up((ptrdiff_t)p.rows * p.wp, kr->nr), 16);
    /* a block's positions run up to NR past its last tile row, and its patches one phase row
     * and column further: past the last plane, at most NR + 1 floats */
    p.psize = round_up((ptrdiff_t)4 * p.cin * p.ps + kr->nr + 16, 16);
    return p;
}

/* Workspace layout: packed U, boff, phase planes, V, M, the output transform's two rows. */
static size_t plan_workspace(const wplan *p)
{
    return bytes_of((ptrdiff_t)16 * p->cout * p->cin) + bytes_of(p->cin) + bytes_of(p->psize) +
           bytes_of((ptrdiff_t)16 * p->cin * p->bs) + bytes_of((ptrdiff_t)16 * p->cout * p->bs) +
           bytes_of(4 * p->bs) + GN_WS_ALIGN;
}

size_t gn_wino_workspace(const gn_gemm_kernels *kr, const gn_conv_geom *g)
{
    wplan f = plan_of(kr, g, 0), b = plan_of(kr, g, 1);
    size_t fwd = plan_workspace(&f), bwd = plan_workspace(&b);
    return fwd > bwd ? fwd : bwd;
}

/* Microtile rows: cout split into the fewest tiles of at most mr rows, as even as possible (as
 * conv_direct.c splits them). */
static int tile_rows(int cout, int m0, int tiles_left)
{
    return (cout - m0 + tiles_left - 1) / tiles_left;
}

/* U = G g G^T for every (output, input) channel pair of the pass, packed per tile element pos
 * into the otile panels: apack + pos * cout * cin + m0 * cin, element (c, i) at [c * mr + i]
 * for output channel m0 + i. Backward data: g is the layer's weight (c, o) flipped. */
static void pack_weights(const gn_gemm_kernels *kr, const wplan *p, const float *w, float *apack)
{
    int tiles = (p->cout + kr->mr - 1) / kr->mr;
    for (int t = 0, m0 = 0; t < tiles; t++) {
        int mr = tile_rows(p->cout, m0, tiles - t);
        for (int c = 0; c < p->cin; c++)
            for (int i = 0; i < mr; i++) {
                int o = m0 + i;
                float g[3][3], gg[4][3];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++)
                        g[ky][kx] = p->backward /* the layer's (c, o) weight, flipped */
                                        ? w[((ptrdiff_t)c * p->cout + o) * 9 + 8 - (ky * 3 + kx)]
                                        : w[((ptrdiff_t)o * p->cin + c) * 9 + ky * 3 + kx];
                for (int kx = 0; kx < 3; kx++) { /* G g */
                    gg[0][kx] = g[0][kx];
                    gg[1][kx] = 0.5f * (g[0][kx] + g[1][kx] + g[2][kx]);
                    gg[2][kx] = 0.5f * (g[0][kx] - g[1][kx] + g[2][kx]);
                    gg[3][kx] = g[2][kx];
                }
                for (int a = 0; a < 4; a++) { /* (G g) G^T */
                    float u[4] = {gg[a][0], 0.5f * (gg[a][0] + gg[a][1] + gg[a][2]),
                                  0.5f * (gg[a][0] - gg[a][1] + gg[a][2]), gg[a][2]};
                    for (int b = 0; b < 4; b++)
                        apack[(ptrdiff_t)(a * 4 + b) * p->cout * p->cin + (ptrdiff_t)m0 * p->cin +
                              c * mr + i] = u[b];
                }
            }
        m0 += mr;
    }
}

/* Image planes (cin x h x w) into slot i of the zeroed phase planes, through xf (NULL: none).
 * Input row r is padded row r + 1: even rows r = 2k go to phase row k of row phase 1, odd ones
 * r = 2k + 1 to phase row k + 1 of row phase 0; their even columns x (padded x + 1, odd) go to
 * column phase 1 at x / 2, their odd ones to column phase 0 at (x + 1) / 2. */
static void fill_phases(const gn_wino_kernels *wk, const wplan *p, const float *x, int i,
                        float *ph, const gn_conv_xform *xf)
{
    for (int c = 0; c < p->cin; c++) {
        const float *plane = x + (ptrdiff_t)c * p->h * p->w;
        float *slot = ph + (ptrdiff_t)c * 4 * p->ps + (ptrdiff_t)i * p->sw;
        float scale = xf ? xf->scale[c] : 0.0f, shift = xf ? xf->shift[c] : 0.0f;
        float floor = xf ? xf->floor : 0.0f;
        for (int fu = 1; fu >= 0; fu--) { /* input rows 1 - fu, 3 - fu, ... */
            float *at = slot + (ptrdiff_t)fu * 2 * p->ps + (ptrdiff_t)(1 - fu) * p->wp;
            wk->split(plane + (ptrdiff_t)(1 - fu) * p->w, 2 * p->w, (p->h + fu) / 2, p->w,
                      xf != NULL, scale, shift, floor, at + p->ps, at + 1, p->wp);
        }
    }
}

/* The pass over n images (x planes at image stride x_bs, y at y_bs), stored as store says;
 * plane_sums as gn_direct_forward's. */
static void run_pass(const gn_gemm_kernels *kr, const gn_wino_kernels *wk, const wplan *p, int n,
                     const float *x, ptrdiff_t x_bs, const gn_conv_xform *xf, const float *w,
                     float *y, ptrdiff_t y_bs, gn_store_mode store, void *ws,
                     const gn_plane_kernels *pk, double *plane_sums)
{
    int cin = p->cin, cout = p->cout, tiles = (cout + kr->mr - 1) / kr->mr;
    float *apack = gn_ws_align(ws);
    int *boff = (int *)((char *)apack + bytes_of((ptrdiff_t)16 * cout * cin));
    float *ph = (float *)((char *)boff + bytes_of(cin));
    float *v = (float *)((char *)ph + bytes_of(p->psize));
    float *m = (float *)((char *)v + bytes_of((ptrdiff_t)16 * cin * p->bs));
    float *yt = (float *)((char *)m + bytes_of((ptrdiff_t)16 * cout * p->bs));
    pack_weights(kr, p, w, apack);
    for (int c = 0; c < cin; c++)
        boff[c] = (int)(c * p->bs);
    ptrdiff_t plane = (ptrdiff_t)p->h * p->w;
    /* slots a short last chunk leaves unfilled keep an earlier image: dropped like the gaps */
    memset(ph, 0, (size_t)p->psize * sizeof(float));
    for (int b0 = 0; b0 < n; b0 += p->nb) {
        int nb = imin(p->nb, n - b0);
        for (int i = 0; i < nb; i++)
            fill_phases(wk, p, x + (b0 + i) * x_bs, i, ph, xf);
        for (int ty0 = 0; ty0 < p->th; ty0 += p->rows) {
            int rows = imin(p->rows, p->th - ty0);
            ptrdiff_t count = round_up((ptrdiff_t)rows * p->wp, kr->nr); /* <= bs */
            for (int c = 0; c < cin; c++) {
                const float *at = ph + (ptrdiff_t)c * 4 * p->ps + (ptrdiff_t)ty0 * p->wp;
                const float *phases[4] = {at, at + p->ps, at + 2 * p->ps, at + 3 * p->ps};
                wk->input(phases, p->wp, (size_t)count, v + c * p->bs, (ptrdiff_t)cin * p->bs);
            }
            for (int pos = 0; pos < 16; pos++) {
                const float *vp = v + (ptrdiff_t)pos * cin * p->bs;
                float *mp = m + (ptrdiff_t)pos * cout * p->bs;
                for (ptrdiff_t q0 = 0; q0 < count; q0 += kr->nr) {
                    const float *ap = apack + (ptrdiff_t)pos * cout * cin;
                    for (int t = 0, m0 = 0; t < tiles; t++) {
                        int mr = tile_rows(cout, m0, tiles - t);
                        kr->otile(mr, kr->nr, cin, ap, vp + q0, boff, mp + m0 * p->bs + q0,
                                  p->bs, 0.0f);
                        ap += (ptrdiff_t)mr * cin;
                        m0 += mr;
                    }
                }
            }
            for (int o = 0; o < cout; o++) {
                wk->output(m + o * p->bs, (ptrdiff_t)cout * p->bs, (size_t)count, yt, 2 * p->bs);
                /* output rows 2 * (ty0 + r) + half: from row half of yt, at 2 * (position) */
                for (int i = 0; i < nb; i++)
                    for (int half = 0; half < 2; half++) {
                        int oy = 2 * ty0 + half, n_rows = imin(rows, (p->h - oy + 1) / 2);
                        wk->store(y + (b0 + i) * y_bs + o * plane + (ptrdiff_t)oy * p->w,
                                  2 * (ptrdiff_t)p->w,
                                  yt + (ptrdiff_t)half * 2 * p->bs + 2 * (ptrdiff_t)i * p->sw,
                                  2 * p->wp, n_rows, p->w, store);
                    }
            }
        }
        for (int i = 0; plane_sums && i < nb; i++)
            for (int o = 0; o < cout; o++) {
                const float *yp = y + (b0 + i) * y_bs + o * plane;
                double *at = plane_sums + ((ptrdiff_t)(b0 + i) * cout + o) * 2;
                at[0] = at[1] = 0.0;
                pk->sums(yp, yp, (size_t)plane, &at[0], &at[1]);
            }
    }
}

void gn_wino_forward(const gn_gemm_kernels *kr, const gn_wino_kernels *wk, const gn_conv_geom *g,
                     int n, const float *x, const gn_conv_xform *xf, const float *w, float *y,
                     void *ws, const gn_plane_kernels *pk, double *plane_sums)
{
    wplan p = plan_of(kr, g, 0);
    ptrdiff_t bs = (ptrdiff_t)g->in_c * g->in_h * g->in_w;
    ptrdiff_t ys = (ptrdiff_t)g->out_c * g->out_h * g->out_w;
    run_pass(kr, wk, &p, n, x, bs, xf, w, y, ys, GN_STORE_COPY, ws, pk, plane_sums);
}

void gn_wino_backward_data(const gn_gemm_kernels *kr, const gn_wino_kernels *wk,
                           const gn_conv_geom *g, int n, const float *dy, const float *w,
                           float *dx, void *ws, int fresh)
{
    wplan p = plan_of(kr, g, 1);
    ptrdiff_t ys = (ptrdiff_t)g->out_c * g->out_h * g->out_w;
    ptrdiff_t xs = (ptrdiff_t)g->in_c * g->in_h * g->in_w;
    run_pass(kr, wk, &p, n, dy, ys, NULL, w, dx, xs, fresh ? GN_STORE_FRESH : GN_STORE_ADD, ws,
             NULL, NULL);
}
