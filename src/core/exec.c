/* Reference execution of the graph (see exec.h). */
#include "core/exec.h"
#include "core/arena.h"
#include "layers/layer.h"
#include "kernels/plane/plane.h"

#include <limits.h>
#include <math.h>
#include <string.h>

static size_t value_bytes(const gn_exec *exec, int v)
{
    return (size_t)exec->n * gn_shape_numel(exec->shapes[v]) * sizeof(float);
}

/* The last node that reads value v, the end of the graph for the output, or its producer if
 * nothing reads it. */
static int last_use(const gn_model *m, int v)
{
    if (v == m->output)
        return m->num_nodes;
    int last = m->values[v].producer;
    for (int i = m->values[v].producer + 1; i < m->num_nodes; i++)
        for (int k = 0; k < m->nodes[i].num_inputs; k++)
            if (m->nodes[i].inputs[k] == v)
                last = i;
    return last;
}

/* How many inputs of nodes after producer p are value v (a node reading v twice counts 2). */
static int readers_of(const gn_model *m, int v, int p)
{
    int readers = 0;
    for (int i = p + 1; i < m->num_nodes; i++)
        for (int k = 0; k < m->nodes[i].num_inputs; k++)
            readers += m->nodes[i].inputs[k] == v;
    return readers;
}

/* BN -> ReLU and add -> ReLU (a residual block's end), where the ReLU is the BN's or add's
 * only reader: that layer computes max(0, .) in place and, in backward, masks the incoming
 * gradient itself. That saves the ReLU's two passes over memory, its activation and its
 * gradient buffer. */
static void find_fusions(gn_exec *exec)
{
    const gn_model *m = exec->model;
    for (int i = 0; i < m->num_nodes; i++)
        exec->fused_relu[i] = -1;
    for (int j = 0; j < m->num_nodes; j++) {
        const gn_node *relu = &m->nodes[j];
        if (relu->op != GN_OP_RELU)
            continue;
        int v = relu->inputs[0], p = m->values[v].producer;
        if (p < 0 || (m->nodes[p].op != GN_OP_BATCHNORM && m->nodes[p].op != GN_OP_ADD) ||
            v == m->output)
            continue;
        int out = relu->output;
        if (readers_of(m, v, p) == 1 && (exec->last_use[out] > j || out == m->output)) {
            exec->fused_relu[p] = j;
            exec->fused_relu[j] = p;
        }
    }
}

/* Training: a BN without a ReLU whose only reader is an add (a residual block's last BN)
 * computes only its statistics; the add applies its scale and shift while it reads the BN's
 * input (gn_layer_io.bn_into_add). The BN's output is never written, read or kept. One input
 * per add (the first that qualifies). */
static void find_bn_folds(gn_exec *exec)
{
    const gn_model *m = exec->model;
    for (int i = 0; i < m->num_nodes; i++)
        exec->bn_fold[i] = -1;
    if (!exec->training)
        return;
    for (int j = 0; j < m->num_nodes; j++) {
        const gn_node *add = &m->nodes[j];
        if (add->op != GN_OP_ADD || add->inputs[0] == add->inputs[1])
            continue;
        for (int k = 0; k < 2; k++) {
            int v = add->inputs[k], p = m->values[v].producer;
            if (p < 0 || m->nodes[p].op != GN_OP_BATCHNORM || exec->fused_relu[p] >= 0 ||
                v == m->output || readers_of(m, v, p) != 1)
                continue;
            exec->bn_fold[p] = j;
            exec->bn_fold[j] = k;
            break;
        }
    }
}

/* Node i is a BN whose output its add computes. */
static int is_folded_bn(const gn_exec *exec, int i)
{
    return exec->bn_fold[i] >= 0 && exec->model->nodes[i].op == GN_OP_BATCHNORM;
}

/* The BN that value v comes out of, directly or through the ReLU fused into it, or -1. */
static int bn_behind(const gn_exec *exec, int v)
{
    const gn_model *m = exec->model;
    int p = m->values[v].producer;
    int bn = p >= 0 && m->nodes[p].op == GN_OP_RELU ? exec->fused_relu[p] : p;
    return bn >= 0 && m->nodes[bn].op == GN_OP_BATCHNORM ? bn : -1;
}

