/* ghostnet bench: inference latency and throughput of a model's compiled plan. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char bench_help[] =
    "usage: ghostnet bench (--weights FILE | --arch NAME [model options]) [--threads N]\n"
    "                      [--batch B] [--runs R] [--warmup W] [--isa NAME] [--layers] [--json]\n"
    "\n"
    "Times inference (gn_model_forward, which runs the compiled plan) on a random batch: W\n"
    "untimed runs, then R timed ones. Prints the median, 90th percentile and minimum latency,\n"
    "images/s and GMAC/s at the median, and the plan's memory: its arena (the peak working\n"
    "memory: every activation and the threads' scratch) and its repacked weights. Without\n"
    "--weights the model gets random weights (--seed). Benchmarks are noisy: compare medians\n"
    "of interleaved runs.\n"
    "\n"
    "  --threads N          worker threads (default 1)\n"
    "  --batch B            images per forward pass (default 1)\n"
    "  --runs R             timed runs (default 50)\n"
    "  --warmup W           untimed runs first (default 10)\n"
    "  --isa NAME           kernels: portable, avx2, avx512, neon (default: the best the CPU has)\n"
    "  --seed S             seed of the random weights and input (default 0)\n"
    "  --layers             also time every fused step (R more runs) and print a table\n"
    "  --json               print one JSON object (median_ms, p90_ms, min_ms, threads, batch,\n"
    "                       peak_bytes, times_ms: every run, ...; layers: [...] with --layers)\n"
    "  -h, --help           this help\n"
    "\n";

typedef struct bench_options {
    int threads, batch, runs, warmup, layers, json;
    const char *isa;
    uint64_t seed;
} bench_options;

typedef struct bench_result {
    double *times_ms; /* every timed run, in order */
    double median_ms, p90_ms, min_ms, mean_ms;
    int64_t macs; /* per image */
    gn_plan_info plan;
    gn_step_info *steps;
    double *step_ms; /* mean per run */
    int h, w;
} bench_result;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median, 90th percentile (nearest rank), minimum and mean of count times. */
static gn_status summarise(const double *runs, int count, bench_result *r)
{
    double *times = malloc((size_t)count * sizeof(double));
    if (!times)
        return GN_ERR_NOMEM;
    memcpy(times, runs, (size_t)count * sizeof(double));
    qsort(times, (size_t)count, sizeof(double), compare_doubles);
    r->median_ms = count % 2 ? times[count / 2] : (times[count / 2 - 1] + times[count / 2]) / 2;
    int rank = (9 * count + 9) / 10; /* ceil(0.9 * count) */
    r->p90_ms = times[rank - 1];
    r->min_ms = times[0];
    r->mean_ms = 0.0;
    for (int i = 0; i < count; i++)
        r->mean_ms += times[i] / count;
    free(times);
    return GN_OK;
}

static int parse_options(cli_args *a, cli_model_spec *spec, bench_options *o)
{
    for (const char *arg; (arg = cli_next(a));) {
        int error = 0, used = cli_model_option(a, arg, spec);
        if (used < 0)
            return CLI_USAGE;
        if (used)
            continue;
        if (cli_option(a, arg, "--threads", &error)) {
            if (!error && cli_parse_int("bench", "--threads", a->value, 1, 256, &o->threads))
                return CLI_USAGE;
        } else if (cli_option(a, arg, "--batch", &error)) {
            if (!error && cli_parse_int("bench", "--batch", a->value, 1, 4096, &o->batch))
                return CLI_USAGE;
        } else if (cli_option(a, arg, "--runs", &error)) {
            if (!error && cli_parse_int("bench", "--runs", a->value, 1, 1000000, &o->runs))
                return CLI_USAGE;
        } else if (cli_option(a, arg, "--warmup", &error)) {
            if (!error && cli_parse_int("bench", "--warmup", a->value, 0, 1000000, &o->warmup))
                return CLI_USAGE;
        } else if (cli_option(a, arg, "--seed", &error)) {
            if (!error && cli_parse_u64("bench", "--seed", a->value, &o->seed))
                return CLI_USAGE;
        } else if (cli_option(a, arg, "--isa", &error)) {
            o->isa = a->value;
        } else if (cli_flag(arg, "--layers")) {
            o->layers = 1;
        } else if (cli_flag(arg, "--json")) {
            o->json = 1;
        } else if (cli_flag(arg, "-h") || cli_flag(arg, "--help")) {
            fputs(bench_help, stdout);
            fputs(cli_model_options_help, stdout);
            return -1;
        } else {
            return cli_usage_error("bench", "unknown argument '%s'", arg);
        }
        if (error)
            return CLI_USAGE;
    }
    return CLI_OK;
}

