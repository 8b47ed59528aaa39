/* Convolution dispatch, workspace sizing, and the GEMM-based paths (dense and grouped). See
 * conv.h for the choice of path per geometry. */
#include "kernels/conv/conv.h"
#include "kernels/conv/conv_internal.h"

#include <string.h>

/* Scratch blocks, in floats: small enough to stay in L2 next to the packed GEMM operands. */
#define DCOL_FLOATS (64 * 1024)  /* W^T * dY block of the strided backward data path */
#define COL_FLOATS (128 * 1024)  /* im2col block of the backward weight path           */
#define DOT_L2_FLOATS (96 * 1024) /* dY + X rows one pointwise weight-gradient chunk sweeps */
#define BIG_N (1 << 30)           /* "the batch": GEMM workspace is capped by the N block */

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static size_t align_floats(size_t floats)
{
    return (floats * sizeof(float) + GN_WS_ALIGN - 1) / GN_WS_ALIGN * GN_WS_ALIGN;
}

typedef struct shape {
    int groups, cin_g, cout_g, kk, K; /* K = cin_g * kk, the reduction of the forward GEMM */
    ptrdiff_t ihw, ohw;
} shape;

static shape shape_of(const gn_conv_geom *g)
{
    shape s;
    s.groups = g->groups;
    s.cin_g = g->in_c / g->groups;
    s.cout_g = g->out_c / g->groups;
    s.kk = g->kernel * g->kernel;
    s.K = s.cin_g * s.kk;
    s.ihw = (ptrdiff_t)g->in_h * g->in_w;
    s.ohw = (ptrdiff_t)g->out_h * g->out_w;
    return s;
}

static int is_depthwise(const gn_conv_geom *g)
{
    return g->groups == g->in_c;
}

static int is_pointwise(const gn_conv_geom *g)
{
    return g->kernel == 1 && g->stride == 1 && g->padding == 0;
}

/* With stride 1 the data gradient is itself a convolution (padding k-1-p) of dY. */
static int backward_data_is_conv(const gn_conv_geom *g)
{
    return g->stride == 1 && g->padding <= g->kernel - 1;
}

static const gn_dw_kernels *dw_kernels_for(gn_isa isa)
{
#if defined(GN_X86_KERNELS)
    if (isa == GN_ISA_AVX512)
        return &gn_dw_kernels_avx512;
    if (isa == GN_ISA_AVX2)
        return &gn_dw_kernels_avx2;
#endif
    (void)isa;
    return &gn_dw_kernels_portable;
}

static const gn_wino_kernels *wino_kernels_for(gn_isa isa)
{
#if defined(GN_X86_KERNELS)
    if (isa == GN_ISA_AVX512)
        return &gn_wino_kernels_avx512;
    if (isa == GN_ISA_AVX2)
        return &gn_wino_kernels_avx2;
#endif
    (void)isa;
    return &gn_wino_kernels_portable;
}

/* The weight gradient has two paths. The dot-product kernel needs no packing, but it reduces its
 * vector accumulators once per L2-sized chunk (more often the wider the layer) and wastes lanes
 * on planes that are not a whole number of vectors. The GEMM transposes both factors while
 * packing, a cost per MAC of about (M + N) / (M * N), which wide layers amortise. The
 * thresholds on M * N / (M + N) come from bench/kernels on Zen 5 (AVX-512 and AVX2 agree); the
 * scalar dot kernel has no lanes to save, so portable always takes the GEMM. */
static int weight_gradient_by_gemm(const gn_gemm_kernels *kr, const gn_conv_geom *g)
{
    shape s = shape_of(g);
    double width = (double)s.cout_g * s.K / (s.cout_g + s.K);
    if (kr->dot_vl == 1)
        return 1;
    return width >= (s.ohw >= 256 ? 60.0 : 30.0);
}

/* Block of the strided backward data path: rows of dcol (= taps) x columns (= pixels). */
static void dcol_block(const shape *s, int *rows, int *cols)
{
    int c = DCOL_FLOATS / s->K / 32 * 32;
    *cols = imax(c, 256);
    *rows = imin(s->K, imax(DCOL_FLOATS / *cols, 1));
}

/* Block of the backward weight path: nb images x rows im2col rows x len pixels. */
typedef struct col_block {
    int rows, len, nb;
} col_block;

static col_block col_block_of(const shape *s)
{
    col_block b;
    int ohw = (int)s->ohw;
    b.len = s->K * s->ohw <= COL_FLOATS ? ohw : imin(ohw, imax(16, COL_FLOATS / s->K / 16 * 16));
    b.rows = imin(s->K, imax(COL_FLOATS / b.len, 1));
    b.nb = b.len == ohw ? imax(1, COL_FLOATS / (b.rows * ohw)) : 1;
    return b;
}

