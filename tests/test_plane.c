/* The batch-norm plane kernels (kernels/plane) of every ISA this CPU runs against the plain C
 * loops below, bit for bit: plane.h promises the same operations in the same order on every
 * ISA. Every count 1..70 (whole 16-lane runs, vector tails, scalar tails), ResNet's planes
 * (49, 196, 784) and an unaligned start; inputs include zeros and negative values (the ReLU
 * mask), and the floats past count must stay untouched. */
#include "harness.h"

#include "core/internal.h"
#include "kernels/cpu.h"
#include "kernels/plane/plane.h"

#include <math.h>
#include <string.h>

#define SENTINEL 12345.0f
#define MAXN 800

static int isa_runs(gn_isa isa)
{
    gn_isa best = gn_cpu_detect();
    return isa == GN_ISA_PORTABLE || isa == best || (isa == GN_ISA_AVX2 && best == GN_ISA_AVX512);
}

/* ---- the reference loops ---- */

static void ref_sums(const float *x, const float *y, size_t count, double *sx_out,
                     double *sxy_out)
{
    float sx[16] = {0}, sxy[16] = {0};
    size_t i = 0;
    for (; i + 16 <= count; i += 16)
        for (int l = 0; l < 16; l++) {
            sx[l] += x[i + l];
            float p = x[i + l] * y[i + l];
            sxy[l] += p;
        }
    double tx = 0.0, txy = 0.0;
    for (; i < count; i++) {
        tx += x[i];
        txy += (double)x[i] * y[i];
    }
    for (int l = 0; l < 16; l++) {
        tx += sx[l];
        txy += sxy[l];
    }
    *sx_out += tx;
    *sxy_out += txy;
}

static void ref_affine(const float *x, float *y, size_t count, float scale, float shift,
                       float floor)
{
    for (size_t i = 0; i < count; i++) {
        float p = x[i] * scale;
        float v = p + shift;
        y[i] = v > floor ? v : floor;
    }
}

static void ref_bn_dx(const float *x, const float *g, float *dx, size_t count, float mean,
                      float invstd, float k, float mean_g, float mean_gxhat)
{
    for (size_t i = 0; i < count; i++) {
        float xhat = (x[i] - mean) * invstd;
        float t = xhat * mean_gxhat;
        float u = (g[i] - mean_g) - t;
        float ku = k * u;
        dx[i] += ku;
    }
}

static void fill(gn_rng *rng, float *p, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        float v = 2.0f * gn_rng_uniform(rng) - 1.0f;
        p[i] = i % 7 == 3 ? 0.0f : v; /* some exact zeros: the ReLU mask's edge */
    }
}

static int same_bits(const float *a, const float *b, size_t count)
{
    return memcmp(a, b, count * sizeof(float)) == 0;
}