/* The floor a BN's reader applies after its scale and shift: its fused ReLU's, or none. */
static float bn_floor(const gn_exec *exec, int bn)
{
    return exec->fused_relu[bn] >= 0 ? 0.0f : -INFINITY;
}

/* Training: a BN, with its fused ReLU or without, whose output only one conv reads, a conv
 * that can apply the BN's scale and shift (and the ReLU's floor) as it copies its input in
 * (gn_conv2d_node_takes_xform: ResNet's first conv of a block, VGG's convs). The BN computes
 * only its statistics; its output is never written, read or kept (gn_layer_io.bn_into_conv).
 * Its backward needs only its input; the conv's input gradient is unchanged. */
static void find_bn_into_conv(gn_exec *exec)
{
    const gn_model *m = exec->model;
    for (int i = 0; i < m->num_nodes; i++)
        exec->bn_conv[i] = -1;
    if (!exec->training)
        return;
    for (int j = 0; j < m->num_nodes; j++) {
        const gn_node *conv = &m->nodes[j];
        if (conv->op != GN_OP_CONV2D)
            continue;
        /* v is the BN's output or its fused ReLU's (whose only reader is that ReLU) */
        int v = conv->inputs[0], p = m->values[v].producer, bn = bn_behind(exec, v);
        if (bn < 0 || v == m->output || readers_of(m, v, p) != 1 ||
            !gn_conv2d_node_takes_xform(conv, &exec->shapes[v], &exec->shapes[conv->output]))
            continue;
        exec->bn_conv[bn] = j;
        exec->bn_conv[j] = bn;
    }
}

/* Node i is a BN whose output its conv computes as it reads it. */
static int is_conv_folded_bn(const gn_exec *exec, int i)
{
    return exec->bn_conv[i] >= 0 && exec->model->nodes[i].op == GN_OP_BATCHNORM;
}

/* Training: a conv whose output only a BN reads hands that BN its output planes' sums
 * (gn_layer_io.plane_sums), computed while the planes are still in cache; the BN then skips its
 * own statistics pass over the batch. The conv feeding BN node j that way, or -1. */
static int conv_feeding(const gn_model *m, int j)
{
    const gn_node *bn = &m->nodes[j];
    if (bn->op != GN_OP_BATCHNORM)
        return -1;
    int v = bn->inputs[0], p = m->values[v].producer;
    if (p < 0 || m->nodes[p].op != GN_OP_CONV2D || v == m->output || readers_of(m, v, p) != 1)
        return -1;
    return p;
}

/* Per-plane sums for BN node j's input: n x channels x 2 doubles. */
static size_t bn_sums_doubles(const gn_exec *exec, int j)
{
    return (size_t)exec->n * (size_t)exec->shapes[exec->model->nodes[j].inputs[0]].c * 2;
}

/* The plane sums of every such pair, and per BN folded into an add the gradient sums the add
 * takes for it in backward (gn_layer_io.bn_grad_sums), in one block. */
static gn_status find_plane_sums(gn_exec *exec)
{
    gn_model *m = exec->model;
    size_t total = 0;
    for (int j = 0; j < m->num_nodes; j++) {
        size_t blocks = (size_t)(conv_feeding(m, j) >= 0) + (size_t)is_folded_bn(exec, j);
        total += blocks ? blocks * bn_sums_doubles(exec, j) : 0;
    }
    if (total == 0)
        return GN_OK;
    exec->plane_sums_block =
        gn_alloc_named(m->ctx, total * sizeof(double), "batch-norm plane sums");
    if (!exec->plane_sums_block)
        return GN_ERR_NOMEM;
    double *at = exec->plane_sums_block;
    for (int j = 0; j < m->num_nodes; j++) {
        int p = conv_feeding(m, j);
        if (p < 0)
            continue;
        exec->plane_sums[p] = exec->plane_sums[j] = at;
        at += bn_sums_doubles(exec, j);
    }
    for (int j = 0; j < m->num_nodes; j++) {
        if (!is_folded_bn(exec, j))
            continue;
        exec->bn_grad_sums[j] = exec->bn_grad_sums[exec->bn_fold[j]] = at;
        at += bn_sums_doubles(exec, j);
    }
    return GN_OK;
}

