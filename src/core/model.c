/* Public model API: building from a config, inference, counts and the per-block summary. */
#include "core/exec.h"
#include "core/graph.h"
#include "io/safetensors.h"
#include "models/models.h"
#include "plan/plan.h"

#include <stdio.h>
#include <string.h>

void gn_model_config_default(gn_model_config *config, gn_arch arch)
{
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
    static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    memset(config, 0, sizeof(*config));
    config->arch = arch;
    config->width = 1.0;
    config->num_classes = arch == GN_ARCH_GHOSTNET ? 1000 : 10;
    config->in_channels = 3;
    config->input_h = config->input_w = arch == GN_ARCH_GHOSTNET ? 224 : 32;
    config->dropout = arch == GN_ARCH_GHOSTNET ? 0.2f : 0.0f;
    config->depth = arch == GN_ARCH_RESNET ? 56 : (arch == GN_ARCH_VGG ? 16 : 0);
    for (int i = 0; i < GN_MAX_NORM_CHANNELS; i++) {
        config->mean[i] = i < 3 ? imagenet_mean[i] : 0.5f;
        config->std[i] = i < 3 ? imagenet_std[i] : 0.5f;
    }
}

static gn_status check_config(gn_context *ctx, const gn_model_config *c)
{
    if (c->num_classes < 1)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "num_classes must be >= 1, got %d", c->num_classes);
    if (c->in_channels < 1 || c->in_channels > 4096)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "in_channels must be in [1, 4096], got %d",
                       c->in_channels);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return gn_fail(ctx, GN_ERR_ARGUMENT, "dropout must be in [0, 1), got %g",
                       (double)c->dropout);
    if (c->arch == GN_ARCH_GHOSTNET && !(c->width >= 0.05 && c->width <= 16.0))
        return gn_fail(ctx, GN_ERR_ARGUMENT, "GhostNet width must be in [0.05, 16], got %g",
                       c->width);
    if (c->input_h < 1 || c->input_w < 1)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "input size must be positive, got %dx%d",
                       c->input_h, c->input_w);
    if (c->arch != GN_ARCH_GHOSTNET && (c->width != 1.0 || c->small_input))
        return gn_fail(ctx, GN_ERR_ARGUMENT, "width and small_input apply to GhostNet only");
    if (c->arch == GN_ARCH_GHOSTNET && c->depth)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "depth applies to ResNet and VGG only");
    for (int i = 0; i < GN_MAX_NORM_CHANNELS; i++)
        if (!(c->std[i] > 0.0f))
            return gn_fail(ctx, GN_ERR_ARGUMENT, "std[%d] must be > 0, got %g", i,
                           (double)c->std[i]);
    return gn_check_ghost_config(ctx, c);
}

gn_status gn_model_build_graph(gn_context *ctx, const gn_model_config *config, gn_model **out)
{
    *out = NULL;
    gn_status st = check_config(ctx, config);
    if (st != GN_OK)
        return st;
    gn_model *m;
    st = gn_graph_create(ctx, config->in_channels, &m);
    if (st != GN_OK)
        return st;
    m->config = *config;
    switch (config->arch) {
    case GN_ARCH_GHOSTNET:
        st = gn_build_ghostnet(m, config);
        break;
    case GN_ARCH_RESNET:
        st = gn_build_resnet(m, config);
        break;
    case GN_ARCH_VGG:
        st = gn_build_vgg(m, config);
        break;
    default:
        st = gn_fail(ctx, GN_ERR_UNSUPPORTED, "architecture '%s' cannot be built by this version",
                     gn_arch_name(config->arch));
        break;
    }
    if (st != GN_OK) {
        gn_model_free(m);
        return st;
    }
    m->config = *config; /* gn_graph_set_output overwrote num_classes with the same value */
    *out = m;
    return GN_OK;
}

gn_status gn_model_create(gn_context *ctx, const gn_model_config *config, uint64_t seed,
                          gn_model **out)
{
    if (!ctx || !config || !out)
        return ctx ? gn_fail(ctx, GN_ERR_ARGUMENT, "gn_model_create: NULL argument")
                   : GN_ERR_ARGUMENT;
    gn_model *m;
    gn_status st = gn_model_build_graph(ctx, config, &m);
    if (st == GN_OK)
        st = gn_graph_init_params(m, seed);
    if (st != GN_OK) {
        gn_model_free(m);
        return st;
    }
    *out = m;
    return GN_OK;
}

void gn_model_drop_cache(gn_model *m)
{
    gn_exec_free(m->infer_exec);
    m->infer_exec = NULL;
    gn_plan_free(m->plan);
    m->plan = NULL;
}

