/* The model-level plan API: the cached plan, its description and per-step timing. */
#include "plan/plan.h"

gn_status gn_model_plan(gn_model *m, int n, int h, int w, gn_plan **out)
{
    gn_plan *plan = m->plan;
    int pn = 0, ph = 0, pw = 0;
    if (plan)
        gn_plan_size(plan, &pn, &ph, &pw);
    if (!plan || pn != n || ph != h || pw != w) {
        gn_model_drop_cache(m);
        gn_status st = gn_plan_create(m, n, h, w, &plan);
        if (st != GN_OK)
            return st;
        m->plan = plan;
    }
    *out = plan;
    return GN_OK;
}

static gn_status check_model(gn_model *m, const char *fn)
{
    if (!m)
        return GN_ERR_ARGUMENT;
    if (!m->has_weights)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT,
                       "%s: the model has no weights (initialise or load them)", fn);
    return GN_OK;
}

gn_status gn_model_plan_info(gn_model *m, int n, int h, int w, gn_plan_info *info,
                             gn_step_info *steps, int max)
{
    gn_status st = check_model(m, "gn_model_plan_info");
    if (st != GN_OK)
        return st;
    if (!info)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_model_plan_info: info is NULL");
    gn_plan *plan;
    st = gn_model_plan(m, n, h, w, &plan);
    if (st != GN_OK)
        return st;
    gn_plan_describe(plan, info);
    for (int i = 0; steps && i < max && i < info->steps; i++)
        gn_plan_step(plan, i, &steps[i]);
    return GN_OK;
}

gn_status gn_model_forward_timed(gn_model *m, const float *input, int n, int h, int w,
                                 float *logits, double *step_ms, int max)
{
    gn_status st = check_model(m, "gn_model_forward_timed");
    if (st != GN_OK)
        return st;
    if (!input || !logits || !step_ms)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_model_forward_timed: NULL argument");
    gn_plan *plan;
    st = gn_model_plan(m, n, h, w, &plan);
    if (st != GN_OK)
        return st;
    gn_plan_info info;
    gn_plan_describe(plan, &info);
    if (max < info.steps)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT,
                       "gn_model_forward_timed: room for %d step times, the plan has %d steps",
                       max, info.steps);
    gn_plan_run(plan, input, logits, step_ms);
    return GN_OK;
}
