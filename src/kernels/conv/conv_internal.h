/* Pieces shared by the convolution paths: im2col views (packers for the GEMM engine), col2im,
 * and the depthwise kernel tables. */
#ifndef GN_CONV_INTERNAL_H
#define GN_CONV_INTERNAL_H

#include "kernels/conv/conv.h"
#include "kernels/gemm/gemm_engine.h"
#include "kernels/plane/plane.h"

#include <stddef.h>

/* A batch of NCHW images seen as the im2col matrix of a convolution: row r = (c, ky, kx) for
 * channels counted from x, column j = (image, oy, ox) counted from column j0. A 1x1 stride-1
 * pad-0 view is flattened to one row per plane, so its runs are whole planes. */
typedef struct gn_im2col {
    gn_gemm_src src; /* first member: the packer casts back */
    const float *x;  /* image 0, first channel of the view */
    ptrdiff_t img_stride, j0;
    int in_h, in_w, out_h, out_w, k, stride, pad;
} gn_im2col;

gn_im2col gn_im2col_view(const float *x, ptrdiff_t img_stride, int in_h, int in_w, int out_h,
                         int out_w, int k, int stride, int pad);

/* dst[(r - r0) * ld + (j - j0)] = im2col(r, j) for r in [r0, r0 + rows), j in [j0, j0 + cols). */
void gn_im2col_rows(const gn_im2col *v, int r0, int rows, ptrdiff_t j0, int cols, float *dst,
                    ptrdiff_t ld);
/* The inverse scatter: dx (laid out as v->x) += src placed like gn_im2col_rows' dst. */
void gn_col2im_add(const gn_im2col *v, float *dx, int r0, int rows, ptrdiff_t j0, int cols,
                   const float *src, ptrdiff_t ld);

/* The A operand of a stride-1 backward data pass: A(ic, (oc, ky, kx)) =
 * w[oc][ic][k-1-ky][k-1-kx] for the weights w of one group (cout_g x cin_g x k x k). */
typedef struct gn_flip_src {
    gn_gemm_src src;
    const float *w;
    int cin_g, k;
} gn_flip_src;
gn_flip_src gn_flip_view(const float *w, int cin_g, int k);

/* NCHW planes as a GEMM operand with the batch folded into K: element (plane i, pixel p) is
 * plane i of image p / hw at pixel p % hw. As A (as_b = 0) it is the planes x pixels matrix;
 * as B (as_b = 1) its transpose, pixels x planes. Packing transposes. */
typedef struct gn_planes_t {
    gn_gemm_src src;
    const float *x;
    ptrdiff_t hw, img_stride;
} gn_planes_t;
gn_planes_t gn_planes_t_view(const float *x, ptrdiff_t hw, ptrdiff_t img_stride, int as_b);

/* im2col(X)^T as a B operand (pixels x taps); packing goes through tmp, which must hold
 * kc * nr floats of the GEMM kernels in use. */
typedef struct gn_im2col_t {
    gn_gemm_src src;
    gn_im2col cols;
    float *tmp;
} gn_im2col_t;
gn_im2col_t gn_im2col_t_view(gn_im2col cols, float *tmp);

/* ---- per-ISA row kernels of the direct and Winograd paths ---- */

/* How a pass stores its results: y = conv, y += conv, or y = 0.0f + conv (the bits y += conv
 * gives on a zeroed y, over garbage). */
typedef enum gn_store_mode { GN_STORE_COPY, GN_STORE_ADD, GN_STORE_FRESH } gn_store_mode;

/* Per ISA (wino_kernels.h): the Winograd transforms, which take counts that are whole vectors
 * (conv_winograd.c passes multiples of the same ISA's GEMM NR), and the row store of both the
 * Winograd and the direct path (any count). */
typedef struct gn_wino_kernels {
    /* even[r * ers + t] = f(x[r * xrs + 2t]), t < (count + 1) / 2, and odd[r * ers + t] =
     * f(x[r * xrs + 2t + 1]), t < count / 2, for r < rows; f is max(v * scale + shift, floor)
     * (the plane kernels' affine, same bits) when affine, else the identity */
    void (*split)(const float *x, ptrdiff_t xrs, int rows, int count, int affine, float scale,
                  float shift, float floor, float *even, float *odd, ptrdiff_t ers);
    /* v[(a * 4 + b) * vs + q] = (B^T d B)[a][b], q < count, for the tile
     * d[i][j] = ph[(i % 2) * 2 + j % 2][(i / 2) * wp + j / 2 + q] */
    void (*input)(const float *const ph[4], ptrdiff_t wp, size_t count, float *v, ptrdiff_t vs);
    /* y[r * ys + 2 * q + c] = (A^T M A)[r][c], q < count, M[a][b] at m[(a * 4 + b) * ms + q] */
    void (*output)(const float *m, ptrdiff_t ms, size_t count, float *y, ptrdiff_t ys);
    /* dst[r * drs + j] (=, +=, or = 0.0f +) src[r * srs + j], r < rows, j < count */
    void (*store)(float *dst, ptrdiff_t drs, const float *src, ptrdiff_t srs, int rows, int count,
                  gn_store_mode store);
} gn_wino_kernels;

extern const gn_wino_kernels gn_wino_kernels_portable;
extern const gn_wino_kernels gn_wino_kernels_avx2;
extern const gn_wino_kernels gn_wino_kernels_avx512;

/* ---- direct (im2col-free) path: dense, stride 1, kernel > 1, <= 64 channels (conv_direct.c) ---- */

