/* conv2d: y = W * x + b, any kernel, stride, padding and groups (depthwise: groups == channels). */
#include "layers/layer.h"
#include "kernels/kernels.h"

#include <stdio.h>

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

static void conv2d_forward(gn_layer_io *io)
{
    gn_conv_geom g = conv_geometry(io->node, &io->in[0], &io->out);
    const float *bias = io->node->attr.conv.bias ? io->params[1]->data : NULL;
    gn_conv2d_forward_ref(&g, io->n, io->x[0], io->params[0]->data, bias, io->y);
}

/* dx += W^T * dy (transposed conv); dW += dy (x) x; db += sum dy. */
static void conv2d_backward(gn_layer_io *io)
{
    gn_conv_geom g = conv_geometry(io->node, &io->in[0], &io->out);
    if (io->dx[0])
        gn_conv2d_backward_data_ref(&g, io->n, io->dy, io->params[0]->data, io->dx[0]);
    float *dbias = io->node->attr.conv.bias ? io->params[1]->grad : NULL;
    gn_conv2d_backward_weight_ref(&g, io->n, io->x[0], io->dy, io->params[0]->grad, dbias);
}

const gn_layer_kind gn_layer_conv2d = {
    .name = "conv2d",
    .shape = conv2d_shape,
    .macs = conv2d_macs,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
};
