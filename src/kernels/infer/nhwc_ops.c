/* Element-wise, pooling and layout drivers over NHWC views (see infer.h). Units are (channel
 * chunk, image, row) for the row kernels and (image, chunk) for the global average pool. */
#include "kernels/infer/infer.h"

#include <string.h>

#define GN_OPS_CHUNK 64 /* channels per unit, a multiple of every vector length */

static int64_t chunks_of(int channels)
{
    return (channels + GN_OPS_CHUNK - 1) / GN_OPS_CHUNK;
}

/* Splits unit u of a (chunk, image, row) grid. */
typedef struct row_unit {
    int img, y, c0, c1;
} row_unit;

static row_unit row_unit_of(int64_t u, int n, int h, int channels)
{
    int64_t rows = (int64_t)n * h;
    row_unit r;
    r.c0 = (int)(u / rows) * GN_OPS_CHUNK;
    r.c1 = r.c0 + GN_OPS_CHUNK < channels ? r.c0 + GN_OPS_CHUNK : channels;
    r.img = (int)(u % rows / h);
    r.y = (int)(u % h);
    return r;
}

static float *row_at(gn_view v, int img, int y)
{
    return v.data ? v.data + img * v.image_stride + y * v.row_stride : NULL;
}

int64_t gn_affine_units(const gn_affine_desc *d)
{
    return chunks_of(d->channels) * d->n * d->h;
}

void gn_affine_run(const gn_infer_kernels *k, const gn_affine_desc *d, int64_t begin,
                   int64_t end)
{
    for (int64_t u = begin; u < end; u++) {
        row_unit ru = row_unit_of(u, d->n, d->h, d->channels);
        gn_affine_row r = {
            .x = row_at(d->x, ru.img, ru.y),
            .x_ps = d->x.pixel_stride,
            .count = d->w,
            .c0 = ru.c0,
            .c1 = ru.c1,
            .scale = d->scale ? d->scale + ru.img * d->scale_image_stride : NULL,
            .shift = d->shift,
            .residual = row_at(d->residual, ru.img, ru.y),
            .residual_ps = d->residual.pixel_stride,
            .y = row_at(d->y, ru.img, ru.y),
            .y_ps = d->y.pixel_stride,
            .act = d->act,
            .act_after = d->act_after,
        };
        k->affine_row(&r);
    }
}

int64_t gn_global_avgpool_units(const gn_pool_desc *d)
{
    return (int64_t)d->n * chunks_of(d->channels);
}

void gn_global_avgpool_run(const gn_infer_kernels *k, const gn_pool_desc *d, int64_t begin,
                           int64_t end)
{
    int64_t per_image = chunks_of(d->channels);
    for (int64_t u = begin; u < end; u++) {
        int img = (int)(u / per_image), c0 = (int)(u % per_image) * GN_OPS_CHUNK;
        int c1 = c0 + GN_OPS_CHUNK < d->channels ? c0 + GN_OPS_CHUNK : d->channels;
        k->global_avgpool(row_at(d->x, img, 0), d->x.row_stride, d->x.pixel_stride, d->in_h,
                          d->in_w, c0, c1, row_at(d->y, img, 0));
    }
}

int64_t gn_maxpool_units(const gn_pool_desc *d)
{
    return chunks_of(d->channels) * d->n * d->out_h;
}

void gn_maxpool_run(const gn_infer_kernels *k, const gn_pool_desc *d, int64_t begin,
                    int64_t end)
{
    for (int64_t u = begin; u < end; u++) {
        row_unit ru = row_unit_of(u, d->n, d->out_h, d->channels);
        gn_maxpool_row r = {
            .x = row_at(d->x, ru.img, 0),
            .x_rs = d->x.row_stride,
            .x_ps = d->x.pixel_stride,
            .in_h = d->in_h,
            .in_w = d->in_w,
            .out_w = d->out_w,
            .oy = ru.y,
            .kernel = d->kernel,
            .stride = d->stride,
            .padding = d->padding,
            .c0 = ru.c0,
            .c1 = ru.c1,
            .y = row_at(d->y, ru.img, ru.y),
            .y_ps = d->y.pixel_stride,
        };
        k->maxpool_row(&r);
    }
}

int64_t gn_layout_units(int n, int h)
{
    return (int64_t)n * h;
}

void gn_nchw_to_nhwc(const float *src, int c, int h, int w, gn_view dst, int64_t begin,
                     int64_t end)
{
    size_t plane = (size_t)h * w;
    for (int64_t u = begin; u < end; u++) {
        int img = (int)(u / h), y = (int)(u % h);
        const float *s = src + (size_t)img * c * plane + (size_t)y * w;
        float *d = row_at(dst, img, y);
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++)
                d[x * dst.pixel_stride + ch] = s[ch * plane + (size_t)x];
    }
}

void gn_nhwc_to_nchw(gn_view src, int c, int h, int w, float *dst, int64_t begin,
                     int64_t end)
{
    size_t plane = (size_t)h * w;
    for (int64_t u = begin; u < end; u++) {
        int img = (int)(u / h), y = (int)(u % h);
        const float *s = row_at(src, img, y);
        float *d = dst + (size_t)img * c * plane + (size_t)y * w;
        for (int ch = 0; ch < c; ch++)
            for (int x = 0; x < w; x++)
                d[ch * plane + (size_t)x] = s[x * src.pixel_stride + ch];
    }
}

/* Zeroes [at, at + floats), joined to the pending run *run (of *len floats) when it starts
 * where that one ends; otherwise the pending run is written and this one becomes it. */
static void zero_run(float **run, size_t *len, float *at, size_t floats)
{
    if (*run && *run + *len == at) {
        *len += floats;
        return;
    }
    if (*run)
        memset(*run, 0, *len * sizeof(float));
    *run = at;
    *len = floats;
}

void gn_view_zero_border(gn_view v, int n, int h, int w, int channels, int pad, int64_t r0,
                         int64_t r1)
{
    /* The pixels of a row lie one after another (channels is the pixel stride), so a pad row is
     * one run, and the right pad of a row with the left pad of the next one another: the runs
     * are joined. A memset per pad pixel (~15-20 ns each) was 5% of Ghost-ResNet-56's 2-thread
     * pass. */
    size_t px = (size_t)channels;
    float *run = NULL;
    size_t len = 0;
    for (int64_t r = r0; r < r1 && r < (int64_t)n * h; r++) {
        int img = (int)(r / h), y = (int)(r % h);
        /* the pad rows above an image go with its first row, those below with its last */
        int from = y == 0 ? -pad : y, to = y == h - 1 ? h + pad : y + 1;
        for (int yy = from; yy < to; yy++) {
            float *row = row_at(v, img, yy);
            if (yy < 0 || yy >= h) {
                zero_run(&run, &len, row - pad * px, (size_t)(w + 2 * pad) * px);
            } else if (pad > 0) {
                zero_run(&run, &len, row - pad * px, (size_t)pad * px);
                zero_run(&run, &len, row + w * px, (size_t)pad * px);
            }
        }
    }
    if (run)
        memset(run, 0, len * sizeof(float));
}
