/* add: y = a + b (same shapes; the bottleneck's residual). */
#include "layers/layer.h"

#include <stdio.h>

static int add_shape(const gn_node *node, const gn_shape *in, gn_shape *out, char *why,
                     size_t why_size)
{
    (void)node;
    if (in[0].c != in[1].c || in[0].h != in[1].h || in[0].w != in[1].w) {
        snprintf(why, why_size, "operands differ: %dx%dx%d vs %dx%dx%d", in[0].c, in[0].h,
                 in[0].w, in[1].c, in[1].h, in[1].w);
        return -1;
    }
    *out = in[0];
    return 0;
}

static void add_forward(gn_layer_io *io)
{
    size_t count = (size_t)io->n * gn_shape_numel(io->out);
    for (size_t i = 0; i < count; i++)
        io->y[i] = io->x[0][i] + io->x[1][i];
}

static void add_backward(gn_layer_io *io)
{
    size_t count = (size_t)io->n * gn_shape_numel(io->out);
    for (int k = 0; k < 2; k++)
        if (io->dx[k])
            for (size_t i = 0; i < count; i++)
                io->dx[k][i] += io->dy[i];
}

const gn_layer_kind gn_layer_add = {
    .name = "add",
    .shape = add_shape,
    .forward = add_forward,
    .backward = add_backward,
};
