/* im2col as a GEMM packer, col2im, and the flipped-weight packer. A column range is cut into
 * runs ("segments") that stay within one output row of one image; each (row, segment) pair is
 * then a zero-padded copy of part of one input row, contiguous for stride 1, so packing costs
 * about a memcpy per panel row rather than a bounds check per element. */
#include "kernels/conv/conv_internal.h"

#include <string.h>

#define SEG_COLS 64 /* columns per segment table: one B micro-panel, or a chunk of a row */

typedef struct segment {
    ptrdiff_t img;
    int oy, ox, len, col; /* col: offset in the destination row */
} segment;

static void pack_im2col(const gn_gemm_src *src, int r0, int rows, int c0, int cols, float *dst,
                        int width);

gn_im2col gn_im2col_view(const float *x, ptrdiff_t img_stride, int in_h, int in_w, int out_h,
                         int out_w, int k, int stride, int pad)
{
    gn_im2col v = {{pack_im2col, NULL, 0, 0}, x, img_stride, 0, in_h, in_w, out_h, out_w,
                   k, stride, pad};
    if (k == 1 && stride == 1 && pad == 0) { /* planes are contiguous: one long row each */
        v.in_w = v.out_w = in_h * in_w;
        v.in_h = v.out_h = 1;
    }
    return v;
}

/* Splits columns [j, j + cols) (cols <= SEG_COLS) into per-output-row runs; returns the count. */
static int make_segments(const gn_im2col *v, ptrdiff_t j, int cols, segment *seg)
{
    ptrdiff_t plane = (ptrdiff_t)v->out_h * v->out_w;
    ptrdiff_t img = j / plane;
    int q = (int)(j % plane), oy = q / v->out_w, ox = q % v->out_w, count = 0, col = 0;
    while (col < cols) {
        int len = v->out_w - ox < cols - col ? v->out_w - ox : cols - col;
        seg[count++] = (segment){img, oy, ox, len, col};
        col += len;
        ox = 0;
        if (++oy == v->out_h) {
            oy = 0;
            img++;
        }
    }
    return count;
}

/* The output columns t in [0, len) of a segment whose input column ix0 + t * s is inside the
 * row: [*lo, *hi). */
static void valid_cols(int ix0, int s, int len, int in_w, int *lo, int *hi)
{
    int a, b;
    if (s == 1) { /* the common case, without the divisions */
        a = ix0 >= 0 ? 0 : -ix0;
        b = in_w - ix0 < 0 ? 0 : in_w - ix0;
    } else {
        a = ix0 >= 0 ? 0 : (-ix0 + s - 1) / s;
        b = in_w - 1 - ix0 < 0 ? 0 : (in_w - 1 - ix0) / s + 1;
    }
    *lo = a < len ? a : len;
    *hi = b < len ? b : len;
    if (*hi < *lo)
        *hi = *lo;
}

/* Channel and tap of an im2col row, stepped row by row without dividing. */
typedef struct row_tap_t {
    int c, ky, kx;
} row_tap_t;

static row_tap_t row_tap(const gn_im2col *v, int r)
{
    int kk = v->k * v->k;
    row_tap_t t = {r / kk, r % kk / v->k, r % v->k};
    return t;
}

static void next_tap(const gn_im2col *v, row_tap_t *t)
{
    if (++t->kx < v->k)
        return;
    t->kx = 0;
    if (++t->ky < v->k)
        return;
    t->ky = 0;
    t->c++;
}

/* The input row segment s of im2col row (c, ky, kx) reads, or NULL when it is all padding;
 * *ix0 is the input column of the segment's first element. */
static const float *segment_row(const gn_im2col *v, const segment *s, int c, int ky, int kx,
                                int *ix0)
{
    int iy = s->oy * v->stride - v->pad + ky;
    *ix0 = s->ox * v->stride - v->pad + kx;
    if (iy < 0 || iy >= v->in_h)
        return NULL;
    return v->x + s->img * v->img_stride + ((ptrdiff_t)c * v->in_h + iy) * v->in_w;
}

static void copy_segment(const gn_im2col *v, const segment *s, row_tap_t t, float *restrict d)
{
    int ix0, lo, hi;
    const float *restrict row = segment_row(v, s, t.c, t.ky, t.kx, &ix0);
    if (!row) {
        memset(d, 0, (size_t)s->len * sizeof(float));
        return;
    }
    valid_cols(ix0, v->stride, s->len, v->in_w, &lo, &hi);
    for (int i = 0; i < lo; i++)
        d[i] = 0.0f;
    if (v->stride == 1)
        memcpy(d + lo, row + ix0 + lo, (size_t)(hi - lo) * sizeof(float));
    else
        for (int i = lo; i < hi; i++)
            d[i] = row[ix0 + i * v->stride];
    for (int i = hi; i < s->len; i++)
        d[i] = 0.0f;
}

void gn_im2col_rows(const gn_im2col *v, int r0, int rows, ptrdiff_t j0, int cols, float *dst,
                    ptrdiff_t ld)
{
    segment seg[SEG_COLS];
    for (int c0 = 0; c0 < cols; c0 += SEG_COLS) {
        int n = cols - c0 < SEG_COLS ? cols - c0 : SEG_COLS;
        int count = make_segments(v, v->j0 + j0 + c0, n, seg);
        row_tap_t rt = row_tap(v, r0);
        for (int r = 0; r < rows; r++, next_tap(v, &rt)) {
            float *d = dst + (ptrdiff_t)r * ld + c0;
            for (int i = 0; i < count; i++)
                copy_segment(v, &seg[i], rt, d + seg[i].col);
        }
    }
}

