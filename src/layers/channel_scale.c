/* channel_scale: y[n, c, h, w] = x[n, c, h, w] * gate[n, c] (squeeze-excite's re-weighting). */
#include "layers/layer.h"

#include <stdio.h>

static int channel_scale_shape(const gn_node *node, const gn_shape *in, gn_shape *out,
                               char *why, size_t why_size)
{
    (void)node;
    if (in[1].c != in[0].c || in[1].h != 1 || in[1].w != 1) {
        snprintf(why, why_size, "gate must be %dx1x1, got %dx%dx%d", in[0].c, in[1].c, in[1].h,
                 in[1].w);
        return -1;
    }
    *out = in[0];
    return 0;
}

static void channel_scale_forward_planes(gn_layer_io *io, int64_t first, int64_t end)
{
    size_t plane = (size_t)io->out.h * io->out.w;
    for (size_t p = (size_t)first; p < (size_t)end; p++) {
        float gate = io->x[1][p];
        const float *x = io->x[0] + p * plane;
        float *y = io->y + p * plane;
        for (size_t i = 0; i < plane; i++)
            y[i] = x[i] * gate;
    }
}

static void channel_scale_forward(gn_layer_io *io)
{
    gn_layer_parallel(io, (int64_t)io->n * io->out.c, channel_scale_forward_planes);
}

/* dx += dy * gate; dgate += sum over the plane of dy * x */
static void channel_scale_backward_planes(gn_layer_io *io, int64_t first, int64_t end)
{
    size_t plane = (size_t)io->out.h * io->out.w;
    for (size_t p = (size_t)first; p < (size_t)end; p++) {
        float gate = io->x[1][p], dgate = 0.0f;
        const float *x = io->x[0] + p * plane, *dy = io->dy + p * plane;
        float *dx = io->dx[0] ? io->dx[0] + p * plane : NULL;
        for (size_t i = 0; i < plane; i++) {
            dgate += dy[i] * x[i];
            if (dx)
                dx[i] += dy[i] * gate;
        }
        if (io->dx[1])
            io->dx[1][p] += dgate;
    }
}

static void channel_scale_backward(gn_layer_io *io)
{
    gn_layer_parallel(io, (int64_t)io->n * io->out.c, channel_scale_backward_planes);
}

const gn_layer_kind gn_layer_channel_scale = {
    .name = "channel_scale",
    .shape = channel_scale_shape,
    .forward = channel_scale_forward,
    .backward = channel_scale_backward,
};
