/* Creating, running and describing a plan (see plan.h). */
#include "layers/layer.h"
#include "plan/plan_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Below this many MACs per step on average, a pass runs on one thread even when the context
 * has more: a step's hand-over (a progress count seen by the other core, ~0.5 us round
 * trip on this VM) then costs more than the second core gains. With threads kept to their
 * bands (run_shared), `ghostnet bench --runs 300-400` on Zen 5 at batch 1, random weights of
 * `ghostnet init`, sharing forced (1 thread vs 2, median ms): GhostNet 0.5x
 * (0.40M MACs a step) 1.41 vs 1.12, Ghost-ResNet-56 (0.58M) 1.21 vs 0.86, ResNet-56 (2.1M)
 * 1.49 vs 0.94, GhostNet 1.0x (1.34M) 3.2 vs 2.34; so only far smaller steps stay alone. */
#define SHARED_MIN_MACS_PER_STEP 100000

static gn_status alloc_value_tables(gn_plan *p)
{
    size_t values = (size_t)p->model->num_values;
    int **tables[] = {&p->alias, &p->readers, &p->buffer, &p->channel,
                      &p->group_of, &p->gated_x, &p->gated_gate};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        *tables[i] = gn_alloc_zero(p->ctx, values * sizeof(int));
        if (!*tables[i])
            return gn_fail(p->ctx, GN_ERR_NOMEM, "out of memory for the plan's value tables");
    }
    p->shapes = gn_alloc_named(p->ctx, values * sizeof(gn_shape), "value shapes");
    return p->shapes ? GN_OK : GN_ERR_NOMEM;
}

static gn_status init_sync(gn_plan *p)
{
    int threads = p->ctx->threads;
    p->band = gn_alloc_named(p->ctx, (size_t)(threads + 1) * sizeof(double), "plan bands");
    p->band_busy = gn_alloc_zero(p->ctx, (size_t)threads * sizeof(double));
    if (!p->band || !p->band_busy)
        return gn_fail(p->ctx, GN_ERR_NOMEM, "out of memory for the plan's thread bands");
    for (int t = 0; t <= threads; t++)
        p->band[t] = (double)t / threads;
    p->progress = gn_alloc_named(p->ctx, (size_t)threads * sizeof(gn_step_progress),
                                 "plan thread progress");
    p->finished = gn_alloc_named(p->ctx, (size_t)threads * (size_t)p->num_steps * sizeof(double),
                                 "plan step finish times");
    if (!p->progress || !p->finished)
        return GN_ERR_NOMEM;
    if (gn_step_sync_init(&p->sync, p->progress, threads) != 0)
        return gn_fail(p->ctx, GN_ERR_NOMEM, "cannot create the plan's thread synchronisation");
    p->sync_ready = 1;
    return GN_OK;
}

gn_status gn_plan_create(gn_model *m, int n, int h, int w, gn_plan **out)
{
    gn_context *ctx = m->ctx;
    *out = NULL;
    if (m->output < 0)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "model graph has no output");
    if (n < 1)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "batch size must be >= 1, got %d", n);
    gn_plan *p = gn_alloc_zero(ctx, sizeof(*p));
    if (!p)
        return gn_fail(ctx, GN_ERR_NOMEM, "out of memory creating an inference plan");
    p->model = m;
    p->ctx = ctx;
    p->kernels = gn_infer_kernels_for(ctx->isa);
    p->n = n;
    p->shared_min_macs = SHARED_MIN_MACS_PER_STEP;
    p->h = h;
    p->w = w;
    gn_status st = alloc_value_tables(p);
    if (st == GN_OK)
        st = gn_graph_infer_shapes(m, h, w, p->shapes);
    for (int v = 0; v < m->num_values && st == GN_OK; v++) {
        size_t bytes; /* the largest buffer a value can need, padding aside */
        if (!gn_mul_size((size_t)n, gn_shape_numel(p->shapes[v]) * sizeof(float), &bytes))
            st = gn_fail(ctx, GN_ERR_NOMEM, "batch %d of %dx%d inputs is too large", n, h, w);
    }
    if (st == GN_OK)
        st = gn_plan_fuse(p);
    if (st == GN_OK)
        st = gn_plan_lay_out(p);
    if (st == GN_OK)
        st = init_sync(p);
    if (st != GN_OK) {
        gn_plan_free(p);
        return st;
    }
    *out = p;
    return GN_OK;
}

