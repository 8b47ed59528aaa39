/* gn_sgemm for every ISA this CPU runs against gn_sgemm_ref: every (m, n, k) from a list of odd
 * sizes, all four transpositions, padded leading dimensions, alpha/beta combinations including
 * beta == 0 over a NaN-filled C, and a product large enough to cross every cache block. The
 * padding of C (columns n..ldc) must come back untouched. Also each ISA's transpose kernel
 * (the packing of the direct weight gradient) on odd shapes with strides, its destination
 * padding untouched. */
#include "harness.h"

#include "core/internal.h"
#include "kernels/cpu.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SENTINEL 12345.0f

static int isa_runs(gn_isa isa)
{
    gn_isa best = gn_cpu_detect();
    return isa == GN_ISA_PORTABLE || isa == best || (isa == GN_ISA_AVX2 && best == GN_ISA_AVX512);
}

static void fill(gn_rng *rng, float *p, size_t count)
{
    for (size_t i = 0; i < count; i++)
        p[i] = 2.0f * gn_rng_uniform(rng) - 1.0f;
}

typedef struct problem {
    int ta, tb, m, n, k, lda, ldb, ldc;
    float alpha, beta;
} problem;

/* C with its padding columns set to SENTINEL and, for beta == 0, its live part set to NaN. */
static void init_c(gn_rng *rng, const problem *pr, float *c)
{
    for (int i = 0; i < pr->m; i++)
        for (int j = 0; j < pr->ldc; j++)
            c[(size_t)i * pr->ldc + j] =
                j >= pr->n ? SENTINEL : pr->beta == 0.0f ? NAN : 2.0f * gn_rng_uniform(rng) - 1.0f;
}

/* Runs one problem on one ISA; returns 0 when it matches the reference. */
static int check_isa(gn_isa isa, const problem *pr, const float *a, const float *b,
                     const float *c0, const float *want, float *got)
{
    size_t ws_bytes = gn_sgemm_workspace_bytes(isa, pr->m, pr->n, pr->k);
    /* misaligned on purpose: the kernels must align inside the workspace they are given */
    char *ws = malloc(ws_bytes + 4);
    memcpy(got, c0, (size_t)pr->m * pr->ldc * sizeof(float));
    gn_sgemm(isa, pr->ta, pr->tb, pr->m, pr->n, pr->k, pr->alpha, a, pr->lda, b, pr->ldb,
             pr->beta, got, pr->ldc, ws + 4);
    free(ws);
    double scale = 1e-30;
    for (int i = 0; i < pr->m; i++)
        for (int j = 0; j < pr->n; j++)
            scale = fmax(scale, fabs(want[(size_t)i * pr->ldc + j]));
    double tol = 1e-5 * scale * sqrt((double)pr->k + 1.0);
    for (int i = 0; i < pr->m; i++)
        for (int j = 0; j < pr->ldc; j++) {
            size_t at = (size_t)i * pr->ldc + j;
            int ok = j >= pr->n ? got[at] == SENTINEL : fabs(got[at] - want[at]) <= tol;
            if (!ok) {
                CHECK_MSG(0,
                          "%s ta %d tb %d m %d n %d k %d lda %d ldb %d ldc %d alpha %g beta %g: "
                          "C[%d][%d] = %g, want %g (tol %g)",
                          gn_isa_name(isa), pr->ta, pr->tb, pr->m, pr->n, pr->k, pr->lda,
                          pr->ldb, pr->ldc, pr->alpha, pr->beta, i, j, got[at], want[at], tol);
                return -1;
            }
        }
    CHECK(1);
    return 0;
}

static int run_problem(gn_rng *rng, const problem *pr)
{
    size_t a_rows = pr->ta ? pr->k : pr->m, b_rows = pr->tb ? pr->n : pr->k;
    size_t a_size = a_rows * pr->lda + 1, b_size = b_rows * pr->ldb + 1;
    size_t c_size = (size_t)pr->m * pr->ldc + 1;
    float *a = malloc(a_size * sizeof(float)), *b = malloc(b_size * sizeof(float));
    float *c0 = malloc(c_size * sizeof(float)), *want = malloc(c_size * sizeof(float));
    float *got = malloc(c_size * sizeof(float));
    fill(rng, a, a_size);
    fill(rng, b, b_size);
    init_c(rng, pr, c0);
    memcpy(want, c0, c_size * sizeof(float));
    gn_sgemm_ref(pr->ta, pr->tb, pr->m, pr->n, pr->k, pr->alpha, a, pr->lda, b, pr->ldb, pr->beta,
                 want, pr->ldc);
    int failed = 0;
    for (int isa = 0; isa < GN_ISA_COUNT; isa++)
        if (isa_runs((gn_isa)isa))
            failed |= check_isa((gn_isa)isa, pr, a, b, c0, want, got);
    free(a);
    free(b);
    free(c0);
    free(want);
    free(got);
    return failed;
}

