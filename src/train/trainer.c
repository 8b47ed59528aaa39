/* The trainer: a training execution, the loss, and torch.optim.SGD's update
 *   g = grad + wd * p;  buf = momentum * buf + g (buf = g on the first step);
 *   d = nesterov ? g + momentum * buf : buf;  p -= lr * d
 * with no weight decay on BN parameters and biases unless asked. */
#include "core/exec.h"
#include "io/model_file.h"

#include <stdio.h>
#include <string.h>

struct gn_trainer {
    gn_model *model;
    gn_train_config config;
    int max_batch, h, w;
    gn_exec *exec;       /* for max_batch images               */
    gn_exec *tail_exec;  /* for a smaller last batch (cached)  */
    float **momentum;    /* per parameter; NULL for buffers    */
    float *dlogits;
    int64_t steps;
};

static int is_learnable(const gn_param *p)
{
    return p->role != GN_PARAM_RUNNING_MEAN && p->role != GN_PARAM_RUNNING_VAR;
}

static int gets_decay(const gn_train_config *c, const gn_param *p)
{
    return p->role == GN_PARAM_WEIGHT || c->decay_norm_and_bias;
}

static gn_status check_config(gn_context *ctx, const gn_train_config *c)
{
    if (!(c->lr > 0.0f) || !(c->momentum >= 0.0f && c->momentum < 1.0f) ||
        !(c->weight_decay >= 0.0f) || !(c->label_smoothing >= 0.0f && c->label_smoothing < 1.0f))
        return gn_fail(ctx, GN_ERR_ARGUMENT,
                       "training config: need lr > 0, momentum in [0, 1), weight decay >= 0, "
                       "label smoothing in [0, 1) (got %g, %g, %g, %g)",
                       (double)c->lr, (double)c->momentum, (double)c->weight_decay,
                       (double)c->label_smoothing);
    if (c->nesterov && c->momentum == 0.0f)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "training config: Nesterov needs momentum > 0");
    if (c->warmup_steps < 0 || c->total_steps < 0 || c->step_size < 0)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "training config: negative step counts");
    return GN_OK;
}

void gn_trainer_free(gn_trainer *t)
{
    if (!t)
        return;
    gn_context *ctx = t->model->ctx;
    gn_exec_free(t->exec);
    gn_exec_free(t->tail_exec);
    if (t->momentum)
        for (int i = 0; i < t->model->num_params; i++)
            gn_free(ctx, t->momentum[i]);
    gn_free(ctx, t->momentum);
    gn_free(ctx, t->dlogits);
    gn_free(ctx, t);
}

gn_status gn_trainer_create(gn_model *m, const gn_train_config *config, int max_batch, int h,
                            int w, gn_trainer **out)
{
    if (!m || !config || !out)
        return m ? gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_trainer_create: NULL argument")
                 : GN_ERR_ARGUMENT;
    gn_context *ctx = m->ctx;
    *out = NULL;
    gn_status st = check_config(ctx, config);
    if (st != GN_OK)
        return st;
    if (!m->has_weights)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "gn_trainer_create: the model has no weights");
    gn_trainer *t = gn_alloc_zero(ctx, sizeof(*t));
    if (!t)
        return gn_fail(ctx, GN_ERR_NOMEM, "out of memory creating a trainer");
    t->model = m;
    t->config = *config;
    t->max_batch = max_batch;
    t->h = h;
    t->w = w;
    st = gn_exec_create(m, max_batch, h, w, 1, &t->exec);
    if (st == GN_OK) {
        t->momentum = gn_alloc_zero(ctx, (size_t)m->num_params * sizeof(float *));
        t->dlogits = gn_alloc(ctx, (size_t)max_batch * gn_model_num_classes(m) * sizeof(float));
        if (!t->momentum || !t->dlogits)
            st = gn_fail(ctx, GN_ERR_NOMEM, "out of memory for the optimiser state");
    }
    for (int i = 0; i < m->num_params && st == GN_OK; i++) {
        gn_param *p = &m->params[i];
        if (!is_learnable(p))
            continue;
        if (!p->grad) {
            p->grad = gn_alloc_named(ctx, p->count * sizeof(float), p->name);
            if (!p->grad)
                st = GN_ERR_NOMEM;
        }
        if (st == GN_OK && config->momentum > 0.0f) {
            t->momentum[i] = gn_alloc_zero(ctx, p->count * sizeof(float));
            if (!t->momentum[i])
                st = gn_fail(ctx, GN_ERR_NOMEM, "out of memory for momentum of '%s'", p->name);
        }
    }
    if (st != GN_OK) {
        gn_trainer_free(t);
        return st;
    }
    *out = t;
    return GN_OK;
}