size_t gn_conv2d_workspace_bytes(gn_isa isa, const gn_conv_geom *g)
{
    if (is_depthwise(g))
        return gn_dw_workspace(g);
    const gn_gemm_kernels *kr = gn_gemm_kernels_for(isa);
    if (gn_direct_applies(g)) {
        size_t direct = gn_direct_workspace(kr, g);
        size_t wino = gn_wino_applies(g, 0) || gn_wino_applies(g, 1) ? gn_wino_workspace(kr, g) : 0;
        return direct > wino ? direct : wino;
    }
    shape s = shape_of(g);
    size_t fwd = gn_gemm_workspace(kr, s.cout_g, BIG_N, s.K), bwd_data, bwd_weight = 0;
    if (backward_data_is_conv(g)) {
        bwd_data = gn_gemm_workspace(kr, s.cin_g, BIG_N, s.cout_g * s.kk);
    } else {
        int rows, cols;
        dcol_block(&s, &rows, &cols);
        bwd_data = align_floats(DCOL_FLOATS) + gn_gemm_workspace(kr, rows, cols, s.cout_g);
    }
    if (weight_gradient_by_gemm(kr, g))
        bwd_weight = align_floats((size_t)kr->kc * kr->nr) +
                     gn_gemm_workspace(kr, s.cout_g, s.K, BIG_N);
    else if (!is_pointwise(g))
        bwd_weight = align_floats(COL_FLOATS);
    size_t most = fwd > bwd_data ? fwd : bwd_data;
    return (most > bwd_weight ? most : bwd_weight) + GN_WS_ALIGN;
}

/* ---- forward ---- */

static void add_bias(const gn_conv_geom *g, int n, const float *bias, float *y)
{
    ptrdiff_t ohw = (ptrdiff_t)g->out_h * g->out_w;
    for (int b = 0; b < n; b++)
        for (int oc = 0; oc < g->out_c; oc++) {
            float *p = y + ((ptrdiff_t)b * g->out_c + oc) * ohw, v = bias[oc];
            for (ptrdiff_t i = 0; i < ohw; i++)
                p[i] += v;
        }
}

static void forward_gemm(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n, const float *x,
                         const float *w, float *y, void *ws)
{
    shape s = shape_of(g);
    for (int gi = 0; gi < s.groups; gi++) {
        gn_gemm_src a = {gn_pack_a_strided, w + (ptrdiff_t)gi * s.cout_g * s.K, s.K, 1};
        gn_im2col b = gn_im2col_view(x + gi * s.cin_g * s.ihw, g->in_c * s.ihw, g->in_h, g->in_w,
                                     g->out_h, g->out_w, g->kernel, g->stride, g->padding);
        gn_gemm_dst c = {y + gi * s.cout_g * s.ohw, s.ohw, s.ohw, g->out_c * s.ohw};
        gn_gemm_run(kr, s.cout_g, (int)(n * s.ohw), s.K, 1.0f, &a, &b.src, 0.0f, &c, ws);
    }
}

/* The plane sums of n output images, from memory (paths that finish all images at once). */
static void sum_planes(const gn_plane_kernels *pk, const gn_conv_geom *g, int n, const float *y,
                       double *plane_sums)
{
    size_t ohw = (size_t)g->out_h * g->out_w;
    for (ptrdiff_t i = 0; i < (ptrdiff_t)n * g->out_c; i++) {
        const float *plane = y + i * (ptrdiff_t)ohw;
        plane_sums[2 * i] = plane_sums[2 * i + 1] = 0.0;
        pk->sums(plane, plane, ohw, &plane_sums[2 * i], &plane_sums[2 * i + 1]);
    }
}

int gn_conv2d_takes_xform(const gn_conv_geom *g)
{
    return !is_depthwise(g) && gn_direct_applies(g) && g->stride == 1;
}

void gn_conv2d_forward(gn_isa isa, const gn_conv_geom *g, int n, const float *x, const float *w,
                       const float *bias, float *y, void *ws, double *plane_sums)
{
    gn_conv2d_forward_xf(isa, g, n, x, NULL, w, bias, y, ws, plane_sums);
}

