/* The inference kernels (src/kernels/infer) for every ISA this CPU runs, against the plain C
 * references: convolutions through the GEMM path (1x1, k x k, strided, grouped, depthwise with
 * multipliers, linear-style whole-map kernels, truncated outputs, squeeze-excite gates) and
 * the depthwise path (3x3 and 5x5 stride 1 and 2, other kernels and strides, channel
 * multipliers 1-5), each with every
 * epilogue (activations, residual, raw copy), and k-paired narrow panels (at most half a
 * vector of outputs) and first layers reading an NCHW input directly; affine, pooling and
 * layout kernels. Shapes are
 * odd on purpose: 1x1 and 7x7 maps, channel counts that are not multiples of any vector
 * length. Views have channel offsets and pixel strides wider than their channels, inputs sit
 * in zero borders, and outputs start as a sentinel that must survive outside the channels a
 * kernel owns. Work units run in several uneven ranges, as threads would take them. */
#include "harness.h"

#include "core/internal.h"
#include "kernels/cpu.h"
#include "kernels/infer/infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SENTINEL 777.0f

static int isa_runs(gn_isa isa)
{
    gn_isa best = gn_cpu_detect();
    return isa == GN_ISA_PORTABLE || isa == best || (isa == GN_ISA_AVX2 && best == GN_ISA_AVX512);
}

/* An NHWC tensor inside a larger block: `pad` zero pixels around each image, pixel stride
 * channels + extra, the view starting `offset` channels into each pixel. */
typedef struct tensor {
    float *block;
    size_t floats;
    gn_view view;
} tensor;

static tensor make_tensor(gn_rng *rng, int n, int h, int w, int channels, int pad, int extra,
                          int offset, int random)
{
    tensor t;
    ptrdiff_t ps = channels + extra, rs = (w + 2 * pad) * ps, is = (h + 2 * pad) * rs;
    t.floats = (size_t)(n * is) + 16;
    t.block = malloc(t.floats * sizeof(float));
    for (size_t i = 0; i < t.floats; i++)
        t.block[i] = random ? 2.0f * gn_rng_uniform(rng) - 1.0f : SENTINEL;
    gn_view v = {t.block + pad * rs + pad * ps, is, rs, ps};
    if (pad > 0)
        gn_view_zero_border(v, n, h, w, (int)ps, pad, 0, (int64_t)n * h);
    v.data += offset;
    t.view = v;
    return t;
}

static tensor copy_tensor(const tensor *src)
{
    tensor t = *src;
    t.block = malloc(t.floats * sizeof(float));
    memcpy(t.block, src->block, t.floats * sizeof(float));
    t.view.data = t.block + (src->view.data - src->block);
    return t;
}

static float *random_floats(gn_rng *rng, size_t count, float lo, float hi)
{
    float *p = malloc((count ? count : 1) * sizeof(float));
    for (size_t i = 0; i < count; i++)
        p[i] = lo + (hi - lo) * gn_rng_uniform(rng);
    return p;
}

/* Whole blocks agree within tol of the reference's scale (sentinels included). */
static int blocks_match(const tensor *got, const tensor *want, double tol, const char *what,
                        gn_isa isa, const char *shape)
{
    double scale = 1.0, worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < want->floats; i++)
        if (want->block[i] != SENTINEL)
            scale = fmax(scale, fabs(want->block[i]));
    for (size_t i = 0; i < want->floats; i++) {
        double err = fabs((double)got->block[i] - want->block[i]);
        if (!(err <= worst)) {
            worst = isnan(err) ? INFINITY : err;
            at = i;
        }
    }
    int ok = worst <= tol * scale;
    CHECK_MSG(ok, "%s %s %s: error %g at float %zu (got %g, want %g, scale %g)", what,
              gn_isa_name(isa), shape, worst, at, (double)got->block[at],
              (double)want->block[at], scale);
    return ok;
}

/* Runs units [0, total) as three uneven ranges. */
typedef void (*units_fn)(void *arg, int64_t begin, int64_t end);
static void run_in_ranges(int64_t total, units_fn fn, void *arg)
{
    int64_t cut1 = total / 3, cut2 = total - total / 5;
    fn(arg, 0, cut1);
    fn(arg, cut1, cut2);
    fn(arg, cut2, total);
}

/* ---- convolutions --------------------------------------------------------------------------- */

