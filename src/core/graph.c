/* The model graph: creating it, appending primitive layers, shapes, parameters and counts. */
#include "core/graph.h"
#include "layers/layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Grows a gn_alloc'd array to hold at least need items. */
static gn_status grow(gn_context *ctx, void **items, int *cap, int need, size_t item_size,
                      const char *what)
{
    if (need <= *cap)
        return GN_OK;
    int new_cap = *cap ? *cap * 2 : 16;
    while (new_cap < need)
        new_cap *= 2;
    void *bigger = gn_alloc_named(ctx, (size_t)new_cap * item_size, what);
    if (!bigger)
        return GN_ERR_NOMEM;
    if (*items) {
        memcpy(bigger, *items, (size_t)*cap * item_size);
        gn_free(ctx, *items);
    }
    *items = bigger;
    *cap = new_cap;
    return GN_OK;
}

void gn_join_name(char *out, size_t size, const char *prefix, const char *name)
{
    if (prefix && *prefix && name && *name)
        snprintf(out, size, "%s.%s", prefix, name);
    else
        snprintf(out, size, "%s", (prefix && *prefix) ? prefix : (name ? name : ""));
}

gn_status gn_graph_create(gn_context *ctx, int in_channels, gn_model **out)
{
    if (!ctx || !out)
        return GN_ERR_ARGUMENT;
    *out = NULL;
    if (in_channels < 1)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "gn_graph_create: in_channels must be >= 1, got %d",
                       in_channels);
    gn_model *m = gn_alloc_zero(ctx, sizeof(*m));
    if (!m)
        return gn_fail(ctx, GN_ERR_NOMEM, "out of memory creating a model");
    m->ctx = ctx;
    gn_model_config_default(&m->config, GN_ARCH_CUSTOM);
    m->config.in_channels = in_channels;
    m->output = -1;
    if (grow(ctx, (void **)&m->values, &m->cap_values, 1, sizeof(gn_value_def), "graph values")) {
        gn_model_free(m);
        return GN_ERR_NOMEM;
    }
    m->values[0].channels = in_channels;
    m->values[0].producer = -1;
    m->num_values = 1;
    *out = m;
    return GN_OK;
}

gn_status gn_graph_check_value(gn_model *m, gn_value v, const char *fn)
{
    if (v < 0 || v >= m->num_values)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "%s: value %d does not exist (graph has %d)", fn,
                       v, m->num_values);
    return GN_OK;
}

int gn_graph_add_node(gn_model *m, const gn_node *node, int out_channels)
{
    if (grow(m->ctx, (void **)&m->nodes, &m->cap_nodes, m->num_nodes + 1, sizeof(gn_node),
             "graph nodes") ||
        grow(m->ctx, (void **)&m->values, &m->cap_values, m->num_values + 1,
             sizeof(gn_value_def), "graph values"))
        return -1;
    int index = m->num_nodes++;
    gn_node *copy = &m->nodes[index];
    *copy = *node;
    copy->output = m->num_values++;
    copy->block = m->num_blocks - 1;
    m->values[copy->output].channels = out_channels;
    m->values[copy->output].producer = index;
    gn_model_drop_cache(m);
    return index;
}

int gn_graph_add_param(gn_model *m, gn_node *node, const char *prefix, const char *suffix,
                       gn_param_role role, int ndim, const int *shape, int fan_in)
{
    if (grow(m->ctx, (void **)&m->params, &m->cap_params, m->num_params + 1, sizeof(gn_param),
             "parameter table"))
        return -1;
    gn_param *p = &m->params[m->num_params];
    memset(p, 0, sizeof(*p));
    gn_join_name(p->name, sizeof(p->name), prefix, suffix);
    p->role = role;
    p->ndim = ndim;
    p->count = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->count *= (size_t)shape[i];
    }
    p->fan_in = fan_in;
    node->params[node->num_params++] = m->num_params;
    return m->num_params++;
}

