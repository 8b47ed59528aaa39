/* Fast NCHW 2-D convolution for training: forward, backward data and backward weight for one
 * slice of a batch, single-threaded (callers parallelise over the batch, one call per thread
 * with its own workspace; the calls share no state). Geometry as gn_conv_geom (kernels.h):
 * weight OIHW with I = in_c / groups, out_h = (in_h + 2 * padding - kernel) / stride + 1 (and
 * likewise out_w), which the caller guarantees. Results match gn_conv2d_*_ref to float rounding.
 *
 * Paths, chosen from the geometry:
 *   groups == in_c (depthwise, any channel multiplier out_c / in_c): direct vectorised loops over
 *       zero-padded, stride-deinterleaved copies of each plane; no GEMM.
 *   dense, <= 64 channels in and out, planes of moderate size, stride 1 with kernel > 1 or
 *       stride 2-4 with any kernel (the narrow ResNet/VGG 3x3 layers, their downsampling 3x3
 *       and 1x1 convs; conv_direct.c): direct, im2col-free. Each image is copied once into a
 *       zero-padded buffer (strided: split into phase planes) whose taps are shifted
 *       contiguous rows, so forward and backward data (strided: phase by phase of dX) run a
 *       GEMM microkernel reading B in place, and the weight gradient the same microkernel
 *       over a pixel-major copy of the input; packing im2col would cost as much as these
 *       layers' MACs. Of these, 3x3 stride-1 pad-1 layers with at least 32 channels into the pass
       and even planes run forward and backward data as Winograd F(2x2, 3x3) (conv_winograd.c:
       16 multiplies per 2x2 outputs instead of 36; the weight gradient stays direct).
 *   everything else (dense or grouped, any kernel, stride, padding): GEMM per group with the
 *       batch slice as the N dimension, so small images still make wide products:
 *       forward        Y = W * im2col(X), im2col done while packing (never materialised);
 *                      1x1 stride-1 pad-0 packs the NCHW planes directly.
 *       backward data  stride 1: the forward convolution of dY with the flipped, transposed
 *                      weights, accumulated into dX; other strides: dcol = W^T * dY in
 *                      workspace-sized blocks, then col2im adds it into dX.
 *       backward weight dW += dY * im2col(X)^T, by one of two kernels chosen per layer width:
 *                      narrow layers use a dot-product kernel that reads both factors along
 *                      their contiguous pixel rows (1x1: straight from X; otherwise from im2col
 *                      blocks built in the workspace); wide ones a GEMM with the batch folded
 *                      into K, whose packers transpose both factors.
 *
 * isa selects the kernels (kernels/cpu.h); pass only an ISA the CPU supports (ctx->isa). ISAs
 * the build has no kernels for run the portable ones. Outputs must not alias inputs. No
 * allocation: ws is a caller buffer of at least gn_conv2d_workspace_bytes(isa, g) bytes, any
 * alignment, enough for all three operations and any n; it is scratch only (nothing is kept
 * between calls). Typical sizes: a few KiB for depthwise, 0.1-2.3 MiB for the GEMM paths
 * (bounded by the cache blocks, not by n or the image size). */
#ifndef GN_CONV_H
#define GN_CONV_H

#include "kernels/cpu.h"
#include "kernels/kernels.h"

#include <stddef.h>

size_t gn_conv2d_workspace_bytes(gn_isa isa, const gn_conv_geom *g);

/* A per-channel transform of a convolution's input, applied as the input is read: the
 * convolution sees max(x * scale[c] + shift[c], floor) for input channel c, with the
 * operations of gn_plane_kernels' affine, so the results are the bits of running that affine
 * over x first (a training BN, and its fused ReLU, whose only reader is this convolution:
 * the BN's output is never written). Only convolutions for which gn_conv2d_takes_xform holds
 * accept one. */
typedef struct gn_conv_xform {
    const float *scale, *shift;
    float floor;
} gn_conv_xform;

/* The forward pass and the weight gradient of g can read their input through a gn_conv_xform
 * (the direct path at stride 1). */
int gn_conv2d_takes_xform(const gn_conv_geom *g);

/* y = conv(x, w) (+ bias): y is overwritten (its old contents are never read); bias may be NULL.
 * plane_sums (NULL: none) receives, for image b and output channel c, at [(b * out_c + c) * 2],
 * the sum and the sum of squares of that output plane as gn_plane_kernels_for(isa)->sums
 * computes them (the batch norm's statistics; src/layers/batchnorm.c). The direct path takes
 * them from each image's planes right after writing them, while they are still in cache. */
void gn_conv2d_forward(gn_isa isa, const gn_conv_geom *g, int n, const float *x, const float *w,
                       const float *bias, float *y, void *ws, double *plane_sums);
/* The same with x read through xf (NULL: as gn_conv2d_forward); needs gn_conv2d_takes_xform. */
void gn_conv2d_forward_xf(gn_isa isa, const gn_conv_geom *g, int n, const float *x,
                          const gn_conv_xform *xf, const float *w, const float *bias, float *y,
                          void *ws, double *plane_sums);

/* dx += the gradient w.r.t. the input (accumulates, like gn_conv2d_backward_data_ref). fresh:
 * dx holds garbage and gets 0.0f + the gradient, the bits a zeroed dx would end with. */
void gn_conv2d_backward_data(gn_isa isa, const gn_conv_geom *g, int n, const float *dy,
                             const float *w, float *dx, void *ws, int fresh);

/* dw += gradient w.r.t. the weight, dbias += per-channel sums of dy (both accumulate, over the
 * n images of the slice); dbias may be NULL. */
void gn_conv2d_backward_weight(gn_isa isa, const gn_conv_geom *g, int n, const float *x,
                               const float *dy, float *dw, float *dbias, void *ws);
/* The same with x read through xf (NULL: as gn_conv2d_backward_weight); needs
 * gn_conv2d_takes_xform. */
void gn_conv2d_backward_weight_xf(gn_isa isa, const gn_conv_geom *g, int n, const float *x,
                                  const gn_conv_xform *xf, const float *dy, float *dw,
                                  float *dbias, void *ws);

#endif
