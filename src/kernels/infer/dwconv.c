/* Depthwise convolution over NHWC views (see infer.h): vectorised over channels, one output
 * row per call of the ISA's row kernel. Work units are (channel chunk, image, output row),
 * chunks outermost, so a thread keeps one chunk's weights hot over many rows. */
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

void gn_dw_run(const gn_conv_desc *d, const gn_dw_weights *p, int64_t begin, int64_t end)
{
    int64_t rows = (int64_t)d->n * d->out_h;
    for (int64_t u = begin; u < end; u++) {
        int chunk = (int)(u / rows), img = (int)(u % rows / d->out_h);
        int oy = (int)(u % d->out_h), c0 = chunk * GN_DW_CHUNK;
        int top = oy * d->stride - d->padding;
        gn_dw_row r = {
            .x = row_of(d->x, img, top) - d->padding * d->x.pixel_stride,
            .x_rs = d->x.row_stride,
            .x_ps = d->x.pixel_stride,
            .kernel = d->kernel,
            .stride = d->stride,
            .out_w = d->out_w,
            .c0 = c0,
            .c1 = c0 + GN_DW_CHUNK < d->out_channels ? c0 + GN_DW_CHUNK : d->out_channels,
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
        p->kernels->dw_row(&r);
    }
}