/* Node i is a ReLU that its BN computes. */
static int is_fused_relu(const gn_exec *exec, int i)
{
    return exec->fused_relu[i] >= 0 && exec->model->nodes[i].op == GN_OP_RELU;
}

static size_t saved_bytes(const gn_exec *exec, int index)
{
    const gn_node *node = &exec->model->nodes[index];
    const gn_layer_kind *kind = gn_layer_kind_of(node->op);
    if (!exec->training || !kind->saved_floats)
        return 0;
    gn_shape in[2] = {exec->shapes[node->inputs[0]],
                      exec->shapes[node->inputs[node->num_inputs > 1 ? 1 : 0]]};
    return kind->saved_floats(node, exec->n, in, &exec->shapes[node->output]) * sizeof(float);
}

/* The most scratch any layer needs per thread, rounded to a cache line. */
static size_t scratch_stride(const gn_exec *exec)
{
    const gn_model *m = exec->model;
    size_t most = 0;
    for (int i = 0; i < m->num_nodes; i++) {
        const gn_node *node = &m->nodes[i];
        const gn_layer_kind *kind = gn_layer_kind_of(node->op);
        if (!kind->scratch_bytes)
            continue;
        gn_shape in[2] = {exec->shapes[node->inputs[0]],
                          exec->shapes[node->inputs[node->num_inputs > 1 ? 1 : 0]]};
        size_t bytes = kind->scratch_bytes(m->ctx, node, in, &exec->shapes[node->output]);
        most = bytes > most ? bytes : most;
    }
    return (most + 63) / 64 * 64;
}

/* One arena for everything an execution needs. Inference: activations only, sharing memory
 * between values whose lifetimes do not overlap. Training: every activation and each layer's
 * saved state alive for the whole step (backward reads them); a value's gradient lives only
 * during the backward pass, from the backward of its last consumer (which starts it) to the
 * backward of its producer (which reads it last), so gradients share memory too. On the time
 * axis, backward of node i is step num_nodes + (num_nodes - 1 - i). */
static gn_status plan_arena(gn_exec *exec)
{
    gn_model *m = exec->model;
    int values = m->num_values - 1; /* value 0 is the caller's input */
    int count = (exec->training ? 2 * values + m->num_nodes : values) + 1; /* + scratch */
    exec->scratch_stride = scratch_stride(exec);
    gn_arena_request *req = gn_alloc_named(m->ctx, (size_t)count * sizeof(*req), "arena plan");
    if (!req)
        return GN_ERR_NOMEM;
    for (int i = 0; i < count; i++) {
        gn_arena_request *r = &req[i];
        if (i == count - 1) {
            r->size = exec->scratch_stride * (size_t)m->ctx->threads;
            r->first = 0;
            r->last = INT_MAX;
            continue;
        }
        if (i < values) {
            int v = i + 1, p = m->values[v].producer;
            /* a fused ReLU's is its producer's; a folded BN's is never written */
            r->size = is_fused_relu(exec, p) || is_folded_bn(exec, p) || is_conv_folded_bn(exec, p)
                          ? 0
                          : value_bytes(exec, v);
        } else if (i < 2 * values) {
            int v = i - values + 1, p = m->values[v].producer;
            int fused_out = exec->fused_relu[p] >= 0 && m->nodes[p].op != GN_OP_RELU;
            r->size = fused_out ? 0 : value_bytes(exec, v); /* the BN / add reads its ReLU's */
        } else {
            r->size = saved_bytes(exec, i - 2 * values);
        }
        if (exec->training && i >= values && i < 2 * values) {
            int v = i - values + 1, n = m->num_nodes, p = m->values[v].producer;
            int starter = exec->last_use[v] < n ? exec->last_use[v] : n - 1;
            int reader = is_fused_relu(exec, p) ? exec->fused_relu[p] : p;
            r->first = n + (n - 1 - starter);
            r->last = n + (n - 1 - reader);
        } else if (exec->training) {
            r->first = 0;
            r->last = INT_MAX;
        } else {
            int v = i + 1, p = m->values[v].producer, j = exec->fused_relu[p];
            r->first = p;
            /* a BN / add output lives as long as the ReLU output computed in its place */
            r->last = j >= 0 && m->nodes[p].op != GN_OP_RELU
                          ? exec->last_use[m->nodes[j].output]
                          : exec->last_use[v];
        }
    }
    gn_status st = gn_arena_plan(m->ctx, req, count, &exec->arena_bytes);
    if (st == GN_OK) {
        exec->arena = gn_alloc_named(m->ctx, exec->arena_bytes, "activation arena");
        if (!exec->arena)
            st = GN_ERR_NOMEM;
    }
    for (int i = 0; i < count && st == GN_OK; i++) {
        float *at = (float *)((char *)exec->arena + req[i].offset);
        if (i == count - 1)
            exec->scratch = (char *)at;
        else if (i < values)
            exec->act[i + 1] = at;
        else if (i < 2 * values)
            exec->grad[i - values + 1] = at;
        else
            exec->saved[i - 2 * values] = req[i].size ? at : NULL;
    }
    for (int j = 0; j < m->num_nodes && st == GN_OK; j++)
        if (is_folded_bn(exec, j) || is_conv_folded_bn(exec, j))
            exec->act[m->nodes[j].output] = NULL;
    for (int j = 0; j < m->num_nodes && st == GN_OK; j++) {
        if (!is_fused_relu(exec, j))
            continue;
        int bn_out = m->nodes[j].inputs[0], relu_out = m->nodes[j].output;
        exec->act[relu_out] = exec->act[bn_out];
        if (exec->training)
            exec->grad[bn_out] = exec->grad[relu_out];
    }
    gn_free(m->ctx, req);
    return st;
}