void gn_plan_free(gn_plan *p)
{
    if (!p)
        return;
    gn_context *ctx = p->ctx;
    if (p->sync_ready)
        gn_step_sync_destroy(&p->sync);
    for (int i = 0; i < p->num_steps; i++) {
        plan_step *s = &p->steps[i];
        void *owned[] = {s->scale, s->bias, s->packed.weights, s->packed.bias, s->dw.weights,
                         s->dw.bias};
        for (size_t k = 0; k < sizeof(owned) / sizeof(owned[0]); k++)
            gn_free(ctx, owned[k]);
    }
    void *tables[] = {p->shapes, p->alias, p->readers, p->buffer, p->channel, p->group_of,
                      p->gated_x, p->gated_gate, p->steps, p->order, p->groups, p->buffers,
                      p->borders, p->progress, p->finished, p->band, p->band_busy, p->arena, p};
    for (size_t k = 0; k < sizeof(tables) / sizeof(tables[0]); k++)
        gn_free(ctx, tables[k]);
}

void gn_plan_size(const gn_plan *p, int *n, int *h, int *w)
{
    *n = p->n;
    *h = p->h;
    *w = p->w;
}

static void run_units(gn_plan *p, const plan_step *s, int64_t begin, int64_t end,
                      void *scratch)
{
    const gn_infer_kernels *k = p->kernels;
    switch (s->kind) {
    case STEP_INPUT:
        gn_nchw_to_nhwc(p->input, s->affine.channels, s->affine.h, s->affine.w, s->affine.y,
                        begin, end);
        break;
    case STEP_CONV:
        if (s->nchw_input) {
            gn_conv_desc d = s->conv;
            d.x.data = (float *)p->input; /* read only */
            gn_conv_gemm_run(&d, &s->packed, begin, end, scratch);
        } else {
            gn_conv_gemm_run(&s->conv, &s->packed, begin, end, scratch);
        }
        break;
    case STEP_DEPTHWISE:
        gn_dw_run(&s->conv, &s->dw, begin, end, scratch);
        break;
    case STEP_AFFINE:
        gn_affine_run(k, &s->affine, begin, end);
        break;
    case STEP_AVGPOOL:
        gn_global_avgpool_run(k, &s->pool, begin, end);
        break;
    case STEP_MAXPOOL:
        gn_maxpool_run(k, &s->pool, begin, end);
        break;
    case STEP_OUTPUT:
        gn_nhwc_to_nchw(s->affine.x, s->affine.channels, s->affine.h, s->affine.w, p->output,
                        begin, end);
        break;
    }
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* The first inner unit of thread t's band (t = threads: the end). */
static int64_t band_edge(const gn_plan *p, int64_t inner, int t)
{
    if (t == 0)
        return 0;
    if (t == p->ctx->threads)
        return inner;
    int64_t edge = (int64_t)(p->band[t] * (double)inner + 0.5);
    return edge < 0 ? 0 : edge > inner ? inner : edge;
}

/* The borders of the buffers step s is the first to write, beside thread t's band of their
 * rows (t < 0: all rows, one thread alone). The band is the one the thread computes, p->band: a
 * border pixel shares cache lines with the row it pads. */
static void zero_borders(gn_plan *p, const plan_step *s, int t)
{
    for (int b = 0; b < s->num_borders; b++) {
        const plan_buffer *buf = &p->buffers[p->borders[s->zero_borders + b]];
        int64_t rows = (int64_t)p->n * buf->h;
        int64_t from = t < 0 ? 0 : band_edge(p, rows, t);
        int64_t to = t < 0 ? rows : band_edge(p, rows, t + 1);
        gn_view_zero_border(buf->view, p->n, buf->h, buf->w, buf->channels, buf->pad, from, to);
    }
}

/* One thread alone: every step whole, in order. */
static void run_alone(gn_plan *p)
{
    for (int i = 0; i < p->num_steps; i++) {
        const plan_step *s = &p->steps[p->order[i]];
        double start = p->step_ms ? now_ms() : 0.0;
        zero_borders(p, s, -1);
        run_units(p, s, 0, s->units, p->scratch);
        if (p->step_ms)
            p->step_ms[i] += now_ms() - start;
    }
}

/* Thread t of several: its band of every step. Each outer block of a step's units is split by
 * the same fractions of its inner (spatial) units, p->band, so thread t works on about the same
 * rows of the image in every step and reads what it wrote itself, from its own L2: on this
 * 2-vCPU VM a cache line from the other core costs a ~0.5 us round trip and a 256 KiB
 * activation ~16 us to pull over, which made dynamically claimed chunks no faster on 2 threads
 * than on 1. Steps with fewer inner units than twice the threads (SE, pooling, the head) split
 * their units evenly as one range. A step starts when the previous one is complete (halo rows,
 * pooling and SE read across bands); on profiled runs each thread notes when it finished a
 * step (a step's time ends with its last thread). On a timed run the thread adds up its time
 * in banded steps, waits excluded, for adapt_bands. */
static void run_shared(gn_plan *p, int t)
{
    int threads = p->ctx->threads, timed = p->band_timed;
    int64_t base = p->sync_base;
    double busy = 0.0;
    void *scratch = p->scratch + (size_t)t * p->scratch_stride;
    for (int i = 0; i < p->num_steps; i++) {
        const plan_step *s = &p->steps[p->order[i]];
        /* every thread publishes every step, banded or not, so this waits for all of them */
        if (i > 0)
            gn_step_wait(&p->sync, t, base + i);
        int banded = s->inner >= 2 * threads;
        int64_t inner = banded ? s->inner : s->units, outer = s->units / inner;
        int64_t lo = banded ? band_edge(p, inner, t) : inner * t / threads;
        int64_t hi = banded ? band_edge(p, inner, t + 1) : inner * (t + 1) / threads;
        double begun = timed && banded ? now_ms() : 0.0;
        /* each thread zeroes the border beside its band (a border pixel shares cache lines
         * with the row it pads); the next step waits until every thread has published this
         * one, so the borders are zero before any later step reads them */
        zero_borders(p, s, t);
        for (int64_t o = 0; o < outer && lo < hi; o++)
            run_units(p, s, o * inner + lo, o * inner + hi, scratch);
        /* stamped before reporting, so a step never seems to end before the previous */
        double finished = p->step_ms || (timed && banded) ? now_ms() : 0.0;
        if (timed && banded)
            busy += finished - begun;
        if (p->step_ms)
            p->finished[(size_t)t * (size_t)p->num_steps + (size_t)i] = finished;
        gn_step_publish(&p->sync, t, base + i + 1);
    }
    if (timed)
        p->band_busy[t] = busy;
}

/* Every BAND_TIMED_EVERY-th run (and the first few) is timed per thread. Two clock reads per
 * step and thread cost ~1% of a 0.5 ms pass; one run in eight keeps it in the noise. */
#define BAND_TIMED_EVERY 8
#define BAND_TIMED_FIRST 8
/* No thread's band falls below this fraction of an even share. */
#define BAND_MIN_SHARE 0.25
/* Each timed run moves the bands this far toward the measured speeds (the rest is history:
 * one run's times are noisy, and the core under a thread can change). */
#define BAND_STEP 0.3

/* Cores of one machine need not run at one speed: big.LITTLE boards, and VMs whose vCPUs
 * share a physical core with another guest's work. On the 2-vCPU VM of docs/PERFORMANCE.md one
 * vCPU ran Ghost-ResNet-56 at 1.14-1.20 ms while the other took 0.95, for minutes, and with
 * even bands the fast thread waited for the slow one at every step. After a timed run each
 * thread's speed is its share over its busy time; shares move toward the speeds' proportions.
 * A band only decides which thread computes which rows: every output is computed the same way
 * whatever the bands, so results do not change (tests/test_plan.c checks uneven bands). */
static void adapt_bands(gn_plan *p)
{
    int threads = p->ctx->threads;
    double speed[GN_MAX_BAND_THREADS], total = 0.0;
    for (int t = 0; t < threads; t++) {
        if (!(p->band_busy[t] > 0.0))
            return;
        speed[t] = (p->band[t + 1] - p->band[t]) / p->band_busy[t];
        total += speed[t];
    }
    double edge = 0.0, floor_share = BAND_MIN_SHARE / threads;
    double moved[GN_MAX_BAND_THREADS], sum = 0.0;
    for (int t = 0; t < threads; t++) {
        double share = p->band[t + 1] - p->band[t];
        moved[t] = share + BAND_STEP * (speed[t] / total - share);
        moved[t] = moved[t] < floor_share ? floor_share : moved[t];
        sum += moved[t];
    }
    for (int t = 0; t < threads; t++) {
        edge += moved[t] / sum;
        p->band[t + 1] = t + 1 == threads ? 1.0 : edge;
    }
}

static void run_threads(void *arg, int64_t begin, int64_t end)
{
    for (int64_t t = begin; t < end; t++)
        run_shared(arg, (int)t);
}

int gn_plan_threads(const gn_plan *p)
{
    if (p->ctx->threads <= 1 || p->num_steps == 0 ||
        p->macs / p->num_steps < p->shared_min_macs)
        return 1;
    return p->ctx->threads;
}

void gn_plan_share_always(gn_plan *p)
{
    p->shared_min_macs = 0;
}

void gn_plan_set_bands(gn_plan *p, const double *bounds)
{
    for (int t = 0; t <= p->ctx->threads; t++)
        p->band[t] = bounds[t];
    p->band_fixed = 1;
}

void gn_plan_run(gn_plan *p, const float *input, float *output, double *step_ms)
{
    p->input = input;
    p->output = output;
    p->step_ms = step_ms;
    if (gn_plan_threads(p) == 1) {
        run_alone(p);
        return;
    }
    double start = step_ms ? now_ms() : 0.0;
    p->band_timed = !p->band_fixed && p->ctx->threads <= GN_MAX_BAND_THREADS &&
                    (p->runs < BAND_TIMED_FIRST || p->runs % BAND_TIMED_EVERY == 0);
    p->runs++;
    gn_parallel_for(p->ctx, p->ctx->threads, run_threads, p);
    p->sync_base += p->num_steps;
    if (p->band_timed)
        adapt_bands(p);
    /* a step ends when its last thread has finished it */
    for (int i = 0; step_ms && i < p->num_steps; i++) {
        double end = start;
        for (int t = 0; t < p->ctx->threads; t++) {
            double f = p->finished[(size_t)t * (size_t)p->num_steps + (size_t)i];
            end = f > end ? f : end;
        }
        step_ms[i] += end - start;
        start = end;
    }
}

void gn_plan_describe(const gn_plan *p, gn_plan_info *info)
{
    info->arena_bytes = p->arena_bytes;
    info->weight_bytes = p->weight_bytes;
    info->steps = p->num_steps;
    info->macs = p->macs;
    info->threads = gn_plan_threads(p);
}

static const char *act_name(gn_act act)
{
    return act == GN_ACT_RELU ? " relu" : act == GN_ACT_HARD_SIGMOID ? " hsigmoid" : "";
}

void gn_plan_step(const gn_plan *p, int i, gn_step_info *info)
{
    const plan_step *s = &p->steps[p->order[i]];
    memset(info, 0, sizeof(*info));
    snprintf(info->name, sizeof(info->name), "%s", s->name);
    snprintf(info->op, sizeof(info->op), "%s", s->op);
    snprintf(info->fused, sizeof(info->fused), "%s%s%s%s%s", s->scale ? " bn" : "",
             act_name(s->act), s->raw >= 0 ? " raw" : "", s->residual >= 0 ? " +residual" : "",
             act_name(s->act_after));
    int v = s->group >= 0 ? p->groups[s->group].value : s->x;
    info->out_c = s->group >= 0 ? s->count : p->shapes[v].c;
    info->out_h = p->shapes[v].h;
    info->out_w = p->shapes[v].w;
    info->macs = s->macs;
}
