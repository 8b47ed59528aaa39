/* Convolution as a GEMM over output pixels, for NHWC views (see infer.h).
 *
 * Rows are output pixels, columns output channels, and the reduction runs over (tap, input
 * channel). Each row's inputs for one tap are kc contiguous floats (a pixel's channels), so the
 * activations are never packed or copied: a tile gets one pointer per row, at the row's
 * top-left tap, and every tap is a fixed offset from it (views carry a zero border, so padding
 * needs no test and no per-tap pointer). Pointers per (tap, row), as in XNNPACK's igemm, cost
 * 11% of Ghost-ResNet-56's time here (perf, 8-channel primary convolutions), one per row
 * made it 9% faster. A 1x1 convolution is the one-tap case; grouped convolutions run one
 * GEMM per group.
 *
 * Work units are (group, image block, panel, output row), rows innermost, so a thread that
 * takes a contiguous range reuses each weight panel over many row tiles (cut from the range's
 * start); the image block is the whole batch, except with a squeeze-excite gate, which differs
 * per image. */
#include "kernels/infer/infer.h"

#include <string.h>

/* Fewest bytes of weights for which the tiles prefetch their panels (gemm_tile_stream): about
 * a core's L2, beyond which the weights come from memory on every pass. Below it the prefetches
 * cost: ResNet-56 (147 KB a layer at most) 2-3% slower at 1 thread with them. */
#define GN_STREAM_MIN_BYTES ((size_t)1 << 20)

/* Fewest reduction steps (taps * kc / 4) for which a k-quad panel is packed. */
#define QUAD_MIN_STEPS 16

static int ceil_div(int a, int b)
{
    return (a + b - 1) / b;
}

static int active_groups(const gn_conv_desc *d)
{
    return ceil_div(d->out_channels, d->out_per_group);
}

/* Columns of panel p (its packed width; the last panel of a group may be narrower). */
static int panel_width(const gn_conv_weights *p, int panel)
{
    int nv = panel == p->panels - 1 ? p->last_nv : p->nv;
    return nv * p->kernels->vl;
}

/* Rows of a panel per tap: one per input channel, or per group of kgroup of them (k-paired:
 * 2, k-quads: 4). */
static int rows_per_tap(const gn_conv_desc *d, int kgroup)
{
    return (d->in_per_group + kgroup - 1) / kgroup;
}

/* The input channel of lane j in row r of a tap (-1: the zero padding of a last group). */
static int lane_channel(const gn_conv_desc *d, int kgroup, int r, int j)
{
    if (kgroup == 1)
        return r; /* the common case, per weight of every gated panel: no division */
    int ci = kgroup * r + (j & (kgroup - 1));
    return ci < d->in_per_group ? ci : -1;
}

static void pack_panel(const gn_conv_desc *d, const float *w, const float *scale, int kgroup,
                       int group, int col0, int width, float *dst)
{
    int k = d->kernel, cin = d->in_per_group, cols = d->out_per_group;
    int rows = rows_per_tap(d, kgroup);
    for (int tap = 0; tap < k * k; tap++) {
        for (int r = 0; r < rows; r++) {
            float *row = dst + ((size_t)tap * rows + r) * (size_t)width;
            for (int j = 0; j < width; j++) {
                int ci = lane_channel(d, kgroup, r, j);
                int col = col0 + (kgroup == 1 ? j : j / kgroup), o = group * cols + col;
                size_t at = ((size_t)o * cin + ci) * (size_t)(k * k) + (size_t)tap;
                row[j] = col < cols && ci >= 0 ? w[at] * (scale ? scale[o] : 1.0f) : 0.0f;
            }
        }
    }
}