/* ----------------------------------------------------------------------------------------------
 * Primitive builders
 * -------------------------------------------------------------------------------------------- */

static gn_status require_open(gn_model *m, const char *fn)
{
    if (!m)
        return GN_ERR_ARGUMENT;
    if (m->output >= 0)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "%s: the graph is finished (output already set)",
                       fn);
    return GN_OK;
}

/* Adds node (whose params were already appended to it) and stores its output value. */
static gn_status finish_node(gn_model *m, gn_node *node, int out_channels, gn_value *out)
{
    int index = gn_graph_add_node(m, node, out_channels);
    if (index < 0)
        return GN_ERR_NOMEM;
    if (out)
        *out = m->nodes[index].output;
    return GN_OK;
}

static gn_status begin_node(gn_model *m, gn_node *node, gn_op op, const char *name, gn_value in,
                            const char *fn)
{
    gn_status st = require_open(m, fn);
    if (st == GN_OK)
        st = gn_graph_check_value(m, in, fn);
    if (st != GN_OK)
        return st;
    memset(node, 0, sizeof(*node));
    node->op = op;
    snprintf(node->name, sizeof(node->name), "%s", name ? name : "");
    node->inputs[0] = in;
    node->num_inputs = 1;
    return GN_OK;
}

gn_status gn_graph_conv2d(gn_model *m, const char *name, gn_value in, int out_channels,
                          int kernel, int stride, int padding, int groups, int bias,
                          gn_value *out)
{
    gn_node node;
    gn_status st = begin_node(m, &node, GN_OP_CONV2D, name, in, "gn_graph_conv2d");
    if (st != GN_OK)
        return st;
    int in_channels = m->values[in].channels;
    if (out_channels < 1 || kernel < 1 || stride < 1 || padding < 0 || groups < 1 ||
        in_channels % groups != 0 || out_channels % groups != 0)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT,
                       "gn_graph_conv2d '%s': invalid conv %d->%d kernel %d stride %d padding %d "
                       "groups %d",
                       node.name, in_channels, out_channels, kernel, stride, padding, groups);
    node.attr.conv = (gn_conv_attr){in_channels, out_channels, kernel, stride, padding, groups,
                                    bias ? 1 : 0};
    int fan_in = in_channels / groups * kernel * kernel;
    int wshape[4] = {out_channels, in_channels / groups, kernel, kernel};
    if (gn_graph_add_param(m, &node, name, "weight", GN_PARAM_WEIGHT, 4, wshape, fan_in) < 0)
        return GN_ERR_NOMEM;
    if (bias && gn_graph_add_param(m, &node, name, "bias", GN_PARAM_BIAS, 1, &out_channels,
                                   fan_in) < 0)
        return GN_ERR_NOMEM;
    return finish_node(m, &node, out_channels, out);
}

gn_status gn_graph_batchnorm(gn_model *m, const char *name, gn_value in, gn_value *out)
{
    gn_node node;
    gn_status st = begin_node(m, &node, GN_OP_BATCHNORM, name, in, "gn_graph_batchnorm");
    if (st != GN_OK)
        return st;
    int channels = m->values[in].channels;
    node.attr.bn = (gn_bn_attr){channels, 1e-5f, 0.1f, 0};
    static const struct {
        const char *suffix;
        gn_param_role role;
    } parts[4] = {{"weight", GN_PARAM_BN_WEIGHT},
                  {"bias", GN_PARAM_BN_BIAS},
                  {"running_mean", GN_PARAM_RUNNING_MEAN},
                  {"running_var", GN_PARAM_RUNNING_VAR}};
    for (int i = 0; i < 4; i++)
        if (gn_graph_add_param(m, &node, name, parts[i].suffix, parts[i].role, 1, &channels,
                               0) < 0)
            return GN_ERR_NOMEM;
    return finish_node(m, &node, channels, out);
}

static gn_status unary(gn_model *m, gn_op op, gn_value in, gn_value *out, const char *fn)
{
    gn_node node;
    gn_status st = begin_node(m, &node, op, "", in, fn);
    if (st != GN_OK)
        return st;
    return finish_node(m, &node, m->values[in].channels, out);
}

