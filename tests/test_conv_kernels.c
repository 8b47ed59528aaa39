/* gn_conv2d_forward / backward_data / backward_weight for every ISA this CPU runs, against the
 * reference kernels: hand-picked network shapes (pointwise, grouped, stem, strided, depthwise
 * with multipliers, shapes that cross every cache block and scratch block) plus random
 * geometries over kernel 1/3/5/7, stride 1/2/3, padding 0..3, odd channel counts and plane
 * sizes, for n = 1 and 3. Forward output starts as NaN (it must be overwritten); dx, dw and
 * dbias start random (the gradients must accumulate); the workspace is exactly the size asked
 * for, misaligned, and filled with NaN garbage. */
#include "harness.h"

#include "core/internal.h"
#include "kernels/conv/conv.h"
#include "kernels/conv/conv_internal.h"
#include "kernels/cpu.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv_case {
    int in_c, out_c, h, w, k, s, p, groups;
} conv_case;

static int isa_runs(gn_isa isa)
{
    gn_isa best = gn_cpu_detect();
    return isa == GN_ISA_PORTABLE || isa == best || (isa == GN_ISA_AVX2 && best == GN_ISA_AVX512);
}

static float *random_floats(gn_rng *rng, size_t count)
{
    float *p = malloc((count ? count : 1) * sizeof(float));
    for (size_t i = 0; i < count; i++)
        p[i] = 2.0f * gn_rng_uniform(rng) - 1.0f;
    return p;
}

static float *copy_floats(const float *src, size_t count)
{
    float *p = malloc((count ? count : 1) * sizeof(float));
    memcpy(p, src, count * sizeof(float));
    return p;
}

/* Exactly the bytes asked for, 4 bytes past an aligned block, full of NaN. */
static void *garbage_workspace(size_t bytes, void **block)
{
    *block = malloc(bytes + 4);
    float nan = NAN;
    for (size_t i = 0; i + sizeof(float) <= bytes + 4; i += sizeof(float))
        memcpy((char *)*block + i, &nan, sizeof(float));
    return (char *)*block + 4;
}

/* got vs want within 1e-5 of the larger's scale, times sqrt of the reduction length. The scale
 * is at least 0.1: the data are uniform in [-1, 1], so each output sums terms of about that
 * size, and an output that cancels to far less than its terms (one 7x7 output of -0.0032 from
 * 49 terms) still carries their rounding, about 1e-7 in float. */
static int close_enough(const float *got, const float *want, size_t count, double reduction,
                        const char *what, gn_isa isa, const gn_conv_geom *g, int n)
{
    double scale = 0.1;
    for (size_t i = 0; i < count; i++)
        scale = fmax(scale, fabs(want[i]));
    double tol = 1e-5 * scale * sqrt(reduction + 1.0);
    for (size_t i = 0; i < count; i++)
        if (!(fabs(got[i] - want[i]) <= tol)) {
            CHECK_MSG(0,
                      "%s %s: in %dx%dx%d out %dx%dx%d k %d s %d p %d groups %d n %d: "
                      "[%zu] = %g, want %g (tol %g)",
                      gn_isa_name(isa), what, g->in_c, g->in_h, g->in_w, g->out_c, g->out_h,
                      g->out_w, g->kernel, g->stride, g->padding, g->groups, n, i, got[i],
                      want[i], tol);
            return 0;
        }
    CHECK(1);
    return 1;
}

typedef struct tensors {
    size_t nx, ny, nw;
    float *x, *w, *bias, *dy, *dx0, *dw0, *db0; /* inputs and the gradients' starting values */
    float *y_ref, *dx_ref, *dw_ref, *db_ref;
} tensors;