int gn_conv_pack(const gn_infer_kernels *k, const gn_conv_desc *d, const float *w,
                 const float *scale, const float *bias, gn_alloc_fn alloc, void *user,
                 gn_conv_weights *out)
{
    memset(out, 0, sizeof(*out));
    int vl = k->vl, cols = d->out_per_group;
    int nv = ceil_div(cols, vl) < k->nv_max ? ceil_div(cols, vl) : k->nv_max;
    /* quads need a long reduction to pay for their epilogue (each row adds four lanes per
     * column): GhostNet's 1x1 primaries of 16 inputs (4 quad steps) were 10-19% slower as
     * quads; Ghost-ResNet-56's 3x3 ones of 16 inputs (36 steps) 7% faster. Up to a vector of
     * columns (four vectors of quads): with 16 columns the one-vector tile loads a broadcast
     * per FMA; with its 16 -> 16 (and Ghost-ResNet-56 its 32 -> 16) 3x3 convolutions as
     * quads, ResNet-56 ran 4-6% faster end to end, Ghost-ResNet-56 4-5% */
    int quad = k->gemm_tile_quad[1] && cols <= vl && d->in_per_group % 4 == 0 &&
               d->kernel * d->kernel * d->in_per_group / 4 >= QUAD_MIN_STEPS && !d->nchw_input;
    int paired = !quad && k->gemm_tile_paired && 2 * cols <= vl && !d->nchw_input;
    if (quad)
        nv = ceil_div(4 * cols, vl);
    int nr = nv * vl;
    out->kernels = k;
    out->kgroup = quad ? 4 : paired ? 2 : 1;
    out->nv = nv;
    out->mr = quad ? k->mr_quad[nv] : k->mr[nv];
    out->stream = (size_t)d->kernel * d->kernel * d->in_per_group * d->out_channels *
                      sizeof(float) >= GN_STREAM_MIN_BYTES;
    out->panels = ceil_div(cols, nr);
    out->last_nv = quad ? nv : ceil_div(cols - (out->panels - 1) * nr, vl);
    size_t rows = (size_t)d->kernel * d->kernel * rows_per_tap(d, out->kgroup);
    out->panel_floats = rows * (size_t)nr;
    out->group_floats = (size_t)(out->panels - 1) * out->panel_floats +
                        rows * (size_t)(out->last_nv * vl);
    int groups = active_groups(d);
    size_t bias_floats = (size_t)groups * out->panels * nr;
    out->bytes = ((size_t)groups * out->group_floats + bias_floats) * sizeof(float);
    out->weights = alloc(user, (size_t)groups * out->group_floats * sizeof(float));
    out->bias = alloc(user, bias_floats * sizeof(float));
    if (!out->weights || !out->bias)
        return -1;
    for (int g = 0; g < groups; g++) {
        for (int p = 0; p < out->panels; p++) {
            int col0 = p * nr;
            float *dst = out->weights + (size_t)g * out->group_floats + p * out->panel_floats;
            pack_panel(d, w, scale, out->kgroup, g, col0, panel_width(out, p), dst);
            float *b = out->bias + ((size_t)g * out->panels + p) * nr;
            for (int j = 0; j < nr; j++)
                b[j] = bias && col0 + j < cols ? bias[g * cols + col0 + j] : 0.0f;
        }
    }
    return 0;
}

/* How the units of a convolution are laid out: the inner unit is one output row, and a range
 * of rows is cut into row tiles (of mr output pixels) from its own start, the last one short.
 * So a thread's band is whole image rows, the same rows in every step of one size: with tiles
 * as units, a band edge fell inside an image row wherever the tile size did not divide the
 * width, and the rows on both sides of it were then read across the cores (Ghost-ResNet-56's
 * 8x8 third stage in tiles of 10 pixels split 40 : 24 between 2 threads). */
typedef struct gemm_grid {
    int64_t span; /* output pixels per image block */
    int64_t rows; /* output rows per image block   */
    int blocks;   /* image blocks                  */
} gemm_grid;

static gemm_grid grid_of(const gn_conv_desc *d)
{
    gemm_grid g;
    g.blocks = d->gate ? d->n : 1;
    g.rows = (int64_t)d->out_h * (d->gate ? 1 : d->n);
    g.span = g.rows * d->out_w;
    return g;
}

int64_t gn_conv_gemm_units(const gn_conv_desc *d, const gn_conv_weights *p)
{
    if (d->nchw_input)
        return (int64_t)p->panels * d->n * d->out_h;
    gemm_grid g = grid_of(d);
    return (int64_t)active_groups(d) * g.blocks * p->panels * g.rows;
}

int64_t gn_conv_gemm_inner(const gn_conv_desc *d, const gn_conv_weights *p)
{
    (void)p;
    return d->nchw_input ? (int64_t)d->n * d->out_h : grid_of(d).rows;
}

/* Scratch for the taps' offsets from a row's top-left tap. */
static size_t offset_bytes(int kernel)
{
    size_t bytes = (size_t)kernel * kernel * sizeof(ptrdiff_t);
    return (bytes + 63) / 64 * 64;
}

/* One offset per packed row of a panel (rows of a k-grouped panel: taps * kc / kgroup). */
static size_t row_offset_bytes(const gn_conv_weights *p)
{
    size_t bytes = p->panel_floats / (size_t)(p->nv * p->kernels->vl) * sizeof(ptrdiff_t);
    return (bytes + 63) / 64 * 64;
}

