/* Laying out a fused plan: execution order, buffers with zero borders, one arena, and the
 * kernels' descriptors with repacked weights (see plan.h). */
#include "core/arena.h"
#include "plan/plan_internal.h"

#include <limits.h>
#include <string.h>

/* Floats of slack after each buffer: a vector kernel may load (never store) a whole vector at
 * the last pixel's channels. */
#define GN_PLAN_SLACK 16

typedef struct region {
    int buffer, lo, hi; /* channels [lo, hi) of a buffer; buffer -1: none */
} region;

static region value_region(const gn_plan *p, int v, int offset, int count)
{
    region r = {-1, 0, 0};
    if (v >= 0) {
        r.buffer = p->buffer[v];
        r.lo = p->channel[v] + offset;
        r.hi = r.lo + count;
    }
    return r;
}

static int overlaps(region a, region b)
{
    return a.buffer >= 0 && a.buffer == b.buffer && a.lo < b.hi && b.lo < a.hi;
}

/* What step s reads: its input, residual slice and gate. */
static void step_reads(const gn_plan *p, const plan_step *s, region out[3])
{
    out[0] = value_region(p, s->x, 0, s->x >= 0 ? p->shapes[s->x].c : 0);
    out[1] = value_region(p, s->residual, s->residual_offset, s->count);
    out[2] = value_region(p, s->gate, 0, s->gate >= 0 ? p->shapes[s->gate].c : 0);
}

/* What step s writes: its channels of the group's value, and of the raw value. */
static void step_writes(const gn_plan *p, const plan_step *s, region out[2])
{
    out[0] = value_region(p, s->group >= 0 ? p->groups[s->group].value : -1, s->offset, s->count);
    out[1] = value_region(p, s->raw, s->raw_offset, s->count);
}

static int depends(const gn_plan *p, const plan_step *reader, const plan_step *writer)
{
    region reads[3], writes[2];
    step_reads(p, reader, reads);
    step_writes(p, writer, writes);
    for (int r = 0; r < 3; r++)
        for (int w = 0; w < 2; w++)
            if (overlaps(reads[r], writes[w]))
                return 1;
    return 0;
}

/* Topological order, preferring graph order: fused residuals can make a step wait for one made
 * later (a bottleneck's shortcut is built after its second Ghost module). */
static gn_status order_steps(gn_plan *p)
{
    int count = p->num_steps;
    char *done = gn_alloc_zero(p->ctx, (size_t)count);
    p->order = gn_alloc_named(p->ctx, (size_t)count * sizeof(int), "plan order");
    if (!done || !p->order) {
        gn_free(p->ctx, done);
        return GN_ERR_NOMEM;
    }
    for (int placed = 0; placed < count; placed++) {
        int next = -1;
        for (int i = 0; i < count && next < 0; i++) {
            int ready = !done[i];
            for (int j = 0; j < count && ready; j++)
                ready = done[j] || j == i || !depends(p, &p->steps[i], &p->steps[j]);
            if (ready)
                next = i;
        }
        if (next < 0) {
            gn_free(p->ctx, done);
            return gn_fail(p->ctx, GN_ERR_UNSUPPORTED, "plan: the fused steps form a cycle");
        }
        done[next] = 1;
        p->steps[next].order = placed;
        p->order[placed] = next;
    }
    gn_free(p->ctx, done);
    return GN_OK;
}

