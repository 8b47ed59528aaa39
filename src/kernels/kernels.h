/* Kernels: pure functions over raw pointers and sizes. The *_ref versions are the plain C
 * reference every optimised variant is tested against. All tensors are NCHW, contiguous. */
#ifndef GN_KERNELS_H
#define GN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Geometry of a 2-D convolution or pooling window over one image. */
typedef struct gn_conv_geom {
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int kernel, stride, padding, groups;
} gn_conv_geom;

/* y[n] = conv(x[n], weight) + bias, weight OIHW with I = in_c / groups; bias may be NULL. */
void gn_conv2d_forward_ref(const gn_conv_geom *g, int n, const float *x, const float *weight,
                           const float *bias, float *y);

/* dx += conv_transpose(dy, weight): the gradient w.r.t. the input, accumulated. */
void gn_conv2d_backward_data_ref(const gn_conv_geom *g, int n, const float *dy,
                                 const float *weight, float *dx);
/* dweight += dy (x) x and dbias += sum(dy), accumulated over the batch; dbias may be NULL. */
void gn_conv2d_backward_weight_ref(const gn_conv_geom *g, int n, const float *x, const float *dy,
                                   float *dweight, float *dbias);

#endif
