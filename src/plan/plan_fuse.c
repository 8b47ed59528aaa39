/* Fusion: the primitive graph into fused steps (see plan.h).
 *
 * Nodes are visited in graph order. A convolution, linear layer or pool starts a step whose
 * output starts a group. An element-wise node joins the group that produced its input when
 * every member can take it into its epilogue (infer.h): batch norm folds into the weights,
 * the first activation becomes `act`, an add becomes the residual, a later activation
 * `act_after`. If the group's current output still has other readers, the members keep it as
 * their `raw` output and the group moves to a new buffer. A concatenation places its operands'
 * groups side by side in one new buffer and merges them (the Ghost module: the primary
 * convolution and the cheap operation write their channels of the module's output). A
 * channel_scale read only by a dense convolution becomes that convolution's gate. Whatever
 * cannot fuse becomes an affine step of its own, so every graph runs. */
#include "layers/layer.h"
#include "plan/plan_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int grow(gn_plan *p, void **items, int *cap, int need, size_t size, const char *what)
{
    if (need <= *cap)
        return 0;
    int cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *bigger = gn_alloc_named(p->ctx, (size_t)cap2 * size, what);
    if (!bigger)
        return -1;
    if (*items)
        memcpy(bigger, *items, (size_t)*cap * size);
    gn_free(p->ctx, *items);
    *items = bigger;
    *cap = cap2;
    return 0;
}

int gn_plan_resolve(const gn_plan *p, int v)
{
    while (p->alias[v] != v)
        v = p->alias[v];
    return v;
}

int gn_plan_new_buffer(gn_plan *p, int channels, int h, int w)
{
    if (grow(p, (void **)&p->buffers, &p->cap_buffers, p->num_buffers + 1, sizeof(plan_buffer),
             "plan buffers"))
        return -1;
    plan_buffer *b = &p->buffers[p->num_buffers];
    memset(b, 0, sizeof(*b));
    b->channels = channels;
    b->h = h;
    b->w = w;
    b->used = 1;
    return p->num_buffers++;
}

/* Puts value v at channel `channel` of buffer b. */
static void place(gn_plan *p, int v, int b, int channel)
{
    p->buffer[v] = b;
    p->channel[v] = channel;
}

/* Unnamed nodes (pools, activations, adds) go by their block's name. */
static const char *step_name(const gn_plan *p, int node, step_kind kind)
{
    if (node < 0)
        return kind == STEP_INPUT ? "input" : "output";
    const gn_node *n = &p->model->nodes[node];
    if (n->name[0] || n->block < 0)
        return n->name;
    return p->model->blocks[n->block].name;
}