/* Zero borders for the convolutions that read a buffer; lifetimes from the order. */
static void size_buffers(gn_plan *p)
{
    for (int b = 0; b < p->num_buffers; b++) {
        p->buffers[b].first = INT_MAX;
        p->buffers[b].last = -1;
    }
    for (int i = 0; i < p->num_steps; i++) {
        const plan_step *s = &p->steps[i];
        region reads[3], writes[2];
        step_reads(p, s, reads);
        step_writes(p, s, writes);
        for (int r = 0; r < 3; r++)
            if (reads[r].buffer >= 0 && s->order > p->buffers[reads[r].buffer].last)
                p->buffers[reads[r].buffer].last = s->order;
        for (int w = 0; w < 2; w++)
            if (writes[w].buffer >= 0 && s->order < p->buffers[writes[w].buffer].first)
                p->buffers[writes[w].buffer].first = s->order;
        if ((s->kind == STEP_CONV || s->kind == STEP_DEPTHWISE) && !s->nchw_input &&
            p->model->nodes[s->node].op == GN_OP_CONV2D) {
            plan_buffer *in = &p->buffers[p->buffer[s->x]];
            int pad = p->model->nodes[s->node].attr.conv.padding;
            in->pad = pad > in->pad ? pad : in->pad;
        }
    }
    for (int b = 0; b < p->num_buffers; b++) {
        plan_buffer *buf = &p->buffers[b];
        buf->used = buf->last >= 0;
        size_t pixels = (size_t)p->n * (size_t)(buf->h + 2 * buf->pad) *
                        (size_t)(buf->w + 2 * buf->pad);
        buf->bytes = (pixels * (size_t)buf->channels + GN_PLAN_SLACK) * sizeof(float);
    }
}

/* Which step zeroes which buffer's border: the first to write it. */
static gn_status assign_borders(gn_plan *p)
{
    p->borders = gn_alloc_named(p->ctx, (size_t)(p->num_buffers + 1) * sizeof(int),
                                "plan borders");
    if (!p->borders)
        return GN_ERR_NOMEM;
    int at = 0;
    for (int k = 0; k < p->num_steps; k++) {
        plan_step *s = &p->steps[p->order[k]];
        s->zero_borders = at;
        for (int b = 0; b < p->num_buffers; b++)
            if (p->buffers[b].used && p->buffers[b].pad > 0 && p->buffers[b].first == k)
                p->borders[at++] = b;
        s->num_borders = at - s->zero_borders;
    }
    return GN_OK;
}

/* Whether buffer b finds its border already zero when it is first written: the buffer written
 * most recently before it (first write) in the bytes it spans has its place and its shape, so it
 * had the same border, zeroed or itself inherited, and wrote only inside it. In a network of
 * stages, the buffers of a stage that share an arena slot then zero their borders once a run:
 * Ghost-ResNet-56's 2-thread pass spent 19-23 us of ~680 per thread zeroing (a temporary build
 * timing each step's parts). The first buffer of each place in a run is always zeroed. */
static int inherits_border(const gn_plan *p, int b)
{
    const plan_buffer *me = &p->buffers[b], *last = NULL;
    for (int o = 0; o < p->num_buffers; o++) {
        const plan_buffer *other = &p->buffers[o];
        if (o == b || !other->used || other->first >= me->first ||
            other->offset >= me->offset + me->bytes || me->offset >= other->offset + other->bytes)
            continue;
        if (!last || other->first > last->first)
            last = other;
    }
    return last && last->offset == me->offset && last->bytes == me->bytes &&
           last->channels == me->channels && last->h == me->h && last->w == me->w &&
           last->pad == me->pad && last->last < me->first;
}

/* After the arena is placed: drops from the steps' lists the borders that are zero already. */
static void drop_kept_borders(gn_plan *p)
{
    int at = 0;
    for (int k = 0; k < p->num_steps; k++) {
        plan_step *s = &p->steps[p->order[k]];
        int from = s->zero_borders, count = s->num_borders;
        s->zero_borders = at;
        for (int i = 0; i < count; i++)
            if (!inherits_border(p, p->borders[from + i]))
                p->borders[at++] = p->borders[from + i];
        s->num_borders = at - s->zero_borders;
    }
}

static gn_view view_at(const gn_plan *p, int v, int offset)
{
    gn_view view = {0};
    if (v >= 0 && p->buffer[v] >= 0) { /* no buffer: the caller's NCHW input */
        view = p->buffers[p->buffer[v]].view;
        view.data += p->channel[v] + offset;
    }
    return view;
}

static void *plan_alloc(void *user, size_t bytes)
{
    return gn_alloc((gn_context *)user, bytes);
}

