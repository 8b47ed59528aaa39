/* Plain C references for the inference kernels: direct loops, double accumulation, bounds
 * checks instead of zero borders. Slow and obviously right; the tests hold every ISA to them. */
#include "kernels/infer/infer.h"

#include <float.h>

float gn_act_ref(gn_act act, float x)
{
    if (act == GN_ACT_RELU)
        return x > 0.0f ? x : 0.0f;
    if (act == GN_ACT_HARD_SIGMOID) {
        float t = x + 3.0f;
        t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
        return t / 6.0f;
    }
    return x;
}

static float *ref_at(gn_view v, int img, int y, int x, int c)
{
    return v.data + img * v.image_stride + y * v.row_stride + x * v.pixel_stride + c;
}

/* The epilogue of infer.h for one value at (img, y, x, c). */
static void ref_finish(const gn_epilogue *ep, gn_view out, int img, int y, int x, int c,
                       float v)
{
    v = gn_act_ref(ep->act, v);
    if (ep->raw.data)
        *ref_at(ep->raw, img, y, x, c) = v;
    if (ep->residual.data)
        v += *ref_at(ep->residual, img, y, x, c);
    *ref_at(out, img, y, x, c) = gn_act_ref(ep->act_after, v);
}

/* Input channel c of pixel (y, x): from the NHWC view, or the dense NCHW batch. */
static float conv_input(const gn_conv_desc *d, int img, int y, int x, int c)
{
    if (d->nchw_input)
        return d->x.data[(((size_t)img * d->in_per_group + c) * d->in_h + y) * d->in_w + x];
    return *ref_at(d->x, img, y, x, c);
}

static double conv_sum(const gn_conv_desc *d, const float *w, int img, int oy, int ox, int o)
{
    int k = d->kernel, cin = d->in_per_group, first = o / d->out_per_group * cin;
    double sum = 0.0;
    for (int ci = 0; ci < cin; ci++) {
        double gate = d->gate ? d->gate[img * d->gate_stride + first + ci] : 1.0;
        for (int ky = 0; ky < k; ky++) {
            int iy = oy * d->stride - d->padding + ky;
            for (int kx = 0; kx < k && iy >= 0 && iy < d->in_h; kx++) {
                int ix = ox * d->stride - d->padding + kx;
                if (ix < 0 || ix >= d->in_w)
                    continue;
                double x = conv_input(d, img, iy, ix, first + ci) * gate;
                sum += x * w[(((size_t)o * cin + ci) * k + ky) * k + kx];
            }
        }
    }
    return sum;
}

void gn_conv_ref(const gn_conv_desc *d, const float *w, const float *scale, const float *bias)
{
    for (int img = 0; img < d->n; img++)
        for (int oy = 0; oy < d->out_h; oy++)
            for (int ox = 0; ox < d->out_w; ox++)
                for (int o = 0; o < d->out_channels; o++) {
                    double v = conv_sum(d, w, img, oy, ox, o) * (scale ? scale[o] : 1.0f);
                    ref_finish(&d->ep, d->y, img, oy, ox, o, (float)(v + (bias ? bias[o] : 0.0f)));
                }
}

void gn_affine_ref(const gn_affine_desc *d)
{
    gn_epilogue ep = {d->act, {0}, d->residual, d->act_after};
    for (int img = 0; img < d->n; img++)
        for (int y = 0; y < d->h; y++)
            for (int x = 0; x < d->w; x++)
                for (int c = 0; c < d->channels; c++) {
                    float v = *ref_at(d->x, img, y, x, c);
                    if (d->scale)
                        v *= d->scale[img * d->scale_image_stride + c];
                    if (d->shift)
                        v += d->shift[c];
                    ref_finish(&ep, d->y, img, y, x, c, v);
                }
}

void gn_global_avgpool_ref(const gn_pool_desc *d)
{
    for (int img = 0; img < d->n; img++)
        for (int c = 0; c < d->channels; c++) {
            double sum = 0.0;
            for (int y = 0; y < d->in_h; y++)
                for (int x = 0; x < d->in_w; x++)
                    sum += *ref_at(d->x, img, y, x, c);
            *ref_at(d->y, img, 0, 0, c) = (float)(sum / ((double)d->in_h * d->in_w));
        }
}

void gn_maxpool_ref(const gn_pool_desc *d)
{
    for (int img = 0; img < d->n; img++)
        for (int oy = 0; oy < d->out_h; oy++)
            for (int ox = 0; ox < d->out_w; ox++)
                for (int c = 0; c < d->channels; c++) {
                    float best = -FLT_MAX;
                    for (int ky = 0; ky < d->kernel; ky++)
                        for (int kx = 0; kx < d->kernel; kx++) {
                            int iy = oy * d->stride - d->padding + ky;
                            int ix = ox * d->stride - d->padding + kx;
                            if (iy >= 0 && iy < d->in_h && ix >= 0 && ix < d->in_w &&
                                *ref_at(d->x, img, iy, ix, c) > best)
                                best = *ref_at(d->x, img, iy, ix, c);
                        }
                    *ref_at(d->y, img, oy, ox, c) = best;
                }
}
