/* Kernel micro-benchmark (not a test): GMAC/s of gn_sgemm and of the three convolution passes
 * for the shapes the GhostNet / ResNet-56 / VGG-16 training runs use, per ISA this CPU runs,
 * next to the reference kernels. Single-threaded, batch slice n (default 64; the reference runs
 * a smaller slice, its rate per MAC is what matters).
 *
 *   cmake -S . -B build-bench -DGN_BUILD_BENCH=ON && cmake --build build-bench --target bench_kernels
 *   build-bench/bench_kernels [n] [filter]      (filter: substring of the shape names to run)
 */
#include "core/internal.h"
#include "kernels/conv/conv.h"
#include "kernels/cpu.h"
#include "kernels/gemm/gemm.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_SECONDS 0.2

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: robust to other load */
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *random_floats(gn_rng *rng, size_t count)
{
    float *p = malloc((count ? count : 1) * sizeof(float));
    for (size_t i = 0; i < count; i++)
        p[i] = 2.0f * gn_rng_uniform(rng) - 1.0f;
    return p;
}

typedef struct conv_shape {
    const char *name;
    int in_c, out_c, hw, k, s, groups;
} conv_shape;

static const conv_shape shapes[] = {
    {"ghost pw 16->8 28x28", 16, 8, 28, 1, 1, 1},
    {"ghost pw 24->36 28x28", 24, 36, 28, 1, 1, 1},
    {"ghost pw 40->60 14x14", 40, 60, 14, 1, 1, 1},
    {"ghost pw 80->100 7x7", 80, 100, 7, 1, 1, 1},
    {"ghost pw 112->336 7x7", 112, 336, 7, 1, 1, 1},
    {"ghost pw 160->480 4x4", 160, 480, 4, 1, 1, 1},
    {"ghost pw 960->80 4x4", 960, 80, 4, 1, 1, 1},
    {"ghost dw3 s1 36 28x28", 36, 36, 28, 3, 1, 36},
    {"ghost dw3 s1 60 14x14", 60, 60, 14, 3, 1, 60},
    {"ghost dw3 s1 240 4x4", 240, 240, 4, 3, 1, 240},
    {"ghost dw5 s2 72 28x28", 72, 72, 28, 5, 2, 72},
    {"ghost dw3 s1 x2 16 28x28", 16, 32, 28, 3, 1, 16},
    {"stem 1->16 28x28", 1, 16, 28, 3, 1, 1},
    {"stem 3->16 32x32", 3, 16, 32, 3, 1, 1},
    {"resnet 3x3 16 32x32", 16, 16, 32, 3, 1, 1},
    {"resnet 3x3 32 16x16", 32, 32, 16, 3, 1, 1},
    {"resnet 3x3 64 8x8", 64, 64, 8, 3, 1, 1},
    {"resnet 3x3 s2 16->32 32x32", 16, 32, 32, 3, 2, 1},
    {"resnet 3x3 s2 32->64 14x14", 32, 64, 14, 3, 2, 1},
    {"resnet 1x1 s2 16->32 28x28", 16, 32, 28, 1, 2, 1},
    {"vgg 3x3 64 32x32", 64, 64, 32, 3, 1, 1},
    {"vgg 3x3 128 16x16", 128, 128, 16, 3, 1, 1},
    {"vgg 3x3 256 8x8", 256, 256, 8, 3, 1, 1},
    {"vgg 3x3 512 4x4", 512, 512, 4, 3, 1, 1},
    {"vgg 3x3 512 2x2", 512, 512, 2, 3, 1, 1},
};

typedef enum pass { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHT } pass;
static const char *const pass_names[] = {"fwd", "bwd-data", "bwd-weight"};

typedef struct buffers {
    float *x, *w, *y, *dx, *dw;
    void *ws;
} buffers;

/* isa < 0: the reference. */
static void run_pass(int isa, pass p, const gn_conv_geom *g, int n, buffers *b)
{
    if (isa < 0) {
        if (p == FORWARD)
            gn_conv2d_forward_ref(g, n, b->x, b->w, NULL, b->y);
        else if (p == BACKWARD_DATA)
            gn_conv2d_backward_data_ref(g, n, b->y, b->w, b->dx);
        else
            gn_conv2d_backward_weight_ref(g, n, b->x, b->y, b->dw, NULL);
        return;
    }
    if (p == FORWARD)
        gn_conv2d_forward((gn_isa)isa, g, n, b->x, b->w, NULL, b->y, b->ws, NULL);
    else if (p == BACKWARD_DATA)
        gn_conv2d_backward_data((gn_isa)isa, g, n, b->y, b->w, b->dx, b->ws, 0);
    else
        gn_conv2d_backward_weight((gn_isa)isa, g, n, b->x, b->y, b->dw, NULL, b->ws);
}