static void sgd_update(gn_trainer *t, float lr)
{
    const gn_train_config *c = &t->config;
    gn_model *m = t->model;
    for (int i = 0; i < m->num_params; i++) {
        gn_param *p = &m->params[i];
        if (!is_learnable(p))
            continue;
        float wd = gets_decay(c, p) ? c->weight_decay : 0.0f;
        float *buf = t->momentum[i];
        for (size_t k = 0; k < p->count; k++) {
            float g = p->grad[k] + wd * p->data[k];
            if (buf) {
                buf[k] = t->steps == 0 ? g : c->momentum * buf[k] + g;
                g = c->nesterov ? g + c->momentum * buf[k] : buf[k];
            }
            p->data[k] -= lr * g;
        }
    }
}

/* splitmix-style mix so every step's dropout masks come from their own stream. */
static uint64_t step_seed(uint64_t seed, int64_t step)
{
    uint64_t z = seed ^ ((uint64_t)step * 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    return z ^ (z >> 31);
}

gn_status gn_trainer_step(gn_trainer *t, const float *images, const int32_t *labels, int n,
                          gn_step_stats *stats)
{
    if (!t)
        return GN_ERR_ARGUMENT;
    gn_model *m = t->model;
    gn_context *ctx = m->ctx;
    if (!images || !labels || n < 1 || n > t->max_batch)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "gn_trainer_step: need 1..%d images, got %d",
                       t->max_batch, n);
    gn_exec *exec = t->exec;
    if (n != t->max_batch) {
        if (!t->tail_exec || t->tail_exec->n != n) {
            gn_exec_free(t->tail_exec);
            t->tail_exec = NULL;
            gn_status st = gn_exec_create(m, n, t->h, t->w, 1, &t->tail_exec);
            if (st != GN_OK)
                return st;
        }
        exec = t->tail_exec;
    }
    int classes = gn_model_num_classes(m);
    gn_rng_seed(&exec->rng, step_seed(t->config.seed, t->steps));
    gn_status st = gn_exec_forward(exec, images);
    float loss = 0.0f;
    const float *logits = gn_exec_output(exec);
    if (st == GN_OK)
        st = gn_cross_entropy(ctx, logits, labels, n, classes, t->config.label_smoothing, &loss,
                              t->dlogits);
    if (st != GN_OK)
        return st;
    for (int i = 0; i < m->num_params; i++)
        if (m->params[i].grad)
            memset(m->params[i].grad, 0, m->params[i].count * sizeof(float));
    st = gn_exec_backward(exec, t->dlogits);
    if (st != GN_OK)
        return st;
    float lr = gn_train_lr_at(&t->config, t->steps);
    sgd_update(t, lr);
    gn_model_drop_cache(m); /* the inference plan holds a repacked copy of the old weights */
    if (stats) {
        stats->loss = loss;
        stats->lr = lr;
        stats->correct = 0;
        for (int i = 0; i < n; i++) {
            const float *z = logits + (size_t)i * classes;
            int best = 0;
            for (int c = 1; c < classes; c++)
                if (z[c] > z[best])
                    best = c;
            stats->correct += best == labels[i];
        }
    }
    t->steps++;
    return GN_OK;
}

int64_t gn_trainer_steps(const gn_trainer *t)
{
    return t ? t->steps : 0;
}

/* ----------------------------------------------------------------------------------------------
 * Checkpoints: "optimizer.momentum.<param>" tensors and "optimizer.steps" metadata.
 * -------------------------------------------------------------------------------------------- */

