/* Every layer's backward against central finite differences, layer by layer. Each case is
 *   x -> pre (1x1 conv) -> [layer under test] -> y,   loss = sum(r * y) in double,
 * so the layer's own parameter gradients check its weight path and pre's weight gradient
 * checks the gradient it passes to its input. The Ghost module cases check the graph's
 * backward through a composite (two consumers of one value, concat with a slice). Deeper
 * composites (the bottleneck) have too many ReLU kinks behind training-mode BN for float
 * finite differences; tests/python/test_training.py checks them against PyTorch autograd. */
#include "harness.h"

#include "core/exec.h"
#include "layers/layer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 3
#define CIN 3
#define H 7
#define W 6

typedef int (*build_fn)(gn_model *m, gn_value pre, gn_value *out);

static int b_conv_dense(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_conv2d(m, "op", v, 5, 3, 2, 1, 1, 1, out);
}
static int b_conv_grouped(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_conv2d(m, "op", v, 6, 3, 1, 2, 2, 0, out);
}
static int b_conv_depthwise_mult(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_conv2d(m, "op", v, 8, 5, 2, 2, 4, 0, out); /* 4 channels -> 8, groups 4 */
}
static int b_batchnorm(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_batchnorm(m, "op", v, out);
}
static int b_relu(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_relu(m, v, out);
}
static int b_hard_sigmoid(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_hard_sigmoid(m, v, out);
}
static int b_avgpool(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_global_avgpool(m, v, out);
}
static int b_maxpool(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_maxpool(m, v, 3, 2, 1, out);
}
static int b_linear(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_global_avgpool(m, v, &v) || gn_graph_linear(m, "op", v, 5, out);
}
static int b_dropout(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_dropout(m, v, 0.4f, out);
}
static int b_add(gn_model *m, gn_value v, gn_value *out)
{
    gn_value u;
    return gn_graph_relu(m, v, &u) || gn_graph_add(m, v, u, out);
}
static int b_channel_scale(gn_model *m, gn_value v, gn_value *out)
{
    gn_value gate;
    return gn_graph_global_avgpool(m, v, &gate) || gn_graph_channel_scale(m, v, gate, out);
}
static int b_concat_slice(gn_model *m, gn_value v, gn_value *out)
{
    gn_value u;
    return gn_graph_relu(m, v, &u) || gn_graph_concat(m, v, u, 6, out);
}
static int b_ghost_module(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_ghost_module(m, "op", v, 7, 3, 2, 3, 3, 1, out); /* init 3, 6 ghosts, keep 7 */
}
static int b_ghost_module_linear(gn_model *m, gn_value v, gn_value *out)
{
    return gn_graph_ghost_module(m, "op", v, 7, 3, 2, 3, 3, 0, out);
}
typedef struct gradcase {
    const char *name;
    build_fn build;
    int pre_channels;
    double eps;     /* finite-difference step                          */
    double tol;     /* relative tolerance                              */
} gradcase;

static const gradcase cases[] = {
    {"conv dense 3x3 s2", b_conv_dense, 4, 0.25, 1e-3},
    {"conv groups 2", b_conv_grouped, 4, 0.25, 1e-3},
    {"conv depthwise x2 5x5 s2", b_conv_depthwise_mult, 4, 0.25, 1e-3},
    {"batchnorm (training)", b_batchnorm, 4, 1e-2, 5e-3},
    {"relu", b_relu, 4, 1e-3, 5e-3},
    {"hard_sigmoid", b_hard_sigmoid, 4, 1e-3, 5e-3},
    {"global_avgpool", b_avgpool, 4, 0.25, 1e-3},
    {"maxpool 3x3 s2 p1", b_maxpool, 4, 1e-3, 5e-3},
    {"linear", b_linear, 4, 0.25, 1e-3},
    {"dropout", b_dropout, 4, 0.25, 1e-3},
    {"add", b_add, 4, 1e-3, 5e-3},
    {"channel_scale", b_channel_scale, 4, 1e-3, 5e-3},
    {"concat + slice", b_concat_slice, 4, 1e-3, 5e-3},
    {"ghost module s3 (relu)", b_ghost_module, 4, 1e-3, 1e-2},
    {"ghost module s3 (no relu)", b_ghost_module_linear, 4, 1e-2, 1e-2},
};

