/* The compiled inference plan against the reference execution (src/core/exec.c, the reference
 * layers), for every ISA this CPU runs and 1, 2 and 3 threads: GhostNet at widths 0.5 / 1.0 /
 * 1.3 and its small-input variant, and hand-built graphs that exercise every fusion and every
 * fallback: batch norm after a concatenation and on the model input, activations after a
 * concatenation whose first half feeds the cheap operation (raw outputs), residual adds on
 * either operand with activations after them, squeeze-excite gates folded into a dense
 * convolution or applied as a step, concatenations that cannot be placed (an operand used
 * twice, the model input), Ghost modules with ratio 3 and a truncated cheap half, grouped and
 * 7x7 convolutions, max pooling, linear layers on whole maps, dropout, 1x1 inputs. BN
 * statistics are random so that folding is tested. Each plan also runs twice (borders and
 * arena reuse leave no state) and through gn_model_forward; thread counts agree to the bit. The
 * CIFAR ResNet and VGG-16 of the paper's plug-and-play tests run plain and ghostified (ratios
 * 2, 3 and 4, cheap kernels 1, 3 and 5), at 32x32 and a non-square size. Finally a
 * training step drops the plan (it holds a copy of the weights). */
#include "harness.h"

#include "core/exec.h"
#include "core/graph.h"
#include "plan/plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* BN parameters and statistics away from the identity, so folding them is visible. */
static void randomise_batchnorms(gn_model *m, gn_rng *rng)
{
    for (int i = 0; i < m->num_params; i++) {
        gn_param *p = &m->params[i];
        float lo = 0.0f, hi = 0.0f;
        if (p->role == GN_PARAM_BN_WEIGHT || p->role == GN_PARAM_RUNNING_VAR)
            lo = 0.5f, hi = 1.5f;
        else if (p->role == GN_PARAM_BN_BIAS || p->role == GN_PARAM_RUNNING_MEAN)
            lo = -0.3f, hi = 0.3f;
        else
            continue;
        for (size_t k = 0; k < p->count; k++)
            p->data[k] = lo + (hi - lo) * gn_rng_uniform(rng);
    }
}

static float *random_input(gn_rng *rng, size_t count)
{
    float *x = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++)
        x[i] = 2.0f * gn_rng_uniform(rng) - 1.0f;
    return x;
}

static size_t output_floats(const gn_model *m, const gn_exec *exec)
{
    gn_shape s = exec->shapes[m->output];
    return (size_t)exec->n * s.c * s.h * s.w;
}

/* Plan output vs the reference for one model, batch and size; *plan_out gets the plan's
 * output (malloc'd) for cross-thread comparisons. */