gn_status gn_exec_create(gn_model *m, int n, int h, int w, int training, gn_exec **out)
{
    gn_context *ctx = m->ctx;
    *out = NULL;
    if (m->output < 0)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "model graph has no output");
    if (n < 1)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "batch size must be >= 1, got %d", n);
    gn_exec *exec = gn_alloc_zero(ctx, sizeof(*exec));
    if (!exec)
        return gn_fail(ctx, GN_ERR_NOMEM, "out of memory creating an execution");
    exec->model = m;
    exec->n = n;
    exec->h = h;
    exec->w = w;
    exec->training = training;
    size_t values = (size_t)m->num_values;
    exec->shapes = gn_alloc_named(ctx, values * sizeof(gn_shape), "value shapes");
    exec->act = gn_alloc_zero(ctx, values * sizeof(float *));
    if (training) {
        exec->grad = gn_alloc_zero(ctx, values * sizeof(float *));
        exec->saved = gn_alloc_zero(ctx, (size_t)m->num_nodes * sizeof(float *) + 1);
        exec->plane_sums = gn_alloc_zero(ctx, (size_t)m->num_nodes * sizeof(double *) + 1);
        exec->bn_grad_sums = gn_alloc_zero(ctx, (size_t)m->num_nodes * sizeof(double *) + 1);
    }
    exec->last_use = gn_alloc(ctx, values * sizeof(int));
    exec->fused_relu = gn_alloc(ctx, (size_t)m->num_nodes * sizeof(int) + 1);
    exec->bn_fold = gn_alloc(ctx, (size_t)m->num_nodes * sizeof(int) + 1);
    exec->bn_conv = gn_alloc(ctx, (size_t)m->num_nodes * sizeof(int) + 1);
    for (int v = 0; exec->last_use && v < m->num_values; v++)
        exec->last_use[v] = last_use(m, v);
    int ok = exec->shapes && exec->act && exec->last_use && exec->fused_relu && exec->bn_fold &&
             exec->bn_conv &&
             (!training || (exec->grad && exec->saved && exec->plane_sums && exec->bn_grad_sums));
    gn_status st = ok ? GN_OK : gn_fail(ctx, GN_ERR_NOMEM, "out of memory for an execution");
    if (st == GN_OK)
        st = gn_graph_infer_shapes(m, h, w, exec->shapes);
    if (st == GN_OK) { /* find_bn_into_conv needs the shapes */
        find_fusions(exec);
        find_bn_folds(exec);
        find_bn_into_conv(exec);
    }
    /* Guard the batch multiplication value_bytes does, before any buffer is sized by it. */
    for (int v = 0; v < m->num_values && st == GN_OK; v++) {
        size_t bytes;
        if (!gn_mul_size((size_t)n, gn_shape_numel(exec->shapes[v]) * sizeof(float), &bytes))
            st = gn_fail(ctx, GN_ERR_NOMEM, "batch %d of %dx%d inputs is too large", n, h, w);
    }
    if (st == GN_OK && training)
        st = find_plane_sums(exec);
    if (st == GN_OK)
        st = plan_arena(exec);
    if (st != GN_OK) {
        gn_exec_free(exec);
        return st;
    }
    gn_rng_seed(&exec->rng, 0);
    *out = exec;
    return GN_OK;
}