typedef struct conv_case {
    int n, in_c, out_c, h, w, k, s, p, groups;
    int keep;      /* outputs computed (0: all)          */
    gn_act act, act_after;
    int residual, raw, gate;
    int nchw;      /* read a dense NCHW input directly   */
} conv_case;

typedef struct conv_job {
    gn_conv_desc d;
    gn_conv_weights gemm;
    gn_dw_weights dw;
    void *scratch;
} conv_job;

static void gemm_units(void *arg, int64_t begin, int64_t end)
{
    conv_job *j = arg;
    gn_conv_gemm_run(&j->d, &j->gemm, begin, end, j->scratch);
}

static void dw_units(void *arg, int64_t begin, int64_t end)
{
    conv_job *j = arg;
    gn_dw_run(&j->d, &j->dw, begin, end, j->scratch);
}

static void *test_alloc(void *user, size_t bytes)
{
    (void)user;
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 64) == 0 ? p : NULL;
}

static void check_conv(gn_rng *rng, gn_isa isa, const conv_case *c, int depthwise)
{
    const gn_infer_kernels *k = gn_infer_kernels_for(isa);
    int oh = (c->h + 2 * c->p - c->k) / c->s + 1, ow = (c->w + 2 * c->p - c->k) / c->s + 1;
    int keep = c->keep ? c->keep : c->out_c;
    tensor x = make_tensor(rng, c->n, c->h, c->w, c->in_c, c->p, 3, 1, 1);
    if (c->nchw) { /* dense NCHW, no border: reads outside it would be caught by ASan */
        free(x.block);
        x.floats = (size_t)c->n * c->in_c * c->h * c->w;
        x.block = random_floats(rng, x.floats, -1.0f, 1.0f);
        x.view = (gn_view){x.block, (ptrdiff_t)c->in_c * c->h * c->w, c->w, 1};
    }
    tensor y = make_tensor(rng, c->n, oh, ow, c->out_c, 0, 5, 2, 0);
    tensor raw = make_tensor(rng, c->n, oh, ow, c->out_c, 0, 1, 0, 0);
    tensor res = make_tensor(rng, c->n, oh, ow, c->out_c, 0, 2, 1, 1);
    size_t weights = (size_t)c->out_c * (c->in_c / c->groups) * c->k * c->k;
    float *w = random_floats(rng, weights, -1.0f, 1.0f);
    float *scale = random_floats(rng, (size_t)c->out_c, 0.5f, 1.5f);
    float *bias = random_floats(rng, (size_t)c->out_c, -0.5f, 0.5f);
    float *gate = random_floats(rng, (size_t)c->n * (c->in_c + 4), 0.0f, 1.0f);
    conv_job j;
    memset(&j, 0, sizeof(j));
    gn_conv_desc d = {c->n, c->h, c->w, oh, ow, c->k, c->s, c->p, c->groups,
                      c->in_c / c->groups, c->out_c / c->groups, keep, x.view, y.view,
                      {c->act, {0}, {0}, c->act_after}, c->gate ? gate : NULL, c->in_c + 4,
                      c->nchw};
    if (c->raw)
        d.ep.raw = raw.view;
    if (c->residual)
        d.ep.residual = res.view;
    tensor y_ref = copy_tensor(&y), raw_ref = copy_tensor(&raw);
    j.d = d;
    j.d.y = y_ref.view;
    if (c->raw)
        j.d.ep.raw = raw_ref.view;
    gn_conv_ref(&j.d, w, scale, bias);
    j.d = d;
    if (depthwise) {
        CHECK(gn_dw_pack(k, &d, w, scale, bias, test_alloc, NULL, &j.dw) == 0);
        size_t bytes = gn_dw_scratch(&d);
        CHECK((bytes > 0) == (c->out_c > c->in_c));
        j.scratch = bytes ? test_alloc(NULL, bytes) : NULL;
        run_in_ranges(gn_dw_units(&d), dw_units, &j);
    } else {
        CHECK(gn_conv_pack(k, &d, w, scale, bias, test_alloc, NULL, &j.gemm) == 0);
        /* weights of 1 MiB or more take the streaming tiles: the cases below that have them
         * test those */
        CHECK(j.gemm.stream == (weights * sizeof(float) >= ((size_t)1 << 20)));
        j.scratch = test_alloc(NULL, gn_conv_gemm_scratch(&j.gemm, c->k, c->gate));
        run_in_ranges(gn_conv_gemm_units(&d, &j.gemm), gemm_units, &j);
    }
    char shape[160];
    snprintf(shape, sizeof(shape),
             "n%d %d->%d(keep %d) %dx%d k%d s%d p%d g%d act%d/%d res%d raw%d gate%d nchw%d",
             c->n, c->in_c, c->out_c, keep, c->h, c->w, c->k, c->s, c->p, c->groups, c->act,
             c->act_after, c->residual, c->raw, c->gate, c->nchw);
    double tol = 1e-5 * sqrt((double)(c->in_c / c->groups) * c->k * c->k);
    blocks_match(&y, &y_ref, tol, depthwise ? "dwconv" : "conv", isa, shape);
    blocks_match(&raw, &raw_ref, tol, depthwise ? "dwconv raw" : "conv raw", isa, shape);
    void *owned[] = {x.block, y.block, raw.block, res.block, y_ref.block, raw_ref.block, w,
                     scale, bias, gate, j.scratch, j.gemm.weights, j.gemm.bias, j.dw.weights,
                     j.dw.bias};
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        free(owned[i]);
}

