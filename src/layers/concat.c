/* concat: y = concat(a, b) along channels, keeping the first keep channels (the Ghost module's
 * "concatenate, keep the first n", paper Sec. 3.1). */
#include "layers/layer.h"

#include <stdio.h>
#include <string.h>

static int concat_shape(const gn_node *node, const gn_shape *in, gn_shape *out, char *why,
                        size_t why_size)
{
    if (in[0].h != in[1].h || in[0].w != in[1].w) {
        snprintf(why, why_size, "operands differ in size: %dx%d vs %dx%d", in[0].h, in[0].w,
                 in[1].h, in[1].w);
        return -1;
    }
    if (node->attr.concat_keep > in[0].c + in[1].c) {
        snprintf(why, why_size, "keeps %d channels of %d + %d", node->attr.concat_keep,
                 in[0].c, in[1].c);
        return -1;
    }
    out->c = node->attr.concat_keep;
    out->h = in[0].h;
    out->w = in[0].w;
    return 0;
}

/* Channels of b copied into the output: whatever of keep is left after a. */
static int channels_from_b(const gn_layer_io *io)
{
    int from_b = io->out.c - io->in[0].c;
    return from_b > 0 ? from_b : 0;
}

/* Copies the kept channels between y and the two operands: forward y <- (a, b); backward
 * da += dy[:from_a], db += dy[from_a:]. */
static void concat_copy(gn_layer_io *io, int backward, int64_t first, int64_t end)
{
    size_t plane = (size_t)io->out.h * io->out.w;
    int from[2] = {io->in[0].c < io->out.c ? io->in[0].c : io->out.c, channels_from_b(io)};
    for (int b = (int)first; b < (int)end; b++) {
        size_t at = (size_t)b * io->out.c * plane;
        for (int k = 0; k < 2; k++) {
            size_t len = (size_t)from[k] * plane;
            size_t src = (size_t)b * io->in[k].c * plane;
            if (!backward)
                memcpy(io->y + at, io->x[k] + src, len * sizeof(float));
            else if (io->dx[k])
                for (size_t i = 0; i < len; i++)
                    io->dx[k][src + i] += io->dy[at + i];
            at += len;
        }
    }
}

static void concat_forward_images(gn_layer_io *io, int64_t first, int64_t end)
{
    concat_copy(io, 0, first, end);
}

static void concat_backward_images(gn_layer_io *io, int64_t first, int64_t end)
{
    concat_copy(io, 1, first, end);
}

static void concat_forward(gn_layer_io *io)
{
    gn_layer_parallel(io, io->n, concat_forward_images);
}

static void concat_backward(gn_layer_io *io)
{
    gn_layer_parallel(io, io->n, concat_backward_images);
}

const gn_layer_kind gn_layer_concat = {
    .name = "concat",
    .shape = concat_shape,
    .forward = concat_forward,
    .backward = concat_backward,
};
