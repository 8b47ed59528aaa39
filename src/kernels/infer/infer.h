/* Inference kernels over NHWC activations, the layout of the compiled plan (src/plan).
 *
 * Why NHWC: GhostNet is mostly 1x1 convolutions and depthwise convolutions. With channels
 * innermost a 1x1 convolution is a GEMM whose rows are pixels (no packing of the activations),
 * a depthwise convolution vectorises over channels with its taps as plain offsets, and a
 * channel slice of a tensor is a view (pointer + strides): the Ghost module's concatenation
 * (paper Sec. 3.1) costs nothing, because the primary convolution and the cheap operation
 * write their channels of one buffer.
 *
 * Views may start inside a buffer that carries a zero border: kernels read pixels at rows and
 * columns in [-padding, size + padding) without bounds checks, so every tap is a plain load.
 *
 * Each family has a driver here (ISA-independent: tiling, pointers, epilogue wiring) and
 * per-ISA inner kernels in a table (infer_body.h, compiled once per ISA), plus a plain C
 * reference (infer_ref.c) that tests compare every ISA against. Work is cut into units (tiles
 * of rows, pixels and channels) so that threads take contiguous unit ranges; every function is
 * safe to call concurrently on disjoint unit ranges. */
#ifndef GN_INFER_H
#define GN_INFER_H

#include "kernels/cpu.h"

#include <stddef.h>
#include <stdint.h>

/* Activations the kernels apply in their epilogue. hard_sigmoid(x) = relu6(x + 3) / 6. */
typedef enum gn_act { GN_ACT_NONE = 0, GN_ACT_RELU, GN_ACT_HARD_SIGMOID } gn_act;

/* Element (image b, row y, column x, channel c) is data[b * image_stride + y * row_stride +
 * x * pixel_stride + c]; strides in floats. */
typedef struct gn_view {
    float *data;
    ptrdiff_t image_stride, row_stride, pixel_stride;
} gn_view;

/* What a kernel does to its result v = sum + bias before storing it, in this order:
 *   v = act(v); raw <- v (if raw.data); v += residual (if residual.data); y <- act_after(v).
 * raw keeps the value before the residual for a consumer that needs it (a Ghost module whose
 * primary output feeds the cheap operation while its sum with the shortcut is the result). */
typedef struct gn_epilogue {
    gn_act act;
    gn_view raw;
    gn_view residual;
    gn_act act_after;
} gn_epilogue;

/* ---- the per-ISA inner kernels ------------------------------------------------------------ */

#define GN_NV_LIMIT 8     /* most vectors a GEMM tile spans along the output channels       */
#define GN_TILE_ROWS 16   /* most rows (output pixels) of a GEMM tile, over every ISA        */

/* One GEMM tile: rows i < mr (output pixels), columns j < nr (output channels of a panel):
 *   y[i][j] = epilogue(sum over taps t, k < kc of a[i][tap_offset[t] + k]
 *                                                  * b[(t * kc + k) * w + j] + bias[j])
 * with w = nv * vl the panel width: a[i] points at row i's top-left tap, and because views
 * carry a zero border every tap is the same offset from it in every row. residual and raw
 * are NULL or mr row pointers. */
typedef struct gn_tile {
    int mr, nr, taps, kc;
    const float *const *a;
    const ptrdiff_t *tap_offset;
    /* k-grouped tiles (paired, quads) with kc a multiple of the group: the whole reduction as
     * one run of taps * kc / group steps, step s reading its input group at
     * a[i] + step_offset[s] (NULL: per tap, as above; always set for quads) */
    const ptrdiff_t *step_offset;
    /* quads: nonzero when row i's input is a[i - i % 4] + (i % 4) * row_step (rows at one
     * pixel stride within each group of four), so the tile keeps a pointer per group */
    ptrdiff_t row_step;
    const float *b;
    const float *bias;
    float *const *y;
    const float *const *residual;
    float *const *raw;
    gn_act act, act_after;
} gn_tile;

/* One output row of a depthwise convolution (channel multiplier 1), channels [c0, c1):
 *   y[x][c] = epilogue(bias[c] + sum over ky, kx of x[ky * x_rs + (x * stride + kx) * x_ps
 *                                                     + c - x_c]
 *                                                  * w[(ky * kernel + kx) * w_stride + c])
 * x points at the top-left tap of output column 0 (inside the zero border when padded); x_c is
 * the channel x's first float holds (0 for a tensor view, c0 for an expanded scratch copy). */