/* Warm-up, timed runs, then (with --layers) runs timing each step. */
static gn_status measure(gn_model *m, const bench_options *o, const float *x, float *logits,
                         bench_result *r)
{
    r->times_ms = malloc((size_t)o->runs * sizeof(double));
    if (!r->times_ms)
        return GN_ERR_NOMEM;
    gn_status st = GN_OK;
    for (int i = 0; i < o->warmup && st == GN_OK; i++)
        st = gn_model_forward(m, x, o->batch, r->h, r->w, logits);
    for (int i = 0; i < o->runs && st == GN_OK; i++) {
        double start = now_ms();
        st = gn_model_forward(m, x, o->batch, r->h, r->w, logits);
        r->times_ms[i] = now_ms() - start;
    }
    if (st == GN_OK)
        st = summarise(r->times_ms, o->runs, r);
    if (st != GN_OK || !o->layers)
        return st;
    int count = r->plan.steps;
    r->steps = calloc((size_t)count, sizeof(*r->steps));
    r->step_ms = calloc((size_t)count, sizeof(double));
    if (!r->steps || !r->step_ms)
        return GN_ERR_NOMEM;
    st = gn_model_plan_info(m, o->batch, r->h, r->w, &r->plan, r->steps, count);
    for (int i = 0; i < o->runs && st == GN_OK; i++)
        st = gn_model_forward_timed(m, x, o->batch, r->h, r->w, logits, r->step_ms, count);
    for (int i = 0; i < count; i++)
        r->step_ms[i] /= o->runs;
    return st;
}

static void describe_model(const gn_model *m, char *buf, size_t size)
{
    const gn_model_config *c = gn_model_get_config(m);
    char ghost[32] = "";
    if (c->ghost_ratio)
        snprintf(ghost, sizeof(ghost), " ghost s=%d d=%d", c->ghost_ratio, c->ghost_kernel);
    if (c->arch == GN_ARCH_GHOSTNET)
        snprintf(buf, size, "GhostNet %gx%s", c->width, c->small_input ? " small-input" : "");
    else if (c->arch == GN_ARCH_RESNET)
        snprintf(buf, size, "ResNet-%d%s", c->depth, ghost);
    else if (c->arch == GN_ARCH_VGG)
        snprintf(buf, size, "VGG-%d%s", c->depth, ghost);
    else
        snprintf(buf, size, "custom graph");
}

static double gmacs(int64_t macs, double ms)
{
    return ms > 0.0 ? (double)macs / (ms * 1e6) : 0.0;
}

static void print_text(const gn_model *m, gn_context *ctx, const bench_options *o,
                       const bench_result *r)
{
    char model[96];
    describe_model(m, model, sizeof(model));
    int64_t macs = r->macs * o->batch;
    printf("%s, input %dx%d, batch %d, %d thread%s, %s kernels, %.2f M MACs per image\n", model,
           r->h, r->w, o->batch, o->threads, o->threads > 1 ? "s" : "", gn_context_isa(ctx),
           (double)r->macs / 1e6);
    if (r->plan.threads != o->threads)
        printf("threads   runs on %d: its steps average %.2f M MACs, too little to share\n",
               r->plan.threads, (double)r->plan.macs / (r->plan.steps ? r->plan.steps : 1) / 1e6);
    printf("latency   median %.3f ms   p90 %.3f ms   min %.3f ms   (%d runs after %d warm-up)\n",
           r->median_ms, r->p90_ms, r->min_ms, o->runs, o->warmup);
    printf("rate      %.1f images/s   %.1f GMAC/s at the median (%.1f at the minimum)\n",
           o->batch * 1e3 / r->median_ms, gmacs(macs, r->median_ms), gmacs(macs, r->min_ms));
    printf("memory    arena %.2f MiB (peak activations + scratch)   weights %.2f MiB   "
           "%d fused steps\n",
           (double)r->plan.arena_bytes / 1048576.0, (double)r->plan.weight_bytes / 1048576.0,
           r->plan.steps);
    if (!r->step_ms)
        return;
    double total = 0.0;
    for (int i = 0; i < r->plan.steps; i++)
        total += r->step_ms[i];
    printf("\n%4s %-40s %-18s %-22s %-14s %9s %6s %8s\n", "step", "name", "op", "fused",
           "output", "ms", "%", "GMAC/s");
    for (int i = 0; i < r->plan.steps; i++) {
        const gn_step_info *s = &r->steps[i];
        char shape[32];
        snprintf(shape, sizeof(shape), "%dx%dx%d", s->out_c, s->out_h, s->out_w);
        printf("%4d %-40.40s %-18.18s %-22.22s %-14s %9.4f %6.2f %8.1f\n", i, s->name, s->op,
               s->fused[0] == ' ' ? s->fused + 1 : s->fused, shape, r->step_ms[i],
               100.0 * r->step_ms[i] / total, gmacs(s->macs, r->step_ms[i]));
    }
    printf("%4s %-40s %-18s %-22s %-14s %9.4f %6.2f %8.1f\n", "", "total (timed steps)", "", "",
           "", total, 100.0, gmacs(macs, total));
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_json(const gn_model *m, gn_context *ctx, const bench_options *o,
                       const bench_result *r)
{
    const gn_model_config *c = gn_model_get_config(m);
    char model[96];
    describe_model(m, model, sizeof(model));
    int64_t macs = r->macs * o->batch;
    printf("{\"model\": ");
    print_json_string(model);
    printf(", \"width\": %g, \"depth\": %d, \"input\": [%d, %d], \"isa\": \"%s\", "
           "\"threads\": %d, \"batch\": %d, \"runs\": %d, \"warmup\": %d, ",
           c->width, c->depth, r->h, r->w, gn_context_isa(ctx), o->threads, o->batch, o->runs,
           o->warmup);
    printf("\"median_ms\": %.6f, \"p90_ms\": %.6f, \"min_ms\": %.6f, \"mean_ms\": %.6f, "
           "\"images_per_s\": %.3f, \"macs_per_image\": %lld, \"gmacs\": %.3f, "
           "\"peak_bytes\": %zu, \"weight_bytes\": %zu, \"steps\": %d, \"threads_used\": %d",
           r->median_ms, r->p90_ms, r->min_ms, r->mean_ms, o->batch * 1e3 / r->median_ms,
           (long long)r->macs, gmacs(macs, r->median_ms), r->plan.arena_bytes,
           r->plan.weight_bytes, r->plan.steps, r->plan.threads);
    printf(", \"times_ms\": [");
    for (int i = 0; i < o->runs; i++)
        printf("%s%.6f", i ? ", " : "", r->times_ms[i]);
    printf("]");
    if (r->step_ms) {
        printf(", \"layers\": [");
        for (int i = 0; i < r->plan.steps; i++) {
            const gn_step_info *s = &r->steps[i];
            printf("%s\n  {\"name\": ", i ? "," : "");
            print_json_string(s->name);
            printf(", \"op\": ");
            print_json_string(s->op);
            printf(", \"fused\": ");
            print_json_string(s->fused[0] == ' ' ? s->fused + 1 : s->fused);
            printf(", \"output\": [%d, %d, %d], \"macs\": %lld, \"ms\": %.6f}", s->out_c,
                   s->out_h, s->out_w, (long long)s->macs, r->step_ms[i]);
        }
        printf("]");
    }
    printf("}\n");
}

/* A deterministic input batch in [-1, 1). */
static float *random_batch(uint64_t seed, size_t count)
{
    float *x = malloc(count * sizeof(float));
    uint64_t state = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t i = 0; x && i < count; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        x[i] = (float)(state >> 40) / (float)(1 << 23) - 1.0f;
    }
    return x;
}