static const conv_case gemm_cases[] = {
    /* n  in  out   h   w  k  s  p  g keep act              act_after  res raw gate nchw */
    {1, 16, 8, 13, 11, 1, 1, 0, 1, 0, GN_ACT_RELU, GN_ACT_NONE, 0, 0, 0, 0},
    {2, 40, 120, 7, 7, 1, 1, 0, 1, 0, GN_ACT_NONE, GN_ACT_NONE, 1, 1, 0, 0},
    {1, 37, 53, 9, 6, 1, 1, 0, 1, 0, GN_ACT_HARD_SIGMOID, GN_ACT_NONE, 0, 0, 1, 0},
    {3, 21, 70, 5, 5, 1, 1, 0, 1, 33, GN_ACT_RELU, GN_ACT_RELU, 1, 1, 1, 0},
    {1, 3, 16, 17, 17, 3, 2, 1, 1, 0, GN_ACT_RELU, GN_ACT_NONE, 0, 0, 0, 0},
    {2, 5, 17, 8, 9, 3, 1, 1, 1, 0, GN_ACT_NONE, GN_ACT_RELU, 1, 0, 0, 0},
    {1, 6, 9, 7, 7, 7, 1, 3, 1, 0, GN_ACT_NONE, GN_ACT_NONE, 0, 1, 0, 0},
    {2, 12, 12, 1, 1, 1, 1, 0, 1, 0, GN_ACT_RELU, GN_ACT_NONE, 0, 0, 1, 0},
    {2, 24, 1000, 1, 1, 1, 1, 0, 1, 0, GN_ACT_NONE, GN_ACT_NONE, 0, 0, 0, 0},
    {1, 10, 30, 4, 4, 4, 1, 0, 1, 0, GN_ACT_NONE, GN_ACT_NONE, 0, 0, 0, 0}, /* linear-style */
    {2, 8, 12, 6, 7, 3, 2, 1, 4, 0, GN_ACT_RELU, GN_ACT_NONE, 1, 0, 0, 0},  /* grouped      */
    {1, 5, 10, 7, 7, 3, 1, 1, 5, 7, GN_ACT_RELU, GN_ACT_NONE, 0, 1, 0, 0},  /* dw x2, keep  */
    {1, 4, 12, 5, 5, 5, 3, 2, 4, 0, GN_ACT_NONE, GN_ACT_NONE, 1, 1, 0, 0},  /* dw x3       */
    {3, 33, 65, 10, 3, 3, 3, 2, 1, 0, GN_ACT_HARD_SIGMOID, GN_ACT_RELU, 1, 1, 0, 0},
    /* panels of at most half a vector: k-paired on vector ISAs, odd and even kc, 3x3 and 1x1 */
    {2, 7, 3, 9, 9, 3, 1, 1, 1, 0, GN_ACT_RELU, GN_ACT_NONE, 1, 1, 1, 0},
    {1, 16, 8, 32, 32, 3, 1, 1, 1, 0, GN_ACT_NONE, GN_ACT_RELU, 1, 1, 0, 0},
    {1, 1, 1, 5, 4, 1, 1, 0, 1, 0, GN_ACT_NONE, GN_ACT_NONE, 0, 0, 0, 0},
    {3, 6, 5, 6, 6, 3, 2, 1, 1, 4, GN_ACT_HARD_SIGMOID, GN_ACT_NONE, 0, 1, 1, 0},
    {1, 12, 6, 7, 7, 3, 1, 1, 3, 0, GN_ACT_RELU, GN_ACT_RELU, 1, 0, 0, 0},
    {1, 8, 4, 5, 5, 1, 1, 0, 1, 0, GN_ACT_RELU, GN_ACT_NONE, 1, 1, 0, 0},
    /* k-quads on AVX-512 (kc a multiple of 4, taps * kc / 4 >= 16): one vector (<= 4
     * columns) and two, a kept slice, gates, stride 2, a 5x5 kernel; 16 -> 8 above too */
    {1, 8, 5, 9, 7, 3, 1, 1, 1, 4, GN_ACT_RELU, GN_ACT_NONE, 1, 1, 1, 0},
    {2, 4, 3, 6, 5, 5, 1, 2, 1, 0, GN_ACT_HARD_SIGMOID, GN_ACT_NONE, 0, 1, 0, 0},
    {1, 32, 8, 10, 10, 3, 2, 1, 1, 0, GN_ACT_NONE, GN_ACT_RELU, 1, 0, 1, 0},
    {3, 16, 2, 7, 9, 3, 1, 1, 2, 0, GN_ACT_RELU, GN_ACT_RELU, 1, 1, 0, 0},
    /* k-quads of three and four vectors (9 to 16 columns): ResNet-56's 16 -> 16, odd widths,
     * stride 2, a 1x1 of 64 inputs, a 5x5, a gate */
    {1, 16, 16, 11, 7, 3, 1, 1, 1, 0, GN_ACT_NONE, GN_ACT_RELU, 1, 1, 0, 0},
    {2, 12, 12, 9, 9, 3, 2, 1, 1, 0, GN_ACT_RELU, GN_ACT_NONE, 0, 1, 0, 0},
    {1, 64, 13, 5, 6, 1, 1, 0, 1, 0, GN_ACT_HARD_SIGMOID, GN_ACT_NONE, 1, 0, 1, 0},
    {1, 20, 10, 6, 6, 5, 1, 2, 1, 0, GN_ACT_RELU, GN_ACT_RELU, 1, 0, 0, 0},
    {2, 32, 16, 8, 8, 3, 1, 1, 1, 0, GN_ACT_NONE, GN_ACT_NONE, 0, 0, 1, 0},
    /* weights of 1 MiB or more: the streaming tiles (VGG-16's 4x4 layers; odd counts, a gate) */
    {1, 256, 512, 4, 4, 3, 1, 1, 1, 0, GN_ACT_RELU, GN_ACT_NONE, 1, 0, 0, 0},
    {2, 201, 147, 5, 3, 3, 1, 1, 1, 0, GN_ACT_NONE, GN_ACT_RELU, 1, 1, 1, 0},
};