gn_status gn_graph_relu(gn_model *m, gn_value in, gn_value *out)
{
    return unary(m, GN_OP_RELU, in, out, "gn_graph_relu");
}

gn_status gn_graph_hard_sigmoid(gn_model *m, gn_value in, gn_value *out)
{
    return unary(m, GN_OP_HARD_SIGMOID, in, out, "gn_graph_hard_sigmoid");
}

gn_status gn_graph_global_avgpool(gn_model *m, gn_value in, gn_value *out)
{
    return unary(m, GN_OP_GLOBAL_AVGPOOL, in, out, "gn_graph_global_avgpool");
}

gn_status gn_graph_maxpool(gn_model *m, gn_value in, int kernel, int stride, int padding,
                           gn_value *out)
{
    gn_node node;
    gn_status st = begin_node(m, &node, GN_OP_MAXPOOL, "", in, "gn_graph_maxpool");
    if (st != GN_OK)
        return st;
    if (kernel < 1 || stride < 1 || padding < 0 || padding * 2 > kernel)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT,
                       "gn_graph_maxpool: invalid kernel %d stride %d padding %d", kernel,
                       stride, padding);
    node.attr.pool = (gn_pool_attr){kernel, stride, padding};
    return finish_node(m, &node, m->values[in].channels, out);
}

gn_status gn_graph_dropout(gn_model *m, gn_value in, float p, gn_value *out)
{
    gn_node node;
    gn_status st = begin_node(m, &node, GN_OP_DROPOUT, "", in, "gn_graph_dropout");
    if (st != GN_OK)
        return st;
    if (!(p >= 0.0f && p < 1.0f))
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_graph_dropout: p must be in [0, 1), got %g",
                       (double)p);
    node.attr.dropout_p = p;
    return finish_node(m, &node, m->values[in].channels, out);
}

/* A linear layer after global pooling sees c x 1 x 1; its in_features is fixed at build time
 * from the channels, and the shape rule checks the spatial size is 1 x 1 (or matches). */
gn_status gn_graph_linear(gn_model *m, const char *name, gn_value in, int out_features,
                          gn_value *out)
{
    gn_node node;
    gn_status st = begin_node(m, &node, GN_OP_LINEAR, name, in, "gn_graph_linear");
    if (st != GN_OK)
        return st;
    if (out_features < 1)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_graph_linear '%s': out_features %d < 1",
                       node.name, out_features);
    int in_features = m->values[in].channels;
    node.attr.linear.in_features = in_features;
    node.attr.linear.out_features = out_features;
    int wshape[2] = {out_features, in_features};
    if (gn_graph_add_param(m, &node, name, "weight", GN_PARAM_WEIGHT, 2, wshape, in_features) < 0 ||
        gn_graph_add_param(m, &node, name, "bias", GN_PARAM_BIAS, 1, &out_features,
                           in_features) < 0)
        return GN_ERR_NOMEM;
    return finish_node(m, &node, out_features, out);
}

/* A two-input node whose output has the first operand's channels. */
static gn_status binary(gn_model *m, gn_op op, gn_value a, gn_value b, gn_value *out,
                        const char *fn)
{
    gn_node node;
    gn_status st = begin_node(m, &node, op, "", a, fn);
    if (st == GN_OK)
        st = gn_graph_check_value(m, b, fn);
    if (st != GN_OK)
        return st;
    if (op == GN_OP_ADD && m->values[a].channels != m->values[b].channels)
        return gn_fail(m->ctx, GN_ERR_SHAPE, "%s: %d channels + %d channels", fn,
                       m->values[a].channels, m->values[b].channels);
    if (op == GN_OP_CHANNEL_SCALE && m->values[a].channels != m->values[b].channels)
        return gn_fail(m->ctx, GN_ERR_SHAPE, "%s: %d channels scaled by a %d-channel gate", fn,
                       m->values[a].channels, m->values[b].channels);
    node.inputs[1] = b;
    node.num_inputs = 2;
    return finish_node(m, &node, m->values[a].channels, out);
}

