/* Core: model sizes against GHOSTNET.md, the reference conv against the convolution's
 * definition, the Ghost module's concat-and-slice, the arena planner and the thread pool. */
#include "harness.h"

#include "core/arena.h"
#include "core/graph.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* GHOSTNET.md's table (counted with PyTorch on the official layout). */
static void test_ghostnet_sizes(gn_context *ctx)
{
    static const struct {
        double width;
        int64_t params, macs;
    } table[3] = {{0.5, 2587292, 42328152}, {1.0, 5182508, 141150512}, {1.3, 7358820, 227003256}};
    for (int i = 0; i < 3; i++) {
        gn_model_config c;
        gn_model_config_default(&c, GN_ARCH_GHOSTNET);
        c.width = table[i].width;
        gn_model *m = NULL;
        CHECK(gn_model_create(ctx, &c, 7, &m) == GN_OK);
        if (!m)
            continue;
        int64_t macs = 0;
        CHECK(gn_model_macs(m, 224, 224, &macs) == GN_OK);
        CHECK_MSG(gn_model_param_count(m) == table[i].params, "width %g params %lld",
                  table[i].width, (long long)gn_model_param_count(m));
        CHECK_MSG(macs == table[i].macs, "width %g macs %lld", table[i].width, (long long)macs);
        /* the summary rows add up to the totals */
        gn_block_info rows[64];
        int count = 0;
        CHECK(gn_model_summary(m, 224, 224, rows, 64, &count) == GN_OK);
        int64_t p = 0, mac = 0;
        for (int r = 0; r < count && r < 64; r++)
            p += rows[r].params, mac += rows[r].macs;
        CHECK(p == table[i].params && mac == table[i].macs);
        CHECK(count == 1 + 16 + 4);
        CHECK(strcmp(rows[0].name, "conv_stem") == 0 && rows[0].out_h == 112);
        gn_model_free(m);
    }
}

/* The convolution's definition, written as plainly as possible. */
static float conv_at(const gn_conv_geom *g, const float *x, const float *w, const float *bias,
                     int b, int oc, int oy, int ox)
{
    int cin_g = g->in_c / g->groups, group = oc / (g->out_c / g->groups);
    double sum = bias ? bias[oc] : 0.0;
    for (int ic = 0; ic < cin_g; ic++)
        for (int ky = 0; ky < g->kernel; ky++)
            for (int kx = 0; kx < g->kernel; kx++) {
                int iy = oy * g->stride - g->padding + ky, ix = ox * g->stride - g->padding + kx;
                if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                    continue;
                int c = group * cin_g + ic;
                sum += (double)x[((b * g->in_c + c) * g->in_h + iy) * g->in_w + ix] *
                       w[((oc * cin_g + ic) * g->kernel + ky) * g->kernel + kx];
            }
    return (float)sum;
}