void gn_exec_free(gn_exec *exec)
{
    if (!exec)
        return;
    gn_context *ctx = exec->model->ctx;
    gn_free(ctx, exec->arena);
    gn_free(ctx, exec->act);
    gn_free(ctx, exec->grad);
    gn_free(ctx, exec->saved);
    gn_free(ctx, exec->plane_sums);
    gn_free(ctx, exec->bn_grad_sums);
    gn_free(ctx, exec->plane_sums_block);
    gn_free(ctx, exec->shapes);
    gn_free(ctx, exec->last_use);
    gn_free(ctx, exec->fused_relu);
    gn_free(ctx, exec->bn_fold);
    gn_free(ctx, exec->bn_conv);
    gn_free(ctx, exec);
}

static void fill_io(gn_exec *exec, int index, gn_layer_io *io)
{
    gn_model *m = exec->model;
    gn_node *node = &m->nodes[index];
    memset(io, 0, sizeof(*io));
    io->ctx = m->ctx;
    io->node = node;
    io->n = exec->n;
    for (int k = 0; k < node->num_inputs; k++) {
        io->in[k] = exec->shapes[node->inputs[k]];
        io->x[k] = exec->act[node->inputs[k]];
    }
    io->out = exec->shapes[node->output];
    io->y = exec->act[node->output];
    for (int k = 0; k < node->num_params; k++)
        io->params[k] = &m->params[node->params[k]];
    if (node->op == GN_OP_BATCHNORM)
        io->bn = &node->attr.bn;
    io->training = exec->training;
    io->rng = &exec->rng;
    int relu = node->op != GN_OP_RELU ? exec->fused_relu[index] : -1; /* BN or add */
    io->fused_relu = relu >= 0;
    io->scratch = exec->scratch;
    io->scratch_stride = exec->scratch_stride;
    if (is_conv_folded_bn(exec, index)) {
        io->bn_into_conv = 1;
    } else if (node->op == GN_OP_CONV2D && exec->bn_conv[index] >= 0) {
        int bn = exec->bn_conv[index];
        io->x[0] = exec->act[m->nodes[bn].inputs[0]];
        io->conv_x_affine = exec->saved[bn] + 2 * (size_t)io->in[0].c;
        io->conv_x_floor = bn_floor(exec, bn);
    } else if (is_folded_bn(exec, index)) {
        io->bn_into_add = 1;
    } else if (node->op == GN_OP_ADD && exec->bn_fold[index] >= 0) {
        int k = exec->bn_fold[index], bn = m->values[node->inputs[k]].producer;
        io->bn_input = k;
        io->x[k] = exec->act[m->nodes[bn].inputs[0]];
        io->bn_affine = exec->saved[bn] + 2 * (size_t)io->in[k].c;
    }
    if (exec->training) {
        io->plane_sums = exec->plane_sums[index];
        io->bn_grad_sums = exec->bn_grad_sums[index];
        io->saved = exec->saved[index];
        io->dy = exec->grad[relu >= 0 ? m->nodes[relu].output : node->output];
        for (int k = 0; k < node->num_inputs; k++)
            io->dx[k] = exec->grad[node->inputs[k]]; /* NULL for the model input */
    }
}