static void make_tensors(gn_rng *rng, const gn_conv_geom *g, int n, tensors *t)
{
    t->nx = (size_t)n * g->in_c * g->in_h * g->in_w;
    t->ny = (size_t)n * g->out_c * g->out_h * g->out_w;
    t->nw = (size_t)g->out_c * (g->in_c / g->groups) * g->kernel * g->kernel;
    t->x = random_floats(rng, t->nx);
    t->w = random_floats(rng, t->nw);
    t->bias = random_floats(rng, (size_t)g->out_c);
    t->dy = random_floats(rng, t->ny);
    t->dx0 = random_floats(rng, t->nx);
    t->dw0 = random_floats(rng, t->nw);
    t->db0 = random_floats(rng, (size_t)g->out_c);
    t->y_ref = malloc((t->ny ? t->ny : 1) * sizeof(float));
    gn_conv2d_forward_ref(g, n, t->x, t->w, t->bias, t->y_ref);
    t->dx_ref = copy_floats(t->dx0, t->nx);
    gn_conv2d_backward_data_ref(g, n, t->dy, t->w, t->dx_ref);
    t->dw_ref = copy_floats(t->dw0, t->nw);
    t->db_ref = copy_floats(t->db0, (size_t)g->out_c);
    gn_conv2d_backward_weight_ref(g, n, t->x, t->dy, t->dw_ref, t->db_ref);
}

static void free_tensors(tensors *t)
{
    float *all[] = {t->x,   t->w,     t->bias,   t->dy,     t->dx0, t->dw0,
                    t->db0, t->y_ref, t->dx_ref, t->dw_ref, t->db_ref};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free(all[i]);
}

/* plane_sums from gn_conv2d_forward against the plane kernel run on the output afterwards
 * (bitwise: the batch norm relies on getting the same statistics either way) and against a
 * plain double sum. */
static int plane_sums_match(gn_isa isa, const gn_conv_geom *g, int n, const float *y,
                            const double *sums, const char *what)
{
    const gn_plane_kernels *pk = gn_plane_kernels_for(isa);
    size_t ohw = (size_t)g->out_h * g->out_w;
    for (int i = 0; i < n * g->out_c; i++) {
        const float *plane = y + (size_t)i * ohw;
        double s = 0.0, q = 0.0, ps = 0.0, pq = 0.0;
        pk->sums(plane, plane, ohw, &ps, &pq);
        for (size_t j = 0; j < ohw; j++) {
            s += plane[j];
            q += (double)plane[j] * plane[j];
        }
        if (sums[2 * i] != ps || sums[2 * i + 1] != pq ||
            fabs(sums[2 * i] - s) > 1e-5 * (fabs(s) + (double)ohw) ||
            fabs(sums[2 * i + 1] - q) > 1e-5 * (q + 1.0)) {
            fprintf(stderr,
                    "%s plane sums, isa %s, plane %d of %dx%d: %.9g %.9g, plane kernel %.9g "
                    "%.9g, double %.9g %.9g\n",
                    what, gn_isa_name(isa), i, g->out_h, g->out_w, sums[2 * i], sums[2 * i + 1],
                    ps, pq, s, q);
            return 0;
        }
    }
    return 1;
}

/* Forward and weight gradient reading x through a BN's scale and shift (gn_conv_xform) give
 * the bits of the same operations on the BN's output computed first by the plane kernel's
 * affine, with a ReLU floor and without. */
