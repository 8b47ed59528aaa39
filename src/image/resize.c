/* PIL's bilinear resize (Pillow's libImaging/Resample.c algorithm, reimplemented): for each output
 * pixel a triangle filter centred on it, of radius one input pixel, or one output pixel's
 * footprint when shrinking (which is what antialiases); weights normalised to sum 1, turned into
 * 22-bit fixed point, and the sum rounded and clamped to 8 bits after each pass. The horizontal
 * pass runs first, over only the rows the vertical pass reads. */
#include "image/image.h"

#include <math.h>
#include <string.h>

#define PRECISION_BITS 22 /* 32 - 8 - 2: 8 bits of result, 2 of headroom */

/* Filter taps of a run of output positions along one axis. */
typedef struct taps {
    int ksize;       /* taps per output position (the widest filter)                 */
    int *first;      /* first input index of each output position                     */
    int *count;      /* taps used by each output position (<= ksize)                  */
    int32_t *weight; /* ksize fixed-point weights per output position                 */
} taps;

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void free_taps(gn_context *ctx, taps *t)
{
    gn_free(ctx, t->first);
    gn_free(ctx, t->count);
    gn_free(ctx, t->weight);
}

/* The taps of output positions [begin, begin + n) when in_size pixels become out_size. */
static gn_status compute_taps(gn_context *ctx, int in_size, int out_size, int begin, int n,
                              taps *t)
{
    double scale = (double)in_size / out_size;
    double filter_scale = scale < 1.0 ? 1.0 : scale;
    double support = filter_scale, inverse = 1.0 / filter_scale; /* triangle radius 1 */
    t->ksize = (int)ceil(support) * 2 + 1;
    t->first = gn_alloc(ctx, (size_t)n * sizeof(int));
    t->count = gn_alloc(ctx, (size_t)n * sizeof(int));
    t->weight = gn_alloc(ctx, (size_t)n * (size_t)t->ksize * sizeof(int32_t));
    double *w = gn_alloc(ctx, (size_t)t->ksize * sizeof(double));
    if (!t->first || !t->count || !t->weight || !w) {
        gn_free(ctx, w);
        free_taps(ctx, t);
        return gn_fail(ctx, GN_ERR_NOMEM, "out of memory for resize filters (%d taps)", t->ksize);
    }
    for (int i = 0; i < n; i++) {
        double center = (begin + i + 0.5) * scale;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > in_size)
            hi = in_size;
        double sum = 0.0;
        for (int k = 0; k < hi - lo; k++) {
            w[k] = triangle((k + lo - center + 0.5) * inverse); /* PIL multiplies: same bits */
            sum += w[k];
        }
        int32_t *fixed = t->weight + (size_t)i * (size_t)t->ksize;
        for (int k = 0; k < t->ksize; k++) {
            double v = k < hi - lo && sum != 0.0 ? w[k] / sum : 0.0;
            fixed[k] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
                                       : 0.5 + v * (1 << PRECISION_BITS));
        }
        t->first[i] = lo;
        t->count[i] = hi - lo;
    }
    gn_free(ctx, w);
    return GN_OK;
}

static uint8_t clamp8(int32_t sum)
{
    if (sum <= 0)
        return 0;
    sum >>= PRECISION_BITS;
    return (uint8_t)(sum > 255 ? 255 : sum);
}

/* out row r (r in [0, rows)) = in row (row0 + r) filtered along x by h. */
static void horizontal_pass(const gn_image *in, int row0, int rows, const taps *h, int out_w,
                            uint8_t *out)
{
    int c = in->channels;
    size_t in_stride = (size_t)in->width * (size_t)c, out_stride = (size_t)out_w * (size_t)c;
    for (int r = 0; r < rows; r++) {
        const uint8_t *src = in->pixels + (size_t)(row0 + r) * in_stride;
        uint8_t *dst = out + (size_t)r * out_stride;
        for (int x = 0; x < out_w; x++) {
            const int32_t *k = h->weight + (size_t)x * (size_t)h->ksize;
            const uint8_t *p = src + (size_t)h->first[x] * (size_t)c;
            for (int ch = 0; ch < c; ch++) {
                int32_t sum = 1 << (PRECISION_BITS - 1);
                for (int j = 0; j < h->count[x]; j++)
                    sum += p[(size_t)j * (size_t)c + (size_t)ch] * k[j];
                dst[(size_t)x * (size_t)c + (size_t)ch] = clamp8(sum);
            }
        }
    }
}

/* out row y = rows of tmp (whose first row is input row row0) filtered along y by v. */
static void vertical_pass(const uint8_t *tmp, int row0, int width, int channels, const taps *v,
                          int out_h, uint8_t *out)
{
    size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < out_h; y++) {
        const int32_t *k = v->weight + (size_t)y * (size_t)v->ksize;
        const uint8_t *src = tmp + (size_t)(v->first[y] - row0) * stride;
        uint8_t *dst = out + (size_t)y * stride;
        for (size_t i = 0; i < stride; i++) {
            int32_t sum = 1 << (PRECISION_BITS - 1);
            for (int j = 0; j < v->count[y]; j++)
                sum += src[(size_t)j * stride + i] * k[j];
            dst[i] = clamp8(sum);
        }
    }
}

gn_status gn_image_resize_window(gn_context *ctx, const gn_image *in, int width, int height,
                                 int left, int top, int out_w, int out_h, gn_image *out)
{
    memset(out, 0, sizeof(*out));
    if (width < 1 || height < 1 || width > GN_IMAGE_MAX_SIDE || height > GN_IMAGE_MAX_SIDE ||
        left < 0 || top < 0 || out_w < 1 || out_h < 1 || out_w > width - left ||
        out_h > height - top)
        return gn_fail(ctx, GN_ERR_ARGUMENT,
                       "resize: window %dx%d at (%d, %d) is not inside a %dx%d image", out_w,
                       out_h, left, top, width, height);
    taps h = {0}, v = {0};
    gn_status st = compute_taps(ctx, in->width, width, left, out_w, &h);
    if (st != GN_OK)
        return st;
    st = compute_taps(ctx, in->height, height, top, out_h, &v);
    if (st != GN_OK) {
        free_taps(ctx, &h);
        return st;
    }
    int row0 = v.first[0], rows = v.first[out_h - 1] + v.count[out_h - 1] - row0;
    uint8_t *tmp = gn_alloc(ctx, (size_t)rows * (size_t)out_w * (size_t)in->channels);
    if (!tmp)
        st = gn_fail(ctx, GN_ERR_NOMEM, "resize: out of memory for %dx%d pixels", out_w, rows);
    if (st == GN_OK)
        st = gn_image_alloc(ctx, "resize", out_w, out_h, in->channels, out);
    if (st == GN_OK) {
        horizontal_pass(in, row0, rows, &h, out_w, tmp);
        vertical_pass(tmp, row0, out_w, in->channels, &v, out_h, out->pixels);
    }
    gn_free(ctx, tmp);
    free_taps(ctx, &h);
    free_taps(ctx, &v);
    return st;
}

gn_status gn_image_resize(gn_context *ctx, const gn_image *in, int width, int height,
                          gn_image *out)
{
    return gn_image_resize_window(ctx, in, width, height, 0, 0, width, height, out);
}
