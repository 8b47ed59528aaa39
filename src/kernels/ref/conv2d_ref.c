/* Reference 2-D convolution (cross-correlation, as PyTorch's Conv2d), any kernel, stride,
 * padding and groups. Loop order keeps the innermost loop over contiguous output columns. */
#include "kernels/kernels.h"

#include <string.h>

/* Output columns [ow_lo, ow_hi) whose input column ow*stride - padding + kx lies in [0, in_w). */
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

static void accumulate_plane(const gn_conv_geom *g, const float *xin, const float *w, float *yout)
{
    int k = g->kernel, s = g->stride, p = g->padding;
    for (int ky = 0; ky < k; ky++) {
        int oy_lo, oy_hi;
        valid_range(g->out_h, g->in_h, s, p, ky, &oy_lo, &oy_hi);
        for (int kx = 0; kx < k; kx++) {
            float wv = w[ky * k + kx];
            int ox_lo, ox_hi;
            valid_range(g->out_w, g->in_w, s, p, kx, &ox_lo, &ox_hi);
            for (int oy = oy_lo; oy < oy_hi; oy++) {
                const float *xrow = xin + (size_t)(oy * s - p + ky) * g->in_w;
                float *yrow = yout + (size_t)oy * g->out_w;
                for (int ox = ox_lo; ox < ox_hi; ox++)
                    yrow[ox] += wv * xrow[ox * s - p + kx];
            }
        }
    }
}

void gn_conv2d_forward_ref(const gn_conv_geom *g, int n, const float *x, const float *weight,
                           const float *bias, float *y)
{
    int cin_g = g->in_c / g->groups, cout_g = g->out_c / g->groups;
    size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    size_t kk = (size_t)g->kernel * g->kernel;
    for (int b = 0; b < n; b++) {
        for (int oc = 0; oc < g->out_c; oc++) {
            float *yout = y + ((size_t)b * g->out_c + oc) * out_plane;
            float init = bias ? bias[oc] : 0.0f;
            for (size_t i = 0; i < out_plane; i++)
                yout[i] = init;
            int group = oc / cout_g;
            for (int ic = 0; ic < cin_g; ic++) {
                int c = group * cin_g + ic;
                const float *xin = x + ((size_t)b * g->in_c + c) * in_plane;
                const float *w = weight + ((size_t)oc * cin_g + ic) * kk;
                accumulate_plane(g, xin, w, yout);
            }
        }
    }
}
