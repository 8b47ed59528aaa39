/* Test tool: takes SGD steps with the public training API and saves the model, so
 * tests/python/test_training.py can compare every weight and BN statistic with PyTorch.
 *
 *   gn_train_steps MODEL IMAGES.npy LABELS.npy STEPS OUT.safetensors
 *                  [lr momentum weight_decay nesterov decay_all label_smoothing [ACT_DIR]]
 *
 * With ACT_DIR, before step k the input of every ReLU and hard-sigmoid of that step's forward
 * pass is written to ACT_DIR/step<k>_act<j>.npy (j in graph order), by an identical training
 * forward on a second execution whose BN statistics updates are undone: the test uses them to
 * know which side of a kink our float32 values fell on.
 *
 * Each step uses the whole batch in IMAGES (N x C x H x W float32) with LABELS (N values).
 * After step k the trainer's checkpoint (weights, BN statistics, momentum) is written to
 * OUT.step<k>.safetensors, so each step can be checked on its own. */
#include "core/exec.h"
#include "io/npy.h"
#include "layers/layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes the activation-function inputs of a training forward on images, then restores the
 * BN running statistics and counters that forward advanced. */
static gn_status dump_activation_inputs(gn_model *m, gn_exec *exec, const float *images,
                                        const char *dir, int step)
{
    gn_context *ctx = m->ctx;
    float **keep = calloc((size_t)m->num_params, sizeof(float *));
    int64_t *counters = calloc((size_t)m->num_nodes, sizeof(int64_t));
    gn_status st = keep && counters ? GN_OK : GN_ERR_NOMEM;
    for (int i = 0; i < m->num_params && st == GN_OK; i++) {
        gn_param *p = &m->params[i];
        if (p->role != GN_PARAM_RUNNING_MEAN && p->role != GN_PARAM_RUNNING_VAR)
            continue;
        keep[i] = malloc(p->count * sizeof(float));
        if (!keep[i])
            st = GN_ERR_NOMEM;
        else
            memcpy(keep[i], p->data, p->count * sizeof(float));
    }
    for (int i = 0; i < m->num_nodes; i++)
        counters[i] = m->nodes[i].attr.bn.num_batches_tracked;
    if (st == GN_OK)
        st = gn_exec_forward(exec, images);
    for (int i = 0, j = 0; i < m->num_nodes && st == GN_OK; i++) {
        const gn_node *node = &m->nodes[i];
        if (node->op != GN_OP_RELU && node->op != GN_OP_HARD_SIGMOID)
            continue;
        gn_shape s = exec->shapes[node->inputs[0]];
        int64_t shape[4] = {exec->n, s.c, s.h, s.w};
        char path[4096];
        snprintf(path, sizeof(path), "%s/step%d_act%d.npy", dir, step, j++);
        size_t count = (size_t)exec->n * s.c * s.h * s.w;
        float *buf = exec->act[node->inputs[0]] ? NULL : malloc(count * sizeof(float));
        const float *value = gn_exec_value(exec, node->inputs[0], buf);
        st = value ? gn_npy_write(ctx, path, value, 4, shape)
                   : gn_fail(ctx, GN_ERR_ARGUMENT, "activation %d is not available", j - 1);
        free(buf);
    }
    for (int i = 0; i < m->num_params; i++)
        if (keep && keep[i]) {
            memcpy(m->params[i].data, keep[i], m->params[i].count * sizeof(float));
            free(keep[i]);
        }
    for (int i = 0; counters && i < m->num_nodes; i++)
        if (m->nodes[i].op == GN_OP_BATCHNORM)
            m->nodes[i].attr.bn.num_batches_tracked = counters[i];
    free(keep);
    free(counters);
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 12 && argc != 13) {
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
    if (argc >= 12) {
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
    gn_exec *probe = NULL;
    const char *act_dir = argc == 13 ? argv[12] : NULL;
    if (st == GN_OK && act_dir)
        st = gn_exec_create(m, (int)x.shape[0], (int)x.shape[2], (int)x.shape[3], 1, &probe);
    for (int i = 0; i < steps && st == GN_OK; i++) {
        gn_step_stats stats;
        if (probe)
            st = dump_activation_inputs(m, probe, x.data, act_dir, i + 1);
        if (st != GN_OK)
            break;
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
    gn_exec_free(probe);
done:
    free(labels);
    gn_trainer_free(t);
    gn_npy_free(ctx, &x);
    gn_npy_free(ctx, &y);
    gn_model_free(m);
    gn_context_destroy(ctx);
    return rc;
}