static void test_odd_shapes(gn_rng *rng)
{
    static const int sizes[] = {0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 100, 257};
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 0.0f}, {1.0f, 1.0f},
                                  {-1.5f, 0.25f}, {0.0f, 2.0f}, {2.0f, -1.0f}};
    const int ns = (int)(sizeof(sizes) / sizeof(sizes[0]));
    int count = 0, failures = 0;
    for (int im = 0; im < ns; im++)
        for (int in = 0; in < ns; in++)
            for (int ik = 0; ik < ns; ik++, count++) {
                problem pr;
                pr.m = sizes[im], pr.n = sizes[in], pr.k = sizes[ik];
                pr.ta = count & 1, pr.tb = (count >> 1) & 1;
                int pad = count % 3 == 0 ? 0 : 1 + count % 5; /* leading dims beyond the minimum */
                pr.lda = (pr.ta ? pr.m : pr.k) + pad;
                pr.ldb = (pr.tb ? pr.k : pr.n) + (pad + 1) % 3;
                pr.ldc = pr.n + pad % 2 * 3;
                if (pr.lda < 1)
                    pr.lda = 1;
                if (pr.ldb < 1)
                    pr.ldb = 1;
                if (pr.ldc < 1)
                    pr.ldc = 1;
                const float *c = ab[(count / 4) % 6];
                pr.alpha = c[0], pr.beta = c[1];
                if (run_problem(rng, &pr) && ++failures > 10)
                    return; /* enough to diagnose */
            }
}

/* Crosses the M, N and K cache blocks of every ISA (largest: mc 168, nc 2048, kc 256). */
static void test_blocks(gn_rng *rng)
{
    for (int t = 0; t < 4; t++) {
        problem pr = {t & 1, t >> 1, 170, 2051, 260, 0, 0, 2051 + 5, 1.0f, t == 3 ? 0.0f : 0.5f};
        pr.lda = (pr.ta ? pr.m : pr.k) + 1;
        pr.ldb = (pr.tb ? pr.k : pr.n) + 2;
        if (t == 1 || t == 2)
            pr.n = 300; /* keep the runtime modest: two transposed cases at smaller N */
        pr.ldc = pr.n + 5;
        if (!pr.tb)
            pr.ldb = pr.n + 2;
        run_problem(rng, &pr);
    }
}

/* transpose: every (rows, cols) of 1..19 x 1..19, src and dst with row strides past the shape;
 * what lies outside the transposed block must keep its sentinel. */
static void test_transpose(gn_rng *rng)
{
    enum { MAXD = 19, SRS = 23, DRS = 21 };
    float src[MAXD * SRS], dst[MAXD * DRS];
    fill(rng, src, sizeof(src) / sizeof(src[0]));
    for (int isa = 0; isa < GN_ISA_COUNT; isa++) {
        if (!isa_runs((gn_isa)isa))
            continue;
        const gn_gemm_kernels *kr = gn_gemm_kernels_for((gn_isa)isa);
        for (int rows = 1; rows <= MAXD; rows++)
            for (int cols = 1; cols <= MAXD; cols++) {
                for (size_t i = 0; i < sizeof(dst) / sizeof(dst[0]); i++)
                    dst[i] = SENTINEL;
                kr->transpose(rows, cols, src, SRS, dst, DRS);
                int bad = 0;
                for (int j = 0; j < MAXD; j++)
                    for (int i = 0; i < DRS; i++) {
                        float want = j < cols && i < rows ? src[i * SRS + j] : SENTINEL;
                        bad += dst[j * DRS + i] != want;
                    }
                CHECK_MSG(bad == 0, "%s transpose %dx%d: %d wrong elements",
                          gn_isa_name((gn_isa)isa), rows, cols, bad);
            }
    }
}

int main(void)
{
    gn_rng rng;
    gn_rng_seed(&rng, 2024);
    fprintf(stderr, "test_gemm: cpu isa %s\n", gn_isa_name(gn_cpu_detect()));
    test_odd_shapes(&rng);
    test_blocks(&rng);
    test_transpose(&rng);
    return gn_test_finish("test_gemm");
}