/* First layers reading the NCHW input: the stem (3x3/2), odd sizes, kernels up to 7, more
 * columns in the border than inside, wide outputs (several panels) and truncated ones. */
static const conv_case nchw_cases[] = {
    /* n in  out   h   w  k  s  p  g keep act         act_after    res raw gate nchw */
    {1, 3, 16, 224, 224, 3, 2, 1, 1, 0, GN_ACT_RELU, GN_ACT_NONE, 0, 0, 0, 1},
    {2, 3, 16, 31, 29, 3, 2, 1, 1, 0, GN_ACT_RELU, GN_ACT_NONE, 1, 1, 0, 1},
    {1, 3, 64, 32, 32, 3, 1, 1, 1, 0, GN_ACT_NONE, GN_ACT_RELU, 0, 0, 0, 1},
    {3, 1, 5, 9, 7, 7, 2, 3, 1, 0, GN_ACT_HARD_SIGMOID, GN_ACT_NONE, 0, 1, 0, 1},
    {1, 4, 130, 6, 11, 5, 1, 2, 1, 97, GN_ACT_RELU, GN_ACT_NONE, 1, 0, 0, 1},
    {2, 2, 24, 3, 3, 3, 1, 1, 1, 0, GN_ACT_NONE, GN_ACT_NONE, 0, 0, 0, 1},
    {1, 3, 8, 13, 13, 1, 1, 0, 1, 0, GN_ACT_RELU, GN_ACT_NONE, 0, 0, 0, 1},
    {1, 3, 33, 8, 8, 3, 3, 0, 1, 0, GN_ACT_NONE, GN_ACT_NONE, 1, 1, 0, 1},
};