gn_status gn_exec_forward(gn_exec *exec, const float *input)
{
    gn_model *m = exec->model;
    exec->act[0] = (float *)input; /* read only: no layer writes its inputs */
    for (int i = 0; i < m->num_nodes; i++) {
        if (is_fused_relu(exec, i))
            continue; /* its BN did it */
        gn_layer_io io;
        fill_io(exec, i, &io);
        gn_layer_kind_of(m->nodes[i].op)->forward(&io);
    }
    return GN_OK;
}

/* Zeroing a gradient buffer (megabytes at batch 128) is split across the threads: done by
 * one thread it left the others idle for 1.8% of a ResNet-56 training step (perf). */
typedef struct zero_job {
    char *p;
    size_t bytes;
    int64_t parts;
} zero_job;

static void zero_parts(void *arg, int64_t begin, int64_t end)
{
    const zero_job *z = arg;
    size_t lines = (z->bytes + 63) / 64; /* whole cache lines per thread */
    size_t from = lines * (size_t)begin / (size_t)z->parts * 64;
    size_t to = lines * (size_t)end / (size_t)z->parts * 64;
    to = to < z->bytes ? to : z->bytes;
    if (to > from)
        memset(z->p + from, 0, to - from);
}

static void zero_gradient(gn_exec *exec, int v)
{
    zero_job z = {(char *)exec->grad[v], value_bytes(exec, v), exec->model->ctx->threads};
    if (z.parts <= 1 || z.bytes < ((size_t)256 << 10)) /* small: not worth a hand-over */
        memset(z.p, 0, z.bytes);
    else
        gn_parallel_for(exec->model->ctx, z.parts, zero_parts, &z);
}

gn_status gn_exec_backward(gn_exec *exec, const float *dlogits)
{
    gn_model *m = exec->model;
    if (!exec->training)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "backward needs a training execution");
    memcpy(exec->grad[m->output], dlogits, value_bytes(exec, m->output));
    for (int i = m->num_nodes - 1; i >= 0; i--) {
        const gn_node *node = &m->nodes[i];
        if (is_fused_relu(exec, i))
            continue; /* its BN or add masks the gradient */
        /* Layers accumulate into input gradients; the first to run (the input's last
         * consumer) finds the buffer holding whatever value shared it before. Kinds with
         * fresh_dx then store 0.0f + their gradient (the bits of adding into zeros); for the
         * others the buffer is cleared first. A value nobody reads gets a zero gradient just
         * before its producer's backward. */
        if (exec->last_use[node->output] == i)
            zero_gradient(exec, node->output);
        gn_layer_io io;
        fill_io(exec, i, &io);
        for (int k = 0; k < node->num_inputs; k++) {
            int v = node->inputs[k];
            if (v > 0 && exec->last_use[v] == i && (k == 0 || node->inputs[0] != v)) {
                if (gn_layer_kind_of(node->op)->fresh_dx)
                    io.dx_fresh[k] = 1; /* the layer overwrites it */
                else
                    zero_gradient(exec, v);
            }
        }
        gn_layer_kind_of(node->op)->backward(&io);
    }
    return GN_OK;
}

const float *gn_exec_output(const gn_exec *exec)
{
    return exec->act[exec->model->output];
}

const float *gn_exec_value(const gn_exec *exec, int v, float *buf)
{
    const gn_model *m = exec->model;
    if (exec->act[v])
        return exec->act[v];
    int bn = bn_behind(exec, v);
    if (!buf || bn < 0 || !exec->saved || !exec->saved[bn])
        return NULL;
    gn_shape s = exec->shapes[v];
    size_t plane = (size_t)s.h * s.w;
    const float *x = exec->act[m->nodes[bn].inputs[0]];
    const float *scale = exec->saved[bn] + 2 * (size_t)s.c, *shift = scale + s.c;
    float floor = bn_floor(exec, bn);
    const gn_plane_kernels *pk = gn_plane_kernels_for(m->ctx->isa);
    for (int b = 0; b < exec->n; b++)
        for (int c = 0; c < s.c; c++) {
            size_t at = ((size_t)b * s.c + c) * plane;
            pk->affine(x + at, buf + at, plane, scale[c], shift[c], floor);
        }
    return buf;
}
