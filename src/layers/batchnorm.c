/* batchnorm: y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel. Inference uses the
 * running statistics. */
#include "layers/layer.h"

#include <math.h>
#include <stdio.h>

static int batchnorm_shape(const gn_node *node, const gn_shape *in, gn_shape *out, char *why,
                           size_t why_size)
{
    if (in[0].c != node->attr.bn.channels) {
        snprintf(why, why_size, "expects %d channels, got %d", node->attr.bn.channels, in[0].c);
        return -1;
    }
    *out = in[0];
    return 0;
}

static void batchnorm_forward(gn_layer_io *io)
{
    const float *gamma = io->params[0]->data, *beta = io->params[1]->data;
    const float *mean = io->params[2]->data, *var = io->params[3]->data;
    float eps = io->node->attr.bn.eps;
    size_t plane = (size_t)io->out.h * io->out.w;
    int channels = io->out.c;
    for (int b = 0; b < io->n; b++) {
        for (int c = 0; c < channels; c++) {
            float scale = gamma[c] / sqrtf(var[c] + eps);
            float shift = beta[c] - mean[c] * scale;
            const float *x = io->x[0] + ((size_t)b * channels + c) * plane;
            float *y = io->y + ((size_t)b * channels + c) * plane;
            for (size_t i = 0; i < plane; i++)
                y[i] = x[i] * scale + shift;
        }
    }
}

const gn_layer_kind gn_layer_batchnorm = {
    .name = "batchnorm",
    .shape = batchnorm_shape,
    .forward = batchnorm_forward,
};
