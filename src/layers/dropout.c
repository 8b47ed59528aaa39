/* dropout: identity at inference; in training y = x * mask / (1 - p), mask ~ Bernoulli(1 - p)
 * drawn from the execution's seeded generator. */
#include "layers/layer.h"

#include <string.h>

static int dropout_shape(const gn_node *node, const gn_shape *in, gn_shape *out, char *why,
                         size_t why_size)
{
    (void)node;
    (void)why;
    (void)why_size;
    *out = in[0];
    return 0;
}

static size_t dropout_saved(const gn_node *node, int n, const gn_shape *in, const gn_shape *out)
{
    (void)node;
    (void)out;
    return (size_t)n * gn_shape_numel(in[0]); /* the mask, already scaled by 1 / (1 - p) */
}

static void dropout_forward(gn_layer_io *io)
{
    size_t count = (size_t)io->n * gn_shape_numel(io->out);
    float p = io->node->attr.dropout_p;
    if (!io->training || p == 0.0f) {
        memcpy(io->y, io->x[0], count * sizeof(float));
        if (io->training)
            for (size_t i = 0; i < count; i++)
                io->saved[i] = 1.0f;
        return;
    }
    float keep_scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < count; i++) {
        io->saved[i] = gn_rng_uniform(io->rng) < p ? 0.0f : keep_scale;
        io->y[i] = io->x[0][i] * io->saved[i];
    }
}

static void dropout_backward(gn_layer_io *io)
{
    if (!io->dx[0])
        return;
    size_t count = (size_t)io->n * gn_shape_numel(io->out);
    for (size_t i = 0; i < count; i++)
        io->dx[0][i] += io->dy[i] * io->saved[i];
}

const gn_layer_kind gn_layer_dropout = {
    .name = "dropout",
    .shape = dropout_shape,
    .saved_floats = dropout_saved,
    .forward = dropout_forward,
    .backward = dropout_backward,
};