/* The scratch of a panel run: the taps' offsets, then (k-grouped) the steps' offsets, then
 * the gated panel. */
static size_t offsets_bytes(const gn_conv_weights *p, int kernel)
{
    return offset_bytes(kernel) + (p->kgroup > 1 ? row_offset_bytes(p) : 0);
}

size_t gn_conv_gemm_scratch(const gn_conv_weights *p, int kernel, int gated)
{
    /* the NCHW path's offsets (one per packed row) fit too */
    size_t rows = row_offset_bytes(p), offsets = offsets_bytes(p, kernel);
    return (offsets > rows ? offsets : rows) + (gated ? p->panel_floats * sizeof(float) : 0);
}

/* The panel with each weight multiplied by the gate of its input channel. */
static void gate_panel(const gn_conv_desc *d, int kgroup, const float *b, int width,
                       const float *gate, float *dst)
{
    int rows = rows_per_tap(d, kgroup);
    for (int tap = 0; tap < d->kernel * d->kernel; tap++)
        for (int r = 0; r < rows; r++) {
            size_t at = ((size_t)tap * rows + r) * (size_t)width;
            for (int j = 0; j < width; j++) {
                int ci = lane_channel(d, kgroup, r, j);
                dst[at + j] = ci >= 0 ? b[at + j] * gate[ci] : 0.0f;
            }
        }
}

static float *at_pixel(gn_view v, int img, int y, int x, int channel)
{
    return v.data + img * v.image_stride + y * v.row_stride + x * v.pixel_stride + channel;
}

/* Row pointers of one tile: inputs per (tap, row), outputs and the epilogue's views per row. */
typedef struct tile_rows {
    float *y[GN_TILE_ROWS];
    const float *residual[GN_TILE_ROWS];
    float *raw[GN_TILE_ROWS];
} tile_rows;

/* Where the next row of a tile reads and writes: the output pixel and the pointers of its
 * input (top-left tap), output and epilogue views. Advancing one pixel is a few additions;
 * only the end of an output row needs the pointers recomputed. */
typedef struct cursor {
    int img, oy, ox;
    const float *x;
    float *y, *raw;
    const float *residual;
} cursor;

static void cursor_point(const gn_conv_desc *d, cursor *c, int in_channel, int out_channel)
{
    c->x = at_pixel(d->x, c->img, c->oy * d->stride - d->padding, -d->padding, in_channel) +
           (ptrdiff_t)c->ox * d->stride * d->x.pixel_stride;
    c->y = at_pixel(d->y, c->img, c->oy, c->ox, out_channel);
    c->raw = d->ep.raw.data ? at_pixel(d->ep.raw, c->img, c->oy, c->ox, out_channel) : NULL;
    c->residual = d->ep.residual.data
                      ? at_pixel(d->ep.residual, c->img, c->oy, c->ox, out_channel)
                      : NULL;
}

static cursor cursor_at(const gn_conv_desc *d, int64_t m, int in_channel, int out_channel)
{
    int64_t plane = (int64_t)d->out_h * d->out_w;
    int rem = (int)(m % plane);
    cursor c = {(int)(m / plane), rem / d->out_w, rem % d->out_w, NULL, NULL, NULL, NULL};
    cursor_point(d, &c, in_channel, out_channel);
    return c;
}

static void cursor_next(const gn_conv_desc *d, cursor *c, int in_channel, int out_channel)
{
    if (++c->ox < d->out_w) {
        c->x += (ptrdiff_t)d->stride * d->x.pixel_stride;
        c->y += d->y.pixel_stride;
        c->raw = c->raw ? c->raw + d->ep.raw.pixel_stride : NULL;
        c->residual = c->residual ? c->residual + d->ep.residual.pixel_stride : NULL;
        return;
    }
    c->ox = 0;
    if (++c->oy == d->out_h) {
        c->oy = 0;
        c->img++;
    }
    cursor_point(d, c, in_channel, out_channel);
}

/* Fills the tile's row pointers from the cursor and moves it past the tile. Returns 1 when
 * the tile lies within one output row (its rows then one pixel stride apart). */