typedef struct gn_dw_row {
    const float *x;
    ptrdiff_t x_rs, x_ps, x_c;
    int kernel, stride, out_w, c0, c1;
    const float *w, *bias;
    ptrdiff_t w_stride;
    float *y;
    ptrdiff_t y_ps;
    const float *residual;
    ptrdiff_t residual_ps;
    float *raw;
    ptrdiff_t raw_ps;
    gn_act act, act_after;
} gn_dw_row;

/* One output row of a convolution that reads an NCHW image (the network's input) directly:
 * columns [x0, x1) of output row oy, the nr output channels of one packed panel (nv vectors,
 * rows (tap, channel) as gn_conv_pack lays them out). Taps outside the image count as zero; a
 * caller passes the columns whose taps all fall inside (checked 0) apart from the others. */
typedef struct gn_nchw_row {
    const float *x;              /* the image's channel 0, pixel (0, 0)                       */
    ptrdiff_t plane, x_rs;       /* floats between channels, between rows                     */
    const ptrdiff_t *tap_offset; /* per packed row (tap, channel): ky * x_rs + kx + c * plane */
    int in_h, in_w, channels, kernel, stride, padding, oy, x0, x1, checked;
    const float *b, *bias;
    int nv, nr;
    float *y;                    /* output row, at the panel's first channel                  */
    ptrdiff_t y_ps;
    const float *residual;
    ptrdiff_t residual_ps;
    float *raw;
    ptrdiff_t raw_ps;
    gn_act act, act_after;
} gn_nchw_row;

/* One row of count pixels, channels [c0, c1): y = act_after(act(x * scale + shift) + residual),
 * scale and shift per channel (NULL: 1 and 0), residual optional (NULL). */
typedef struct gn_affine_row {
    const float *x;
    ptrdiff_t x_ps;
    int count, c0, c1;
    const float *scale, *shift;
    const float *residual;
    ptrdiff_t residual_ps;
    float *y;
    ptrdiff_t y_ps;
    gn_act act, act_after;
} gn_affine_row;

/* One output row of a max pool (padding never wins: it counts as -infinity). x points at the
 * image's pixel (0, 0); rows and columns outside [0, in_h) x [0, in_w) are skipped. */
typedef struct gn_maxpool_row {
    const float *x;
    ptrdiff_t x_rs, x_ps;
    int in_h, in_w, out_w, oy, kernel, stride, padding, c0, c1;
    float *y;
    ptrdiff_t y_ps;
} gn_maxpool_row;

typedef struct gn_infer_kernels {
    gn_isa isa;
    int vl;                        /* floats per vector                                        */
    int nv_max;                    /* widest GEMM panel, in vectors                            */
    int mr[GN_NV_LIMIT + 1];       /* tile rows for a panel of nv vectors                      */
    void (*gemm_tile[GN_NV_LIMIT + 1])(const gn_tile *t);
    /* The same, prefetching the panel ahead of its reads: for weights too big to stay in a
     * core's cache between passes (gn_conv_weights.stream). */
    void (*gemm_tile_stream[GN_NV_LIMIT + 1])(const gn_tile *t);
    /* The same for panels of at most vl / 2 columns packed k-paired (gn_conv_pack), or NULL:
     * lanes 2j and 2j + 1 hold column j for even and odd k (infer_body.h). */
    void (*gemm_tile_paired)(const gn_tile *t);
    /* The same for panels of at most vl columns packed in k-quads (AVX-512): lanes 4j to
     * 4j + 3 of vector v hold column 4v + j for input channels 4q..4q + 3 (a 128-bit
     * broadcast of a row's inputs feeds 4 columns); index nv = 1 to 4 (NULL: none). */
    void (*gemm_tile_quad[5])(const gn_tile *t);
    int mr_quad[5];
    void (*nchw_row)(const gn_nchw_row *r);
    void (*dw_row)(const gn_dw_row *r);
    /* Channel multiplier m: for each of the pixels (src_ps floats apart in src, width floats
     * apart in out), out[c - c0] = src[c / m] for c in [c0, c1), 0 for c in [c1, c0 + width). */
    void (*dw_expand)(const float *src, ptrdiff_t src_ps, int pixels, int m, int c0, int c1,
                      int width, float *out);
    void (*affine_row)(const gn_affine_row *r);
    void (*maxpool_row)(const gn_maxpool_row *r);
    /* y[c] = mean over the h x w pixels of x (x_rs, x_ps strides) of channel c, c in [c0, c1). */
    void (*global_avgpool)(const float *x, ptrdiff_t x_rs, ptrdiff_t x_ps, int h, int w, int c0,
                           int c1, float *y);
} gn_infer_kernels;