static double probe_loss(gn_exec *exec, const float *x, const float *r, size_t count)
{
    gn_rng_seed(&exec->rng, 99); /* the same dropout mask every time */
    gn_exec_forward(exec, x);
    const float *y = gn_exec_output(exec);
    double loss = 0;
    for (size_t i = 0; i < count; i++)
        loss += (double)r[i] * y[i];
    return loss;
}

static void run_case(gn_context *ctx, const gradcase *c, gn_rng *rng)
{
    gn_model *m = NULL;
    gn_value v;
    int failed = gn_graph_create(ctx, CIN, &m) != GN_OK;
    failed = failed || gn_graph_conv2d(m, "pre", 0, c->pre_channels, 1, 1, 0, 1, 1, &v);
    failed = failed || c->build(m, v, &v) || gn_graph_set_output(m, v);
    failed = failed || gn_model_init_params(m, 3);
    gn_exec *exec = NULL;
    failed = failed || gn_exec_create(m, N, H, W, 1, &exec);
    CHECK_MSG(!failed, "%s: cannot build: %s", c->name, gn_context_error(ctx));
    if (failed) {
        gn_model_free(m);
        return;
    }
    for (int i = 0; i < m->num_params; i++) {
        gn_param *p = &m->params[i];
        if (p->role == GN_PARAM_RUNNING_MEAN || p->role == GN_PARAM_RUNNING_VAR)
            continue;
        p->grad = calloc(p->count, sizeof(float));
        if (p->role == GN_PARAM_BN_WEIGHT || p->role == GN_PARAM_BN_BIAS)
            for (size_t k = 0; k < p->count; k++)
                p->data[k] = 0.5f + gn_rng_uniform(rng);
    }
    float x[N * CIN * H * W];
    for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++)
        x[i] = gn_rng_uniform(rng) * 4 - 2;
    size_t count = (size_t)N * gn_shape_numel(exec->shapes[m->output]);
    float *r = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++)
        r[i] = gn_rng_uniform(rng) * 2 - 1;
    probe_loss(exec, x, r, count);
    gn_exec_backward(exec, r);

    /* A step that crosses a kink (ReLU at 0, a max-pool tie) makes the difference quotient
     * meaningless there; such coordinates show up as quotients at eps and eps / 2 that
     * disagree, and are skipped. At most a tenth may be skipped. */
    int checked = 0, bad = 0, skipped = 0;
    double worst = 0;
    for (int i = 0; i < m->num_params; i++) {
        gn_param *p = &m->params[i];
        for (size_t k = 0; p->grad && k < p->count; k++) {
            double numeric[2];
            for (int half = 0; half < 2; half++) {
                double eps = half ? c->eps / 2 : c->eps;
                float keep = p->data[k];
                p->data[k] = (float)(keep + eps);
                double up = probe_loss(exec, x, r, count);
                p->data[k] = (float)(keep - eps);
                double down = probe_loss(exec, x, r, count);
                p->data[k] = keep;
                numeric[half] = (up - down) / (2 * eps);
            }
            double analytic = p->grad[k];
            double scale = fmax(0.1, fabs(numeric[1]) + fabs(analytic));
            checked++;
            if (fabs(numeric[0] - numeric[1]) / scale > c->tol) {
                skipped++;
                continue;
            }
            double err = fabs(numeric[1] - analytic) / scale;
            worst = fmax(worst, err);
            if (err > c->tol && bad++ < 5)
                fprintf(stderr, "  %s: %s[%zu] analytic %.7g numeric %.7g\n", c->name, p->name,
                        k, analytic, numeric[1]);
        }
    }
    fprintf(stderr, "%-26s %4d coordinates (%d skipped at kinks), worst relative error %.2g\n",
            c->name, checked, skipped, worst);
    CHECK_MSG(bad == 0, "%s: %d of %d gradients disagree with finite differences", c->name, bad,
              checked);
    CHECK_MSG(skipped * 10 <= checked, "%s: %d of %d coordinates sit at kinks", c->name, skipped,
              checked);
    free(r);
    for (int i = 0; i < m->num_params; i++) {
        free(m->params[i].grad);
        m->params[i].grad = NULL;
    }
    gn_exec_free(exec);
    gn_model_free(m);
}

int main(void)
{
    gn_context *ctx = NULL;
    CHECK(gn_context_create(NULL, &ctx) == GN_OK);
    gn_rng rng;
    gn_rng_seed(&rng, 5);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(ctx, &cases[i], &rng);
    gn_context_destroy(ctx);
    return gn_test_finish("test_gradcheck");
}
