/* Training throughput of ghostnet on one architecture: SGD steps on random images, timed after
 * warm-up. Prints one JSON line. Driven by bench/train_throughput.py, which runs PyTorch on the
 * same network in the same run.
 *
 *   gn_bench_train ARCH_ARGS... --batch B --size S --threads T --steps N
 * ARCH_ARGS: --arch ghostnet --width W --small-input L | --arch resnet --depth D | --arch vgg,
 * each optionally with --ghost S,D; always 1 input channel and 10 classes (Fashion-MNIST). */
#include <ghostnet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    gn_model_config c;
    gn_model_config_default(&c, GN_ARCH_GHOSTNET);
    int batch = 128, size = 28, threads = 2, steps = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--arch")) {
            gn_arch arch = !strcmp(v, "resnet") ? GN_ARCH_RESNET
                                                : (!strcmp(v, "vgg") ? GN_ARCH_VGG : GN_ARCH_GHOSTNET);
            double width = c.width;
            int small = c.small_input;
            gn_model_config_default(&c, arch);
            c.width = width;
            c.small_input = small;
        } else if (!strcmp(k, "--width")) {
            c.width = atof(v);
        } else if (!strcmp(k, "--small-input")) {
            c.small_input = atoi(v);
        } else if (!strcmp(k, "--depth")) {
            c.depth = atoi(v);
        } else if (!strcmp(k, "--ghost")) {
            if (sscanf(v, "%d,%d", &c.ghost_ratio, &c.ghost_kernel) != 2)
                return 2;
        } else if (!strcmp(k, "--batch")) {
            batch = atoi(v);
        } else if (!strcmp(k, "--size")) {
            size = atoi(v);
        } else if (!strcmp(k, "--threads")) {
            threads = atoi(v);
        } else if (!strcmp(k, "--steps")) {
            steps = atoi(v);
        } else {
            fprintf(stderr, "unknown option %s\n", k);
            return 2;
        }
    }
    c.in_channels = 1;
    c.num_classes = 10;
    c.input_h = c.input_w = size;
    gn_context_options options = {.threads = threads};
    gn_context *ctx = NULL;
    gn_model *model = NULL;
    gn_trainer *trainer = NULL;
    float *images = malloc((size_t)batch * size * size * sizeof(float));
    int32_t *labels = malloc((size_t)batch * sizeof(int32_t));
    if (!images || !labels || gn_context_create(&options, &ctx) != GN_OK)
        return 1;
    for (size_t i = 0; i < (size_t)batch * size * size; i++)
        images[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (int i = 0; i < batch; i++)
        labels[i] = i % 10;
    gn_train_config tc;
    gn_train_config_default(&tc);
    gn_status st = gn_model_create(ctx, &c, 1, &model);
    if (st == GN_OK)
        st = gn_trainer_create(model, &tc, batch, size, size, &trainer);
    gn_step_stats stats;
    for (int i = 0; i < 3 && st == GN_OK; i++)
        st = gn_trainer_step(trainer, images, labels, batch, &stats);
    double start = now();
    for (int i = 0; i < steps && st == GN_OK; i++)
        st = gn_trainer_step(trainer, images, labels, batch, &stats);
    double seconds = now() - start;
    if (st != GN_OK) {
        fprintf(stderr, "error: %s\n", gn_context_error(ctx));
        return 1;
    }
    printf("{\"images_per_second\": %.2f, \"steps\": %d, \"batch\": %d, \"threads\": %d, "
           "\"isa\": \"%s\"}\n",
           steps * batch / seconds, steps, batch, threads, gn_context_isa(ctx));
    gn_trainer_free(trainer);
    gn_model_free(model);
    gn_context_destroy(ctx);
    free(images);
    free(labels);
    return 0;
}
