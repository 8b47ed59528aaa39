/* The blocked GEMM driver (BLIS loop order) shared by every ISA, the strided packers, and the
 * public gn_sgemm on top of them.
 *
 *   for jc over N in nc blocks         B panel kc x nc   (L3)
 *     for pc over K in kc blocks       pack B into nr-wide micro-panels
 *       for ic over M in mc blocks     pack A into <= mr-tall micro-panels   (L2)
 *         for jr over nc               one B micro-panel (L1) ...
 *           for ir over mc             ... against every A micro-panel: one microtile
 *
 * The A micro-panels of a block are balanced (a 16-row block becomes two 8-row panels rather
 * than 14 + 2), which keeps the microkernel's accumulators busy for the odd channel counts of
 * real networks; the microkernel is compiled for every row count. */
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_engine.h"

#include <stdint.h>
#include <string.h>

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

float *gn_ws_align(void *p)
{
    uintptr_t u = (uintptr_t)p;
    return (float *)(void *)((u + GN_WS_ALIGN - 1) & ~(uintptr_t)(GN_WS_ALIGN - 1));
}

const gn_gemm_kernels *gn_gemm_kernels_for(gn_isa isa)
{
#if defined(GN_X86_KERNELS)
    if (isa == GN_ISA_AVX512)
        return &gn_gemm_kernels_avx512;
    if (isa == GN_ISA_AVX2)
        return &gn_gemm_kernels_avx2;
#endif
    (void)isa;
    return &gn_gemm_kernels_portable;
}

/* K is cut into equal blocks of at most kc (k = 257 is two blocks of 129, not 256 + 1). */
static int k_step(const gn_gemm_kernels *kr, int k)
{
    int blocks = (k + kr->kc - 1) / kr->kc;
    return (k + blocks - 1) / blocks;
}

/* Floats of the three buffers: B panel, A block, one spare microtile. */
static void ws_layout(const gn_gemm_kernels *kr, int m, int n, int k, size_t *b_floats,
                      size_t *a_floats, size_t *t_floats)
{
    size_t kc = (size_t)k_step(kr, k > 0 ? k : 1);
    size_t nc = round_up((size_t)(n > 0 ? n : 1), (size_t)kr->nr);
    if (nc > (size_t)kr->nc)
        nc = (size_t)kr->nc;
    size_t mc = (size_t)imin(m > 0 ? m : 1, kr->mc);
    *b_floats = round_up(kc * nc, 16);
    *a_floats = round_up(mc * kc, 16);
    *t_floats = round_up((size_t)kr->mr * kr->nr, 16);
}

size_t gn_gemm_workspace(const gn_gemm_kernels *kr, int m, int n, int k)
{
    size_t b, a, t;
    ws_layout(kr, m, n, k, &b, &a, &t);
    return (b + a + t) * sizeof(float) + GN_WS_ALIGN;
}

/* Rows [row0, row0 + rows), columns [j, j + n) of the output: d = beta * d (d = 0 for beta 0). */
static void dst_scale(const gn_gemm_dst *c, int rows, int n, float beta)
{
    for (int i = 0; i < rows; i++)
        for (ptrdiff_t j = 0; j < n;) {
            ptrdiff_t off = j % c->cb, len = c->cb - off < n - j ? c->cb - off : n - j;
            float *d = c->p + (ptrdiff_t)i * c->rs + (j / c->cb) * c->cbs + off;
            for (ptrdiff_t q = 0; q < len; q++)
                d[q] = beta == 0.0f ? 0.0f : beta * d[q];
            j += len;
        }
}

/* A microtile that straddles output column blocks was computed into t (row stride ldt): add it
 * to the output block by block. */
static void dst_update(const gn_gemm_dst *c, int row0, int rows, int j0, int n, const float *t,
                       int ldt, float alpha, float beta)
{
    for (int i = 0; i < rows; i++) {
        const float *src = t + (size_t)i * ldt;
        for (ptrdiff_t j = j0; j < j0 + n;) {
            ptrdiff_t off = j % c->cb, len = c->cb - off < j0 + n - j ? c->cb - off : j0 + n - j;
            float *d = c->p + (ptrdiff_t)(row0 + i) * c->rs + (j / c->cb) * c->cbs + off;
            if (beta == 0.0f)
                for (ptrdiff_t q = 0; q < len; q++)
                    d[q] = alpha * src[q];
            else
                for (ptrdiff_t q = 0; q < len; q++)
                    d[q] = alpha * src[q] + beta * d[q];
            src += len;
            j += len;
        }
    }
}

/* Balanced split of an mc-row block into ceil(mc / mr) panels: panel i has rows(i). */
typedef struct panels {
    int count, base, extra;
} panels;

static panels split_rows(int mc, int mr)
{
    panels p;
    p.count = (mc + mr - 1) / mr;
    p.base = mc / p.count;
    p.extra = mc % p.count;
    return p;
}

static void pack_a_block(const gn_gemm_src *a, panels pn, int ic, int pc, int kc, float *apack)
{
    for (int pi = 0, i = 0; pi < pn.count; pi++) {
        int mr = pn.base + (pi < pn.extra);
        a->pack(a, ic + i, mr, pc, kc, apack + (size_t)i * kc, mr);
        i += mr;
    }
}

typedef struct block {
    int ic, mc, jc, nc, kc;
    float alpha, beta;
} block;

