/* Test tool: takes SGD steps with the public training API and saves the model, so
 * tests/python/test_training.py can compare every weight and BN statistic with PyTorch.
 *
 *   gn_train_steps MODEL IMAGES.npy LABELS.npy STEPS OUT.safetensors
 *                  [lr momentum weight_decay nesterov decay_all label_smoothing]
 *
 * Each step uses the whole batch in IMAGES (N x C x H x W float32) with LABELS (N values).
 * After step k the trainer's checkpoint (weights, BN statistics, momentum) is written to
 * OUT.step<k>.safetensors, so each step can be checked on its own. */
#include "io/npy.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 12) {
        fprintf(stderr, "usage: %s MODEL IMAGES.npy LABELS.npy STEPS OUT [lr momentum wd nesterov "
                        "decay_all smoothing]\n", argv[0]);
        return 2;
    }
    gn_context *ctx = NULL;
    gn_model *m = NULL;
    gn_trainer *t = NULL;
    gn_npy x = {0}, y = {0};
    int32_t *labels = NULL;
    int rc = 1;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 1;
    gn_train_config c;
    gn_train_config_default(&c);
    if (argc == 12) {
        c.lr = strtof(argv[6], NULL);
        c.momentum = strtof(argv[7], NULL);
        c.weight_decay = strtof(argv[8], NULL);
        c.nesterov = atoi(argv[9]);
        c.decay_norm_and_bias = atoi(argv[10]);
        c.label_smoothing = strtof(argv[11], NULL);
    }
    int steps = atoi(argv[4]);
    gn_status st = gn_model_load(ctx, argv[1], &m);
    if (st == GN_OK)
        st = gn_npy_read(ctx, argv[2], &x);
    if (st == GN_OK)
        st = gn_npy_read(ctx, argv[3], &y);
    if (st == GN_OK && (x.ndim != 4 || y.numel != x.shape[0])) {
        fprintf(stderr, "images must be N x C x H x W with N labels\n");
        goto done;
    }
    if (st == GN_OK) {
        labels = malloc((size_t)y.numel * sizeof(int32_t));
        for (int64_t i = 0; labels && i < y.numel; i++)
            labels[i] = (int32_t)y.data[i];
        st = gn_trainer_create(m, &c, (int)x.shape[0], (int)x.shape[2], (int)x.shape[3], &t);
    }
    for (int i = 0; i < steps && st == GN_OK; i++) {
        gn_step_stats stats;
        st = gn_trainer_step(t, x.data, labels, (int)x.shape[0], &stats);
        if (st == GN_OK)
            printf("step %d loss %.7f lr %g correct %d\n", i, (double)stats.loss,
                   (double)stats.lr, stats.correct);
        char path[4096];
        snprintf(path, sizeof(path), "%s.step%d.safetensors", argv[5], i + 1);
        if (st == GN_OK)
            st = gn_trainer_save(t, path, NULL, NULL, 0);
    }
    if (st == GN_OK)
        st = gn_model_save(m, argv[5]);
    if (st != GN_OK)
        fprintf(stderr, "error: %s\n", gn_context_error(ctx));
    else
        rc = 0;
done:
    free(labels);
    gn_trainer_free(t);
    gn_npy_free(ctx, &x);
    gn_npy_free(ctx, &y);
    gn_model_free(m);
    gn_context_destroy(ctx);
    return rc;
}