gn_status gn_graph_add(gn_model *m, gn_value a, gn_value b, gn_value *out)
{
    return binary(m, GN_OP_ADD, a, b, out, "gn_graph_add");
}

gn_status gn_graph_channel_scale(gn_model *m, gn_value x, gn_value gate, gn_value *out)
{
    return binary(m, GN_OP_CHANNEL_SCALE, x, gate, out, "gn_graph_channel_scale");
}

gn_status gn_graph_concat(gn_model *m, gn_value a, gn_value b, int keep, gn_value *out)
{
    gn_node node;
    gn_status st = begin_node(m, &node, GN_OP_CONCAT, "", a, "gn_graph_concat");
    if (st == GN_OK)
        st = gn_graph_check_value(m, b, "gn_graph_concat");
    if (st != GN_OK)
        return st;
    int total = m->values[a].channels + m->values[b].channels;
    if (keep < 1 || keep > total)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_graph_concat: keep %d of %d channels", keep,
                       total);
    node.attr.concat_keep = keep;
    node.inputs[1] = b;
    node.num_inputs = 2;
    return finish_node(m, &node, keep, out);
}

gn_status gn_graph_begin_block(gn_model *m, const char *name, const char *op, int exp, int se,
                               int stride)
{
    gn_status st = require_open(m, "gn_graph_begin_block");
    if (st != GN_OK)
        return st;
    if (grow(m->ctx, (void **)&m->blocks, &m->cap_blocks, m->num_blocks + 1, sizeof(gn_block),
             "summary blocks"))
        return GN_ERR_NOMEM;
    gn_block *b = &m->blocks[m->num_blocks++];
    memset(b, 0, sizeof(*b));
    snprintf(b->name, sizeof(b->name), "%s", name ? name : "");
    snprintf(b->op, sizeof(b->op), "%s", op ? op : "");
    b->exp = exp;
    b->se = se;
    b->stride = stride;
    b->first_node = m->num_nodes;
    return GN_OK;
}

gn_status gn_graph_set_output(gn_model *m, gn_value out)
{
    gn_status st = require_open(m, "gn_graph_set_output");
    if (st == GN_OK)
        st = gn_graph_check_value(m, out, "gn_graph_set_output");
    if (st != GN_OK)
        return st;
    if (m->num_nodes == 0)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_graph_set_output: the graph has no layers");
    m->output = out;
    m->config.num_classes = m->values[out].channels;
    return GN_OK;
}

int gn_graph_channels(const gn_model *m, gn_value v)
{
    if (!m || v < 0 || v >= m->num_values)
        return -1;
    return m->values[v].channels;
}

/* ----------------------------------------------------------------------------------------------
 * Shapes and counts
 * -------------------------------------------------------------------------------------------- */

gn_status gn_graph_infer_shapes(const gn_model *m, int h, int w, gn_shape *shapes)
{
    if (h < 1 || w < 1)
        return gn_fail(m->ctx, GN_ERR_SHAPE, "input size %dx%d is not positive", h, w);
    shapes[0] = (gn_shape){m->config.in_channels, h, w};
    for (int i = 0; i < m->num_nodes; i++) {
        const gn_node *node = &m->nodes[i];
        gn_shape in[2] = {{0, 0, 0}, {0, 0, 0}};
        for (int k = 0; k < node->num_inputs; k++)
            in[k] = shapes[node->inputs[k]];
        char why[200] = "";
        const gn_layer_kind *kind = gn_layer_kind_of(node->op);
        if (kind->shape(node, in, &shapes[node->output], why, sizeof(why)) != 0)
            return gn_fail(m->ctx, GN_ERR_SHAPE, "input %dx%dx%d: layer %d (%s%s%s): %s",
                           m->config.in_channels, h, w, i, kind->name, node->name[0] ? " " : "",
                           node->name, why);
    }
    return GN_OK;
}