/* A new step made by node (-1: none), reading x; it writes nothing until it joins a group. */
static plan_step *new_step(gn_plan *p, step_kind kind, int node, int x, const char *op)
{
    if (grow(p, (void **)&p->steps, &p->cap_steps, p->num_steps + 1, sizeof(plan_step),
             "plan steps"))
        return NULL;
    plan_step *s = &p->steps[p->num_steps++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->node = node;
    s->x = x;
    s->residual = s->gate = s->raw = s->group = -1;
    snprintf(s->name, sizeof(s->name), "%.*s", PLAN_NAME_MAX - 1, step_name(p, node, kind));
    snprintf(s->op, sizeof(s->op), "%s", op);
    return s;
}

/* Starts a group for step s writing value v (count channels) into a new buffer. */
static gn_status start_group(gn_plan *p, plan_step *s, int v, int count)
{
    gn_shape shape = p->shapes[v];
    int b = gn_plan_new_buffer(p, shape.c, shape.h, shape.w);
    if (b < 0 || grow(p, (void **)&p->groups, &p->cap_groups, p->num_groups + 1,
                      sizeof(plan_group), "plan groups"))
        return GN_ERR_NOMEM;
    p->groups[p->num_groups].value = v;
    s->group = p->num_groups++;
    s->offset = 0;
    s->count = count;
    p->group_of[v] = s->group;
    place(p, v, b, 0);
    return GN_OK;
}

/* ---- fusing element-wise ops into the group that made their input ------------------------- */

typedef enum fuse_op { FUSE_BATCHNORM, FUSE_ACT, FUSE_ADD } fuse_op;

/* Whether channels [lo, hi) of v's buffer hold a value that still has readers once the op
 * consuming v is fused: a member writing them must then keep its current output as its raw
 * output (the Ghost module's primary output, read by the cheap operation, when a residual or an
 * activation follows the concatenation). */
static int must_keep(const gn_plan *p, int v, int lo, int hi)
{
    for (int u = 0; u < p->model->num_values; u++) {
        int first = p->channel[u], end = first + p->shapes[u].c;
        if (p->buffer[u] == p->buffer[v] && first < hi && lo < end &&
            p->readers[u] - (u == v) > 0)
            return 1;
    }
    return 0;
}

static int member_keeps(const gn_plan *p, const plan_step *s, int v)
{
    int lo = p->channel[v] + s->offset;
    return must_keep(p, v, lo, lo + s->count);
}

static int can_take(const plan_step *s, fuse_op op, int keep)
{
    int weighted = s->kind == STEP_CONV || s->kind == STEP_DEPTHWISE;
    if (!weighted && s->kind != STEP_AFFINE)
        return 0;
    if (keep && (s->raw >= 0 || s->stage > STAGE_ACT || op == FUSE_BATCHNORM))
        return 0;
    switch (op) {
    case FUSE_BATCHNORM:
        return weighted && s->stage == STAGE_KERNEL;
    case FUSE_ACT:
        return s->stage < STAGE_CLOSED;
    case FUSE_ADD:
        return s->stage <= STAGE_ACT;
    }
    return 0;
}

/* Batch norm in inference, folded into the step's per-channel scale and bias (computed as the
 * reference layer computes its scale and shift, in float). */
static gn_status fold_batchnorm(gn_plan *p, plan_step *s, const gn_node *bn)
{
    const float *gamma = p->model->params[bn->params[0]].data;
    const float *beta = p->model->params[bn->params[1]].data;
    const float *mean = p->model->params[bn->params[2]].data;
    const float *var = p->model->params[bn->params[3]].data;
    if (!s->scale) {
        s->scale = gn_alloc_named(p->ctx, (size_t)s->weight_outputs * sizeof(float),
                                  "folded batch norm");
        if (!s->scale)
            return GN_ERR_NOMEM;
        for (int j = 0; j < s->weight_outputs; j++)
            s->scale[j] = 1.0f;
    }
    for (int j = 0; j < s->count; j++) {
        int c = s->offset + j;
        float invstd = 1.0f / sqrtf(var[c] + bn->attr.bn.eps);
        float scale = gamma[c] * invstd;
        float shift = beta[c] - mean[c] * scale;
        s->scale[j] *= scale;
        s->bias[j] = s->bias[j] * scale + shift;
    }
    return GN_OK;
}

static gn_act act_of(gn_op op)
{
    return op == GN_OP_RELU ? GN_ACT_RELU : GN_ACT_HARD_SIGMOID;
}

/* Whether any step that writes value u's channels depends, directly or not, on a member of
 * group g (fusing u into g as a residual would then make a cycle). */
static int value_depends_on_group(const gn_plan *p, int u, int g, char *seen);

static int step_depends_on_group(const gn_plan *p, const plan_step *s, int g, char *seen)
{
    if (s->group == g)
        return 1;
    int reads[3] = {s->x, s->residual, s->gate};
    for (int k = 0; k < 3; k++)
        if (reads[k] >= 0 && value_depends_on_group(p, reads[k], g, seen))
            return 1;
    return 0;
}

static int value_depends_on_group(const gn_plan *p, int u, int g, char *seen)
{
    if (seen[u])
        return 0;
    seen[u] = 1;
    for (int i = 0; i < p->num_steps; i++) {
        const plan_step *s = &p->steps[i];
        int writes = (s->group >= 0 && p->buffer[p->groups[s->group].value] == p->buffer[u]) ||
                     (s->raw >= 0 && p->buffer[s->raw] == p->buffer[u]);
        if (writes && step_depends_on_group(p, s, g, seen))
            return 1;
    }
    return 0;
}

static int residual_makes_cycle(gn_plan *p, int residual, int g, int *cycle)
{
    char *seen = gn_alloc_zero(p->ctx, (size_t)p->model->num_values);
    if (!seen)
        return -1;
    *cycle = value_depends_on_group(p, residual, g, seen);
    gn_free(p->ctx, seen);
    return 0;
}

/* Applies op to one member of the group (keep: it stores its current output as raw first). */
static gn_status take(gn_plan *p, plan_step *s, const gn_node *node, fuse_op op, int v,
                      int residual, int keep)
{
    if (keep) {
        s->raw = v;
        s->raw_offset = s->offset;
    }
    if (op == FUSE_BATCHNORM)
        return fold_batchnorm(p, s, node);
    if (op == FUSE_ACT && !keep && s->stage == STAGE_KERNEL) {
        s->act = act_of(node->op);
        s->stage = STAGE_ACT;
    } else if (op == FUSE_ACT) {
        s->act_after = act_of(node->op);
        s->stage = STAGE_CLOSED;
    } else {
        s->residual = residual;
        s->residual_offset = s->offset;
        s->stage = STAGE_RESIDUAL;
    }
    return GN_OK;
}

/* Tries to fuse node (consuming v, making out) into v's group; *fused tells whether it did. */
static gn_status try_fuse(gn_plan *p, const gn_node *node, int v, fuse_op op, int residual,
                          int *fused)
{
    int g = p->group_of[v], out = node->output, any_keeps = 0;
    *fused = 0;
    if (g < 0 || residual == v)
        return GN_OK;
    for (int i = 0; i < p->num_steps; i++) {
        const plan_step *s = &p->steps[i];
        int keep = s->group == g && member_keeps(p, s, v);
        if (s->group == g && !can_take(s, op, keep))
            return GN_OK;
        any_keeps |= keep;
    }
    if (residual >= 0) {
        int cycle;
        if (residual_makes_cycle(p, residual, g, &cycle))
            return GN_ERR_NOMEM;
        if (cycle)
            return GN_OK;
    }
    int b = p->buffer[v], channel = p->channel[v];
    if (any_keeps) {
        gn_shape shape = p->shapes[out];
        b = gn_plan_new_buffer(p, shape.c, shape.h, shape.w);
        if (b < 0)
            return GN_ERR_NOMEM;
        channel = 0;
    }
    for (int i = 0; i < p->num_steps; i++) {
        plan_step *s = &p->steps[i];
        gn_status st = s->group == g ? take(p, s, node, op, v, residual, member_keeps(p, s, v))
                                     : GN_OK;
        if (st != GN_OK)
            return st;
    }
    p->readers[v]--;
    p->group_of[v] = -1;
    p->group_of[out] = g;
    p->groups[g].value = out;
    place(p, out, b, channel);
    *fused = 1;
    return GN_OK;
}

/* ---- steps for each kind of node ------------------------------------------------------------ */

static gn_status affine_step(gn_plan *p, int index, int x, step_stage stage, plan_step **out)
{
    const gn_node *node = &p->model->nodes[index];
    plan_step *s = new_step(p, STEP_AFFINE, index, x, gn_layer_kind_of(node->op)->name);
    if (!s)
        return GN_ERR_NOMEM;
    s->stage = stage;
    *out = s;
    return start_group(p, s, node->output, p->shapes[node->output].c);
}

static int64_t node_macs(const gn_plan *p, const gn_node *node)
{
    gn_shape in[2] = {p->shapes[node->inputs[0]], p->shapes[node->inputs[0]]};
    return gn_layer_kind_of(node->op)->macs(node, in, &p->shapes[node->output]) * p->n;
}

/* A convolution or linear layer: its weights, with its own bias folded in as the start of the
 * per-channel bias. */
static gn_status weighted_step(gn_plan *p, int index, step_kind kind, int x, const char *op,
                               int outputs, int has_bias, plan_step **out)
{
    const gn_node *node = &p->model->nodes[index];
    plan_step *s = new_step(p, kind, index, x, op);
    if (!s)
        return GN_ERR_NOMEM;
    s->weight = p->model->params[node->params[0]].data;
    s->weight_outputs = outputs;
    s->macs = node_macs(p, node);
    s->bias = gn_alloc_zero(p->ctx, (size_t)outputs * sizeof(float));
    if (!s->bias)
        return gn_fail(p->ctx, GN_ERR_NOMEM, "out of memory for the bias of '%s'", node->name);
    if (has_bias)
        memcpy(s->bias, p->model->params[node->params[1]].data, (size_t)outputs * sizeof(float));
    *out = s;
    return start_group(p, s, node->output, outputs);
}

/* Channels of an input a first convolution reads in NCHW, without a layout conversion step:
 * enough for images (RGB, RGBA); wider inputs are better converted once to NHWC. */
#define GN_PLAN_NCHW_CHANNELS 4

/* Whether the model input's only reader is a convolution that can read it in NCHW. */
static int input_read_directly(const gn_plan *p)
{
    const gn_model *m = p->model;
    if (p->readers[0] != 1 || m->values[0].channels > GN_PLAN_NCHW_CHANNELS)
        return 0;
    for (int i = 0; i < m->num_nodes; i++) {
        const gn_node *node = &m->nodes[i];
        if (node->op != GN_OP_DROPOUT && gn_plan_resolve(p, node->inputs[0]) == 0)
            return node->op == GN_OP_CONV2D && node->attr.conv.groups == 1;
    }
    return 0;
}

static gn_status conv_node(gn_plan *p, int index)
{
    const gn_node *node = &p->model->nodes[index];
    const gn_conv_attr *a = &node->attr.conv;
    int x = gn_plan_resolve(p, node->inputs[0]), gate = -1;
    if (p->gated_x[x] >= 0) {
        gate = p->gated_gate[x];
        x = p->gated_x[x];
    }
    int nchw = x == 0 && p->buffer[0] < 0;
    /* Depthwise, also with a channel multiplier (the cheap operation of a Ghost module with
     * ratio s > 2 has out = (s - 1) * in, one input channel per group). */
    int depthwise = gate < 0 && !nchw && a->groups > 1 && a->groups == a->in_channels &&
                    a->out_channels % a->groups == 0;
    int multiplier = depthwise ? a->out_channels / a->groups : 1;
    char op[PLAN_OP_MAX], times[16] = "";
    if (multiplier > 1)
        snprintf(times, sizeof(times), " x%d", multiplier);
    snprintf(op, sizeof(op), "%s %dx%d/%d%s%s", depthwise ? "dwconv" : "conv", a->kernel,
             a->kernel, a->stride, times, gate >= 0 ? " gated" : nchw ? " nchw in" : "");
    plan_step *s;
    gn_status st = weighted_step(p, index, depthwise ? STEP_DEPTHWISE : STEP_CONV, x, op,
                                 a->out_channels, a->bias, &s);
    if (st == GN_OK) {
        s->gate = gate;
        s->nchw_input = nchw;
    }
    return st;
}

static gn_status linear_node(gn_plan *p, int index)
{
    const gn_node *node = &p->model->nodes[index];
    int x = gn_plan_resolve(p, node->inputs[0]);
    if (p->shapes[x].h != p->shapes[x].w)
        return gn_fail(p->ctx, GN_ERR_UNSUPPORTED,
                       "plan: linear layer '%s' on a %dx%d map (only square maps are supported)",
                       node->name, p->shapes[x].h, p->shapes[x].w);
    plan_step *s;
    return weighted_step(p, index, STEP_CONV, x, "linear", node->attr.linear.out_features, 1, &s);
}

static gn_status batchnorm_node(gn_plan *p, int index)
{
    const gn_node *node = &p->model->nodes[index];
    int x = gn_plan_resolve(p, node->inputs[0]), fused;
    gn_status st = try_fuse(p, node, x, FUSE_BATCHNORM, -1, &fused);
    if (st != GN_OK || fused)
        return st;
    /* A batch norm on its own: y = x * scale + shift, the weights of an affine step. */
    plan_step *s;
    st = affine_step(p, index, x, STAGE_KERNEL, &s);
    if (st != GN_OK)
        return st;
    int channels = p->shapes[x].c;
    s->weight_outputs = channels;
    s->scale = gn_alloc_named(p->ctx, (size_t)channels * sizeof(float), "batch norm scale");
    s->bias = gn_alloc_zero(p->ctx, (size_t)channels * sizeof(float));
    if (!s->scale || !s->bias)
        return GN_ERR_NOMEM;
    for (int c = 0; c < channels; c++)
        s->scale[c] = 1.0f;
    return fold_batchnorm(p, s, node);
}

static gn_status activation_node(gn_plan *p, int index)
{
    const gn_node *node = &p->model->nodes[index];
    int x = gn_plan_resolve(p, node->inputs[0]), fused;
    gn_status st = try_fuse(p, node, x, FUSE_ACT, -1, &fused);
    if (st != GN_OK || fused)
        return st;
    plan_step *s;
    st = affine_step(p, index, x, STAGE_ACT, &s);
    if (st == GN_OK)
        s->act = act_of(node->op);
    return st;
}

static gn_status add_node(gn_plan *p, int index)
{
    const gn_node *node = &p->model->nodes[index];
    int a = gn_plan_resolve(p, node->inputs[0]), b = gn_plan_resolve(p, node->inputs[1]);
    int fused;
    gn_status st = try_fuse(p, node, a, FUSE_ADD, b, &fused);
    if (st == GN_OK && !fused)
        st = try_fuse(p, node, b, FUSE_ADD, a, &fused);
    if (st != GN_OK || fused)
        return st;
    plan_step *s;
    st = affine_step(p, index, a, STAGE_RESIDUAL, &s);
    if (st == GN_OK)
        s->residual = b;
    return st;
}

/* The node reading value v, when it is the only one. */
static int sole_reader(const gn_plan *p, int v)
{
    if (p->readers[v] != 1)
        return -1;
    const gn_model *m = p->model;
    for (int i = 0; i < m->num_nodes; i++)
        for (int k = 0; k < m->nodes[i].num_inputs && m->nodes[i].op != GN_OP_DROPOUT; k++)
            if (gn_plan_resolve(p, m->nodes[i].inputs[k]) == v)
                return i;
    return -1;
}

/* Squeeze-excite's y = x * gate: folded into the next convolution's weights when that dense
 * convolution is y's only reader (sum_c W[o,c] (x_c g_c) = sum_c (W[o,c] g_c) x_c). */
static gn_status channel_scale_node(gn_plan *p, int index)
{
    const gn_node *node = &p->model->nodes[index];
    int x = gn_plan_resolve(p, node->inputs[0]), gate = gn_plan_resolve(p, node->inputs[1]);
    int reader = sole_reader(p, node->output);
    if (reader >= 0 && p->model->nodes[reader].op == GN_OP_CONV2D &&
        p->model->nodes[reader].attr.conv.groups == 1) {
        p->gated_x[node->output] = x;
        p->gated_gate[node->output] = gate;
        return GN_OK;
    }
    plan_step *s;
    gn_status st = affine_step(p, index, x, STAGE_KERNEL, &s);
    if (st == GN_OK)
        s->gate = gate;
    return st;
}

/* Whether group g is a single weighted step that can compute fewer output channels. */
static int group_can_truncate(const gn_plan *p, int g)
{
    int members = 0, weighted = 0;
    for (int i = 0; i < p->num_steps; i++)
        if (p->steps[i].group == g) {
            members++;
            weighted = p->steps[i].kind == STEP_CONV || p->steps[i].kind == STEP_DEPTHWISE;
        }
    return members == 1 && weighted;
}

static int group_placeable(const gn_plan *p, int g)
{
    if (g < 0)
        return 0;
    for (int i = 0; i < p->num_steps; i++)
        if (p->steps[i].group == g && (p->steps[i].raw >= 0 || p->steps[i].kind == STEP_INPUT))
            return 0;
    return 1;
}

/* Moves every value of buffer `from` into buffer `to`, `shift` channels on. */
static void move_buffer(gn_plan *p, int from, int to, int shift)
{
    for (int u = 0; u < p->model->num_values; u++)
        if (p->buffer[u] == from)
            place(p, u, to, p->channel[u] + shift);
    p->buffers[from].used = 0;
}

/* concat(a, b) keeping `keep` channels, by placement: a's group writes channels [0, ca) of the
 * output's buffer and b's group the rest (b's convolution computing only keep - ca channels
 * when the concatenation drops some, as the Ghost module does when init * s > out). */
static gn_status place_concat(gn_plan *p, const gn_node *node, int a, int b, int *placed)
{
    int ga = p->group_of[a], gb = p->group_of[b], keep = node->attr.concat_keep;
    int ca = p->shapes[a].c, cb = p->shapes[b].c;
    int truncate = keep < ca + cb;
    *placed = 0;
    if (ga == gb || !group_placeable(p, ga) || !group_placeable(p, gb) || keep <= ca ||
        (truncate && (!group_can_truncate(p, gb) || p->readers[b] != 1)))
        return GN_OK;
    gn_shape shape = p->shapes[node->output];
    int buffer = gn_plan_new_buffer(p, shape.c, shape.h, shape.w);
    if (buffer < 0)
        return GN_ERR_NOMEM;
    move_buffer(p, p->buffer[a], buffer, 0);
    move_buffer(p, p->buffer[b], buffer, ca);
    for (int i = 0; i < p->num_steps; i++) {
        plan_step *s = &p->steps[i];
        if (s->group != gb)
            continue;
        s->group = ga;
        s->offset += ca;
        if (truncate)
            s->count = keep - ca;
    }
    p->readers[a]--;
    p->readers[b]--;
    p->group_of[a] = p->group_of[b] = -1;
    p->group_of[node->output] = ga;
    p->groups[ga].value = node->output;
    place(p, node->output, buffer, 0);
    *placed = 1;
    return GN_OK;
}

static gn_status concat_node(gn_plan *p, int index)
{
    const gn_node *node = &p->model->nodes[index];
    int a = gn_plan_resolve(p, node->inputs[0]), b = gn_plan_resolve(p, node->inputs[1]);
    int placed, keep = node->attr.concat_keep, ca = p->shapes[a].c;
    gn_status st = place_concat(p, node, a, b, &placed);
    if (st != GN_OK || placed)
        return st;
    /* Otherwise copy: one affine step per operand, both in the output's group. */
    plan_step *first;
    st = affine_step(p, index, a, STAGE_KERNEL, &first);
    if (st != GN_OK)
        return st;
    first->count = keep < ca ? keep : ca;
    int group = first->group;
    if (keep <= ca)
        return GN_OK;
    plan_step *second = new_step(p, STEP_AFFINE, index, b, "concat");
    if (!second)
        return GN_ERR_NOMEM;
    second->group = group;
    second->offset = ca;
    second->count = keep - ca;
    return GN_OK;
}

static gn_status pool_node(gn_plan *p, int index, step_kind kind)
{
    const gn_node *node = &p->model->nodes[index];
    char op[PLAN_OP_MAX];
    if (kind == STEP_MAXPOOL)
        snprintf(op, sizeof(op), "maxpool %dx%d/%d", node->attr.pool.kernel,
                 node->attr.pool.kernel, node->attr.pool.stride);
    else
        snprintf(op, sizeof(op), "global avgpool");
    plan_step *s = new_step(p, kind, index, gn_plan_resolve(p, node->inputs[0]), op);
    if (!s)
        return GN_ERR_NOMEM;
    s->stage = STAGE_CLOSED;
    return start_group(p, s, node->output, p->shapes[node->output].c);
}

static gn_status node_steps(gn_plan *p, int index)
{
    switch (p->model->nodes[index].op) {
    case GN_OP_CONV2D:
        return conv_node(p, index);
    case GN_OP_LINEAR:
        return linear_node(p, index);
    case GN_OP_BATCHNORM:
        return batchnorm_node(p, index);
    case GN_OP_RELU:
    case GN_OP_HARD_SIGMOID:
        return activation_node(p, index);
    case GN_OP_ADD:
        return add_node(p, index);
    case GN_OP_CHANNEL_SCALE:
        return channel_scale_node(p, index);
    case GN_OP_CONCAT:
        return concat_node(p, index);
    case GN_OP_GLOBAL_AVGPOOL:
        return pool_node(p, index, STEP_AVGPOOL);
    case GN_OP_MAXPOOL:
        return pool_node(p, index, STEP_MAXPOOL);
    case GN_OP_DROPOUT: /* identity at inference: an alias (see count_readers) */
    case GN_OP_COUNT:
        break;
    }
    return GN_OK;
}

/* Dropouts become aliases; every value counts its readers (the output one more). */
static void count_readers(gn_plan *p)
{
    const gn_model *m = p->model;
    for (int v = 0; v < m->num_values; v++) {
        p->alias[v] = v;
        p->buffer[v] = p->group_of[v] = p->gated_x[v] = p->gated_gate[v] = -1;
    }
    for (int i = 0; i < m->num_nodes; i++)
        if (m->nodes[i].op == GN_OP_DROPOUT)
            p->alias[m->nodes[i].output] = gn_plan_resolve(p, m->nodes[i].inputs[0]);
    for (int i = 0; i < m->num_nodes; i++)
        for (int k = 0; k < m->nodes[i].num_inputs && m->nodes[i].op != GN_OP_DROPOUT; k++)
            p->readers[gn_plan_resolve(p, m->nodes[i].inputs[k])]++;
    p->readers[gn_plan_resolve(p, m->output)]++;
}

gn_status gn_plan_fuse(gn_plan *p)
{
    count_readers(p);
    gn_status st = GN_OK;
    if (!input_read_directly(p)) { /* else value 0 stays the caller's, in no buffer */
        plan_step *input = new_step(p, STEP_INPUT, -1, -1, "nchw to nhwc");
        if (!input)
            return GN_ERR_NOMEM;
        input->stage = STAGE_CLOSED;
        st = start_group(p, input, 0, p->shapes[0].c);
    }
    for (int i = 0; i < p->model->num_nodes && st == GN_OK; i++)
        st = node_steps(p, i);
    if (st != GN_OK)
        return st;
    plan_step *output = new_step(p, STEP_OUTPUT, -1, gn_plan_resolve(p, p->model->output),
                                 "nhwc to nchw");
    if (!output)
        return GN_ERR_NOMEM;
    output->stage = STAGE_CLOSED;
    for (int i = 0; i < p->num_steps; i++)
        p->macs += p->steps[i].macs;
    return GN_OK;
}
