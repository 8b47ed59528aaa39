/* Learning-rate schedules: linear warm-up, then constant, step or cosine. */
#include "core/internal.h"

#include <math.h>
#include <string.h>

void gn_train_config_default(gn_train_config *c)
{
    memset(c, 0, sizeof(*c));
    c->lr = 0.1f;
    c->momentum = 0.9f;
    c->weight_decay = 5e-4f;
    c->schedule = GN_LR_CONSTANT;
    c->gamma = 0.1f;
}

float gn_train_lr_at(const gn_train_config *c, int64_t step)
{
    if (step < c->warmup_steps)
        return c->lr * (float)(step + 1) / (float)c->warmup_steps;
    int64_t t = step - c->warmup_steps;
    switch (c->schedule) {
    case GN_LR_STEP:
        if (c->step_size > 0)
            return c->lr * powf(c->gamma, (float)(t / c->step_size));
        return c->lr;
    case GN_LR_COSINE: {
        if (c->total_steps <= 0 || t >= c->total_steps)
            return c->total_steps <= 0 ? c->lr : c->min_lr;
        double progress = (double)t / (double)c->total_steps;
        return (float)(c->min_lr + (c->lr - c->min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
    }
    case GN_LR_CONSTANT:
    default:
        return c->lr;
    }
}