static int run_bench(gn_context *ctx, gn_model *m, const cli_model_spec *spec,
                     const bench_options *o)
{
    const gn_model_config *c = gn_model_get_config(m);
    bench_result r = {0};
    r.h = spec->have_input ? spec->config.input_h : c->input_h;
    r.w = spec->have_input ? spec->config.input_w : c->input_w;
    size_t in = (size_t)o->batch * gn_model_in_channels(m) * r.h * r.w;
    float *x = random_batch(o->seed, in);
    float *logits = malloc((size_t)o->batch * gn_model_num_classes(m) * sizeof(float));
    gn_status st = x && logits ? GN_OK : GN_ERR_NOMEM;
    if (st == GN_OK)
        st = gn_model_macs(m, r.h, r.w, &r.macs);
    if (st == GN_OK)
        st = gn_model_plan_info(m, o->batch, r.h, r.w, &r.plan, NULL, 0);
    if (st == GN_OK)
        st = measure(m, o, x, logits, &r);
    int rc = CLI_OK;
    if (st != GN_OK)
        rc = cli_lib_error("bench", ctx, st);
    else if (o->json)
        print_json(m, ctx, o, &r);
    else
        print_text(m, ctx, o, &r);
    free(x);
    free(logits);
    free(r.times_ms);
    free(r.steps);
    free(r.step_ms);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    cli_args a;
    cli_model_spec spec;
    bench_options o = {.threads = 1, .batch = 1, .runs = 50, .warmup = 10};
    cli_args_init(&a, "bench", argc, argv);
    cli_model_spec_init(&spec);
    int rc = parse_options(&a, &spec, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    gn_context_options options = {.threads = o.threads, .isa = o.isa};
    cli_warn_threads("bench", o.threads);
    gn_context *ctx = NULL;
    gn_status st = gn_context_create(&options, &ctx);
    if (st == GN_ERR_ARGUMENT && o.isa)
        return cli_usage_error("bench", "--isa: '%s' is not portable, avx2, avx512 or neon",
                               o.isa);
    if (st == GN_ERR_UNSUPPORTED)
        return cli_usage_error("bench", "--isa: this CPU cannot run '%s' kernels", o.isa);
    if (st != GN_OK) {
        fprintf(stderr, "ghostnet bench: error: cannot create a context with %d threads: %s\n",
                o.threads, gn_status_name(st));
        return CLI_ERROR;
    }
    gn_model *m = NULL;
    rc = cli_open_model("bench", ctx, &spec, o.seed, &m);
    if (rc == CLI_OK)
        rc = run_bench(ctx, m, &spec, &o);
    gn_model_free(m);
    gn_context_destroy(ctx);
    return rc;
}