gn_status gn_trainer_save(gn_trainer *t, const char *path, const char *const *meta_keys,
                          const char *const *meta_values, size_t meta_count)
{
    if (!t || !path || (meta_count && (!meta_keys || !meta_values)))
        return t ? gn_fail(t->model->ctx, GN_ERR_ARGUMENT, "gn_trainer_save: invalid arguments")
                 : GN_ERR_ARGUMENT;
    gn_model *m = t->model;
    gn_context *ctx = m->ctx;
    size_t n = (size_t)m->num_params;
    gn_st_entry *entries = gn_alloc_named(ctx, n * sizeof(*entries), "checkpoint tensors");
    char(*names)[GN_PARAM_NAME_MAX + 32] = gn_alloc_named(ctx, n * sizeof(*names), "names");
    int64_t(*shapes)[4] = gn_alloc_named(ctx, n * sizeof(*shapes), "shapes");
    const char **keys = gn_alloc_named(ctx, (meta_count + 1) * sizeof(char *), "metadata");
    const char **values = gn_alloc_named(ctx, (meta_count + 1) * sizeof(char *), "metadata");
    gn_status st = (entries && names && shapes && keys && values) ? GN_OK : GN_ERR_NOMEM;
    size_t count = 0;
    for (int i = 0; i < m->num_params && st == GN_OK; i++) {
        const gn_param *p = &m->params[i];
        if (!t->momentum[i])
            continue;
        snprintf(names[count], sizeof(names[count]), GN_OPTIMIZER_PREFIX "momentum.%s", p->name);
        for (int d = 0; d < p->ndim; d++)
            shapes[count][d] = p->shape[d];
        entries[count] = (gn_st_entry){names[count], GN_DTYPE_F32, p->ndim, shapes[count],
                                       t->momentum[i]};
        count++;
    }
    char steps[32];
    snprintf(steps, sizeof(steps), "%lld", (long long)t->steps);
    if (st == GN_OK) {
        keys[0] = GN_OPTIMIZER_PREFIX "steps";
        values[0] = steps;
        for (size_t i = 0; i < meta_count; i++) {
            keys[i + 1] = meta_keys[i];
            values[i + 1] = meta_values[i];
        }
        gn_model_extras extras = {entries, count, keys, values, meta_count + 1};
        st = gn_model_write(m, path, &extras);
    }
    gn_free(ctx, entries);
    gn_free(ctx, names);
    gn_free(ctx, shapes);
    gn_free(ctx, keys);
    gn_free(ctx, values);
    return st;
}

gn_status gn_trainer_restore(gn_trainer *t, const char *path)
{
    if (!t || !path)
        return t ? gn_fail(t->model->ctx, GN_ERR_ARGUMENT, "gn_trainer_restore: NULL path")
                 : GN_ERR_ARGUMENT;
    gn_model *m = t->model;
    gn_context *ctx = m->ctx;
    gn_st_file *f;
    gn_status st = gn_st_open(ctx, path, &f);
    if (st != GN_OK)
        return st;
    const char *steps = gn_st_meta(f, GN_OPTIMIZER_PREFIX "steps");
    long long count = -1;
    char extra;
    if (!steps || sscanf(steps, "%lld%c", &count, &extra) != 1 || count < 0)
        st = gn_fail(ctx, GN_ERR_FORMAT, "%s: not a training checkpoint (no valid '%s' metadata)",
                     path, GN_OPTIMIZER_PREFIX "steps");
    for (int i = 0; i < m->num_params && st == GN_OK; i++) {
        if (!t->momentum[i])
            continue;
        const gn_param *p = &m->params[i];
        char name[GN_PARAM_NAME_MAX + 32];
        snprintf(name, sizeof(name), GN_OPTIMIZER_PREFIX "momentum.%s", p->name);
        const gn_st_tensor *tensor = gn_st_find(f, name);
        if (!tensor)
            st = gn_fail(ctx, GN_ERR_MISSING, "%s: missing tensor '%s'", path, name);
        else if (tensor->dtype != GN_DTYPE_F32 || (size_t)tensor->numel != p->count)
            st = gn_fail(ctx, GN_ERR_SHAPE, "%s: tensor '%s' is not %zu F32 values", path, name,
                         p->count);
        else
            memcpy(t->momentum[i], tensor->data, p->count * sizeof(float));
    }
    if (st == GN_OK)
        t->steps = count;
    gn_st_close(ctx, f);
    return st;
}
