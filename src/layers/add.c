/* add: y = a + b (same shapes; the bottleneck's residual), or max(0, a + b) with a fused ReLU
 * (a ResNet block's end; src/core/exec.c). */
#include "layers/layer.h"

#include "kernels/plane/plane.h"

#include <math.h>
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

static void add_forward_range(gn_layer_io *io, int64_t begin, int64_t end)
{
    const float *restrict a = io->x[0], *restrict b = io->x[1];
    float *restrict y = io->y;
    if (io->fused_relu)
        for (int64_t i = begin; i < end; i++) {
            float s = a[i] + b[i];
            y[i] = s > 0.0f ? s : 0.0f;
        }
    else
        for (int64_t i = begin; i < end; i++)
            y[i] = a[i] + b[i];
}

/* With a BN folded in (layer.h): planes of x[bn_input] through the BN's scale and shift,
 * plus the other input's planes, by the plane kernel the BN would have used. */
static void add_bn_forward_planes(gn_layer_io *io, int64_t begin, int64_t end)
{
    const gn_plane_kernels *pk = gn_plane_kernels_for(io->ctx->isa);
    size_t plane = (size_t)io->out.h * io->out.w;
    int channels = io->out.c, k = io->bn_input;
    float floor = io->fused_relu ? 0.0f : -INFINITY;
    for (int64_t i = begin; i < end; i++) {
        int c = (int)(i % channels);
        size_t at = (size_t)i * plane;
        pk->affine_add(io->x[k] + at, io->x[1 - k] + at, io->y + at, plane, io->bn_affine[c],
                       io->bn_affine[channels + c], floor);
    }
}

static void add_forward(gn_layer_io *io)
{
    if (io->bn_affine)
        gn_layer_parallel(io, (int64_t)io->n * io->out.c, add_bn_forward_planes);
    else
        gn_layer_parallel(io, (int64_t)io->n * (int64_t)gn_shape_numel(io->out),
                          add_forward_range);
}

/* Both input gradients of elements [begin, end): each k in turn, so a block small enough to
 * stay in L1 reads dy and y from memory once. */
static void add_backward_block(gn_layer_io *io, int64_t begin, int64_t end)
{
    const float *restrict dy = io->dy, *restrict y = io->y;
    /* k in order: an add of a value to itself has one fresh buffer, written first */
    for (int k = 0; k < 2; k++) {
        float *restrict dx = io->dx[k];
        if (!dx)
            continue;
        if (io->fused_relu) {
            /* the ReLU's gradient as its own backward would have stored it (0.0f + masked dy),
             * then added (a fresh buffer: 0.0f + that, the same value, as 0.0f + v is never
             * -0); y > 0 exactly where the sum was */
            if (io->dx_fresh[k])
                for (int64_t i = begin; i < end; i++) {
                    float mask = y[i] > 0.0f ? 1.0f : 0.0f;
                    dx[i] = 0.0f + dy[i] * mask;
                }
            else
                for (int64_t i = begin; i < end; i++) {
                    float mask = y[i] > 0.0f ? 1.0f : 0.0f;
                    dx[i] += 0.0f + dy[i] * mask;
                }
        } else if (io->dx_fresh[k]) {
            for (int64_t i = begin; i < end; i++)
                dx[i] = 0.0f + dy[i];
        } else {
            for (int64_t i = begin; i < end; i++)
                dx[i] += dy[i];
        }
    }
}

#define ADD_BLOCK 2048 /* floats: dy, y and two gradients of a block take 32 KiB */

static void add_backward_range(gn_layer_io *io, int64_t begin, int64_t end)
{
    for (int64_t b = begin; b < end; b += ADD_BLOCK)
        add_backward_block(io, b, end - b < ADD_BLOCK ? end : b + ADD_BLOCK);
}

/* With a BN folded in, by planes: each plane's gradients, then, while they are in cache, the
 * per-plane sums the BN's backward needs (the gradient reaching the BN's output, and its
 * product with the BN's input x[bn_input]), by the plane kernel the BN would have used on
 * them, so the BN skips its own pass (layer.h, bn_grad_sums). */
static void add_bn_backward_planes(gn_layer_io *io, int64_t begin, int64_t end)
{
    const gn_plane_kernels *pk = gn_plane_kernels_for(io->ctx->isa);
    int64_t plane = (int64_t)io->out.h * io->out.w;
    int k = io->bn_input;
    for (int64_t i = begin; i < end; i++) {
        add_backward_range(io, i * plane, (i + 1) * plane);
        if (!io->bn_grad_sums)
            continue;
        double *at = io->bn_grad_sums + 2 * i;
        at[0] = at[1] = 0.0;
        pk->sums(io->dx[k] + i * plane, io->x[k] + i * plane, (size_t)plane, &at[0], &at[1]);
    }
}

static void add_backward(gn_layer_io *io)
{
    if (io->bn_affine)
        gn_layer_parallel(io, (int64_t)io->n * io->out.c, add_bn_backward_planes);
    else
        gn_layer_parallel(io, (int64_t)io->n * (int64_t)gn_shape_numel(io->out),
                          add_backward_range);
}

const gn_layer_kind gn_layer_add = {
    .name = "add",
    .shape = add_shape,
    .forward = add_forward,
    .backward = add_backward,
    .fresh_dx = 1,
};
