/* Allocation failures in the model, the inference plan and training: with an allocator that
 * fails its k-th request, for every k in turn, building a model, running gn_model_forward and
 * taking a training step must each either succeed or return GN_ERR_NOMEM with a message, never
 * crash, and free what they took (LeakSanitizer checks that in the sanitizer build). Small
 * models of the paths that matter: a ResNet (direct convolutions, BN -> ReLU and add -> ReLU
 * fusions, the conv -> BN statistics hand-over), its Ghost version (Ghost modules, concat) and
 * a GhostNet (SE, depthwise, pooling, dropout), with 2 threads (per-thread scratch, bands). */
#include "harness.h"
#include "ghostnet.h"

#include <stdlib.h>
#include <string.h>

typedef struct model_case {
    const char *name;
    gn_arch arch;
    int depth, ghost_ratio, ghost_kernel, small_input;
    double width;
    int n, h, w;
} model_case;

static const model_case cases[] = {
    {"ResNet-8", GN_ARCH_RESNET, 8, 0, 0, 0, 1.0, 4, 12, 12},
    {"Ghost-ResNet-8 (s=2, d=3)", GN_ARCH_RESNET, 8, 2, 3, 0, 1.0, 3, 10, 12},
    {"GhostNet 0.1 small input", GN_ARCH_GHOSTNET, 0, 0, 0, 1, 0.1, 2, 16, 16},
};

static gn_model_config config_of(const model_case *c)
{
    gn_model_config config;
    gn_model_config_default(&config, c->arch);
    if (c->depth)
        config.depth = c->depth;
    config.ghost_ratio = c->ghost_ratio;
    config.ghost_kernel = c->ghost_kernel;
    config.small_input = c->small_input;
    config.width = c->width;
    config.num_classes = 10;
    return config;
}

/* What one attempt does, from a fresh context state: 0 build, 1 + inference, 2 + training. */
enum { BUILD, FORWARD, TRAIN };

static gn_status attempt(gn_context *ctx, const model_case *c, int what, const float *x,
                         const int32_t *labels, float *logits)
{
    gn_model_config config = config_of(c);
    gn_model *m = NULL;
    gn_status st = gn_model_create(ctx, &config, 5, &m);
    if (st == GN_OK && what == FORWARD)
        st = gn_model_forward(m, x, c->n, c->h, c->w, logits);
    if (st == GN_OK && what == TRAIN) {
        gn_train_config tc;
        gn_train_config_default(&tc);
        gn_trainer *trainer = NULL;
        st = gn_trainer_create(m, &tc, c->n, c->h, c->w, &trainer);
        gn_step_stats stats;
        if (st == GN_OK)
            st = gn_trainer_step(trainer, x, labels, c->n, &stats);
        gn_trainer_free(trainer);
    }
    gn_model_free(m);
    return st;
}

static void run_case(const model_case *c, int what)
{
    static const char *const names[] = {"build", "forward", "train step"};
    gn_test_faults fault;
    gn_context *ctx = gn_test_fault_context(&fault, 2);
    if (!ctx)
        return;
    size_t in_count = (size_t)c->n * 3 * c->h * c->w;
    float *x = malloc(in_count * sizeof(float)), *logits = malloc((size_t)c->n * 10 * sizeof(float));
    float *want = malloc((size_t)c->n * 10 * sizeof(float));
    int32_t labels[8];
    for (size_t i = 0; i < in_count; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (int i = 0; i < c->n; i++)
        labels[i] = i % 10;
    /* the allocations one successful attempt makes, and its logits */
    fault.requests = 0;
    CHECK_MSG(attempt(ctx, c, what, x, labels, want) == GN_OK, "%s %s: %s", c->name, names[what],
              gn_context_error(ctx));
    long total = fault.requests, failures = 0;
    for (long k = 0; k < total; k++) {
        fault.remaining = k;
        gn_status st = attempt(ctx, c, what, x, labels, logits);
        fault.remaining = -1;
        if (st == GN_OK)
            continue; /* an allocation whose failure has a fallback, or one that was skipped */
        failures++;
        CHECK_MSG(st == GN_ERR_NOMEM, "%s %s, failing allocation %ld of %ld: %s (%s)", c->name,
                  names[what], k, total, gn_status_name(st), gn_context_error(ctx));
        CHECK_MSG(gn_context_error(ctx)[0] != '\0',
                  "%s %s, failing allocation %ld of %ld: no message", c->name, names[what], k,
                  total);
    }
    /* every failure was reported, and the library still works afterwards */
    CHECK_MSG(failures > 0, "%s %s: no allocation failure was reported (%ld requests)", c->name,
              names[what], total);
    CHECK_MSG(attempt(ctx, c, what, x, labels, logits) == GN_OK, "%s %s after the failures: %s",
              c->name, names[what], gn_context_error(ctx));
    if (what == FORWARD)
        CHECK_MSG(memcmp(logits, want, (size_t)c->n * 10 * sizeof(float)) == 0,
                  "%s: logits after the failures differ", c->name);
    printf("%-28s %-10s %4ld allocations, %4ld failures reported as GN_ERR_NOMEM\n", c->name,
           names[what], total, failures);
    free(x);
    free(logits);
    free(want);
    gn_context_destroy(ctx);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (int what = BUILD; what <= TRAIN; what++)
            run_case(&cases[i], what);
    return gn_test_finish("test_faults");
}
