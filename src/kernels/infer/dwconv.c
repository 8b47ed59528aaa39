/* Depthwise convolution over NHWC views (see infer.h): vectorised over channels, one output
 * row per call of the ISA's row kernel. Work units are (channel chunk, image, output row),
 * chunks outermost, so a thread keeps one chunk's weights hot over many rows. A channel
 * multiplier M > 1 (output channel c reads input channel c / M) copies the unit's input rows
 * into scratch with the channels repeated, then runs the same row kernel. */
#include "kernels/infer/infer.h"

#include <string.h>

/* Channels per unit: a multiple of every ISA's vector length, and small enough that the
 * 7x7 maps late in GhostNet still split into many units. */
#define GN_DW_CHUNK 64

int gn_dw_pack(const gn_infer_kernels *k, const gn_conv_desc *d, const float *w,
               const float *scale, const float *bias, gn_alloc_fn alloc, void *user,
               gn_dw_weights *out)
{
    memset(out, 0, sizeof(*out));
    int taps = d->kernel * d->kernel, channels = d->out_channels;
    out->kernels = k;
    out->channels = channels;
    out->padded = (channels + k->vl - 1) / k->vl * k->vl;
    out->bytes = (size_t)(taps + 1) * out->padded * sizeof(float);
    out->weights = alloc(user, (size_t)taps * out->padded * sizeof(float));
    out->bias = alloc(user, (size_t)out->padded * sizeof(float));
    if (!out->weights || !out->bias)
        return -1;
    for (int c = 0; c < out->padded; c++) {
        int real = c < channels;
        for (int t = 0; t < taps; t++)
            out->weights[(size_t)t * out->padded + c] =
                real ? w[(size_t)c * taps + t] * (scale ? scale[c] : 1.0f) : 0.0f;
        out->bias[c] = real && bias ? bias[c] : 0.0f;
    }
    return 0;
}

static int64_t chunks(const gn_conv_desc *d)
{
    return (d->out_channels + GN_DW_CHUNK - 1) / GN_DW_CHUNK;
}

int64_t gn_dw_units(const gn_conv_desc *d)
{
    return chunks(d) * d->n * d->out_h;
}

static const float *row_of(gn_view v, int img, int y)
{
    return v.data ? v.data + img * v.image_stride + y * v.row_stride : NULL;
}

/* Input columns one output row reads: from the left border to the last tap. */
static int span(const gn_conv_desc *d)
{
    return (d->out_w - 1) * d->stride + d->kernel;
}

size_t gn_dw_scratch(const gn_conv_desc *d)
{
    if (d->out_per_group <= 1)
        return 0;
    return (size_t)d->kernel * (size_t)span(d) * GN_DW_CHUNK * sizeof(float);
}

/* Channel multiplier M > 1: the kernel rows [from, kernel) of one output row, channels
 * [c0, c1), copied to scratch with channel c taken from input channel c / M; a pixel holds
 * `width` floats, c1 - c0 rounded up to the vector length, zero past c1 (the row kernel loads
 * full vectors). The border is part of the span: the view's zero border supplies the padding,
 * as for M == 1. */
static void expand_rows(const gn_dw_weights *p, const gn_conv_desc *d, const float *x, int c0,
                        int c1, int width, int from, float *out)
{
    const int pixels = span(d);
    for (int ky = from; ky < d->kernel; ky++)
        p->kernels->dw_expand(x + (ptrdiff_t)ky * d->x.row_stride, d->x.pixel_stride, pixels,
                              d->out_per_group, c0, c1, width,
                              out + (size_t)ky * pixels * width);
}

void gn_dw_run(const gn_conv_desc *d, const gn_dw_weights *p, int64_t begin, int64_t end,
               void *scratch)
{
    int64_t rows = (int64_t)d->n * d->out_h;
    int expand = d->out_per_group > 1;
    int64_t held = -1; /* the unit whose input rows the scratch holds */
    for (int64_t u = begin; u < end; u++) {
        int chunk = (int)(u / rows), img = (int)(u % rows / d->out_h);
        int oy = (int)(u % d->out_h), c0 = chunk * GN_DW_CHUNK;
        int c1 = c0 + GN_DW_CHUNK < d->out_channels ? c0 + GN_DW_CHUNK : d->out_channels;
        int top = oy * d->stride - d->padding;
        gn_dw_row r = {
            .x = row_of(d->x, img, top) - d->padding * d->x.pixel_stride,
            .x_rs = d->x.row_stride,
            .x_ps = d->x.pixel_stride,
            .kernel = d->kernel,
            .stride = d->stride,
            .out_w = d->out_w,
            .c0 = c0,
            .c1 = c1,
            .w = p->weights,
            .bias = p->bias,
            .w_stride = p->padded,
            .y = (float *)row_of(d->y, img, oy),
            .y_ps = d->y.pixel_stride,
            .residual = row_of(d->ep.residual, img, oy),
            .residual_ps = d->ep.residual.pixel_stride,
            .raw = (float *)row_of(d->ep.raw, img, oy),
            .raw_ps = d->ep.raw.pixel_stride,
            .act = d->ep.act,
            .act_after = d->ep.act_after,
        };
        if (expand) {
            int vl = p->kernels->vl, width = (c1 - c0 + vl - 1) / vl * vl, from = 0;
            size_t row = (size_t)span(d) * width;
            /* The previous unit was the row above in the same chunk and image: its last
             * kernel - stride input rows are this unit's first ones. */
            if (held == u - 1 && oy > 0 && d->stride < d->kernel) {
                from = d->kernel - d->stride;
                memmove(scratch, (float *)scratch + d->stride * row,
                        (size_t)from * row * sizeof(float));
            }
            expand_rows(p, d, r.x, c0, c1, width, from, scratch);
            held = u;
            r.x = scratch;
            r.x_ps = width;
            r.x_rs = (ptrdiff_t)row;
            r.x_c = c0;
        }
        p->kernels->dw_row(&r);
    }
}