void gn_conv2d_forward_xf(gn_isa isa, const gn_conv_geom *g, int n, const float *x,
                          const gn_conv_xform *xf, const float *w, const float *bias, float *y,
                          void *ws, double *plane_sums)
{
    if (n <= 0)
        return;
    const gn_plane_kernels *pk = gn_plane_kernels_for(isa);
    int depthwise = is_depthwise(g), direct = !depthwise && gn_direct_applies(g);
    /* the direct path sums each image as it writes it, when no bias is added afterwards */
    double *in_pass = direct && !bias ? plane_sums : NULL;
    if (depthwise)
        gn_dw_forward(dw_kernels_for(isa), g, n, x, w, bias, y, ws); /* adds the bias itself */
    else if (gn_wino_applies(g, 0))
        gn_wino_forward(gn_gemm_kernels_for(isa), wino_kernels_for(isa), g, n, x, xf, w, y, ws, pk,
                        in_pass);
    else if (direct)
        gn_direct_forward(gn_gemm_kernels_for(isa), wino_kernels_for(isa), g, n, x, xf, w, y, ws,
                          pk, in_pass);
    else
        forward_gemm(gn_gemm_kernels_for(isa), g, n, x, w, y, ws);
    if (bias && !depthwise)
        add_bias(g, n, bias, y);
    if (plane_sums && !in_pass)
        sum_planes(pk, g, n, y, plane_sums);
}

/* ---- backward data ---- */

/* dX_g += conv(dY_g, flipped W_g^T) with padding k-1-p: an implicit-im2col GEMM over dY. */
static void backward_data_conv(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n,
                               const float *dy, const float *w, float *dx, void *ws)
{
    shape s = shape_of(g);
    for (int gi = 0; gi < s.groups; gi++) {
        gn_flip_src a = gn_flip_view(w + (ptrdiff_t)gi * s.cout_g * s.K, s.cin_g, g->kernel);
        gn_im2col b = gn_im2col_view(dy + gi * s.cout_g * s.ohw, g->out_c * s.ohw, g->out_h,
                                     g->out_w, g->in_h, g->in_w, g->kernel, 1,
                                     g->kernel - 1 - g->padding);
        gn_gemm_dst c = {dx + gi * s.cin_g * s.ihw, s.ihw, s.ihw, g->in_c * s.ihw};
        gn_gemm_run(kr, s.cin_g, (int)(n * s.ihw), s.cout_g * s.kk, 1.0f, &a.src, &b.src, 1.0f,
                    &c, ws);
    }
}

/* Any stride: dcol = W_g^T * dY_g block by block, each scattered into dX by col2im. */
static void backward_data_col2im(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n,
                                 const float *dy, const float *w, float *dx, void *ws)
{
    shape s = shape_of(g);
    int rows, cols;
    dcol_block(&s, &rows, &cols);
    float *dcol = gn_ws_align(ws);
    void *gemm_ws = (char *)dcol + align_floats(DCOL_FLOATS);
    ptrdiff_t total = n * s.ohw;
    for (int gi = 0; gi < s.groups; gi++) {
        const float *wg = w + (ptrdiff_t)gi * s.cout_g * s.K;
        gn_im2col dyv = gn_im2col_view(dy + gi * s.cout_g * s.ohw, g->out_c * s.ohw, g->out_h,
                                       g->out_w, g->out_h, g->out_w, 1, 1, 0);
        gn_im2col dxv = gn_im2col_view(dx + gi * s.cin_g * s.ihw, g->in_c * s.ihw, g->in_h,
                                       g->in_w, g->out_h, g->out_w, g->kernel, g->stride,
                                       g->padding);
        for (ptrdiff_t j0 = 0; j0 < total; j0 += cols) {
            int nc = (int)(total - j0 < cols ? total - j0 : cols);
            dyv.j0 = j0;
            for (int r0 = 0; r0 < s.K; r0 += rows) {
                int nr = imin(rows, s.K - r0);
                gn_gemm_src a = {gn_pack_a_strided, wg + r0, 1, s.K}; /* W_g^T rows r0.. */
                gn_gemm_dst c = {dcol, nc, PTRDIFF_MAX, 0};
                gn_gemm_run(kr, nr, nc, s.cout_g, 1.0f, &a, &dyv.src, 0.0f, &c, gemm_ws);
                gn_col2im_add(&dxv, dx + gi * s.cin_g * s.ihw, r0, nr, j0, nc, dcol, nc);
            }
        }
    }
}