/* The kernels for isa (an ISA this build has no kernels for gets the portable ones). */
const gn_infer_kernels *gn_infer_kernels_for(gn_isa isa);

/* ---- convolution (dense, grouped or depthwise), as a GEMM over pixels ---------------------- */

/* A convolution over NHWC views. Output channel o of group g = o / out_per_group reads input
 * channels [g * in_per_group, (g + 1) * in_per_group). Only the first out_channels outputs are
 * computed (a Ghost module keeps the first `out` of its concatenation). x and y views point at
 * pixel (0, 0) of image 0; x needs a zero border of `padding` pixels. gate (NULL or n x
 * gate_stride floats) scales input channel c of image b by gate[b * gate_stride + c]: the
 * squeeze-excite multiply folded into the weights, image by image.
 * nchw_input: x.data is instead a dense NCHW batch without border (the network's input, read
 * where it lies: no layout conversion); groups must be 1 and there is no gate. */
typedef struct gn_conv_desc {
    int n, in_h, in_w, out_h, out_w;
    int kernel, stride, padding;
    int groups, in_per_group, out_per_group, out_channels;
    gn_view x, y;
    gn_epilogue ep;
    const float *gate;
    ptrdiff_t gate_stride;
    int nchw_input;
} gn_conv_desc;

/* Weights packed for the GEMM path: per group, panels of nr = nv * vl output channels; in a
 * panel, row (tap, input channel) holds its panel-width floats. The last panel of a group may
 * be narrower (last_nv vectors). Groups of at most vl / 2 outputs are packed k-grouped when the
 * ISA has the tile: one panel whose row (tap, q) interleaves input channels kgroup * q ..
 * kgroup * q + kgroup - 1 per column, 4 (quads) when the channels come in fours, else 2. */
typedef struct gn_conv_weights {
    const gn_infer_kernels *kernels;
    int kgroup; /* input channels per column in a lane group: 1, 2 (k-paired) or 4 (k-quads) */
    int nv, last_nv, mr, panels;   /* panels per group                                         */
    int stream;                    /* big weights: gemm_tile_stream (conv_gemm.c)              */
    size_t panel_floats;           /* floats of a full panel                                   */
    size_t group_floats;
    float *weights;                /* groups * group_floats                                    */
    float *bias;                   /* groups * panels * nv * vl, zero-padded                   */
    size_t bytes;
} gn_conv_weights;

/* Packs OIHW weights w (out x in_per_group x k x k, over every group) with y = (w * x) * scale
 * + bias per output channel (scale and bias NULL: 1 and 0): batch norm folded in. Allocation
 * through alloc (64-byte aligned, freed by the caller with the matching free); returns 0, or -1
 * if it failed. */
typedef void *(*gn_alloc_fn)(void *user, size_t bytes);
int gn_conv_pack(const gn_infer_kernels *k, const gn_conv_desc *d, const float *w,
                 const float *scale, const float *bias, gn_alloc_fn alloc, void *user,
                 gn_conv_weights *out);

/* Work units of the GEMM path, and bytes of per-thread scratch for a kernel x kernel
 * convolution with those weights (gated: with a squeeze-excite gate). */
int64_t gn_conv_gemm_units(const gn_conv_desc *d, const gn_conv_weights *p);
/* Units are [outer][inner] with the inner index spatial (output rows, images outermost): the
 * count of inner units. Threads split every outer block by the same fraction of its inner
 * units, so each keeps to one band of the image from step to step. */
int64_t gn_conv_gemm_inner(const gn_conv_desc *d, const gn_conv_weights *p);
size_t gn_conv_gemm_scratch(const gn_conv_weights *p, int kernel, int gated);
/* Runs units [begin, end); scratch: gn_conv_gemm_scratch bytes, 64-byte aligned. */
void gn_conv_gemm_run(const gn_conv_desc *d, const gn_conv_weights *p, int64_t begin,
                      int64_t end, void *scratch);