static void check_against_reference(gn_model *m, int n, int h, int w, const char *what,
                                    float **plan_out)
{
    gn_context *ctx = m->ctx;
    gn_rng rng;
    gn_rng_seed(&rng, 7);
    size_t in_count = (size_t)n * m->values[0].channels * h * w;
    float *x = random_input(&rng, in_count);
    gn_exec *exec = NULL;
    gn_plan *plan = NULL;
    CHECK(gn_exec_create(m, n, h, w, 0, &exec) == GN_OK);
    gn_status st = gn_plan_create(m, n, h, w, &plan);
    if (st == GN_OK)
        gn_plan_share_always(plan); /* the threaded path, even for steps this small */
    CHECK_MSG(st == GN_OK, "%s: %s", what, gn_context_error(ctx));
    if (!exec || !plan) {
        gn_exec_free(exec);
        gn_plan_free(plan);
        free(x);
        return;
    }
    size_t count = output_floats(m, exec);
    float *y = malloc(count * sizeof(float)), *again = malloc(count * sizeof(float));
    float *via_model = malloc(count * sizeof(float));
    gn_exec_forward(exec, x);
    const float *want = gn_exec_output(exec);
    gn_plan_run(plan, x, y, NULL);
    gn_plan_run(plan, x, again, NULL);
    double scale = 1e-6, worst = 0.0;
    for (size_t i = 0; i < count; i++) {
        scale = fmax(scale, fabs(want[i]));
        double err = fabs((double)y[i] - want[i]);
        worst = err > worst || isnan(err) ? (isnan(err) ? INFINITY : err) : worst;
    }
    CHECK_MSG(worst <= 2e-5 * scale, "%s (%s, %d threads, n%d %dx%d): plan differs from the "
              "reference by %g (scale %g)", what, gn_context_isa(ctx), gn_context_threads(ctx),
              n, h, w, worst, scale);
    CHECK_MSG(memcmp(y, again, count * sizeof(float)) == 0, "%s: second run differs", what);
    int threads = gn_context_threads(ctx);
    if (threads > 1) {
        /* uneven bands, as adapt_bands makes for cores of different speeds: thread t's band
         * starts at (t / threads)^2, so the first thread gets the smallest share */
        double bounds[8];
        for (int t = 0; t <= threads && t < 8; t++)
            bounds[t] = (double)t * t / ((double)threads * threads);
        gn_plan_set_bands(plan, bounds);
        memset(again, 0, count * sizeof(float));
        gn_plan_run(plan, x, again, NULL);
        CHECK_MSG(memcmp(y, again, count * sizeof(float)) == 0,
                  "%s (%s, %d threads): uneven bands change the output", what,
                  gn_context_isa(ctx), threads);
    }
    CHECK(gn_model_forward(m, x, n, h, w, via_model) == GN_OK);
    CHECK_MSG(memcmp(y, via_model, count * sizeof(float)) == 0,
              "%s: gn_model_forward differs from the plan", what);
    gn_exec_free(exec);
    gn_plan_free(plan);
    free(x);
    free(again);
    free(via_model);
    *plan_out = y;
}

/* ---- models --------------------------------------------------------------------------------- */

/* The graph API makes linear layers for 1x1 maps; the layer itself reads any map flattened
 * (c, y, x). This widens linear node `index` to `features` inputs before its weights exist. */
static void widen_linear(gn_model *m, int index, int features)
{
    gn_node *node = &m->nodes[index];
    gn_param *weight = &m->params[node->params[0]];
    node->attr.linear.in_features = features;
    weight->shape[1] = features;
    weight->count = (size_t)weight->shape[0] * (size_t)features;
    weight->fan_in = features;
    m->params[node->params[1]].fan_in = features;
}

typedef gn_status (*build_fn)(gn_context *ctx, gn_model **out);

static gn_status ghostnet(gn_context *ctx, double width, int small, gn_model **out)
{
    gn_model_config c;
    gn_model_config_default(&c, GN_ARCH_GHOSTNET);
    c.width = width;
    c.small_input = small;
    c.num_classes = small ? 10 : 1000;
    return gn_model_create(ctx, &c, 3, out);
}

static gn_status ghostnet_half_small(gn_context *ctx, gn_model **out)
{
    return ghostnet(ctx, 0.5, 1, out);
}

static gn_status ghostnet_full(gn_context *ctx, gn_model **out)
{
    return ghostnet(ctx, 1.0, 0, out);
}

static gn_status ghostnet_wide(gn_context *ctx, gn_model **out)
{
    return ghostnet(ctx, 1.3, 0, out);
}

/* The paper's CIFAR models (Sec. 4.1): ResNet and VGG-16, plain and ghostified. */
static gn_status cifar(gn_context *ctx, gn_arch arch, int depth, int ratio, int cheap,
                       gn_model **out)
{
    gn_model_config c;
    gn_model_config_default(&c, arch);
    c.depth = depth;
    c.ghost_ratio = ratio;
    c.ghost_kernel = cheap;
    return gn_model_create(ctx, &c, 5, out);
}

static gn_status resnet20(gn_context *ctx, gn_model **out)
{
    return cifar(ctx, GN_ARCH_RESNET, 20, 0, 0, out);
}

static gn_status ghost_resnet56(gn_context *ctx, gn_model **out)
{
    return cifar(ctx, GN_ARCH_RESNET, 56, 2, 3, out);
}