static int xform_matches(gn_isa isa, const gn_conv_geom *g, int n, const tensors *t, void *ws,
                         gn_rng *rng)
{
    const gn_plane_kernels *pk = gn_plane_kernels_for(isa);
    size_t plane = (size_t)g->in_h * g->in_w;
    float *scale = random_floats(rng, (size_t)g->in_c), *shift = random_floats(rng, (size_t)g->in_c);
    float *xa = malloc((t->nx ? t->nx : 1) * sizeof(float));
    float *y = malloc((t->ny ? t->ny : 1) * sizeof(float));
    float *y_want = malloc((t->ny ? t->ny : 1) * sizeof(float));
    float *dw = malloc(t->nw * sizeof(float)), *dw_want = malloc(t->nw * sizeof(float));
    int ok = 1;
    for (int relu = 0; relu < 2; relu++) {
        gn_conv_xform xf = {scale, shift, relu ? 0.0f : -INFINITY};
        for (int b = 0; b < n; b++)
            for (int c = 0; c < g->in_c; c++) {
                size_t at = ((size_t)b * g->in_c + c) * plane;
                pk->affine(t->x + at, xa + at, plane, scale[c], shift[c], xf.floor);
            }
        gn_conv2d_forward(isa, g, n, xa, t->w, NULL, y_want, ws, NULL);
        for (size_t i = 0; i < t->ny; i++)
            y[i] = NAN;
        gn_conv2d_forward_xf(isa, g, n, t->x, &xf, t->w, NULL, y, ws, NULL);
        ok &= memcmp(y, y_want, t->ny * sizeof(float)) == 0;
        memcpy(dw_want, t->dw0, t->nw * sizeof(float));
        gn_conv2d_backward_weight(isa, g, n, xa, t->dy, dw_want, NULL, ws);
        memcpy(dw, t->dw0, t->nw * sizeof(float));
        gn_conv2d_backward_weight_xf(isa, g, n, t->x, &xf, t->dy, dw, NULL, ws);
        ok &= memcmp(dw, dw_want, t->nw * sizeof(float)) == 0;
        if (!ok) {
            fprintf(stderr, "input transform (relu %d) differs from transforming first, isa %s\n",
                    relu, gn_isa_name(isa));
            break;
        }
    }
    float *all[] = {scale, shift, xa, y, y_want, dw, dw_want};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free(all[i]);
    return ok;
}

/* Returns 0 when all three operations match on this ISA. */
static int check_isa(gn_isa isa, const gn_conv_geom *g, int n, const tensors *t, gn_rng *rng)
{
    int cin_g = g->in_c / g->groups, cout_g = g->out_c / g->groups, kk = g->kernel * g->kernel;
    void *block;
    void *ws = garbage_workspace(gn_conv2d_workspace_bytes(isa, g), &block);
    int ok = 1;

    float *y = malloc((t->ny ? t->ny : 1) * sizeof(float));
    for (size_t i = 0; i < t->ny; i++)
        y[i] = NAN;
    double *sums = malloc(((size_t)n * g->out_c * 2 + 1) * sizeof(double));
    gn_conv2d_forward(isa, g, n, t->x, t->w, t->bias, y, ws, NULL);
    ok &= close_enough(y, t->y_ref, t->ny, cin_g * kk, "forward", isa, g, n);
    gn_conv2d_forward(isa, g, n, t->x, t->w, t->bias, y, ws, sums);
    ok &= close_enough(y, t->y_ref, t->ny, cin_g * kk, "forward (sums)", isa, g, n);
    ok &= plane_sums_match(isa, g, n, y, sums, "forward");
    /* without bias: the reference output minus the bias, recomputed */
    float *y_nb = malloc((t->ny ? t->ny : 1) * sizeof(float));
    gn_conv2d_forward_ref(g, n, t->x, t->w, NULL, y_nb);
    gn_conv2d_forward(isa, g, n, t->x, t->w, NULL, y, ws, sums);
    ok &= close_enough(y, y_nb, t->ny, cin_g * kk, "forward (no bias)", isa, g, n);
    ok &= plane_sums_match(isa, g, n, y, sums, "forward (no bias)");
    free(sums);
    free(y_nb);
    free(y);

    float *dx = copy_floats(t->dx0, t->nx);
    gn_conv2d_backward_data(isa, g, n, t->dy, t->w, dx, ws, 0);
    ok &= close_enough(dx, t->dx_ref, t->nx, cout_g * kk, "backward data", isa, g, n);
    /* fresh: over garbage, the bits of accumulating into zeros */
    float *dx_zero = calloc(t->nx ? t->nx : 1, sizeof(float));
    gn_conv2d_backward_data(isa, g, n, t->dy, t->w, dx_zero, ws, 0);
    for (size_t i = 0; i < t->nx; i++)
        dx[i] = NAN;
    gn_conv2d_backward_data(isa, g, n, t->dy, t->w, dx, ws, 1);
    if (t->nx && memcmp(dx, dx_zero, t->nx * sizeof(float)) != 0) {
        fprintf(stderr, "backward data (fresh) differs from accumulating into zeros, isa %s\n",
                gn_isa_name(isa));
        ok = 0;
    }
    free(dx_zero);
    free(dx);

    float *dw = copy_floats(t->dw0, t->nw), *db = copy_floats(t->db0, (size_t)g->out_c);
    gn_conv2d_backward_weight(isa, g, n, t->x, t->dy, dw, db, ws);
    double pixels = (double)n * g->out_h * g->out_w;
    ok &= close_enough(dw, t->dw_ref, t->nw, pixels, "backward weight", isa, g, n);
    ok &= close_enough(db, t->db_ref, (size_t)g->out_c, pixels, "backward bias", isa, g, n);
    /* dbias may be NULL */
    memcpy(dw, t->dw0, t->nw * sizeof(float));
    gn_conv2d_backward_weight(isa, g, n, t->x, t->dy, dw, NULL, ws);
    ok &= close_enough(dw, t->dw_ref, t->nw, pixels, "backward weight (no bias)", isa, g, n);
    free(dw);
    free(db);
    if (gn_conv2d_takes_xform(g))
        ok &= xform_matches(isa, g, n, t, ws, rng);
    free(block);
    /* the bitwise comparisons above print but do not count; every failure counts here */
    CHECK_MSG(ok, "%s: in %dx%dx%d out %dx%dx%d k %d s %d p %d groups %d n %d failed",
              gn_isa_name(isa), g->in_c, g->in_h, g->in_w, g->out_c, g->out_h, g->out_w,
              g->kernel, g->stride, g->padding, g->groups, n);
    return ok ? 0 : -1;
}

