/* linear: y = x W^T + b on the flattened input (c*h*w features per image). */
#include "layers/layer.h"

#include <stdio.h>

static int linear_shape(const gn_node *node, const gn_shape *in, gn_shape *out, char *why,
                        size_t why_size)
{
    size_t features = gn_shape_numel(in[0]);
    if (features != (size_t)node->attr.linear.in_features) {
        snprintf(why, why_size, "expects %d input features, got %dx%dx%d = %zu",
                 node->attr.linear.in_features, in[0].c, in[0].h, in[0].w, features);
        return -1;
    }
    out->c = node->attr.linear.out_features;
    out->h = 1;
    out->w = 1;
    return 0;
}

static int64_t linear_macs(const gn_node *node, const gn_shape *in, const gn_shape *out)
{
    (void)in;
    (void)out;
    return (int64_t)node->attr.linear.in_features * node->attr.linear.out_features;
}

static void linear_forward(gn_layer_io *io)
{
    int in_f = io->node->attr.linear.in_features, out_f = io->node->attr.linear.out_features;
    const float *weight = io->params[0]->data, *bias = io->params[1]->data;
    for (int b = 0; b < io->n; b++) {
        const float *x = io->x[0] + (size_t)b * in_f;
        float *y = io->y + (size_t)b * out_f;
        for (int o = 0; o < out_f; o++) {
            const float *w = weight + (size_t)o * in_f;
            float sum = 0.0f;
            for (int i = 0; i < in_f; i++)
                sum += w[i] * x[i];
            y[o] = sum + bias[o];
        }
    }
}

/* dx += dy W; dW += dy^T x; db += sum dy */
static void linear_backward(gn_layer_io *io)
{
    int in_f = io->node->attr.linear.in_features, out_f = io->node->attr.linear.out_features;
    const float *weight = io->params[0]->data;
    float *dweight = io->params[0]->grad, *dbias = io->params[1]->grad;
    for (int b = 0; b < io->n; b++) {
        const float *x = io->x[0] + (size_t)b * in_f;
        const float *dy = io->dy + (size_t)b * out_f;
        float *dx = io->dx[0] ? io->dx[0] + (size_t)b * in_f : NULL;
        for (int o = 0; o < out_f; o++) {
            float g = dy[o];
            float *dw = dweight + (size_t)o * in_f;
            const float *w = weight + (size_t)o * in_f;
            dbias[o] += g;
            for (int i = 0; i < in_f; i++)
                dw[i] += g * x[i];
            if (dx)
                for (int i = 0; i < in_f; i++)
                    dx[i] += g * w[i];
        }
    }
}

const gn_layer_kind gn_layer_linear = {
    .name = "linear",
    .shape = linear_shape,
    .macs = linear_macs,
    .forward = linear_forward,
    .backward = linear_backward,
};