static gn_epilogue epilogue_of(const gn_plan *p, const plan_step *s)
{
    gn_epilogue ep = {s->act, view_at(p, s->raw, s->raw_offset),
                      view_at(p, s->residual, s->residual_offset), s->act_after};
    return ep;
}

/* A convolution node, or a linear layer as the convolution whose kernel covers its (square)
 * input map: PyTorch's flattened (c, y, x) weight order is the OIHW order of that kernel.
 * Geometry only; the views come once the arena is placed (point_step). */
static gn_conv_desc conv_geometry(const gn_plan *p, const plan_step *s)
{
    const gn_node *node = &p->model->nodes[s->node];
    gn_shape in = p->shapes[s->x], out = p->shapes[p->groups[s->group].value];
    gn_conv_desc d = {0};
    d.n = p->n;
    d.in_h = in.h;
    d.in_w = in.w;
    d.out_h = out.h;
    d.out_w = out.w;
    if (node->op == GN_OP_CONV2D) {
        const gn_conv_attr *a = &node->attr.conv;
        d.kernel = a->kernel;
        d.stride = a->stride;
        d.padding = a->padding;
        d.groups = a->groups;
        d.in_per_group = a->in_channels / a->groups;
        d.out_per_group = a->out_channels / a->groups;
    } else {
        d.kernel = in.h;
        d.stride = 1;
        d.groups = 1;
        d.in_per_group = in.c;
        d.out_per_group = node->attr.linear.out_features;
    }
    d.out_channels = s->count;
    d.nchw_input = s->nchw_input;
    return d;
}

/* A step's geometry, packed weights and scratch size: everything but its views. */
static gn_status pack_step(gn_plan *p, plan_step *s)
{
    gn_shape in = s->x >= 0 ? p->shapes[s->x] : p->shapes[0];
    int failed = 0;
    switch (s->kind) {
    case STEP_CONV:
        s->conv = conv_geometry(p, s);
        failed = gn_conv_pack(p->kernels, &s->conv, s->weight, s->scale, s->bias, plan_alloc,
                              p->ctx, &s->packed);
        s->scratch_bytes = gn_conv_gemm_scratch(&s->packed, s->conv.kernel, s->gate >= 0);
        p->weight_bytes += s->packed.bytes;
        break;
    case STEP_DEPTHWISE:
        s->conv = conv_geometry(p, s);
        failed = gn_dw_pack(p->kernels, &s->conv, s->weight, s->scale, s->bias, plan_alloc,
                            p->ctx, &s->dw);
        s->scratch_bytes = gn_dw_scratch(&s->conv);
        p->weight_bytes += s->dw.bytes;
        break;
    case STEP_AFFINE:
        s->affine.n = p->n;
        s->affine.h = in.h;
        s->affine.w = in.w;
        s->affine.channels = s->count;
        break;
    case STEP_AVGPOOL:
    case STEP_MAXPOOL: {
        const gn_node *node = &p->model->nodes[s->node];
        gn_shape o = p->shapes[node->output];
        gn_pool_desc d = {p->n, in.h, in.w, o.h, o.w, in.c, node->attr.pool.kernel,
                          node->attr.pool.stride, node->attr.pool.padding, {0}, {0}};
        s->pool = d;
        break;
    }
    case STEP_INPUT:
    case STEP_OUTPUT: {
        gn_shape shape = p->shapes[s->kind == STEP_INPUT ? 0 : s->x];
        s->affine.n = p->n;
        s->affine.h = shape.h;
        s->affine.w = shape.w;
        s->affine.channels = shape.c;
        break;
    }
    }
    if (failed)
        return gn_fail(p->ctx, GN_ERR_NOMEM, "out of memory packing the weights of '%s'",
                       s->name);
    return GN_OK;
}

/* A convolution whose weights dwarf its input (VGG-16's 4x4 and 8x8 layers at batch 1: 9.4 MB
 * of weights, 32 KB of input) splits its output channels between the threads, not its rows:
 * with row bands every thread streams all the weights from memory, with channel bands each
 * streams its share and reads the input (half of it from the other core). Its units then form
 * one range of (panel, row), which the bands cut by panels. */
