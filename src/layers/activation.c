/* Element-wise activations.
 *   relu(x)         = max(x, 0)
 *   hard_sigmoid(x) = relu6(x + 3) / 6      (GhostNet's SE gate) */
#include "layers/layer.h"

static int same_shape(const gn_node *node, const gn_shape *in, gn_shape *out, char *why,
                      size_t why_size)
{
    (void)node;
    (void)why;
    (void)why_size;
    *out = in[0];
    return 0;
}

static size_t io_numel(const gn_layer_io *io)
{
    return (size_t)io->n * gn_shape_numel(io->out);
}

static void relu_forward(gn_layer_io *io)
{
    size_t count = io_numel(io);
    const float *x = io->x[0];
    float *y = io->y;
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static float hard_sigmoid(float x)
{
    float t = x + 3.0f;
    t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
    return t / 6.0f;
}

static void hard_sigmoid_forward(gn_layer_io *io)
{
    size_t count = io_numel(io);
    for (size_t i = 0; i < count; i++)
        io->y[i] = hard_sigmoid(io->x[0][i]);
}

/* d relu = dy where x > 0 */
static void relu_backward(gn_layer_io *io)
{
    size_t count = io_numel(io);
    if (!io->dx[0])
        return;
    for (size_t i = 0; i < count; i++)
        if (io->x[0][i] > 0.0f)
            io->dx[0][i] += io->dy[i];
}

/* d hard_sigmoid = dy / 6 where 0 < x + 3 < 6 (relu6's flat parts pass nothing) */
static void hard_sigmoid_backward(gn_layer_io *io)
{
    size_t count = io_numel(io);
    if (!io->dx[0])
        return;
    for (size_t i = 0; i < count; i++) {
        float t = io->x[0][i] + 3.0f;
        if (t > 0.0f && t < 6.0f)
            io->dx[0][i] += io->dy[i] / 6.0f;
    }
}

const gn_layer_kind gn_layer_relu = {
    .name = "relu",
    .shape = same_shape,
    .forward = relu_forward,
    .backward = relu_backward,
};

const gn_layer_kind gn_layer_hard_sigmoid = {
    .name = "hard_sigmoid",
    .shape = same_shape,
    .forward = hard_sigmoid_forward,
    .backward = hard_sigmoid_backward,
};
