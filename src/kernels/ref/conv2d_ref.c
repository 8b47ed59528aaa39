/* Reference 2-D convolution (cross-correlation, as PyTorch's Conv2d) and its two gradients, any
 * kernel, stride, padding and groups. All three walk the same (ky, kx, oy, ox) taps; the
 * innermost loop runs over contiguous output columns. */
#include "kernels/kernels.h"

#include <string.h>

/* Output positions [lo, hi) whose input position o*stride - padding + k lies in [0, in_size). */
static void valid_range(int out_size, int in_size, int stride, int padding, int k, int *lo,
                        int *hi)
{
    int first = padding - k; /* need o*stride >= padding - k */
    int a = first <= 0 ? 0 : (first + stride - 1) / stride;
    int last = in_size - 1 + padding - k; /* need o*stride <= last */
    int b = last < 0 ? -1 : last / stride;
    if (b > out_size - 1)
        b = out_size - 1;
    *lo = a;
    *hi = b + 1 > a ? b + 1 : a;
}

typedef enum tap_mode {
    TAP_FORWARD,         /* y[o] += w * x[i]                          */
    TAP_BACKWARD_DATA,   /* dx[i] += w * dy[o]                        */
    TAP_BACKWARD_WEIGHT  /* dw += dy[o] * x[i]                        */
} tap_mode;

/* One input plane against one output plane through one k x k filter. in/out are the x (or dx)
 * and y (or dy) planes; w is the filter (or its gradient for TAP_BACKWARD_WEIGHT). */
static void plane_taps(const gn_conv_geom *g, tap_mode mode, float *in, float *out, float *w)
{
    int k = g->kernel, s = g->stride, p = g->padding;
    for (int ky = 0; ky < k; ky++) {
        int oy_lo, oy_hi;
        valid_range(g->out_h, g->in_h, s, p, ky, &oy_lo, &oy_hi);
        for (int kx = 0; kx < k; kx++) {
            int ox_lo, ox_hi;
            valid_range(g->out_w, g->in_w, s, p, kx, &ox_lo, &ox_hi);
            float wv = w[ky * k + kx], acc = 0.0f;
            for (int oy = oy_lo; oy < oy_hi; oy++) {
                /* input column of output column ox is ox * s + shift (>= 0 for ox >= ox_lo) */
                float *irow = in + (size_t)(oy * s - p + ky) * g->in_w;
                float *orow = out + (size_t)oy * g->out_w;
                int shift = kx - p;
                switch (mode) {
                case TAP_FORWARD:
                    for (int ox = ox_lo; ox < ox_hi; ox++)
                        orow[ox] += wv * irow[ox * s + shift];
                    break;
                case TAP_BACKWARD_DATA:
                    for (int ox = ox_lo; ox < ox_hi; ox++)
                        irow[ox * s + shift] += wv * orow[ox];
                    break;
                case TAP_BACKWARD_WEIGHT:
                    for (int ox = ox_lo; ox < ox_hi; ox++)
                        acc += orow[ox] * irow[ox * s + shift];
                    break;
                }
            }
            if (mode == TAP_BACKWARD_WEIGHT)
                w[ky * k + kx] += acc;
        }
    }
}

/* Runs plane_taps over every (image, output channel, input channel of its group). */
static void conv_planes(const gn_conv_geom *g, int n, tap_mode mode, float *x, float *y,
                        float *w)
{
    int cin_g = g->in_c / g->groups, cout_g = g->out_c / g->groups;
    size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    size_t kk = (size_t)g->kernel * g->kernel;
    for (int b = 0; b < n; b++)
        for (int oc = 0; oc < g->out_c; oc++) {
            int group = oc / cout_g;
            for (int ic = 0; ic < cin_g; ic++) {
                int c = group * cin_g + ic;
                plane_taps(g, mode, x + ((size_t)b * g->in_c + c) * in_plane,
                           y + ((size_t)b * g->out_c + oc) * out_plane,
                           w + ((size_t)oc * cin_g + ic) * kk);
            }
        }
}

void gn_conv2d_forward_ref(const gn_conv_geom *g, int n, const float *x, const float *weight,
                           const float *bias, float *y)
{
    size_t out_plane = (size_t)g->out_h * g->out_w;
    for (int b = 0; b < n; b++)
        for (int oc = 0; oc < g->out_c; oc++) {
            float *yout = y + ((size_t)b * g->out_c + oc) * out_plane;
            float init = bias ? bias[oc] : 0.0f;
            for (size_t i = 0; i < out_plane; i++)
                yout[i] = init;
        }
    /* TAP_FORWARD only reads x and the weights. */
    conv_planes(g, n, TAP_FORWARD, (float *)x, y, (float *)weight);
}

void gn_conv2d_backward_data_ref(const gn_conv_geom *g, int n, const float *dy,
                                 const float *weight, float *dx)
{
    conv_planes(g, n, TAP_BACKWARD_DATA, dx, (float *)dy, (float *)weight);
}

void gn_conv2d_backward_weight_ref(const gn_conv_geom *g, int n, const float *x, const float *dy,
                                   float *dweight, float *dbias)
{
    conv_planes(g, n, TAP_BACKWARD_WEIGHT, (float *)x, (float *)dy, dweight);
    if (!dbias)
        return;
    size_t out_plane = (size_t)g->out_h * g->out_w;
    for (int b = 0; b < n; b++)
        for (int oc = 0; oc < g->out_c; oc++) {
            const float *d = dy + ((size_t)b * g->out_c + oc) * out_plane;
            float sum = 0.0f;
            for (size_t i = 0; i < out_plane; i++)
                sum += d[i];
            dbias[oc] += sum;
        }
}