static int splits_by_channels(const gn_plan *p, const plan_step *s)
{
    const gn_conv_desc *d = &s->conv;
    size_t weight_bytes = (size_t)d->kernel * d->kernel * d->in_per_group * d->out_channels *
                          sizeof(float);
    size_t input_bytes = (size_t)p->n * d->in_h * d->in_w * d->in_per_group * d->groups *
                         sizeof(float);
    return p->ctx->threads > 1 && s->packed.stream && !d->nchw_input && !d->gate &&
           (int64_t)s->packed.panels * d->groups >= 2 * p->ctx->threads &&
           weight_bytes >= 8 * input_bytes;
}

/* The step's views into the arena, and its work units. */
static void point_step(gn_plan *p, plan_step *s)
{
    gn_view x = view_at(p, s->x, 0), gate = view_at(p, s->gate, 0);
    gn_view out = s->group >= 0 ? view_at(p, p->groups[s->group].value, s->offset) : (gn_view){0};
    switch (s->kind) {
    case STEP_CONV:
    case STEP_DEPTHWISE:
        if (s->nchw_input) { /* the caller's batch; its address comes with each run */
            gn_shape in = p->shapes[0];
            x = (gn_view){NULL, (ptrdiff_t)in.c * in.h * in.w, in.w, 1};
        }
        s->conv.x = x;
        s->conv.y = out;
        s->conv.ep = epilogue_of(p, s);
        s->conv.gate = gate.data;
        s->conv.gate_stride = gate.image_stride;
        s->units = s->kind == STEP_CONV ? gn_conv_gemm_units(&s->conv, &s->packed)
                                        : gn_dw_units(&s->conv);
        s->inner = s->kind == STEP_CONV ? gn_conv_gemm_inner(&s->conv, &s->packed)
                                        : (int64_t)p->n * s->conv.out_h;
        if (s->kind == STEP_CONV && splits_by_channels(p, s))
            s->inner = s->units;
        break;
    case STEP_AFFINE:
        s->affine.x = x;
        s->affine.y = out;
        s->affine.residual = view_at(p, s->residual, s->residual_offset);
        s->affine.scale = s->gate >= 0 ? gate.data : s->scale;
        s->affine.scale_image_stride = gate.image_stride;
        s->affine.shift = s->bias;
        s->affine.act = s->act;
        s->affine.act_after = s->act_after;
        s->units = gn_affine_units(&s->affine);
        s->inner = (int64_t)p->n * s->affine.h;
        break;
    case STEP_AVGPOOL:
    case STEP_MAXPOOL:
        s->pool.x = x;
        s->pool.y = out;
        s->units = s->kind == STEP_AVGPOOL ? gn_global_avgpool_units(&s->pool)
                                           : gn_maxpool_units(&s->pool);
        s->inner = s->kind == STEP_AVGPOOL ? 1 : (int64_t)p->n * s->pool.out_h;
        break;
    case STEP_INPUT:
    case STEP_OUTPUT:
        s->affine.x = x;
        s->affine.y = out;
        s->units = gn_layout_units(p->n, s->affine.h);
        s->inner = s->units;
        break;
    }
}

/* Centred slots. Each thread keeps to one band of rows of every buffer, so with 2 threads the
 * first half of a buffer's bytes is one thread's and the second half the other's. When a
 * buffer reuses memory a buffer of another size left, the bytes where one thread's band of the
 * new buffer lies were last written by the other thread, and every such cache line has to move
 * between the cores. With equal slots (the largest buffer's size) and every buffer centred in
 * its slot, the bands of all buffers sharing a slot meet at its middle, so each thread keeps
 * to the same bytes. Used when the arena stays within CENTRED_ANY_GROWTH_BYTES or grows by
 * at most NUM / DEN (at batch 1: Ghost-ResNet-56 0.29 MiB either way, ResNet-56 0.22 -> 0.29,
 * VGG-16 0.60 -> 0.63; GhostNet 1.0x at 224x224 would grow from 4.2 to 12.4 MiB and keeps the
 * packed placement). Measurements: docs/PERFORMANCE.md ("Threads"). */