static void test_conv_reference(void)
{
    static const struct {
        int in_c, out_c, h, w, k, s, p, groups;
    } cases[] = {{3, 5, 7, 9, 3, 1, 1, 1},  {4, 4, 8, 8, 3, 2, 1, 4},  {6, 6, 5, 5, 5, 2, 2, 6},
                 {17, 9, 1, 1, 1, 1, 0, 1}, {8, 12, 6, 7, 1, 2, 0, 4}, {3, 2, 4, 4, 7, 1, 3, 1},
                 {2, 4, 9, 5, 3, 3, 0, 2},  {5, 3, 3, 3, 3, 1, 2, 1}};
    gn_rng rng;
    gn_rng_seed(&rng, 42);
    for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
        int n = 2;
        gn_conv_geom g = {cases[t].in_c, cases[t].h, cases[t].w, cases[t].out_c, 0, 0,
                          cases[t].k, cases[t].s, cases[t].p, cases[t].groups};
        g.out_h = (g.in_h + 2 * g.padding - g.kernel) / g.stride + 1;
        g.out_w = (g.in_w + 2 * g.padding - g.kernel) / g.stride + 1;
        size_t nx = (size_t)n * g.in_c * g.in_h * g.in_w;
        size_t nw = (size_t)g.out_c * (g.in_c / g.groups) * g.kernel * g.kernel;
        size_t ny = (size_t)n * g.out_c * g.out_h * g.out_w;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *y = malloc(ny * 4);
        float bias[32];
        for (size_t i = 0; i < nx; i++)
            x[i] = gn_rng_uniform(&rng) * 2 - 1;
        for (size_t i = 0; i < nw; i++)
            w[i] = gn_rng_uniform(&rng) * 2 - 1;
        for (int i = 0; i < g.out_c; i++)
            bias[i] = gn_rng_uniform(&rng);
        gn_conv2d_forward_ref(&g, n, x, w, bias, y);
        float worst = 0;
        for (int b = 0; b < n; b++)
            for (int oc = 0; oc < g.out_c; oc++)
                for (int oy = 0; oy < g.out_h; oy++)
                    for (int ox = 0; ox < g.out_w; ox++) {
                        float want = conv_at(&g, x, w, bias, b, oc, oy, ox);
                        float got = y[((b * g.out_c + oc) * g.out_h + oy) * g.out_w + ox];
                        worst = fmaxf(worst, fabsf(want - got));
                    }
        CHECK_MSG(worst < 1e-5f, "case %zu: max error %g", t, (double)worst);
        free(x), free(w), free(y);
    }
}

/* Ghost module with s = 3, out = 16: init = 6 intrinsic maps, 12 ghosts, 18 cut to 16. With
 * identity-like weights the output channels are checkable by hand. */
static void test_ghost_module_slice(gn_context *ctx)
{
    gn_model *m = NULL;
    CHECK(gn_graph_create(ctx, 2, &m) == GN_OK);
    if (!m)
        return;
    gn_value v;
    CHECK(gn_graph_ghost_module(m, "g", 0, 16, 1, 1, 3, 3, 0, &v) == GN_OK);
    CHECK(gn_graph_channels(m, v) == 16);
    CHECK(gn_graph_set_output(m, v) == GN_OK);
    CHECK(gn_model_init_params(m, 1) == GN_OK);
    /* primary 1x1 weights: intrinsic map i = (i + 1) * x[i % 2]; cheap 3x3 depthwise kernels
     * have a centre tap j + 10 for ghost j. BN is identity (gamma 1, beta 0, mean 0, var 1),
     * up to its epsilon. */
    for (int i = 0; i < m->num_params; i++) {
        gn_param *p = &m->params[i];
        if (strcmp(p->name, "g.primary_conv.0.weight") == 0) {
            CHECK(p->shape[0] == 6 && p->shape[1] == 2);
            memset(p->data, 0, p->count * 4);
            for (int o = 0; o < 6; o++)
                p->data[o * 2 + o % 2] = (float)(o + 1);
        } else if (strcmp(p->name, "g.cheap_operation.0.weight") == 0) {
            CHECK(p->shape[0] == 12 && p->shape[1] == 1 && p->shape[2] == 3);
            memset(p->data, 0, p->count * 4);
            for (int j = 0; j < 12; j++)
                p->data[j * 9 + 4] = (float)(j + 10);
        }
    }
    float x[2] = {1.0f, -2.0f}, y[16];
    CHECK(gn_model_forward(m, x, 1, 1, 1, y) == GN_OK);
    float bn = 1.0f / sqrtf(1.0f + 1e-5f);
    for (int c = 0; c < 16; c++) {
        float want;
        if (c < 6) {
            want = (float)(c + 1) * x[c % 2] * bn;
        } else {
            int j = c - 6, source = j / 2; /* each intrinsic map makes s - 1 = 2 ghosts */
            want = (float)(j + 10) * (float)(source + 1) * x[source % 2] * bn * bn;
        }
        CHECK_MSG(fabsf(y[c] - want) < 1e-4f * fabsf(want) + 1e-6f, "channel %d: %g vs %g", c,
                  (double)y[c], (double)want);
    }
    gn_model_free(m);
}