static gn_conv_geom geometry(const conv_case *c)
{
    gn_conv_geom g = {c->in_c, c->h, c->w, c->out_c, 0, 0, c->k, c->s, c->p, c->groups};
    g.out_h = (g.in_h + 2 * g.padding - g.kernel) / g.stride + 1;
    g.out_w = (g.in_w + 2 * g.padding - g.kernel) / g.stride + 1;
    return g;
}

static int run_case(gn_rng *rng, const conv_case *c, int n)
{
    gn_conv_geom g = geometry(c);
    tensors t;
    make_tensors(rng, &g, n, &t);
    int failed = 0;
    for (int isa = 0; isa < GN_ISA_COUNT; isa++)
        if (isa_runs((gn_isa)isa))
            failed |= check_isa((gn_isa)isa, &g, n, &t, rng);
    free_tensors(&t);
    return failed;
}

static void test_network_shapes(gn_rng *rng)
{
    static const conv_case cases[] = {
        {17, 33, 28, 28, 1, 1, 0, 1},  /* pointwise, odd channels */
        {33, 17, 7, 7, 1, 1, 0, 1},    /* pointwise, small plane: columns straddle images */
        {16, 24, 14, 14, 1, 1, 0, 2},  /* grouped pointwise */
        {96, 40, 4, 4, 1, 1, 0, 1},    /* GhostNet 4x4 stage */
        {300, 180, 28, 28, 1, 1, 0, 1}, /* crosses the K, M and N GEMM blocks */
        {3, 16, 32, 32, 3, 1, 1, 1},   /* RGB stem */
        {1, 8, 28, 28, 3, 1, 1, 1},    /* grey stem: the depthwise path, multiplier 8 */
        {1, 33, 9, 7, 3, 1, 1, 1},     /* multiplier beyond one multiplier block */
        {80, 8, 14, 14, 3, 2, 1, 1},   /* strided, > 64 channels: col2im, several row blocks */
        {32, 32, 8, 8, 3, 1, 1, 1},    /* ResNet 3x3 */
        {33, 20, 28, 28, 3, 1, 1, 1},  /* im2col blocks split along pixels */
        {64, 64, 2, 2, 3, 1, 1, 1},    /* VGG's last stage: weight gradient by GEMM */
        {66, 128, 9, 9, 3, 2, 1, 2},   /* grouped, strided, weight gradient by GEMM */
        {128, 192, 7, 7, 1, 1, 0, 2},  /* grouped pointwise, weight gradient by GEMM */
        {24, 24, 28, 28, 3, 1, 1, 24}, /* depthwise */
        {24, 48, 14, 14, 3, 1, 1, 24}, /* depthwise, multiplier 2 */
        {16, 48, 7, 7, 5, 2, 2, 16},   /* depthwise 5x5 stride 2, multiplier 3 */
        {40, 40, 4, 4, 5, 1, 2, 40},
        {8, 8, 9, 9, 7, 1, 3, 8},
        {5, 5, 28, 28, 7, 2, 3, 5},
        {6, 12, 11, 13, 3, 3, 1, 6},   /* depthwise stride 3 */
        {8, 16, 7, 7, 1, 2, 0, 1},     /* strided 1x1 */
        {4, 4, 3, 3, 1, 1, 1, 1},      /* 1x1 with padding: not a convolution of dY */
        {4, 6, 5, 5, 3, 1, 3, 2},      /* padding beyond k - 1 */
        /* the direct (im2col-free) path: dense, stride 1, <= 64 channels */
        {16, 16, 28, 28, 3, 1, 1, 1},  /* ResNet-56 stage 1 on Fashion-MNIST */
        {16, 8, 32, 32, 3, 1, 1, 1},   /* Ghost-ResNet-56 primary conv, CIFAR size */
        {64, 64, 7, 7, 3, 1, 1, 1},    /* ResNet-56 stage 3 */
        {64, 17, 1, 1, 3, 1, 1, 1},    /* 1x1 plane: only the centre tap is real */
        {5, 7, 9, 11, 5, 1, 1, 1},     /* 5x5 with padding 1 (output shrinks) */
        {3, 33, 6, 13, 7, 1, 3, 1},    /* 7x7, more outputs than one microtile column */
        {9, 3, 4, 4, 2, 1, 0, 1},      /* even kernel, no padding */
        {5, 16, 9, 11, 3, 1, 1, 1},    /* weight gradient: 15 columns, a narrow masked tile */
        {16, 14, 10, 10, 3, 1, 1, 1},  /* weight gradient: 14 rows, a narrow 16-column tile */
        /* the direct path at stride s: phase planes forward, dX phases backward */
        {16, 32, 28, 28, 3, 2, 1, 1},  /* ResNet-56 downsampling on Fashion-MNIST */
        {32, 64, 14, 14, 3, 2, 1, 1},  /* ... and into its third stage (7x7 out) */
        {16, 32, 16, 16, 3, 2, 1, 1},  /* ResNet downsampling, CIFAR's second stage */
        {3, 16, 32, 32, 3, 2, 1, 1},   /* strided RGB stem */
        {33, 8, 15, 14, 3, 2, 1, 1},   /* odd rows: the last input row feeds no output */
        {6, 9, 13, 10, 7, 2, 3, 1},    /* 7x7 stride 2 */
        {9, 5, 11, 12, 5, 3, 2, 1},    /* stride 3 */
        {5, 7, 9, 11, 2, 3, 1, 1},     /* stride 3 > kernel 2: a dX phase no tap reaches */
        {4, 6, 2, 2, 3, 2, 1, 1},      /* 2x2 in, 1x1 out */
        /* Winograd F(2x2, 3x3): 3x3, stride 1, padding 1, >= 32 channels into the pass, even
         * planes */
        {32, 32, 14, 14, 3, 1, 1, 1},  /* ResNet-56 stage 2 on Fashion-MNIST: 4 images a chunk */
        {64, 64, 8, 8, 3, 1, 1, 1},    /* ResNet-56 stage 3 on CIFAR */
        {32, 9, 2, 2, 3, 1, 1, 1},     /* one tile; backward data direct (9 channels of dY) */
        {13, 40, 4, 6, 3, 1, 1, 1},    /* forward direct, backward data Winograd */
        {40, 36, 30, 26, 3, 1, 1, 1},  /* one image a chunk, several blocks of tile rows */
    };
    int direct = 0, strided = 0, xform = 0, wino = 0;
    size_t ncases = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < ncases; i++) {
        gn_conv_geom g = geometry(&cases[i]);
        direct += gn_direct_applies(&g);
        strided += gn_direct_applies(&g) && g.stride > 1;
        xform += gn_conv2d_takes_xform(&g);
        wino += gn_wino_applies(&g, 0) + gn_wino_applies(&g, 1);
        for (int n = 1; n <= 3; n += 2)
            run_case(rng, &cases[i], n);
    }
    CHECK_MSG(direct >= 18, "only %d network shapes take the direct path", direct);
    CHECK_MSG(strided >= 9, "only %d strided network shapes take the direct path", strided);
    CHECK_MSG(xform >= 9, "only %d network shapes read their input through a BN", xform);
    CHECK_MSG(wino >= 8, "only %d passes of the network shapes run as Winograd", wino);
    /* longer batches through the direct path (its buffers are reused chunk after chunk, the
     * last one short: 4 images side by side then 3, and 6 then 1; Winograd: 4 then 3): the
     * ResNet-56 stage-1 case, twenty-third from the end, its first downsampling, fourteenth
     * from the end, and the first Winograd case, fifth from the end */
    run_case(rng, &cases[ncases - 23], 7);
    run_case(rng, &cases[ncases - 14], 7);
    run_case(rng, &cases[ncases - 5], 7);
}