static void check_count(const gn_plane_kernels *k, const char *isa, size_t n, gn_rng *rng)
{
    static float x[MAXN + 8], y[MAXN + 8], g[MAXN + 8], g2[MAXN + 8], out[MAXN + 8];
    static float want[MAXN + 8], got[MAXN + 8];
    const size_t off = 1; /* unaligned start */
    fill(rng, x, MAXN + 8);
    fill(rng, y, MAXN + 8);
    fill(rng, g, MAXN + 8);
    fill(rng, out, MAXN + 8);

    double a1 = 0.5, b1 = -0.25, a2 = 0.5, b2 = -0.25;
    ref_sums(x + off, y + off, n, &a1, &b1);
    k->sums(x + off, y + off, n, &a2, &b2);
    CHECK_MSG(a1 == a2 && b1 == b2, "%s sums n=%zu: %.17g %.17g, want %.17g %.17g", isa, n, a2,
              b2, a1, b1);

    /* relu_sums: the sums of the gradient masked where the forward's fused ReLU output
     * (affine with floor 0, by this ISA's kernel) is positive; nothing stored */
    for (size_t i = 0; i < MAXN + 8; i++)
        out[i] = SENTINEL;
    k->affine(x + off, out + off, n, 1.375f, -0.0625f, 0.0f);
    memcpy(g2, g, sizeof(g));
    int passed = 0;
    for (size_t i = 0; i < n; i++) {
        g2[off + i] = out[off + i] > 0.0f ? g[off + i] : 0.0f;
        passed += out[off + i] > 0.0f;
    }
    CHECK_MSG(n < 16 || (passed > 0 && passed < (int)n), "%s relu_sums n=%zu: a one-sided mask",
              isa, n);
    a1 = b1 = a2 = b2 = 0.0;
    ref_sums(g2 + off, x + off, n, &a1, &b1);
    memcpy(got, g, sizeof(g));
    k->relu_sums(x + off, 1.375f, -0.0625f, got + off, n, &a2, &b2);
    CHECK_MSG(a1 == a2 && b1 == b2, "%s relu_sums n=%zu: %.17g %.17g, want %.17g %.17g", isa,
              n, a2, b2, a1, b1);
    CHECK_MSG(same_bits(got, g, MAXN + 8), "%s relu_sums n=%zu: wrote its input", isa, n);

    for (int relu = 0; relu < 2; relu++) {
        float floor = relu ? 0.0f : -INFINITY;
        for (size_t i = 0; i < MAXN + 8; i++)
            want[i] = got[i] = SENTINEL;
        ref_affine(x + off, want + off, n, 1.375f, -0.0625f, floor);
        k->affine(x + off, got + off, n, 1.375f, -0.0625f, floor);
        CHECK_MSG(same_bits(want, got, MAXN + 8), "%s affine n=%zu relu=%d", isa, n, relu);
        /* affine_add: the affine's value (no floor) plus a residual, then the floor */
        ref_affine(x + off, want + off, n, 1.375f, -0.0625f, -INFINITY);
        for (size_t i = 0; i < n; i++) {
            float sum = want[off + i] + y[off + i];
            want[off + i] = relu ? (sum > 0.0f ? sum : 0.0f) : sum;
        }
        for (size_t i = 0; i < MAXN + 8; i++)
            got[i] = SENTINEL;
        k->affine_add(x + off, y + off, got + off, n, 1.375f, -0.0625f, floor);
        CHECK_MSG(same_bits(want, got, MAXN + 8), "%s affine_add n=%zu relu=%d", isa, n, relu);
    }

    memcpy(want, y, sizeof(y));
    memcpy(got, y, sizeof(y));
    ref_bn_dx(x + off, g + off, want + off, n, 0.125f, 1.75f, 0.625f, -0.03125f, 0.2f);
    k->bn_dx(x + off, g + off, got + off, n, 0.125f, 1.75f, 0.625f, -0.03125f, 0.2f, 0);
    CHECK_MSG(same_bits(want, got, MAXN + 8), "%s bn_dx n=%zu", isa, n);
    /* fresh: what accumulating into zeros gives, over garbage, and nothing outside */
    for (size_t i = 0; i < MAXN + 8; i++)
        want[i] = got[i] = SENTINEL;
    memset(want + off, 0, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        got[off + i] = NAN;
    ref_bn_dx(x + off, g + off, want + off, n, 0.125f, 1.75f, 0.625f, -0.03125f, 0.2f);
    k->bn_dx(x + off, g + off, got + off, n, 0.125f, 1.75f, 0.625f, -0.03125f, 0.2f, 1);
    CHECK_MSG(same_bits(want, got, MAXN + 8), "%s bn_dx fresh n=%zu", isa, n);
    /* bn_relu_dx: bn_dx of the gradient relu_sums masked (g2), accumulating and fresh */
    for (int fresh = 0; fresh < 2; fresh++) {
        memcpy(want, y, sizeof(y));
        memcpy(got, y, sizeof(y));
        if (fresh) {
            memset(want + off, 0, n * sizeof(float));
            for (size_t i = 0; i < n; i++)
                got[off + i] = NAN;
        }
        ref_bn_dx(x + off, g2 + off, want + off, n, 0.125f, 1.75f, 0.625f, -0.03125f, 0.2f);
        k->bn_relu_dx(x + off, g + off, got + off, n, 0.125f, 1.75f, 0.625f, -0.03125f, 0.2f,
                      1.375f, -0.0625f, fresh);
        CHECK_MSG(same_bits(want, got, MAXN + 8), "%s bn_relu_dx n=%zu fresh=%d", isa, n, fresh);
    }
}

int main(void)
{
    gn_rng rng;
    gn_rng_seed(&rng, 77);
    fprintf(stderr, "test_plane: cpu isa %s\n", gn_isa_name(gn_cpu_detect()));
    static const size_t planes[] = {49, 196, 784};
    for (int isa = 0; isa < GN_ISA_COUNT; isa++) {
        if (!isa_runs((gn_isa)isa))
            continue;
        const gn_plane_kernels *k = gn_plane_kernels_for((gn_isa)isa);
        const char *name = gn_isa_name((gn_isa)isa);
        for (size_t n = 1; n <= 70; n++)
            check_count(k, name, n, &rng);
        for (size_t i = 0; i < sizeof(planes) / sizeof(planes[0]); i++)
            check_count(k, name, planes[i], &rng);
    }
    return gn_test_finish("test_plane");
}