void gn_conv2d_backward_data(gn_isa isa, const gn_conv_geom *g, int n, const float *dy,
                             const float *w, float *dx, void *ws, int fresh)
{
    if (n <= 0)
        return;
    if (!is_depthwise(g) && gn_wino_applies(g, 1)) {
        gn_wino_backward_data(gn_gemm_kernels_for(isa), wino_kernels_for(isa), g, n, dy, w, dx, ws,
                              fresh);
        return;
    }
    if (!is_depthwise(g) && gn_direct_applies(g)) { /* stores instead of adding when fresh */
        gn_direct_backward_data(gn_gemm_kernels_for(isa), wino_kernels_for(isa), g, n, dy, w, dx,
                                ws, fresh);
        return;
    }
    if (fresh)
        memset(dx, 0, (size_t)n * g->in_c * g->in_h * g->in_w * sizeof(float));
    if (is_depthwise(g))
        gn_dw_backward_data(dw_kernels_for(isa), g, n, dy, w, dx, ws);
    else if (backward_data_is_conv(g))
        backward_data_conv(gn_gemm_kernels_for(isa), g, n, dy, w, dx, ws);
    else
        backward_data_col2im(gn_gemm_kernels_for(isa), g, n, dy, w, dx, ws);
}

/* ---- backward weight ---- */

/* An operand of the dot kernel: rows of len floats, row i of image t at p + t * bs + i * rs. */
typedef struct rows_view {
    const float *p;
    ptrdiff_t rs, bs;
} rows_view;

/* c (m x ncols, row stride ldc) += A * B^T over nb images of len pixels, in dot-kernel tiles.
 * A's few rows stay in L1 while every row of B streams past them from L2. */
static void dot_block(const gn_gemm_kernels *kr, int m, int ncols, int nb, int len, rows_view a,
                      rows_view b, float *c, ptrdiff_t ldc)
{
    for (int i = 0; i < m; i += kr->dot_mr)
        for (int j = 0; j < ncols; j += kr->dot_nr)
            kr->dot(imin(kr->dot_mr, m - i), imin(kr->dot_nr, ncols - j), nb, len,
                    a.p + i * a.rs, a.rs, a.bs, b.p + j * b.rs, b.rs, b.bs, c + i * ldc + j, ldc);
}

/* 1x1 stride 1 pad 0: dW_g += dY_g * X_g^T straight from the NCHW planes, in chunks of images
 * (or of pixels) whose rows fit in L2 together. */
static void backward_weight_pointwise(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n,
                                      const float *x, const float *dy, float *dw)
{
    shape s = shape_of(g);
    int ohw = (int)s.ohw, per_pixel = s.cout_g + s.cin_g;
    int len = (ptrdiff_t)per_pixel * ohw <= DOT_L2_FLOATS
                  ? ohw
                  : imin(ohw, imax(256, DOT_L2_FLOATS / per_pixel / 16 * 16));
    int nb = len == ohw ? imax(1, DOT_L2_FLOATS / (per_pixel * ohw)) : 1;
    for (int gi = 0; gi < s.groups; gi++)
        for (int b0 = 0; b0 < n; b0 += nb)
            for (int q0 = 0; q0 < ohw; q0 += len) {
                rows_view a = {dy + ((ptrdiff_t)b0 * g->out_c + gi * s.cout_g) * s.ohw + q0,
                               s.ohw, g->out_c * s.ohw};
                rows_view b = {x + ((ptrdiff_t)b0 * g->in_c + gi * s.cin_g) * s.ihw + q0, s.ihw,
                               g->in_c * s.ihw};
                dot_block(kr, s.cout_g, s.cin_g, imin(nb, n - b0), imin(len, ohw - q0), a, b,
                          dw + (ptrdiff_t)gi * s.cout_g * s.cin_g, s.cin_g);
            }
}

/* Any geometry: dW_g += dY_g * im2col(X_g)^T, im2col built block by block in the workspace. */
static void backward_weight_im2col(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n,
                                   const float *x, const float *dy, float *dw, void *ws)
{
    shape s = shape_of(g);
    col_block cb = col_block_of(&s);
    float *col = gn_ws_align(ws);
    int ohw = (int)s.ohw;
    for (int gi = 0; gi < s.groups; gi++) {
        gn_im2col xv = gn_im2col_view(x + gi * s.cin_g * s.ihw, g->in_c * s.ihw, g->in_h,
                                      g->in_w, g->out_h, g->out_w, g->kernel, g->stride,
                                      g->padding);
        for (int b0 = 0; b0 < n; b0 += cb.nb)
            for (int q0 = 0; q0 < ohw; q0 += cb.len)
                for (int r0 = 0; r0 < s.K; r0 += cb.rows) {
                    int nb = imin(cb.nb, n - b0), len = imin(cb.len, ohw - q0);
                    int rows = imin(cb.rows, s.K - r0);
                    for (int t = 0; t < nb; t++)
                        gn_im2col_rows(&xv, r0, rows, (ptrdiff_t)(b0 + t) * ohw + q0, len,
                                       col + (ptrdiff_t)t * rows * len, len);
                    rows_view a = {dy + ((ptrdiff_t)b0 * g->out_c + gi * s.cout_g) * s.ohw + q0,
                                   s.ohw, g->out_c * s.ohw};
                    rows_view b = {col, len, (ptrdiff_t)rows * len};
                    dot_block(kr, s.cout_g, rows, nb, len, a, b,
                              dw + (ptrdiff_t)gi * s.cout_g * s.K + r0, s.K);
                }
    }
}