static gn_status ghost_resnet20_s4(gn_context *ctx, gn_model **out)
{
    return cifar(ctx, GN_ARCH_RESNET, 20, 4, 1, out);
}

static gn_status vgg16(gn_context *ctx, gn_model **out)
{
    return cifar(ctx, GN_ARCH_VGG, 16, 0, 0, out);
}

static gn_status ghost_vgg16_s3(gn_context *ctx, gn_model **out)
{
    return cifar(ctx, GN_ARCH_VGG, 16, 3, 5, out);
}

/* Every fusion rule and fallback in one graph (see the file comment). */
static gn_status fusion_zoo(gn_context *ctx, gn_model **out)
{
    gn_model *m;
    gn_status st = gn_graph_create(ctx, 3, &m);
    gn_value in_bn, stem, pooled, ghost, relu, bneck, side, sum, act, gate_in, gate, scaled;
    gn_value dw, twice, with_input, hs, bn2, flat, logits, drop, grouped, big;
    if (st != GN_OK)
        return st;
    st = gn_graph_batchnorm(m, "in_bn", 0, &in_bn);                    /* affine BN step   */
    if (st == GN_OK)
        st = gn_graph_conv2d(m, "stem", in_bn, 13, 3, 1, 1, 1, 1, &stem);
    if (st == GN_OK)
        st = gn_graph_batchnorm(m, "stem_bn", stem, &stem);
    if (st == GN_OK)
        st = gn_graph_relu(m, stem, &stem);
    if (st == GN_OK)
        st = gn_graph_maxpool(m, stem, 3, 2, 1, &pooled);
    if (st == GN_OK) /* ratio 3: cheap half with channel multiplier 2, truncated to 7 - 3 */
        st = gn_graph_ghost_module(m, "g3", pooled, 7, 1, 1, 3, 5, 0, &ghost);
    if (st == GN_OK) /* the primary half feeds the cheap one: raw output + act_after */
        st = gn_graph_relu(m, ghost, &relu);
    if (st == GN_OK)
        st = gn_graph_ghost_bottleneck(m, "bneck", relu, 19, 11, 5, 2, 0.25f, &bneck);
    if (st == GN_OK)
        st = gn_graph_conv2d(m, "side", bneck, 11, 1, 1, 0, 1, 0, &side);
    if (st == GN_OK)
        st = gn_graph_batchnorm(m, "side_bn", side, &side);
    if (st == GN_OK) /* residual on the second operand, activation after it */
        st = gn_graph_add(m, bneck, side, &sum);
    if (st == GN_OK)
        st = gn_graph_relu(m, sum, &act);
    if (st == GN_OK)
        st = gn_graph_ghost_module(m, "g2", act, 16, 3, 1, 2, 3, 1, &gate_in);
    if (st == GN_OK) /* squeeze-excite whose reader is depthwise: a gate step */
        st = gn_graph_squeeze_excite(m, "se", gate_in, 0.25f, &scaled);
    if (st == GN_OK)
        st = gn_graph_conv2d(m, "dw", scaled, 16, 3, 1, 1, 16, 0, &dw);
    if (st == GN_OK) /* concat of a value with itself: copies */
        st = gn_graph_concat(m, dw, dw, 24, &twice);
    if (st == GN_OK)
        st = gn_graph_hard_sigmoid(m, twice, &hs);
    if (st == GN_OK) /* batch norm after a concatenation of copies */
        st = gn_graph_batchnorm(m, "bn2", hs, &bn2);
    if (st == GN_OK)
        st = gn_graph_conv2d(m, "grouped", bn2, 12, 3, 1, 1, 4, 1, &grouped);
    if (st == GN_OK)
        st = gn_graph_conv2d(m, "big", grouped, 5, 7, 1, 3, 1, 0, &big);
    if (st == GN_OK)
        st = gn_graph_global_avgpool(m, big, &gate);
    if (st == GN_OK) /* the gate applied to a map read by a linear layer: folded */
        st = gn_graph_channel_scale(m, big, gate, &with_input);
    if (st == GN_OK)
        st = gn_graph_conv2d(m, "head", with_input, 6, 3, 1, 1, 1, 1, &flat);
    if (st == GN_OK)
        st = gn_graph_dropout(m, flat, 0.3f, &drop);
    if (st == GN_OK) /* linear on the whole 3x3 map */
        st = gn_graph_linear(m, "classifier", drop, 10, &logits);
    if (st == GN_OK)
        widen_linear(m, m->num_nodes - 1, 6 * 3 * 3);
    if (st == GN_OK)
        st = gn_graph_set_output(m, logits);
    if (st == GN_OK)
        st = gn_model_init_params(m, 11);
    if (st != GN_OK) {
        gn_model_free(m);
        return st;
    }
    *out = m;
    return GN_OK;
}

