/* Pooling.
 *   global_avgpool: y[c] = mean over h, w of x[c]
 *   maxpool:        y[c, i, j] = max over the k x k window (padding counts as -inf) */
#include "layers/layer.h"

#include <float.h>
#include <stdio.h>

static int global_avgpool_shape(const gn_node *node, const gn_shape *in, gn_shape *out,
                                char *why, size_t why_size)
{
    (void)node;
    (void)why;
    (void)why_size;
    out->c = in[0].c;
    out->h = 1;
    out->w = 1;
    return 0;
}

static void global_avgpool_forward_planes(gn_layer_io *io, int64_t first, int64_t end)
{
    size_t plane = (size_t)io->in[0].h * io->in[0].w;
    for (size_t p = (size_t)first; p < (size_t)end; p++) {
        const float *x = io->x[0] + p * plane;
        float sum = 0.0f;
        for (size_t i = 0; i < plane; i++)
            sum += x[i];
        io->y[p] = sum / (float)plane;
    }
}

static void global_avgpool_forward(gn_layer_io *io)
{
    gn_layer_parallel(io, (int64_t)io->n * io->in[0].c, global_avgpool_forward_planes);
}

static int maxpool_shape(const gn_node *node, const gn_shape *in, gn_shape *out, char *why,
                         size_t why_size)
{
    const gn_pool_attr *a = &node->attr.pool;
    if (in[0].h + 2 * a->padding < a->kernel || in[0].w + 2 * a->padding < a->kernel) {
        snprintf(why, why_size, "input %dx%d is smaller than its %dx%d window", in[0].h,
                 in[0].w, a->kernel, a->kernel);
        return -1;
    }
    out->c = in[0].c;
    out->h = (in[0].h + 2 * a->padding - a->kernel) / a->stride + 1;
    out->w = (in[0].w + 2 * a->padding - a->kernel) / a->stride + 1;
    return 0;
}

static void maxpool_forward(gn_layer_io *io)
{
    const gn_pool_attr *a = &io->node->attr.pool;
    gn_shape in = io->in[0], out = io->out;
    size_t planes = (size_t)io->n * in.c;
    for (size_t p = 0; p < planes; p++) {
        const float *x = io->x[0] + p * in.h * in.w;
        float *y = io->y + p * out.h * out.w;
        for (int oy = 0; oy < out.h; oy++) {
            for (int ox = 0; ox < out.w; ox++) {
                float best = -FLT_MAX;
                for (int ky = 0; ky < a->kernel; ky++) {
                    int iy = oy * a->stride - a->padding + ky;
                    if (iy < 0 || iy >= in.h)
                        continue;
                    for (int kx = 0; kx < a->kernel; kx++) {
                        int ix = ox * a->stride - a->padding + kx;
                        if (ix >= 0 && ix < in.w && x[iy * in.w + ix] > best)
                            best = x[iy * in.w + ix];
                    }
                }
                y[oy * out.w + ox] = best;
            }
        }
    }
}

/* d mean = dy / (h * w) to every position */
static void global_avgpool_backward_planes(gn_layer_io *io, int64_t first, int64_t end)
{
    size_t plane = (size_t)io->in[0].h * io->in[0].w;
    for (size_t p = (size_t)first; p < (size_t)end; p++) {
        float g = io->dy[p] / (float)plane;
        float *dx = io->dx[0] + p * plane;
        for (size_t i = 0; i < plane; i++)
            dx[i] += g;
    }
}

static void global_avgpool_backward(gn_layer_io *io)
{
    if (io->dx[0])
        gn_layer_parallel(io, (int64_t)io->n * io->in[0].c, global_avgpool_backward_planes);
}

/* dy goes to the window's maximum, found again from x (the first one on ties, as forward). */
static void maxpool_backward(gn_layer_io *io)
{
    if (!io->dx[0])
        return;
    const gn_pool_attr *a = &io->node->attr.pool;
    gn_shape in = io->in[0], out = io->out;
    size_t planes = (size_t)io->n * in.c;
    for (size_t p = 0; p < planes; p++) {
        const float *x = io->x[0] + p * in.h * in.w;
        float *dx = io->dx[0] + p * in.h * in.w;
        const float *dy = io->dy + p * out.h * out.w;
        for (int oy = 0; oy < out.h; oy++)
            for (int ox = 0; ox < out.w; ox++) {
                int best = -1;
                for (int ky = 0; ky < a->kernel; ky++) {
                    int iy = oy * a->stride - a->padding + ky;
                    for (int kx = 0; kx < a->kernel && iy >= 0 && iy < in.h; kx++) {
                        int ix = ox * a->stride - a->padding + kx;
                        if (ix >= 0 && ix < in.w && (best < 0 || x[iy * in.w + ix] > x[best]))
                            best = iy * in.w + ix;
                    }
                }
                if (best >= 0)
                    dx[best] += dy[oy * out.w + ox];
            }
    }
}

const gn_layer_kind gn_layer_global_avgpool = {
    .name = "global_avgpool",
    .shape = global_avgpool_shape,
    .forward = global_avgpool_forward,
    .backward = global_avgpool_backward,
};

const gn_layer_kind gn_layer_maxpool = {
    .name = "maxpool",
    .shape = maxpool_shape,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
};