static const conv_case dw_cases[] = {
    /* n in  out  h   w  k  s  p  g keep */
    {1, 8, 8, 13, 11, 3, 1, 1, 8, 0, GN_ACT_RELU, GN_ACT_NONE, 0, 0, 0, 0},
    {2, 37, 37, 7, 7, 5, 1, 2, 37, 0, GN_ACT_NONE, GN_ACT_NONE, 1, 1, 0, 0},
    {1, 72, 72, 9, 10, 5, 2, 2, 72, 0, GN_ACT_NONE, GN_ACT_NONE, 0, 0, 0, 0},
    {3, 20, 20, 8, 8, 3, 2, 1, 20, 17, GN_ACT_RELU, GN_ACT_RELU, 1, 0, 0, 0},
    {1, 130, 130, 1, 1, 3, 1, 1, 130, 0, GN_ACT_HARD_SIGMOID, GN_ACT_NONE, 0, 1, 0, 0},
    {1, 19, 19, 7, 5, 7, 1, 3, 19, 0, GN_ACT_NONE, GN_ACT_NONE, 1, 0, 0, 0},
    {2, 9, 9, 11, 11, 3, 3, 0, 9, 0, GN_ACT_RELU, GN_ACT_NONE, 0, 0, 0, 0},
    {1, 16, 16, 6, 6, 1, 1, 0, 16, 0, GN_ACT_NONE, GN_ACT_NONE, 1, 1, 0, 0},
    {1, 64, 64, 14, 14, 3, 1, 1, 64, 40, GN_ACT_NONE, GN_ACT_NONE, 1, 1, 0, 0},
    /* at most half a vector of channels (Ghost-ResNet-56's first stage, GhostNet 0.5x), widths
     * under one vector of pixels, a kept slice of 5 of 8 */
    {1, 8, 8, 32, 32, 3, 1, 1, 8, 0, GN_ACT_NONE, GN_ACT_RELU, 1, 0, 0, 0},
    {2, 4, 4, 9, 13, 5, 1, 2, 4, 0, GN_ACT_HARD_SIGMOID, GN_ACT_RELU, 1, 1, 0, 0},
    {1, 6, 6, 5, 3, 7, 1, 3, 6, 0, GN_ACT_NONE, GN_ACT_NONE, 0, 1, 0, 0},
    {1, 3, 3, 4, 1, 3, 1, 1, 3, 0, GN_ACT_RELU, GN_ACT_NONE, 1, 1, 0, 0},
    {3, 8, 8, 7, 7, 3, 1, 1, 8, 5, GN_ACT_NONE, GN_ACT_RELU, 1, 0, 0, 0},
    {1, 1, 1, 6, 37, 3, 1, 1, 1, 0, GN_ACT_RELU, GN_ACT_RELU, 1, 1, 0, 0},
    /* channel multiplier M = out / in (Ghost cheap operations with s > 2); 64-channel chunks
     * that start inside a group of M (M = 3, 5), the Ghost slice (keep), 1x1 and 7x7 */
    {1, 5, 10, 7, 7, 3, 1, 1, 5, 7, GN_ACT_RELU, GN_ACT_NONE, 0, 1, 0, 0},
    {1, 22, 44, 8, 8, 3, 1, 1, 22, 42, GN_ACT_RELU, GN_ACT_RELU, 1, 1, 0, 0},
    {2, 30, 150, 9, 9, 3, 2, 1, 30, 0, GN_ACT_NONE, GN_ACT_NONE, 1, 0, 0, 0},
    {1, 13, 65, 6, 5, 5, 1, 2, 13, 61, GN_ACT_HARD_SIGMOID, GN_ACT_NONE, 0, 1, 0, 0},
    {1, 4, 12, 5, 5, 5, 3, 2, 4, 0, GN_ACT_NONE, GN_ACT_NONE, 1, 1, 0, 0},
    {3, 7, 28, 4, 4, 1, 1, 0, 7, 0, GN_ACT_RELU, GN_ACT_NONE, 0, 0, 0, 0},
    {1, 3, 9, 11, 9, 7, 1, 3, 3, 0, GN_ACT_NONE, GN_ACT_RELU, 1, 1, 0, 0},
    {1, 1, 4, 1, 1, 3, 1, 1, 1, 0, GN_ACT_NONE, GN_ACT_NONE, 0, 0, 0, 0},
};