static void test_random_geometries(gn_rng *rng)
{
    static const int channels[] = {1, 3, 5, 17, 33};
    static const int planes[][2] = {{1, 1}, {2, 3}, {7, 7}, {28, 28}, {5, 9}, {13, 6}};
    static const int kernels[] = {1, 3, 5, 7};
    int done = 0, failures = 0;
    while (done < 160 && failures < 5) {
        conv_case c;
        c.k = kernels[gn_rng_below(rng, 4)];
        c.s = 1 + (int)gn_rng_below(rng, 3);
        c.p = (int)gn_rng_below(rng, 4);
        const int *hw = planes[gn_rng_below(rng, 6)];
        c.h = hw[0], c.w = hw[1];
        int cin = channels[gn_rng_below(rng, 5)], cout = channels[gn_rng_below(rng, 5)];
        switch (gn_rng_below(rng, 5)) {
        case 0: c.in_c = cin, c.out_c = cout, c.groups = 1; break;
        case 1: c.in_c = 2 * cin, c.out_c = 2 * cout, c.groups = 2; break;
        default: { /* depthwise, multiplier 1, 2 or 3 */
            int mult = 1 + (int)gn_rng_below(rng, 3);
            c.in_c = cin, c.out_c = cin * mult, c.groups = cin;
        }
        }
        if (c.h + 2 * c.p < c.k || c.w + 2 * c.p < c.k)
            continue;
        int n = gn_rng_below(rng, 2) ? 3 : 1;
        gn_conv_geom g = geometry(&c);
        double macs = (double)n * g.out_c * g.out_h * g.out_w * (g.in_c / g.groups) * c.k * c.k;
        if (macs > 4e6)
            continue; /* keep the reference's runtime modest */
        failures += run_case(rng, &c, n) != 0;
        done++;
    }
    CHECK_MSG(done == 160, "only %d random geometries ran", done);
}

int main(void)
{
    gn_rng rng;
    gn_rng_seed(&rng, 7);
    fprintf(stderr, "test_conv_kernels: cpu isa %s\n", gn_isa_name(gn_cpu_detect()));
    test_network_shapes(&rng);
    test_random_geometries(&rng);
    return gn_test_finish("test_conv_kernels");
}