#define CENTRED_ANY_GROWTH_BYTES (1u << 20)
#define CENTRED_MAX_GROWTH_NUM 5
#define CENTRED_MAX_GROWTH_DEN 4

/* One arena: every used buffer by lifetime, plus the threads' scratch for the whole run. */
static gn_status place_arena(gn_plan *p, size_t scratch_stride)
{
    int threads = p->ctx->threads, count = 0;
    /* req: the packed placement; req + count: the same requests in equal slots */
    size_t requests = 2 * (size_t)(p->num_buffers + 1);
    gn_arena_request *req = gn_alloc_named(p->ctx, requests * sizeof(*req), "arena requests");
    if (!req)
        return GN_ERR_NOMEM;
    size_t slot = 0;
    for (int b = 0; b < p->num_buffers; b++)
        if (p->buffers[b].used) {
            req[count++] = (gn_arena_request){p->buffers[b].bytes, p->buffers[b].first,
                                              p->buffers[b].last, 0};
            slot = p->buffers[b].bytes > slot ? p->buffers[b].bytes : slot;
        }
    req[count++] = (gn_arena_request){scratch_stride * (size_t)threads, 0, INT_MAX, 0};
    gn_status st = gn_arena_plan(p->ctx, req, count, &p->arena_bytes);
    int centred = 0;
    slot = (slot + 63) / 64 * 64;
    if (st == GN_OK && threads > 1) { /* centred slots, see above */
        gn_arena_request *slots = req + count;
        size_t centred_bytes;
        memcpy(slots, req, (size_t)count * sizeof(*req));
        for (int k = 0; k < count - 1; k++) /* the scratch keeps its size */
            slots[k].size = slot;
        st = gn_arena_plan(p->ctx, slots, count, &centred_bytes);
        centred = st == GN_OK && (centred_bytes <= CENTRED_ANY_GROWTH_BYTES ||
                                  centred_bytes * CENTRED_MAX_GROWTH_DEN <=
                                      p->arena_bytes * CENTRED_MAX_GROWTH_NUM);
        if (centred) {
            memcpy(req, slots, (size_t)count * sizeof(*req));
            p->arena_bytes = centred_bytes;
        }
    }
    if (st == GN_OK) {
        p->arena = gn_alloc_named(p->ctx, p->arena_bytes, "plan arena");
        st = p->arena ? GN_OK : GN_ERR_NOMEM;
    }
    for (int b = 0, k = 0; b < p->num_buffers && st == GN_OK; b++) {
        plan_buffer *buf = &p->buffers[b];
        if (!buf->used)
            continue;
        buf->offset = req[k++].offset + (centred ? (slot - buf->bytes) / 2 / 64 * 64 : 0);
        buf->view.pixel_stride = buf->channels;
        buf->view.row_stride = (ptrdiff_t)(buf->w + 2 * buf->pad) * buf->channels;
        buf->view.image_stride = (ptrdiff_t)(buf->h + 2 * buf->pad) * buf->view.row_stride;
        buf->view.data = (float *)((char *)p->arena + buf->offset) +
                         buf->pad * (buf->view.row_stride + buf->view.pixel_stride);
    }
    if (st == GN_OK)
        p->scratch = (char *)p->arena + req[count - 1].offset;
    p->scratch_stride = scratch_stride;
    gn_free(p->ctx, req);
    return st;
}

gn_status gn_plan_lay_out(gn_plan *p)
{
    gn_status st = order_steps(p);
    if (st != GN_OK)
        return st;
    size_buffers(p);
    st = assign_borders(p);
    size_t scratch = 0;
    for (int i = 0; i < p->num_steps && st == GN_OK; i++) {
        st = pack_step(p, &p->steps[i]);
        scratch = p->steps[i].scratch_bytes > scratch ? p->steps[i].scratch_bytes : scratch;
    }
    if (st == GN_OK)
        st = place_arena(p, (scratch + 63) / 64 * 64);
    if (st == GN_OK)
        drop_kept_borders(p);
    for (int i = 0; i < p->num_steps && st == GN_OK; i++)
        point_step(p, &p->steps[i]);
    return st;
}