/* ---- depthwise convolution (groups == in channels; out = M * in, channel multiplier M) ------ */

typedef struct gn_dw_weights {
    const gn_infer_kernels *kernels;
    int channels, padded;          /* padded: channels rounded up to the vector length         */
    float *weights;                /* k * k rows of padded floats                              */
    float *bias;                   /* padded floats                                            */
    size_t bytes;
} gn_dw_weights;

/* For a depthwise d (in_per_group == 1, out_per_group == M >= 1: output channel c reads input
 * channel c / M, as in the Ghost module's cheap operation with ratio s = M + 1); only the
 * first out_channels are packed. */
int gn_dw_pack(const gn_infer_kernels *k, const gn_conv_desc *d, const float *w,
               const float *scale, const float *bias, gn_alloc_fn alloc, void *user,
               gn_dw_weights *out);
int64_t gn_dw_units(const gn_conv_desc *d);
/* Bytes of per-thread scratch: 0 for M == 1; for M > 1 a unit first copies the kernel rows it
 * reads into scratch with every input channel repeated M times, then runs the M == 1 kernel. */
size_t gn_dw_scratch(const gn_conv_desc *d);
/* Runs units [begin, end); scratch: gn_dw_scratch bytes, 64-byte aligned (NULL when 0). */
void gn_dw_run(const gn_conv_desc *d, const gn_dw_weights *p, int64_t begin, int64_t end,
               void *scratch);

/* ---- element-wise, pooling, layout --------------------------------------------------------- */

/* y = act_after(act(x * scale + shift) + residual) over n images of h x w x channels; scale has
 * scale_image_stride floats per image (0: one vector for all images; the squeeze-excite gate
 * is per image). scale, shift, residual.data may be NULL. */
typedef struct gn_affine_desc {
    int n, h, w, channels;
    gn_view x, y, residual;
    const float *scale, *shift;
    ptrdiff_t scale_image_stride;
    gn_act act, act_after;
} gn_affine_desc;

int64_t gn_affine_units(const gn_affine_desc *d);
void gn_affine_run(const gn_infer_kernels *k, const gn_affine_desc *d, int64_t begin,
                   int64_t end);

typedef struct gn_pool_desc {
    int n, in_h, in_w, out_h, out_w, channels;
    int kernel, stride, padding; /* max pool only                                              */
    gn_view x, y;                /* global average: y is n x channels, y.image_stride apart    */
} gn_pool_desc;

int64_t gn_global_avgpool_units(const gn_pool_desc *d);
void gn_global_avgpool_run(const gn_infer_kernels *k, const gn_pool_desc *d, int64_t begin,
                           int64_t end);
int64_t gn_maxpool_units(const gn_pool_desc *d);
void gn_maxpool_run(const gn_infer_kernels *k, const gn_pool_desc *d, int64_t begin,
                    int64_t end);

/* NCHW (dense, the API's layout) <-> an NHWC view, for images of h x w x c; the units are the
 * n * h rows (gn_layout_units). */
int64_t gn_layout_units(int n, int h);
void gn_nchw_to_nhwc(const float *src, int c, int h, int w, gn_view dst, int64_t begin,
                     int64_t end);
void gn_nhwc_to_nchw(gn_view src, int c, int h, int w, float *dst, int64_t begin, int64_t end);

/* Zeroes the border of width pad around each h x w image of a view with `channels` floats per
 * pixel (the pixel stride): the padding the convolutions read. Only the part beside rows
 * [r0, r1) of the n * h rows (images outermost): their left and right pads, and the pad rows
 * above an image with its first row and below it with its last; [0, n * h) is all of it. A
 * thread zeroes the border beside its own band, so no cache line is written by two cores. */
void gn_view_zero_border(gn_view v, int n, int h, int w, int channels, int pad, int64_t r0,
                         int64_t r1);

/* ---- plain C references (double accumulation), what the tests compare against -------------- */

/* The convolution of d with OIHW weights, per-channel scale and bias (NULL: 1 and 0) and the
 * epilogue; x reads outside the image count as zero (no border needed). */
void gn_conv_ref(const gn_conv_desc *d, const float *w, const float *scale, const float *bias);
void gn_affine_ref(const gn_affine_desc *d);
void gn_global_avgpool_ref(const gn_pool_desc *d);
void gn_maxpool_ref(const gn_pool_desc *d);
float gn_act_ref(gn_act act, float x);

#endif