/* A concatenation whose first operand is the model input, then a 1x1 world. */
static gn_status input_concat(gn_context *ctx, gn_model **out)
{
    gn_model *m;
    gn_status st = gn_graph_create(ctx, 5, &m);
    gn_value conv, cat, pooled, logits;
    if (st == GN_OK)
        st = gn_graph_conv2d(m, "c", 0, 6, 1, 1, 0, 1, 0, &conv);
    if (st == GN_OK)
        st = gn_graph_concat(m, 0, conv, 9, &cat);
    if (st == GN_OK)
        st = gn_graph_global_avgpool(m, cat, &pooled);
    if (st == GN_OK)
        st = gn_graph_linear(m, "fc", pooled, 4, &logits);
    if (st == GN_OK)
        st = gn_graph_set_output(m, logits);
    if (st == GN_OK)
        st = gn_model_init_params(m, 5);
    if (st != GN_OK) {
        gn_model_free(m);
        return st;
    }
    *out = m;
    return GN_OK;
}

typedef struct model_case {
    const char *name;
    build_fn build;
    int n, h, w;
} model_case;

static const model_case cases[] = {
    {"fusion zoo", fusion_zoo, 2, 11, 9},
    {"fusion zoo 9x10", fusion_zoo, 1, 9, 10},
    {"input concat", input_concat, 3, 4, 6},
    {"input concat 1x1", input_concat, 1, 1, 1},
    {"GhostNet 0.5 small input", ghostnet_half_small, 3, 32, 32},
    {"GhostNet 1.0", ghostnet_full, 1, 224, 224},
    {"GhostNet 1.0 batch 2 odd size", ghostnet_full, 2, 97, 67},
    {"GhostNet 1.3", ghostnet_wide, 1, 160, 160},
    {"ResNet-20", resnet20, 2, 32, 32},
    {"Ghost-ResNet-56 (s=2, d=3)", ghost_resnet56, 1, 32, 32},
    {"Ghost-ResNet-20 (s=4, d=1)", ghost_resnet20_s4, 3, 24, 40},
    {"VGG-16", vgg16, 2, 32, 32},
    {"Ghost-VGG-16 (s=3, d=5)", ghost_vgg16_s3, 1, 32, 32},
};

static void check_case(const model_case *c, const char *isa, float **outputs)
{
    static const int thread_counts[3] = {1, 2, 3};
    for (int t = 0; t < 3; t++) {
        gn_context_options o = {.threads = thread_counts[t], .isa = isa};
        gn_context *ctx;
        gn_model *m = NULL;
        CHECK(gn_context_create(&o, &ctx) == GN_OK);
        CHECK_MSG(c->build(ctx, &m) == GN_OK, "%s: %s", c->name, gn_context_error(ctx));
        if (m) {
            gn_rng rng;
            gn_rng_seed(&rng, 99);
            randomise_batchnorms(m, &rng);
            outputs[t] = NULL;
            check_against_reference(m, c->n, c->h, c->w, c->name, &outputs[t]);
            gn_exec *probe;
            if (t > 0 && outputs[0] && outputs[t] &&
                gn_exec_create(m, c->n, c->h, c->w, 0, &probe) == GN_OK) {
                CHECK_MSG(memcmp(outputs[0], outputs[t],
                                 output_floats(m, probe) * sizeof(float)) == 0,
                          "%s (%s): %d threads differ from 1", c->name, isa,
                          thread_counts[t]);
                gn_exec_free(probe);
            }
        }
        gn_model_free(m);
        gn_context_destroy(ctx);
    }
    for (int t = 0; t < 3; t++)
        free(outputs[t]);
}