int gn_direct_applies(const gn_conv_geom *g);
size_t gn_direct_workspace(const gn_gemm_kernels *kr, const gn_conv_geom *g);
/* plane_sums as gn_conv2d_forward's (NULL: none), with pk's sums; xf (NULL: none, else only
 * at stride 1) applied with pk's affine as the input is copied in. Results go from the grid
 * to their rows by wk's store (the same ISA's). */
void gn_direct_forward(const gn_gemm_kernels *kr, const gn_wino_kernels *wk,
                       const gn_conv_geom *g, int n, const float *x, const gn_conv_xform *xf,
                       const float *w, float *y, void *ws, const gn_plane_kernels *pk,
                       double *plane_sums);
void gn_direct_backward_data(const gn_gemm_kernels *kr, const gn_wino_kernels *wk,
                             const gn_conv_geom *g, int n, const float *dy, const float *w,
                             float *dx, void *ws, int fresh);
/* xf as gn_direct_forward's, with pk's affine (pk may be NULL when xf is). */
void gn_direct_backward_weight(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n,
                               const float *x, const gn_conv_xform *xf, const float *dy,
                               float *dw, void *ws, const gn_plane_kernels *pk);

/* ---- Winograd F(2x2, 3x3): dense 3x3 stride-1 pad-1 forward and backward data
 * (conv_winograd.c) ---- */

/* The forward pass (backward 0) or the backward-data pass (backward 1) of g runs as Winograd:
 * only where the direct path applies, whose weight gradient stays alongside. */
int gn_wino_applies(const gn_conv_geom *g, int backward);
size_t gn_wino_workspace(const gn_gemm_kernels *kr, const gn_conv_geom *g);
/* As gn_direct_forward (xf at stride 1, plane_sums with pk's sums). */
void gn_wino_forward(const gn_gemm_kernels *kr, const gn_wino_kernels *wk, const gn_conv_geom *g,
                     int n, const float *x, const gn_conv_xform *xf, const float *w, float *y,
                     void *ws, const gn_plane_kernels *pk, double *plane_sums);
/* As gn_direct_backward_data. */
void gn_wino_backward_data(const gn_gemm_kernels *kr, const gn_wino_kernels *wk,
                           const gn_conv_geom *g, int n, const float *dy, const float *w,
                           float *dx, void *ws, int fresh);

/* ---- depthwise ---- */

/* A zero-padded input plane split by column phase: padded column u = t * s + f is element t of
 * row r in phase plane f, at ph + f * phase_size + r * qw + t. Tap (ky, kx) of output (oy, ox)
 * then reads phase kx % s, row oy * s + ky, element ox + kx / s: contiguous in ox for any
 * stride, so every ISA loads whole vectors. */
typedef struct gn_dw_plane {
    const float *ph;
    ptrdiff_t phase_size;
    int qw, s, k, out_h, out_w;
} gn_dw_plane;

/* Backward data of one input channel: its mult output channels' dy planes, zero-padded by ml
 * rows above and ml columns left (plane j at dyp + j * dyp_size, rows of dw floats), and their
 * weights (w + j * k * k); the input plane is in_h x in_w with padding p. */
typedef struct gn_dw_bd {
    const float *dyp, *w;
    ptrdiff_t dyp_size;
    int dw, ml, mult, k, s, in_h, in_w, p;
} gn_dw_bd;

/* Elements t of phase f whose padded column t * s + f lies in [p, p + in_w), i.e. on a real
 * input column: [*lo, *hi), with hi capped at cap. */
static inline void gn_dw_phase_range(int f, int s, int p, int in_w, int cap, int *lo, int *hi)
{
    int a = p - f, b = in_w - 1 + p - f;
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = b < 0 ? 0 : b / s + 1;
    if (*hi > cap)
        *hi = cap;
    if (*hi < *lo)
        *hi = *lo;
}

typedef struct gn_dw_kernels {
    int vl; /* lanes of the vector accumulators backward_weight leaves in vacc */
    /* y (out_h x out_w) = bias + the k x k taps w over the phase planes */
    void (*forward)(const gn_dw_plane *p, const float *w, float bias, float *y);
    /* vacc[(ky * k + kx) * vl + lane] += partial sums of dy * tap (ky, kx) */
    void (*backward_weight)(const gn_dw_plane *p, const float *dy, float *vacc);
    /* dx (in_h x in_w) += every contribution of the outputs in d; tmp holds a phase row */
    void (*backward_data)(const gn_dw_bd *d, float *dx, float *tmp);
    /* rows x cols floats from src to dst, each with its own row stride */
    void (*copy_rows)(float *dst, ptrdiff_t dst_stride, const float *src, ptrdiff_t src_stride,
                      int rows, int cols);
} gn_dw_kernels;

extern const gn_dw_kernels gn_dw_kernels_portable;
extern const gn_dw_kernels gn_dw_kernels_avx2;
extern const gn_dw_kernels gn_dw_kernels_avx512;

size_t gn_dw_workspace(const gn_conv_geom *g);
void gn_dw_forward(const gn_dw_kernels *kr, const gn_conv_geom *g, int n, const float *x,
                   const float *w, const float *bias, float *y, void *ws);
void gn_dw_backward_data(const gn_dw_kernels *kr, const gn_conv_geom *g, int n, const float *dy,
                         const float *w, float *dx, void *ws);
void gn_dw_backward_weight(const gn_dw_kernels *kr, const gn_conv_geom *g, int n, const float *x,
                           const float *dy, float *dw, void *ws);

#endif