static int is_learnable(gn_param_role role)
{
    return role != GN_PARAM_RUNNING_MEAN && role != GN_PARAM_RUNNING_VAR;
}

int64_t gn_graph_param_count_range(const gn_model *m, int first, int end)
{
    int64_t total = 0;
    for (int i = first; i < end; i++)
        for (int k = 0; k < m->nodes[i].num_params; k++) {
            const gn_param *p = &m->params[m->nodes[i].params[k]];
            if (is_learnable(p->role))
                total += (int64_t)p->count;
        }
    return total;
}

int64_t gn_graph_macs_range(const gn_model *m, const gn_shape *shapes, int first, int end)
{
    int64_t total = 0;
    for (int i = first; i < end; i++) {
        const gn_node *node = &m->nodes[i];
        const gn_layer_kind *kind = gn_layer_kind_of(node->op);
        if (!kind->macs)
            continue;
        gn_shape in[2] = {shapes[node->inputs[0]],
                          node->num_inputs > 1 ? shapes[node->inputs[1]] : shapes[0]};
        total += kind->macs(node, in, &shapes[node->output]);
    }
    return total;
}

/* ----------------------------------------------------------------------------------------------
 * Parameters
 * -------------------------------------------------------------------------------------------- */

gn_status gn_graph_alloc_params(gn_model *m)
{
    for (int i = 0; i < m->num_params; i++) {
        gn_param *p = &m->params[i];
        if (p->data)
            continue;
        size_t bytes;
        if (!gn_mul_size(p->count, sizeof(float), &bytes))
            return gn_fail(m->ctx, GN_ERR_NOMEM, "parameter '%s' is too large", p->name);
        p->data = gn_alloc_named(m->ctx, bytes, p->name);
        if (!p->data)
            return GN_ERR_NOMEM;
        p->owned = 1;
    }
    return GN_OK;
}

/* PyTorch's defaults: Conv2d/Linear weight kaiming_uniform_(a=sqrt(5)) and bias
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) both come to the bound 1/sqrt(fan_in); BN weight 1,
 * bias 0, running mean 0, running var 1. */
gn_status gn_graph_init_params(gn_model *m, uint64_t seed)
{
    gn_status st = gn_graph_alloc_params(m);
    if (st != GN_OK)
        return st;
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (int i = 0; i < m->num_params; i++) {
        gn_param *p = &m->params[i];
        float fill = 0.0f;
        switch (p->role) {
        case GN_PARAM_WEIGHT:
        case GN_PARAM_BIAS: {
            float bound = 1.0f / sqrtf((float)p->fan_in);
            for (size_t k = 0; k < p->count; k++)
                p->data[k] = (2.0f * gn_rng_uniform(&rng) - 1.0f) * bound;
            continue;
        }
        case GN_PARAM_BN_WEIGHT:
        case GN_PARAM_RUNNING_VAR:
            fill = 1.0f;
            break;
        case GN_PARAM_BN_BIAS:
        case GN_PARAM_RUNNING_MEAN:
            fill = 0.0f;
            break;
        }
        for (size_t k = 0; k < p->count; k++)
            p->data[k] = fill;
    }
    for (int i = 0; i < m->num_nodes; i++)
        if (m->nodes[i].op == GN_OP_BATCHNORM)
            m->nodes[i].attr.bn.num_batches_tracked = 0;
    m->has_weights = 1;
    return GN_OK;
}

gn_status gn_model_init_params(gn_model *m, uint64_t seed)
{
    if (!m)
        return GN_ERR_ARGUMENT;
    if (m->output < 0)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_model_init_params: the graph has no output");
    return gn_graph_init_params(m, seed);
}

int gn_make_divisible(double v, int divisor)
{
    int value = (int)(v + divisor / 2.0) / divisor * divisor;
    if (value < divisor)
        value = divisor;
    if (value < 0.9 * v)
        value += divisor;
    return value;
}