static void random_conv_cases(gn_rng *rng, gn_isa isa)
{
    static const int kernels[] = {1, 3, 5, 7};
    for (int t = 0; t < 40; t++) {
        conv_case c = {0};
        c.n = 1 + (int)gn_rng_below(rng, 3);
        c.k = kernels[gn_rng_below(rng, 4)];
        c.s = 1 + (int)gn_rng_below(rng, 3);
        c.p = (int)gn_rng_below(rng, (uint64_t)c.k / 2 + 1);
        c.h = c.k + (int)gn_rng_below(rng, 9);
        c.w = c.k + (int)gn_rng_below(rng, 9);
        int depthwise = t % 2;
        c.groups = depthwise ? 1 + (int)gn_rng_below(rng, 70) : 1;
        c.in_c = depthwise ? c.groups : 1 + (int)gn_rng_below(rng, 50);
        c.out_c = depthwise ? c.groups * (1 + (int)gn_rng_below(rng, 5))
                            : 1 + (int)gn_rng_below(rng, 90);
        c.keep = (int)gn_rng_below(rng, 2) ? 1 + (int)gn_rng_below(rng, (uint64_t)c.out_c) : 0;
        c.act = (gn_act)gn_rng_below(rng, 3);
        c.act_after = (gn_act)gn_rng_below(rng, 3);
        c.residual = (int)gn_rng_below(rng, 2);
        c.raw = (int)gn_rng_below(rng, 2);
        c.gate = !depthwise && (int)gn_rng_below(rng, 2);
        check_conv(rng, isa, &c, depthwise);
    }
}

/* ---- affine, pooling, layout ---------------------------------------------------------------- */

typedef struct affine_job {
    const gn_infer_kernels *k;
    gn_affine_desc d;
    gn_pool_desc pool;
} affine_job;

static void affine_units(void *arg, int64_t begin, int64_t end)
{
    affine_job *j = arg;
    gn_affine_run(j->k, &j->d, begin, end);
}

static void avgpool_units(void *arg, int64_t begin, int64_t end)
{
    affine_job *j = arg;
    gn_global_avgpool_run(j->k, &j->pool, begin, end);
}

static void maxpool_units(void *arg, int64_t begin, int64_t end)
{
    affine_job *j = arg;
    gn_maxpool_run(j->k, &j->pool, begin, end);
}

static void check_affine(gn_rng *rng, gn_isa isa, int n, int h, int w, int c, int variant)
{
    affine_job j = {gn_infer_kernels_for(isa), {0}, {0}};
    tensor x = make_tensor(rng, n, h, w, c, 0, 3, 2, 1);
    tensor y = make_tensor(rng, n, h, w, c, 0, 1, 1, 0);
    tensor res = make_tensor(rng, n, h, w, c, 0, 4, 0, 1);
    float *scale = random_floats(rng, (size_t)n * (c + 7), -2.0f, 2.0f);
    float *shift = random_floats(rng, (size_t)c, -1.0f, 1.0f);
    gn_affine_desc d = {n, h, w, c, x.view, y.view, {0}, NULL, NULL, 0, GN_ACT_NONE,
                        GN_ACT_NONE};
    if (variant & 1) {
        d.scale = scale;
        d.scale_image_stride = variant & 2 ? c + 7 : 0;
    }
    if (variant & 4)
        d.shift = shift;
    if (variant & 8)
        d.residual = res.view;
    d.act = (gn_act)(variant / 16 % 3);
    d.act_after = (gn_act)(variant / 48 % 3);
    tensor y_ref = copy_tensor(&y);
    j.d = d;
    j.d.y = y_ref.view;
    gn_affine_ref(&j.d);
    j.d = d;
    run_in_ranges(gn_affine_units(&d), affine_units, &j);
    char shape[64];
    snprintf(shape, sizeof(shape), "n%d %dx%dx%d variant %d", n, h, w, c, variant);
    blocks_match(&y, &y_ref, 1e-6, "affine", isa, shape);
    void *owned[] = {x.block, y.block, res.block, y_ref.block, scale, shift};
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        free(owned[i]);
}

