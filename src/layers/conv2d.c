/* conv2d: y = W * x + b, any kernel, stride, padding and groups (depthwise: groups == channels). */
#include "layers/layer.h"
#include "kernels/conv/conv.h"

#include <stdio.h>
#include <string.h>

static gn_conv_geom conv_geometry(const gn_node *node, const gn_shape *in, const gn_shape *out)
{
    const gn_conv_attr *a = &node->attr.conv;
    gn_conv_geom g = {in->c, in->h, in->w, out->c, out->h, out->w,
                      a->kernel, a->stride, a->padding, a->groups};
    return g;
}

static int conv2d_shape(const gn_node *node, const gn_shape *in, gn_shape *out, char *why,
                        size_t why_size)
{
    const gn_conv_attr *a = &node->attr.conv;
    if (in[0].c != a->in_channels) {
        snprintf(why, why_size, "expects %d input channels, got %d", a->in_channels, in[0].c);
        return -1;
    }
    int oh = (in[0].h + 2 * a->padding - a->kernel) / a->stride + 1;
    int ow = (in[0].w + 2 * a->padding - a->kernel) / a->stride + 1;
    if (in[0].h + 2 * a->padding < a->kernel || in[0].w + 2 * a->padding < a->kernel) {
        snprintf(why, why_size, "input %dx%d is smaller than its %dx%d kernel", in[0].h,
                 in[0].w, a->kernel, a->kernel);
        return -1;
    }
    out->c = a->out_channels;
    out->h = oh;
    out->w = ow;
    return 0;
}

static int64_t conv2d_macs(const gn_node *node, const gn_shape *in, const gn_shape *out)
{
    const gn_conv_attr *a = &node->attr.conv;
    return (int64_t)out->c * out->h * out->w * (in[0].c / a->groups) * a->kernel * a->kernel;
}

/* Each thread takes a contiguous slice of the batch with its own scratch: the kernel's
 * workspace, then (backward) a private weight and bias gradient that is added to the
 * parameter's in thread order, so results depend only on the thread count. */
static size_t weight_count(const gn_node *node)
{
    const gn_conv_attr *a = &node->attr.conv;
    return (size_t)a->out_channels * (a->in_channels / a->groups) * a->kernel * a->kernel;
}

static size_t conv2d_scratch(const gn_context *ctx, const gn_node *node, const gn_shape *in,
                             const gn_shape *out)
{
    gn_conv_geom g = conv_geometry(node, &in[0], out);
    size_t workspace = (gn_conv2d_workspace_bytes(ctx->isa, &g) + 63) / 64 * 64;
    return workspace + (weight_count(node) + (size_t)node->attr.conv.out_channels) * sizeof(float);
}

typedef struct conv_job {
    gn_layer_io *io;
    gn_conv_geom g;
    int threads;
    int backward;
} conv_job;

int gn_conv2d_node_takes_xform(const gn_node *node, const gn_shape *in, const gn_shape *out)
{
    gn_conv_geom g = conv_geometry(node, in, out);
    return gn_conv2d_takes_xform(&g);
}

static void conv_slice(void *arg, int64_t begin, int64_t end)
{
    conv_job *job = arg;
    gn_layer_io *io = job->io;
    const gn_conv_geom *g = &job->g;
    gn_isa isa = io->ctx->isa;
    /* a BN's scale and shift applied as x is read (layer.h, bn_into_conv) */
    gn_conv_xform xform = {NULL, NULL, 0.0f};
    const gn_conv_xform *xf = NULL;
    if (io->conv_x_affine) {
        xform.scale = io->conv_x_affine;
        xform.shift = io->conv_x_affine + g->in_c;
        xform.floor = io->conv_x_floor;
        xf = &xform;
    }
    for (int64_t t = begin; t < end; t++) {
        int first = (int)(io->n * t / job->threads), last = (int)(io->n * (t + 1) / job->threads);
        if (first == last)
            continue;
        size_t in_image = (size_t)g->in_c * g->in_h * g->in_w;
        size_t out_image = (size_t)g->out_c * g->out_h * g->out_w;
        char *ws = io->scratch + (size_t)t * io->scratch_stride;
        const float *bias = io->node->attr.conv.bias ? io->params[1]->data : NULL;
        const float *x = io->x[0] + (size_t)first * in_image;
        if (!job->backward) {
            gn_conv2d_forward_xf(isa, g, last - first, x, xf, io->params[0]->data, bias,
                                 io->y + (size_t)first * out_image, ws,
                                 io->plane_sums ? io->plane_sums + (size_t)first * g->out_c * 2
                                                : NULL);
            continue;
        }
        const float *dy = io->dy + (size_t)first * out_image;
        if (io->dx[0])
            gn_conv2d_backward_data(isa, g, last - first, dy, io->params[0]->data,
                                    io->dx[0] + (size_t)first * in_image, ws, io->dx_fresh[0]);
        /* thread 0 accumulates straight into the gradients; the others into private sums */
        float *dw = io->params[0]->grad, *db = bias ? io->params[1]->grad : NULL;
        if (t > 0) {
            size_t workspace = (gn_conv2d_workspace_bytes(isa, g) + 63) / 64 * 64;
            dw = (float *)(ws + workspace);
            db = bias ? dw + weight_count(io->node) : NULL;
            memset(dw, 0, (weight_count(io->node) + (bias ? g->out_c : 0)) * sizeof(float));
        }
        gn_conv2d_backward_weight_xf(isa, g, last - first, x, xf, dy, dw, db, ws);
    }
}

static void conv2d_run(gn_layer_io *io, int backward)
{
    conv_job job = {io, conv_geometry(io->node, &io->in[0], &io->out), io->ctx->threads,
                    backward};
    gn_parallel_for(io->ctx, job.threads, conv_slice, &job);
    if (!backward)
        return;
    size_t workspace = (gn_conv2d_workspace_bytes(io->ctx->isa, &job.g) + 63) / 64 * 64;
    size_t weights = weight_count(io->node);
    int has_bias = io->node->attr.conv.bias;
    for (int t = 1; t < job.threads; t++) {
        if (io->n * t / job.threads == io->n * (t + 1) / job.threads)
            continue; /* that thread had no images */
        const float *partial = (const float *)(io->scratch + (size_t)t * io->scratch_stride +
                                               workspace);
        float *dw = io->params[0]->grad;
        for (size_t i = 0; i < weights; i++)
            dw[i] += partial[i];
        for (int c = 0; has_bias && c < job.g.out_c; c++)
            io->params[1]->grad[c] += partial[weights + c];
    }
}

static void conv2d_forward(gn_layer_io *io)
{
    conv2d_run(io, 0);
}

/* dx += W^T * dy (transposed conv); dW += dy (x) x; db += sum dy. */
static void conv2d_backward(gn_layer_io *io)
{
    conv2d_run(io, 1);
}

const gn_layer_kind gn_layer_conv2d = {
    .name = "conv2d",
    .shape = conv2d_shape,
    .macs = conv2d_macs,
    .scratch_bytes = conv2d_scratch,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .fresh_dx = 1,
};
