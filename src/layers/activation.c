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

static void relu_forward_range(gn_layer_io *io, int64_t begin, int64_t end)
{
    const float *restrict x = io->x[0];
    float *restrict y = io->y;
    for (int64_t i = begin; i < end; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_forward(gn_layer_io *io)
{
    gn_layer_parallel(io, (int64_t)io_numel(io), relu_forward_range);
}

static float hard_sigmoid(float x)
{
    float t = x + 3.0f;
    t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
    return t / 6.0f;
}

static void hard_sigmoid_forward_range(gn_layer_io *io, int64_t begin, int64_t end)
{
    const float *restrict x = io->x[0];
    float *restrict y = io->y;
    for (int64_t i = begin; i < end; i++)
        y[i] = hard_sigmoid(x[i]);
}

static void hard_sigmoid_forward(gn_layer_io *io)
{
    gn_layer_parallel(io, (int64_t)io_numel(io), hard_sigmoid_forward_range);
}

/* d relu = dy where x > 0 */
static void relu_backward_range(gn_layer_io *io, int64_t begin, int64_t end)
{
    const float *restrict x = io->x[0], *restrict dy = io->dy;
    float *restrict dx = io->dx[0];
    /* a multiply by a 0/1 mask, written so that gcc vectorises it */
    if (io->dx_fresh[0])
        for (int64_t i = begin; i < end; i++) {
            float mask = x[i] > 0.0f ? 1.0f : 0.0f;
            dx[i] = 0.0f + dy[i] * mask;
        }
    else
        for (int64_t i = begin; i < end; i++) {
            float mask = x[i] > 0.0f ? 1.0f : 0.0f;
            dx[i] += dy[i] * mask;
        }
}

static void relu_backward(gn_layer_io *io)
{
    if (io->dx[0])
        gn_layer_parallel(io, (int64_t)io_numel(io), relu_backward_range);
}

/* d hard_sigmoid = dy / 6 where 0 < x + 3 < 6 (relu6's flat parts pass nothing) */
static void hard_sigmoid_backward_range(gn_layer_io *io, int64_t begin, int64_t end)
{
    const float *restrict x = io->x[0], *restrict dy = io->dy;
    float *restrict dx = io->dx[0];
    for (int64_t i = begin; i < end; i++) {
        float t = x[i] + 3.0f;
        float slope = t > 0.0f && t < 6.0f ? 1.0f / 6.0f : 0.0f;
        dx[i] += dy[i] * slope;
    }
}

static void hard_sigmoid_backward(gn_layer_io *io)
{
    if (io->dx[0])
        gn_layer_parallel(io, (int64_t)io_numel(io), hard_sigmoid_backward_range);
}

const gn_layer_kind gn_layer_relu = {
    .name = "relu",
    .shape = same_shape,
    .forward = relu_forward,
    .backward = relu_backward,
    .fresh_dx = 1,
};

const gn_layer_kind gn_layer_hard_sigmoid = {
    .name = "hard_sigmoid",
    .shape = same_shape,
    .forward = hard_sigmoid_forward,
    .backward = hard_sigmoid_backward,
};