static void check_pool(gn_rng *rng, gn_isa isa, int n, int h, int w, int c, int k, int s,
                       int p)
{
    affine_job j = {gn_infer_kernels_for(isa), {0}, {0}};
    int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
    tensor x = make_tensor(rng, n, h, w, c, 0, 2, 1, 1);
    tensor avg = make_tensor(rng, n, 1, 1, c, 0, 3, 1, 0);
    tensor max = make_tensor(rng, n, oh, ow, c, 0, 1, 0, 0);
    tensor avg_ref = copy_tensor(&avg), max_ref = copy_tensor(&max);
    gn_pool_desc d = {n, h, w, oh, ow, c, k, s, p, x.view, avg_ref.view};
    gn_global_avgpool_ref(&d);
    d.y = max_ref.view;
    gn_maxpool_ref(&d);
    j.pool = d;
    j.pool.y = avg.view;
    run_in_ranges(gn_global_avgpool_units(&j.pool), avgpool_units, &j);
    j.pool.y = max.view;
    run_in_ranges(gn_maxpool_units(&j.pool), maxpool_units, &j);
    char shape[64];
    snprintf(shape, sizeof(shape), "n%d %dx%dx%d k%d s%d p%d", n, h, w, c, k, s, p);
    blocks_match(&avg, &avg_ref, 1e-6, "global avgpool", isa, shape);
    blocks_match(&max, &max_ref, 0.0, "maxpool", isa, shape);
    void *owned[] = {x.block, avg.block, max.block, avg_ref.block, max_ref.block};
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        free(owned[i]);
}

/* NCHW -> padded NHWC view -> NCHW gives back the input. */
static void check_layout(gn_rng *rng, int n, int c, int h, int w)
{
    size_t count = (size_t)n * c * h * w;
    float *src = random_floats(rng, count, -1.0f, 1.0f), *back = malloc(count * sizeof(float));
    tensor t = make_tensor(rng, n, h, w, c, 2, 3, 1, 0);
    gn_nchw_to_nhwc(src, c, h, w, t.view, 0, gn_layout_units(n, h));
    gn_nhwc_to_nchw(t.view, c, h, w, back, 0, gn_layout_units(n, h));
    CHECK_MSG(memcmp(src, back, count * sizeof(float)) == 0, "layout round trip n%d c%d %dx%d",
              n, c, h, w);
    free(src);
    free(back);
    free(t.block);
}

int main(void)
{
    gn_rng rng;
    gn_rng_seed(&rng, 20200616);
    for (int isa = 0; isa < GN_ISA_COUNT; isa++) {
        if (!isa_runs((gn_isa)isa))
            continue;
        for (size_t i = 0; i < sizeof(gemm_cases) / sizeof(gemm_cases[0]); i++)
            check_conv(&rng, (gn_isa)isa, &gemm_cases[i], 0);
        for (size_t i = 0; i < sizeof(nchw_cases) / sizeof(nchw_cases[0]); i++)
            check_conv(&rng, (gn_isa)isa, &nchw_cases[i], 0);
        for (size_t i = 0; i < sizeof(dw_cases) / sizeof(dw_cases[0]); i++)
            check_conv(&rng, (gn_isa)isa, &dw_cases[i], 1);
        random_conv_cases(&rng, (gn_isa)isa);
        for (int variant = 0; variant < 144; variant += 5)
            check_affine(&rng, (gn_isa)isa, 1 + variant % 3, 1 + variant % 7, 3 + variant % 4,
                         1 + variant % 41, variant);
        check_pool(&rng, (gn_isa)isa, 2, 7, 7, 37, 3, 2, 1);
        check_pool(&rng, (gn_isa)isa, 1, 1, 1, 130, 1, 1, 0);
        check_pool(&rng, (gn_isa)isa, 3, 9, 6, 16, 2, 2, 0);
        check_pool(&rng, (gn_isa)isa, 1, 5, 8, 5, 3, 1, 1);
    }
    check_layout(&rng, 2, 3, 5, 7);
    check_layout(&rng, 1, 17, 1, 1);
    return gn_test_finish("test_plan_kernels");
}