void gn_model_free(gn_model *m)
{
    if (!m)
        return;
    gn_context *ctx = m->ctx;
    gn_model_drop_cache(m);
    for (int i = 0; i < m->num_params; i++) {
        if (m->params[i].owned)
            gn_free(ctx, m->params[i].data);
        gn_free(ctx, m->params[i].grad);
    }
    if (m->mapped)
        gn_st_close(ctx, m->mapped);
    gn_free(ctx, m->params);
    gn_free(ctx, m->nodes);
    gn_free(ctx, m->values);
    gn_free(ctx, m->blocks);
    gn_free(ctx, m);
}

const gn_model_config *gn_model_get_config(const gn_model *m)
{
    return &m->config;
}

gn_context *gn_model_context(const gn_model *m)
{
    return m->ctx;
}

int gn_model_num_classes(const gn_model *m)
{
    return m->output >= 0 ? m->values[m->output].channels : 0;
}

int gn_model_in_channels(const gn_model *m)
{
    return m->values[0].channels;
}

int64_t gn_model_param_count(const gn_model *m)
{
    return gn_graph_param_count_range(m, 0, m->num_nodes);
}

/* Shapes for an h x w input in a fresh array the caller frees. */
static gn_status shapes_for(const gn_model *m, int h, int w, gn_shape **out)
{
    *out = gn_alloc_named(m->ctx, (size_t)m->num_values * sizeof(gn_shape), "value shapes");
    if (!*out)
        return GN_ERR_NOMEM;
    gn_status st = gn_graph_infer_shapes(m, h, w, *out);
    if (st != GN_OK) {
        gn_free(m->ctx, *out);
        *out = NULL;
    }
    return st;
}

gn_status gn_model_macs(const gn_model *m, int h, int w, int64_t *macs)
{
    if (!m || !macs)
        return GN_ERR_ARGUMENT;
    gn_shape *shapes;
    gn_status st = shapes_for(m, h, w, &shapes);
    if (st != GN_OK)
        return st;
    *macs = gn_graph_macs_range(m, shapes, 0, m->num_nodes);
    gn_free(m->ctx, shapes);
    return GN_OK;
}

gn_status gn_model_summary(const gn_model *m, int h, int w, gn_block_info *rows, int max,
                           int *count)
{
    if (!m || !count || (max > 0 && !rows))
        return GN_ERR_ARGUMENT;
    gn_shape *shapes;
    gn_status st = shapes_for(m, h, w, &shapes);
    if (st != GN_OK)
        return st;
    *count = m->num_blocks;
    for (int b = 0; b < m->num_blocks && b < max; b++) {
        const gn_block *blk = &m->blocks[b];
        int end = b + 1 < m->num_blocks ? m->blocks[b + 1].first_node : m->num_nodes;
        gn_block_info *row = &rows[b];
        memset(row, 0, sizeof(*row));
        snprintf(row->name, sizeof(row->name), "%s", blk->name);
        snprintf(row->op, sizeof(row->op), "%s", blk->op);
        if (end > blk->first_node) {
            gn_shape in = shapes[m->nodes[blk->first_node].inputs[0]];
            gn_shape out = shapes[m->nodes[end - 1].output];
            row->in_c = in.c, row->in_h = in.h, row->in_w = in.w;
            row->out_c = out.c, row->out_h = out.h, row->out_w = out.w;
        }
        row->exp = blk->exp;
        row->se = blk->se;
        row->stride = blk->stride;
        row->params = gn_graph_param_count_range(m, blk->first_node, end);
        row->macs = gn_graph_macs_range(m, shapes, blk->first_node, end);
    }
    gn_free(m->ctx, shapes);
    return GN_OK;
}

gn_status gn_model_forward(gn_model *m, const float *input, int n, int h, int w, float *logits)
{
    if (!m)
        return GN_ERR_ARGUMENT;
    if (!input || !logits)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_model_forward: %s is NULL",
                       input ? "logits" : "input");
    if (!m->has_weights)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT,
                       "gn_model_forward: the model has no weights (initialise or load them)");
    gn_exec *exec = m->infer_exec;
    if (!exec || exec->n != n || exec->h != h || exec->w != w) {
        /* The compiled plan, unless this graph has something it cannot compile. */
        gn_plan *plan;
        gn_status planned = gn_model_plan(m, n, h, w, &plan);
        if (planned != GN_ERR_UNSUPPORTED) {
            if (planned == GN_OK)
                gn_plan_run(plan, input, logits, NULL);
            return planned;
        }
        gn_model_drop_cache(m);
        gn_status st = gn_exec_create(m, n, h, w, 0, &exec);
        if (st != GN_OK)
            return st;
        m->infer_exec = exec;
    }
    gn_status st = gn_exec_forward(exec, input);
    if (st != GN_OK)
        return st;
    memcpy(logits, gn_exec_output(exec),
           (size_t)n * (size_t)gn_model_num_classes(m) * sizeof(float));
    return GN_OK;
}