/* dW_g (cout_g x K) += dY_g (cout_g x n*ohw) * im2col(X_g)^T as one GEMM per group, the batch
 * folded into the reduction so that small planes still make long products. */
static void backward_weight_gemm(const gn_gemm_kernels *kr, const gn_conv_geom *g, int n,
                                 const float *x, const float *dy, float *dw, void *ws)
{
    shape s = shape_of(g);
    float *tmp = gn_ws_align(ws);
    void *gemm_ws = (char *)tmp + align_floats((size_t)kr->kc * kr->nr);
    int pixels = (int)(n * s.ohw);
    for (int gi = 0; gi < s.groups; gi++) {
        gn_planes_t a = gn_planes_t_view(dy + gi * s.cout_g * s.ohw, s.ohw, g->out_c * s.ohw, 0);
        gn_gemm_dst c = {dw + (ptrdiff_t)gi * s.cout_g * s.K, s.K, PTRDIFF_MAX, 0};
        if (is_pointwise(g)) {
            gn_planes_t b = gn_planes_t_view(x + gi * s.cin_g * s.ihw, s.ihw, g->in_c * s.ihw, 1);
            gn_gemm_run(kr, s.cout_g, s.K, pixels, 1.0f, &a.src, &b.src, 1.0f, &c, gemm_ws);
        } else {
            gn_im2col xv = gn_im2col_view(x + gi * s.cin_g * s.ihw, g->in_c * s.ihw, g->in_h,
                                          g->in_w, g->out_h, g->out_w, g->kernel, g->stride,
                                          g->padding);
            gn_im2col_t b = gn_im2col_t_view(xv, tmp);
            gn_gemm_run(kr, s.cout_g, s.K, pixels, 1.0f, &a.src, &b.src, 1.0f, &c, gemm_ws);
        }
    }
}

/* dbias[oc] += sum of dy over the slice; eight partial sums keep the adds independent. */
static void backward_bias(const gn_conv_geom *g, int n, const float *dy, float *dbias)
{
    ptrdiff_t ohw = (ptrdiff_t)g->out_h * g->out_w;
    for (int oc = 0; oc < g->out_c; oc++) {
        float part[8] = {0};
        double total = 0.0;
        for (int b = 0; b < n; b++) {
            const float *d = dy + ((ptrdiff_t)b * g->out_c + oc) * ohw;
            ptrdiff_t i = 0;
            for (; i + 8 <= ohw; i += 8)
                for (int l = 0; l < 8; l++)
                    part[l] += d[i + l];
            for (; i < ohw; i++)
                total += d[i];
        }
        for (int l = 0; l < 8; l++)
            total += part[l];
        dbias[oc] += (float)total;
    }
}

void gn_conv2d_backward_weight(gn_isa isa, const gn_conv_geom *g, int n, const float *x,
                               const float *dy, float *dw, float *dbias, void *ws)
{
    gn_conv2d_backward_weight_xf(isa, g, n, x, NULL, dy, dw, dbias, ws);
}

void gn_conv2d_backward_weight_xf(gn_isa isa, const gn_conv_geom *g, int n, const float *x,
                                  const gn_conv_xform *xf, const float *dy, float *dw,
                                  float *dbias, void *ws)
{
    if (n <= 0)
        return;
    if (is_depthwise(g))
        gn_dw_backward_weight(dw_kernels_for(isa), g, n, x, dy, dw, ws);
    else if (gn_direct_applies(g))
        gn_direct_backward_weight(gn_gemm_kernels_for(isa), g, n, x, xf, dy, dw, ws,
                                  gn_plane_kernels_for(isa));
    else if (weight_gradient_by_gemm(gn_gemm_kernels_for(isa), g))
        backward_weight_gemm(gn_gemm_kernels_for(isa), g, n, x, dy, dw, ws);
    else if (is_pointwise(g))
        backward_weight_pointwise(gn_gemm_kernels_for(isa), g, n, x, dy, dw);
    else
        backward_weight_im2col(gn_gemm_kernels_for(isa), g, n, x, dy, dw, ws);
    if (dbias)
        backward_bias(g, n, dy, dbias);
}