static double conv_rate(int isa, pass p, const gn_conv_geom *g, int n, buffers *b)
{
    double macs = (double)n * g->out_c * g->out_h * g->out_w * (g->in_c / g->groups) *
                  g->kernel * g->kernel;
    run_pass(isa, p, g, n, b); /* warm up */
    int reps = 0;
    double start = now(), t;
    do {
        run_pass(isa, p, g, n, b);
        reps++;
        t = now() - start;
    } while (t < MIN_SECONDS);
    return macs * reps / t * 1e-9;
}

static void bench_conv(const conv_shape *cs, int n, gn_rng *rng)
{
    gn_isa best = gn_cpu_detect();
    gn_conv_geom g = {cs->in_c, cs->hw, cs->hw, cs->out_c, 0, 0, cs->k, cs->s, cs->k / 2,
                      cs->groups};
    g.out_h = (g.in_h + 2 * g.padding - g.kernel) / g.stride + 1;
    g.out_w = (g.in_w + 2 * g.padding - g.kernel) / g.stride + 1;
    size_t nx = (size_t)n * g.in_c * g.in_h * g.in_w, ny = (size_t)n * g.out_c * g.out_h * g.out_w;
    size_t nw = (size_t)g.out_c * (g.in_c / g.groups) * g.kernel * g.kernel;
    buffers b = {random_floats(rng, nx), random_floats(rng, nw), random_floats(rng, ny),
                 random_floats(rng, nx), random_floats(rng, nw), NULL};
    size_t ws = 0;
    for (int isa = 0; isa <= (int)best; isa++)
        if (gn_conv2d_workspace_bytes((gn_isa)isa, &g) > ws)
            ws = gn_conv2d_workspace_bytes((gn_isa)isa, &g);
    b.ws = malloc(ws);
    int n_ref = n / 16 > 0 ? n / 16 : 1;
    for (int p = FORWARD; p <= BACKWARD_WEIGHT; p++) {
        printf("%-28s %-10s %7.2f", cs->name, pass_names[p], conv_rate(-1, (pass)p, &g, n_ref, &b));
        for (int isa = GN_ISA_PORTABLE; isa <= GN_ISA_AVX512; isa++) {
            int runs = isa == GN_ISA_PORTABLE || isa == (int)best ||
                       (isa == GN_ISA_AVX2 && best == GN_ISA_AVX512);
            if (runs)
                printf(" %8.2f", conv_rate(isa, (pass)p, &g, n, &b));
            else
                printf(" %8s", "-");
        }
        printf("\n");
        fflush(stdout);
    }
    printf("%-28s ws %zu KiB\n", "", ws / 1024);
    free(b.x), free(b.w), free(b.y), free(b.dx), free(b.dw), free(b.ws);
}

static void bench_gemm(int m, int nn, int k, gn_rng *rng)
{
    gn_isa best = gn_cpu_detect();
    float *a = random_floats(rng, (size_t)m * k), *b = random_floats(rng, (size_t)k * nn);
    float *c = random_floats(rng, (size_t)m * nn);
    char name[64];
    snprintf(name, sizeof(name), "sgemm %dx%dx%d", m, nn, k);
    double t = now();
    gn_sgemm_ref(0, 0, m, nn, k, 1.0f, a, k, b, nn, 0.0f, c, nn);
    printf("%-28s %-10s %7.2f", name, "nn", (double)m * nn * k / (now() - t) * 1e-9);
    for (int isa = GN_ISA_PORTABLE; isa <= GN_ISA_AVX512; isa++) {
        int runs = isa == GN_ISA_PORTABLE || isa == (int)best ||
                   (isa == GN_ISA_AVX2 && best == GN_ISA_AVX512);
        if (!runs) {
            printf(" %8s", "-");
            continue;
        }
        void *ws = malloc(gn_sgemm_workspace_bytes((gn_isa)isa, m, nn, k));
        int reps = 0;
        double start = now(), el;
        do {
            gn_sgemm((gn_isa)isa, 0, 0, m, nn, k, 1.0f, a, k, b, nn, 0.0f, c, nn, ws);
            reps++;
            el = now() - start;
        } while (el < MIN_SECONDS);
        printf(" %8.2f", (double)m * nn * k * reps / el * 1e-9);
        free(ws);
    }
    printf("\n");
    free(a), free(b), free(c);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 64;
    const char *filter = argc > 2 ? argv[2] : "";
    if (n <= 0)
        n = 64;
    gn_rng rng;
    gn_rng_seed(&rng, 1);
    printf("cpu isa %s, batch slice n = %d, single thread; GMAC/s\n",
           gn_isa_name(gn_cpu_detect()), n);
    printf("%-28s %-10s %7s %8s %8s %8s\n", "shape", "pass", "ref", "portable", "avx2",
           "avx512");
    if (strstr("sgemm", filter) || !*filter) {
        bench_gemm(256, 256, 256, &rng);
        bench_gemm(512, 512, 512, &rng);
        bench_gemm(64, 3136, 64, &rng);
    }
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        if (strstr(shapes[i].name, filter))
            bench_conv(&shapes[i], n, &rng);
    return 0;
}