/* A linear layer on a non-square map is outside the plan: gn_model_forward falls back to the
 * reference execution. */
static void check_fallback(void)
{
    gn_context *ctx;
    gn_model *m;
    gn_value logits;
    CHECK(gn_context_create(NULL, &ctx) == GN_OK);
    CHECK(gn_graph_create(ctx, 2, &m) == GN_OK);
    CHECK(gn_graph_linear(m, "fc", 0, 3, &logits) == GN_OK);
    widen_linear(m, 0, 2 * 2 * 3);
    CHECK(gn_graph_set_output(m, logits) == GN_OK);
    CHECK(gn_model_init_params(m, 1) == GN_OK);
    gn_plan *plan = NULL;
    CHECK(gn_plan_create(m, 1, 2, 3, &plan) == GN_ERR_UNSUPPORTED);
    float x[12], y[3], want[3];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i / 12.0f;
    CHECK(gn_model_forward(m, x, 1, 2, 3, y) == GN_OK);
    for (int o = 0; o < 3; o++) {
        want[o] = m->params[1].data[o];
        for (int i = 0; i < 12; i++)
            want[o] += m->params[0].data[o * 12 + i] * x[i];
        CHECK(fabsf(y[o] - want[o]) < 1e-5f);
    }
    gn_model_free(m);
    gn_context_destroy(ctx);
}

/* A training step changes the weights: the next gn_model_forward must see them. */
static void check_training_drops_plan(void)
{
    gn_context *ctx;
    gn_model *m = NULL;
    CHECK(gn_context_create(NULL, &ctx) == GN_OK);
    CHECK(input_concat(ctx, &m) == GN_OK);
    if (!m) {
        gn_context_destroy(ctx);
        return;
    }
    gn_rng rng;
    gn_rng_seed(&rng, 3);
    float *x = random_input(&rng, 2 * 5 * 4 * 4), before[8], after[8], want[8];
    int32_t labels[2] = {1, 3};
    gn_train_config config;
    gn_train_config_default(&config);
    gn_trainer *trainer = NULL;
    CHECK(gn_model_forward(m, x, 2, 4, 4, before) == GN_OK);
    CHECK(gn_trainer_create(m, &config, 2, 4, 4, &trainer) == GN_OK);
    CHECK(trainer && gn_trainer_step(trainer, x, labels, 2, NULL) == GN_OK);
    CHECK(gn_model_forward(m, x, 2, 4, 4, after) == GN_OK);
    gn_exec *exec;
    CHECK(gn_exec_create(m, 2, 4, 4, 0, &exec) == GN_OK);
    gn_exec_forward(exec, x);
    memcpy(want, gn_exec_output(exec), sizeof(want));
    int changed = 0, matches = 1;
    for (int i = 0; i < 8; i++) {
        changed |= before[i] != after[i];
        matches &= fabsf(after[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i]));
    }
    CHECK_MSG(changed && matches, "forward after a training step uses stale weights");
    gn_exec_free(exec);
    gn_trainer_free(trainer);
    free(x);
    gn_model_free(m);
    gn_context_destroy(ctx);
}

int main(void)
{
    static const char *isas[] = {"portable", "avx2", "avx512", "neon"};
    for (size_t i = 0; i < sizeof(isas) / sizeof(isas[0]); i++) {
        gn_context_options o = {.isa = isas[i]};
        gn_context *probe;
        if (gn_context_create(&o, &probe) != GN_OK)
            continue; /* not this CPU */
        gn_context_destroy(probe);
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            float *outputs[3] = {NULL, NULL, NULL};
            check_case(&cases[c], isas[i], outputs);
        }
    }
    check_fallback();
    check_training_drops_plan();
    return gn_test_finish("test_plan");
}