static int point_rows(const gn_conv_desc *d, cursor *c, int rows, int in_channel,
                      int out_channel, const float **a, tile_rows *r)
{
    if (c->ox + rows <= d->out_w) {
        /* the common case, without the cursor's tests: run_panel, mostly this loop, took
         * 5.9% of Ghost-ResNet-56 (perf), 4.75% with this path */
        ptrdiff_t xs = (ptrdiff_t)d->stride * d->x.pixel_stride, ys = d->y.pixel_stride;
        ptrdiff_t raw_s = d->ep.raw.pixel_stride, res_s = d->ep.residual.pixel_stride;
        for (int i = 0; i < rows; i++) {
            a[i] = c->x + i * xs;
            r->y[i] = c->y + i * ys;
            r->raw[i] = c->raw ? c->raw + i * raw_s : NULL;
            r->residual[i] = c->residual ? c->residual + i * res_s : NULL;
        }
        /* to the tile's last pixel, then past it (to the next output row at the end of one) */
        c->ox += rows - 1;
        c->x += (rows - 1) * xs;
        c->y += (rows - 1) * ys;
        c->raw = c->raw ? c->raw + (rows - 1) * raw_s : NULL;
        c->residual = c->residual ? c->residual + (rows - 1) * res_s : NULL;
        cursor_next(d, c, in_channel, out_channel);
        return 1;
    }
    for (int i = 0; i < rows; i++) {
        a[i] = c->x;
        r->y[i] = c->y;
        r->raw[i] = c->raw;
        r->residual[i] = c->residual;
        cursor_next(d, c, in_channel, out_channel);
    }
    return 0;
}

/* step if every row of the tile reads step floats past the one before it in its group of four
 * (none crosses the end of an output row inside a group), else 0. */
static ptrdiff_t uniform_groups(const float *const *a, int rows, ptrdiff_t step)
{
    for (int i = 0; i < rows; i++)
        if (i % 4 && a[i] != a[i - 1] + step)
            return 0;
    return step;
}

/* One weight panel (of one group, for one image block) over its output pixels [first, end),
 * in row tiles of mr pixels from first. */
typedef struct panel_run {
    int group, block, panel;
    int64_t first, end;
} panel_run;

static void run_panel(const gn_conv_desc *d, const gn_conv_weights *p, const gemm_grid *grid,
                      const panel_run *run, void *scratch)
{
    const gn_infer_kernels *k = p->kernels;
    int taps = d->kernel * d->kernel, nr = p->nv * k->vl;
    int col0 = run->panel * nr, out_channel = run->group * d->out_per_group + col0;
    int width = panel_width(p, run->panel), valid = d->out_per_group - col0;
    valid = valid < width ? valid : width;
    valid = valid < d->out_channels - out_channel ? valid : d->out_channels - out_channel;
    if (valid <= 0)
        return;
    const float *a[GN_TILE_ROWS];
    ptrdiff_t *tap_offset = scratch;
    const float *b = p->weights + (size_t)run->group * p->group_floats +
                     run->panel * p->panel_floats;
    if (d->gate) {
        float *gated = (float *)((char *)scratch + offsets_bytes(p, d->kernel));
        gate_panel(d, p->kgroup, b, width,
                   d->gate + run->block * d->gate_stride + run->group * d->in_per_group, gated);
        b = gated;
    }
    gn_tile t = {
        .nr = valid,
        .taps = taps,
        .kc = d->in_per_group,
        .a = a,
        .tap_offset = tap_offset,
        .b = b,
        .bias = p->bias + ((size_t)run->group * p->panels + run->panel) * nr,
        .act = d->ep.act,
        .act_after = d->ep.act_after,
    };
    tile_rows r;
    t.y = r.y;
    t.residual = d->ep.residual.data ? r.residual : NULL;
    t.raw = d->ep.raw.data ? r.raw : NULL;
    for (int ky = 0; ky < d->kernel; ky++)
        for (int kx = 0; kx < d->kernel; kx++)
            tap_offset[ky * d->kernel + kx] = ky * d->x.row_stride + kx * d->x.pixel_stride;
    int kg = p->kgroup;
    if (kg > 1 && d->in_per_group % kg == 0) {
        /* one offset per packed row, after the taps' */
        ptrdiff_t *step_offset = (ptrdiff_t *)((char *)scratch + offset_bytes(d->kernel));
        int rows = d->in_per_group / kg;
        for (int tap = 0; tap < taps; tap++)
            for (int q = 0; q < rows; q++)
                step_offset[tap * rows + q] = tap_offset[tap] + kg * q;
        t.step_offset = step_offset;
    }
    int in_channel = run->group * d->in_per_group;
    cursor c = cursor_at(d, run->block * grid->span + run->first, in_channel, out_channel);
    for (int64_t first = run->first; first < run->end; first += p->mr) {
        t.mr = (int)(run->end - first < p->mr ? run->end - first : p->mr);
        int in_row = point_rows(d, &c, t.mr, in_channel, out_channel, a, &r);
        if (kg == 4) {
            ptrdiff_t step = (ptrdiff_t)d->stride * d->x.pixel_stride;
            t.row_step = in_row ? step : uniform_groups(a, t.mr, step);
            k->gemm_tile_quad[width / k->vl](&t);
        } else if (kg == 2)
            k->gemm_tile_paired(&t);
        else if (p->stream)
            k->gemm_tile_stream[width / k->vl](&t);
        else
            k->gemm_tile[width / k->vl](&t);
    }
}

