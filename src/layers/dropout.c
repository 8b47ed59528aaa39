/* dropout: identity at inference; in training y = x * mask / (1 - p), mask ~ Bernoulli(1 - p). */
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

static void dropout_forward(gn_layer_io *io)
{
    size_t count = (size_t)io->n * gn_shape_numel(io->out);
    memcpy(io->y, io->x[0], count * sizeof(float));
}

const gn_layer_kind gn_layer_dropout = {
    .name = "dropout",
    .shape = dropout_shape,
    .forward = dropout_forward,
};