/* Every microtile of one (mc x nc) block of C from the packed A block and B panel. */
static void macro_kernel(const gn_gemm_kernels *kr, const block *bk, const float *apack,
                         const float *bpack, const gn_gemm_dst *c, float *tile)
{
    panels pn = split_rows(bk->mc, kr->mr);
    for (int jr = 0; jr < bk->nc; jr += kr->nr) {
        int nr = imin(kr->nr, bk->nc - jr), j = bk->jc + jr;
        const float *bp = bpack + (size_t)(jr / kr->nr) * bk->kc * kr->nr;
        ptrdiff_t off = j % c->cb;
        int direct = off + nr <= c->cb; /* the tile's columns are contiguous in C */
        float *cj = c->p + (j / c->cb) * c->cbs + off;
        const float *ap = apack;
        for (int pi = 0, i = bk->ic; pi < pn.count; pi++) {
            int mr = pn.base + (pi < pn.extra);
            if (direct) {
                kr->tile(mr, nr, bk->kc, ap, bp, cj + (ptrdiff_t)i * c->rs, c->rs, bk->alpha,
                         bk->beta);
            } else {
                kr->tile(mr, nr, bk->kc, ap, bp, tile, kr->nr, 1.0f, 0.0f);
                dst_update(c, i, mr, j, nr, tile, kr->nr, bk->alpha, bk->beta);
            }
            ap += (size_t)mr * bk->kc;
            i += mr;
        }
    }
}

void gn_gemm_run(const gn_gemm_kernels *kr, int m, int n, int k, float alpha, const gn_gemm_src *a,
                 const gn_gemm_src *b, float beta, const gn_gemm_dst *c, void *ws)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0 || alpha == 0.0f) {
        dst_scale(c, m, n, beta);
        return;
    }
    size_t b_floats, a_floats, t_floats;
    ws_layout(kr, m, n, k, &b_floats, &a_floats, &t_floats);
    float *bpack = gn_ws_align(ws), *apack = bpack + b_floats, *tile = apack + a_floats;
    int kstep = k_step(kr, k);
    block bk;
    bk.alpha = alpha;
    for (bk.jc = 0; bk.jc < n; bk.jc += kr->nc) {
        bk.nc = imin(kr->nc, n - bk.jc);
        for (int pc = 0; pc < k; pc += kstep) {
            bk.kc = imin(kstep, k - pc);
            bk.beta = pc == 0 ? beta : 1.0f; /* later K blocks accumulate */
            for (int jr = 0; jr < bk.nc; jr += kr->nr)
                b->pack(b, pc, bk.kc, bk.jc + jr, imin(kr->nr, bk.nc - jr),
                        bpack + (size_t)(jr / kr->nr) * bk.kc * kr->nr, kr->nr);
            for (bk.ic = 0; bk.ic < m; bk.ic += kr->mc) {
                bk.mc = imin(kr->mc, m - bk.ic);
                pack_a_block(a, split_rows(bk.mc, kr->mr), bk.ic, pc, bk.kc, apack);
                macro_kernel(kr, &bk, apack, bpack, c, tile);
            }
        }
    }
}

void gn_pack_a_strided(const gn_gemm_src *src, int r0, int rows, int c0, int cols, float *dst,
                       int width)
{
    const float *a = src->p + (ptrdiff_t)r0 * src->rs + (ptrdiff_t)c0 * src->cs;
    if (src->cs == 1) { /* rows contiguous along K: read rows, write strided */
        for (int i = 0; i < rows; i++) {
            const float *row = a + (ptrdiff_t)i * src->rs;
            for (int p = 0; p < cols; p++)
                dst[(size_t)p * width + i] = row[p];
        }
    } else {
        for (int p = 0; p < cols; p++) {
            const float *col = a + (ptrdiff_t)p * src->cs;
            float *d = dst + (size_t)p * width;
            for (int i = 0; i < rows; i++)
                d[i] = col[(ptrdiff_t)i * src->rs];
        }
    }
}

void gn_pack_b_strided(const gn_gemm_src *src, int r0, int rows, int c0, int cols, float *dst,
                       int width)
{
    const float *b = src->p + (ptrdiff_t)r0 * src->rs + (ptrdiff_t)c0 * src->cs;
    if (src->cs == 1) {
        for (int p = 0; p < rows; p++) {
            const float *restrict row = b + (ptrdiff_t)p * src->rs;
            float *restrict d = dst + (size_t)p * width;
            for (int j = 0; j < cols; j++)
                d[j] = row[j];
            for (int j = cols; j < width; j++)
                d[j] = 0.0f;
        }
    } else { /* columns contiguous along K: read columns, write strided */
        for (int j = 0; j < cols; j++) {
            const float *col = b + (ptrdiff_t)j * src->cs;
            for (int p = 0; p < rows; p++)
                dst[(size_t)p * width + j] = col[(ptrdiff_t)p * src->rs];
        }
        for (int p = 0; p < rows; p++)
            for (int j = cols; j < width; j++)
                dst[(size_t)p * width + j] = 0.0f;
    }
}

size_t gn_sgemm_workspace_bytes(gn_isa isa, int m, int n, int k)
{
    return gn_gemm_workspace(gn_gemm_kernels_for(isa), m, n, k);
}

void gn_sgemm(gn_isa isa, int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc,
              void *workspace)
{
    gn_gemm_src as = {gn_pack_a_strided, a, trans_a ? 1 : lda, trans_a ? lda : 1};
    gn_gemm_src bs = {gn_pack_b_strided, b, trans_b ? 1 : ldb, trans_b ? ldb : 1};
    gn_gemm_dst cd = {c, ldc, PTRDIFF_MAX, 0}; /* one block of columns */
    gn_gemm_run(gn_gemm_kernels_for(isa), m, n, k, alpha, &as, &bs, beta, &cd, workspace);
}
