/* Per-channel plane kernels of the training batch norm (src/layers/batchnorm.c), over
 * contiguous runs of count floats (one image's plane of one channel, NCHW). Each ISA computes
 * exactly what the comments below state, in the same order of operations (no fused
 * multiply-add, sums in 16 float lanes), so every ISA gives the same bits and the results do
 * not depend on the machine (tests/test_plane.c checks every ISA against plain C loops). */
#ifndef GN_PLANE_H
#define GN_PLANE_H

#include "kernels/cpu.h"

#include <stddef.h>

typedef struct gn_plane_kernels {
    /* Adds to *sum_x the sum of x[i] and to *sum_xy the sum of x[i] * y[i], i < count: runs of
     * 16 in 16 float lanes (lane l takes i % 16 == l), the rest in double, then the lanes in
     * order 0..15 in double. */
    void (*sums)(const float *x, const float *y, size_t count, double *sum_x, double *sum_xy);
    /* sums(g', x) with g'[i] = g[i] where x[i] * scale + shift > 0 (a multiply, then an add:
     * affine's value before a fused ReLU's floor, so g' is the gradient that ReLU passes back
     * to the batch norm), else 0. Nothing is stored. */
    void (*relu_sums)(const float *x, float scale, float shift, const float *g, size_t count,
                      double *sum_g, double *sum_gx);
    /* y[i] = max(x[i] * scale + shift, floor) (a multiply, then an add). */
    void (*affine)(const float *x, float *y, size_t count, float scale, float shift,
                   float floor);
    /* y[i] = max((x[i] * scale + shift) + r[i], floor): affine's value plus r (a residual),
     * the bits of affine followed by an add (a BN folded into the add that reads it). */
    void (*affine_add)(const float *x, const float *r, float *y, size_t count, float scale,
                       float shift, float floor);
    /* dx[i] += k * ((g[i] - mean_g) - ((x[i] - mean) * invstd) * mean_gxhat): the batch-norm
     * input gradient. fresh: dx holds garbage, and dx[i] = 0.0f + that product is stored (the
     * bits of accumulating into a zeroed buffer, without the pass that zeroes it). */
    void (*bn_dx)(const float *x, const float *g, float *dx, size_t count, float mean,
                  float invstd, float k, float mean_g, float mean_gxhat, int fresh);
    /* bn_dx with relu_sums' g' (from scale and shift) in place of g. */
    void (*bn_relu_dx)(const float *x, const float *g, float *dx, size_t count, float mean,
                       float invstd, float k, float mean_g, float mean_gxhat, float scale,
                       float shift, int fresh);
} gn_plane_kernels;

/* The kernels for isa (the portable ones when this build has none for it). */
const gn_plane_kernels *gn_plane_kernels_for(gn_isa isa);

#endif