static void test_arena(gn_context *ctx)
{
    gn_rng rng;
    gn_rng_seed(&rng, 3);
    for (int round = 0; round < 50; round++) {
        gn_arena_request req[40];
        int count = 1 + (int)gn_rng_below(&rng, 40);
        size_t sum = 0;
        for (int i = 0; i < count; i++) {
            req[i].size = 1 + gn_rng_below(&rng, 5000);
            req[i].first = (int)gn_rng_below(&rng, 30);
            req[i].last = req[i].first + (int)gn_rng_below(&rng, 6);
            sum += (req[i].size + 63) / 64 * 64;
        }
        size_t total = 0;
        CHECK(gn_arena_plan(ctx, req, count, &total) == GN_OK);
        CHECK(total <= sum);
        int clash = 0;
        for (int i = 0; i < count; i++) {
            if (req[i].offset % 64 || req[i].offset + req[i].size > total)
                clash = 1;
            for (int j = i + 1; j < count; j++) {
                int live = req[i].first <= req[j].last && req[j].first <= req[i].last;
                int overlap = req[i].offset < req[j].offset + req[j].size &&
                              req[j].offset < req[i].offset + req[i].size;
                if (live && overlap)
                    clash = 1;
            }
        }
        CHECK_MSG(!clash, "round %d: buffers alive together overlap", round);
    }
}

typedef struct count_arg {
    int *hits;
} count_arg;

static void count_range(void *p, int64_t begin, int64_t end)
{
    count_arg *a = p;
    for (int64_t i = begin; i < end; i++)
        a->hits[i]++; /* each index belongs to exactly one chunk: no race */
}

static void test_thread_pool(void)
{
    gn_context_options options = {.threads = 3};
    gn_context *ctx = NULL;
    CHECK(gn_context_create(&options, &ctx) == GN_OK);
    if (!ctx)
        return;
    int hits[1000];
    for (int round = 0; round < 200; round++) {
        int n = 1 + round * 5 % 1000;
        memset(hits, 0, sizeof(hits));
        count_arg a = {hits};
        gn_parallel_for(ctx, n, count_range, &a);
        int ok = 1;
        for (int i = 0; i < n; i++)
            ok &= hits[i] == 1;
        CHECK_MSG(ok, "round %d: some index not visited exactly once", round);
    }
    gn_context_destroy(ctx);
}

static void test_errors(gn_context *ctx)
{
    gn_model *m = NULL;
    CHECK(gn_graph_create(ctx, 3, &m) == GN_OK);
    gn_value v;
    CHECK(gn_graph_conv2d(m, "c", 0, 8, 3, 1, 1, 2, 0, &v) == GN_ERR_ARGUMENT); /* 3 % 2 */
    CHECK(strstr(gn_context_error(ctx), "'c'") != NULL);
    CHECK(gn_graph_ghost_module(m, "g", 0, 8, 1, 1, 2, 4, 1, &v) == GN_ERR_ARGUMENT);
    CHECK(gn_graph_relu(m, 5, &v) == GN_ERR_ARGUMENT);
    CHECK(gn_graph_conv2d(m, "c", 0, 8, 7, 1, 0, 1, 0, &v) == GN_OK);
    CHECK(gn_graph_set_output(m, v) == GN_OK);
    float x[3 * 4 * 4] = {0}, y[8 * 16];
    CHECK(gn_model_forward(m, x, 1, 4, 4, y) == GN_ERR_ARGUMENT); /* no weights yet */
    CHECK(gn_model_init_params(m, 1) == GN_OK);
    CHECK(gn_model_forward(m, x, 1, 4, 4, y) == GN_ERR_SHAPE);    /* 4x4 < 7x7 kernel */
    CHECK(strstr(gn_context_error(ctx), "smaller than its 7x7 kernel") != NULL);
    gn_model_free(m);
}

int main(void)
{
    gn_context *ctx = NULL;
    CHECK(gn_context_create(NULL, &ctx) == GN_OK);
    test_ghostnet_sizes(ctx);
    test_conv_reference();
    test_ghost_module_slice(ctx);
    test_arena(ctx);
    test_thread_pool();
    test_errors(ctx);
    gn_context_destroy(ctx);
    return gn_test_finish("test_core");
}