static void pack_im2col(const gn_gemm_src *src, int r0, int rows, int c0, int cols, float *dst,
                        int width)
{
    const gn_im2col *v = (const gn_im2col *)src;
    gn_im2col_rows(v, r0, rows, c0, cols, dst, width);
    if (cols < width)
        for (int r = 0; r < rows; r++)
            memset(dst + (size_t)r * width + cols, 0, (size_t)(width - cols) * sizeof(float));
}

void gn_col2im_add(const gn_im2col *v, float *dx, int r0, int rows, ptrdiff_t j0, int cols,
                   const float *src, ptrdiff_t ld)
{
    segment seg[SEG_COLS];
    for (int c0 = 0; c0 < cols; c0 += SEG_COLS) {
        int n = cols - c0 < SEG_COLS ? cols - c0 : SEG_COLS;
        int count = make_segments(v, v->j0 + j0 + c0, n, seg);
        row_tap_t rt = row_tap(v, r0);
        for (int r = 0; r < rows; r++, next_tap(v, &rt)) {
            const float *s = src + (ptrdiff_t)r * ld + c0;
            for (int i = 0; i < count; i++) {
                int ix0, lo, hi;
                const float *row = segment_row(v, &seg[i], rt.c, rt.ky, rt.kx, &ix0);
                if (!row)
                    continue;
                valid_cols(ix0, v->stride, seg[i].len, v->in_w, &lo, &hi);
                /* segment_row addresses v->x; dx has the same layout */
                float *d = dx + (row - v->x) + ix0;
                const float *si = s + seg[i].col;
                for (int t = lo; t < hi; t++)
                    d[t * v->stride] += si[t];
            }
        }
    }
}

static void pack_flip(const gn_gemm_src *src, int r0, int rows, int c0, int cols, float *dst,
                      int width)
{
    const gn_flip_src *f = (const gn_flip_src *)src;
    int kk = f->k * f->k;
    for (int p = 0; p < cols; p++) {
        int oc = (c0 + p) / kk, tap = (c0 + p) % kk;
        /* flipping both kernel axes reverses the tap index */
        const float *w = f->w + ((ptrdiff_t)oc * f->cin_g + r0) * kk + (kk - 1 - tap);
        float *d = dst + (size_t)p * width;
        for (int i = 0; i < rows; i++)
            d[i] = w[(ptrdiff_t)i * kk];
    }
}

gn_flip_src gn_flip_view(const float *w, int cin_g, int k)
{
    gn_flip_src f = {{pack_flip, NULL, 0, 0}, w, cin_g, k};
    return f;
}

/* ---- transposed operands of the GEMM weight gradient (batch folded into K) ---- */

/* dst[p * width + i] = plane i0 + i at batch pixel pix0 + p, for i < planes, p < pixels. */
static void planes_t_pack(const gn_planes_t *v, int i0, int planes, ptrdiff_t pix0, int pixels,
                          float *dst, int width)
{
    for (int p = 0; p < pixels;) {
        ptrdiff_t j = pix0 + p, img = j / v->hw, q = j % v->hw;
        int len = v->hw - q < pixels - p ? (int)(v->hw - q) : pixels - p;
        const float *src = v->x + img * v->img_stride + (ptrdiff_t)i0 * v->hw + q;
        for (int t = 0; t < len; t++) {
            float *d = dst + (size_t)(p + t) * width;
            for (int i = 0; i < planes; i++)
                d[i] = src[(ptrdiff_t)i * v->hw + t];
        }
        p += len;
    }
}

static void pack_planes_t_a(const gn_gemm_src *src, int r0, int rows, int c0, int cols,
                            float *dst, int width)
{
    planes_t_pack((const gn_planes_t *)src, r0, rows, c0, cols, dst, width);
}

static void pack_planes_t_b(const gn_gemm_src *src, int r0, int rows, int c0, int cols,
                            float *dst, int width)
{
    planes_t_pack((const gn_planes_t *)src, c0, cols, r0, rows, dst, width);
    if (cols < width)
        for (int r = 0; r < rows; r++)
            memset(dst + (size_t)r * width + cols, 0, (size_t)(width - cols) * sizeof(float));
}

gn_planes_t gn_planes_t_view(const float *x, ptrdiff_t hw, ptrdiff_t img_stride, int as_b)
{
    gn_planes_t v = {{as_b ? pack_planes_t_b : pack_planes_t_a, NULL, 0, 0}, x, hw, img_stride};
    return v;
}

/* B(p, r) = im2col(r, p): rows of im2col built into tmp, then transposed into the panel. */
static void pack_im2col_t(const gn_gemm_src *src, int r0, int rows, int c0, int cols, float *dst,
                          int width)
{
    const gn_im2col_t *v = (const gn_im2col_t *)src;
    gn_im2col_rows(&v->cols, c0, cols, r0, rows, v->tmp, rows);
    for (int p = 0; p < rows; p++) {
        float *d = dst + (size_t)p * width;
        for (int j = 0; j < cols; j++)
            d[j] = v->tmp[(size_t)j * rows + p];
        for (int j = cols; j < width; j++)
            d[j] = 0.0f;
    }
}

gn_im2col_t gn_im2col_t_view(gn_im2col cols, float *tmp)
{
    gn_im2col_t v = {{pack_im2col_t, NULL, 0, 0}, cols, tmp};
    return v;
}