/* The first output column whose taps all fall inside the input, and the first past them. */
static void inner_columns(const gn_conv_desc *d, int *first, int *end)
{
    *first = (d->padding + d->stride - 1) / d->stride;
    int last = (d->in_w + d->padding - d->kernel) / d->stride;
    *end = last + 1 < d->out_w ? last + 1 : d->out_w;
    *first = *first < *end ? *first : *end;
}

/* The NCHW input path: unit = (panel, image, output row); the row's border columns (and rows
 * whose taps leave the image) take the checked kernel. */
static void nchw_run(const gn_conv_desc *d, const gn_conv_weights *p, int64_t begin,
                     int64_t end, ptrdiff_t *tap_offset)
{
    const gn_infer_kernels *k = p->kernels;
    int64_t rows = (int64_t)d->n * d->out_h;
    int inner_first, inner_end, nr = p->nv * k->vl, channels = d->in_per_group;
    inner_columns(d, &inner_first, &inner_end);
    for (int ky = 0, t = 0; ky < d->kernel; ky++)
        for (int kx = 0; kx < d->kernel; kx++)
            for (int c = 0; c < channels; c++)
                tap_offset[t++] = ky * d->x.row_stride + kx + c * (ptrdiff_t)d->in_h * d->in_w;
    for (int64_t u = begin; u < end; u++) {
        int panel = (int)(u / rows), img = (int)(u % rows / d->out_h), oy = (int)(u % d->out_h);
        int top = oy * d->stride - d->padding, col0 = panel * nr;
        int width = panel_width(p, panel), valid = d->out_channels - col0;
        if (valid <= 0)
            continue;
        gn_nchw_row r = {
            .x = d->x.data + img * d->x.image_stride,
            .plane = (ptrdiff_t)d->in_h * d->in_w,
            .x_rs = d->x.row_stride,
            .tap_offset = tap_offset,
            .in_h = d->in_h,
            .in_w = d->in_w,
            .channels = d->in_per_group,
            .kernel = d->kernel,
            .stride = d->stride,
            .padding = d->padding,
            .oy = oy,
            .b = p->weights + panel * p->panel_floats,
            .bias = p->bias + (size_t)panel * nr,
            .nv = width / k->vl,
            .nr = valid < width ? valid : width,
            .y = at_pixel(d->y, img, oy, 0, col0),
            .y_ps = d->y.pixel_stride,
            .residual = d->ep.residual.data ? at_pixel(d->ep.residual, img, oy, 0, col0) : NULL,
            .residual_ps = d->ep.residual.pixel_stride,
            .raw = d->ep.raw.data ? at_pixel(d->ep.raw, img, oy, 0, col0) : NULL,
            .raw_ps = d->ep.raw.pixel_stride,
            .act = d->ep.act,
            .act_after = d->ep.act_after,
        };
        int rows_inside = top >= 0 && top + d->kernel <= d->in_h;
        int cuts[4] = {0, inner_first, inner_end, d->out_w};
        for (int part = 0; part < 3; part++) {
            r.x0 = cuts[part];
            r.x1 = cuts[part + 1];
            r.checked = part != 1 || !rows_inside;
            if (r.x0 < r.x1)
                k->nchw_row(&r);
        }
    }
}

void gn_conv_gemm_run(const gn_conv_desc *d, const gn_conv_weights *p, int64_t begin,
                      int64_t end, void *scratch)
{
    if (d->nchw_input) {
        nchw_run(d, p, begin, end, scratch);
        return;
    }
    gemm_grid grid = grid_of(d);
    for (int64_t u = begin; u < end;) {
        int64_t key = u / grid.rows, last = (key + 1) * grid.rows;
        int64_t first = u % grid.rows, stop = (last < end ? last : end) - key * grid.rows;
        panel_run run = {(int)(key / p->panels / grid.blocks),
                         (int)(key / p->panels % grid.blocks), (int)(key % p->panels),
                         first * d->out_w, stop * d->out_w};
        run_panel(d, p, &grid, &run, scratch);
        u = key * grid.rows + stop;
    }
}
