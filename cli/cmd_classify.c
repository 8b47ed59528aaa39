/* ghostnet classify: top-k classes of photos, decoded and preprocessed as torchvision does. */
#include "cli.h"
#include "io/json.h"
#include "io/npy.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOPK 1000
#define LABEL_MAX 256

static const char classify_help[] =
    "usage: ghostnet classify --weights FILE IMAGE... [--topk K] [--json] [options]\n"
    "\n"
    "Decodes each image (JPEG, PNG, BMP, binary PPM/PGM), converts it to RGB, resizes the\n"
    "shorter side to 256 (PIL's bilinear, antialiased), centre-crops 224x224 (the model's input\n"
    "size; resize = crop / 0.875), normalises with the mean/std of the model file and prints the\n"
    "top-k classes with their softmax probabilities. The preprocessing equals torchvision's\n"
    "Resize(256) + CenterCrop(224) + ToTensor + Normalize bit for bit on 8-bit images.\n"
    "\n"
    "  --weights FILE       model file, PyTorch checkpoint (.pth) or timm safetensors; files\n"
    "                       without metadata take the model options below (default GhostNet 1.0)\n"
    "  --topk K             classes per image (default 5)\n"
    "  --json               one JSON object per image and line: {\"file\", \"top\": [{\"index\",\n"
    "                       \"label\", \"probability\"}]}\n"
    "  --labels FILE        class names, one per line (default: ImageNet-1k for 1000 classes)\n"
    "  --batch N            images per forward pass (default 4; larger batches gain nothing\n"
    "                       on CPU and use more memory)\n"
    "  --threads N          worker threads (default 1)\n"
    "  --files-from LIST    also classify the paths in LIST, one per line ('-': stdin), for\n"
    "                       lists too long for the command line\n"
    "  --keep-going         report unreadable images and go on (exit status 1 at the end)\n"
    "  --save-input FILE    also write the preprocessed batch (N x C x H x W float32 .npy)\n"
    "  -q, --quiet          no progress on stderr\n"
    "  -h, --help           this help\n"
    "\n";

typedef struct options {
    cli_model_spec spec;
    const char **images; /* from argv and --files-from */
    int num_images;
    const char *files_from;
    char *list_text; /* the --files-from file, split into the paths images points at */
    int topk, json, batch, threads, keep_going, quiet;
    const char *labels, *save_input;
} options;

/* ---- arguments ---- */

/* "--name N" with N in [lo, hi]: 1 when matched and stored, -1 on a usage error, 0 if arg is
 * another option. */
static int int_option(cli_args *a, const char *arg, const char *name, long lo, long hi, int *out,
                      int *error)
{
    if (!cli_option(a, arg, name, error))
        return 0;
    return *error || cli_parse_int("classify", name, a->value, lo, hi, out) ? -1 : 1;
}

static int parse_option(cli_args *a, const char *arg, options *o, int *error)
{
    int used = int_option(a, arg, "--topk", 1, MAX_TOPK, &o->topk, error);
    if (!used)
        used = int_option(a, arg, "--batch", 1, 4096, &o->batch, error);
    if (!used)
        used = int_option(a, arg, "--threads", 1, 256, &o->threads, error);
    if (used)
        return used;
    if (cli_option(a, arg, "--labels", error)) {
        o->labels = a->value;
        return *error ? -1 : 1;
    }
    if (cli_option(a, arg, "--files-from", error)) {
        o->files_from = a->value;
        return *error ? -1 : 1;
    }
    if (cli_option(a, arg, "--save-input", error)) {
        o->save_input = a->value;
        return *error ? -1 : 1;
    }
    if (cli_flag(arg, "--json"))
        o->json = 1;
    else if (cli_flag(arg, "--keep-going"))
        o->keep_going = 1;
    else if (cli_flag(arg, "-q") || cli_flag(arg, "--quiet"))
        o->quiet = 1;
    else
        return 0;
    return 1;
}

/* The whole of path ("-": stdin) as a NUL-terminated string, or NULL. */
static char *read_text(const char *path)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!fp)
        return NULL;
    size_t size = 0, capacity = 4096;
    char *text = malloc(capacity);
    while (text) {
        size += fread(text + size, 1, capacity - size - 1, fp);
        if (size < capacity - 1)
            break;
        char *bigger = realloc(text, capacity *= 2);
        if (!bigger)
            free(text);
        text = bigger;
    }
    int failed = ferror(fp);
    if (fp != stdin)
        fclose(fp);
    if (text && failed) {
        free(text);
        return NULL;
    }
    if (text)
        text[size] = '\0';
    return text;
}

/* Appends the non-empty lines of --files-from to the images. */
static int read_list(options *o)
{
    o->list_text = read_text(o->files_from);
    if (!o->list_text) {
        fprintf(stderr, "ghostnet classify: error: %s: cannot read the list of images\n",
                o->files_from);
        return -1;
    }
    size_t lines = 1;
    for (const char *c = o->list_text; *c; c++)
        lines += *c == '\n' || *c == '\r';
    const char **all = realloc(o->images, ((size_t)o->num_images + lines) * sizeof(*all));
    if (!all) {
        fprintf(stderr, "ghostnet classify: error: out of memory for %zu paths\n", lines);
        return -1;
    }
    o->images = all;
    for (char *line = o->list_text; *line;) {
        char *end = line + strcspn(line, "\r\n");
        char separator = *end;
        *end = '\0';
        if (*line && o->num_images < INT_MAX)
            o->images[o->num_images++] = line;
        line = separator ? end + 1 : end;
    }
    return 0;
}

/* Returns -1 to continue, else the exit code (help or a usage error). */
static int parse_args(int argc, char **argv, options *o)
{
    cli_args a;
    int error = 0;
    cli_args_init(&a, "classify", argc, argv);
    cli_model_spec_init(&o->spec);
    o->topk = 5;
    o->batch = 4;
    o->threads = 1;
    o->images = calloc((size_t)argc, sizeof(*o->images));
    if (!o->images) {
        fprintf(stderr, "ghostnet classify: error: out of memory\n");
        return CLI_ERROR;
    }
    for (const char *arg; (arg = cli_next(&a));) {
        int used = cli_model_option(&a, arg, &o->spec);
        if (used == 0)
            used = parse_option(&a, arg, o, &error);
        if (used < 0)
            return CLI_USAGE;
        if (used)
            continue;
        if (cli_flag(arg, "-h") || cli_flag(arg, "--help")) {
            fputs(classify_help, stdout);
            fputs(cli_model_options_help, stdout);
            return CLI_OK;
        }
        if (arg[0] == '-' && arg[1])
            return cli_usage_error("classify", "unknown argument '%s'", arg);
        o->images[o->num_images++] = arg;
    }
    if (!o->spec.weights)
        return cli_usage_error("classify", "--weights FILE is required");
    if (o->files_from && read_list(o))
        return CLI_ERROR;
    if (!o->num_images)
        return cli_usage_error("classify", "no images given");
    return -1;
}

/* ---- class names ---- */

typedef struct labels {
    char (*names)[LABEL_MAX]; /* from --labels, or NULL */
    int count;
} labels;

/* Reads exactly classes non-empty lines. */
static int read_labels(const char *path, int classes, labels *out)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "ghostnet classify: error: %s: cannot open\n", path);
        return CLI_ERROR;
    }
    out->names = calloc((size_t)classes, LABEL_MAX);
    char line[LABEL_MAX];
    int rc = out->names ? CLI_OK : CLI_ERROR;
    while (rc == CLI_OK && fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (out->count == classes) {
            rc = CLI_ERROR;
            break;
        }
        memcpy(out->names[out->count++], line, LABEL_MAX);
    }
    fclose(fp);
    if (rc == CLI_OK && out->count == classes)
        return CLI_OK;
    fprintf(stderr, "ghostnet classify: error: %s: expected %d class names, one per line\n", path,
            classes);
    return CLI_ERROR;
}

/* Writes the name of class index to buf. */
static const char *label_of(const labels *l, int classes, int index, char *buf, size_t size)
{
    if (l->names)
        return l->names[index];
    if (classes == 1000 && gn_imagenet_class_name(index))
        return gn_imagenet_class_name(index);
    snprintf(buf, size, "class %d", index);
    return buf;
}

/* ---- results ---- */

typedef struct scored {
    int index;
    double probability;
} scored;

static int by_probability(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->probability != y->probability)
        return x->probability < y->probability ? 1 : -1;
    return x->index - y->index;
}

/* Softmax of one row of logits (in double), sorted by probability. */
static void rank(const float *logits, int classes, scored *out)
{
    double top = logits[0], sum = 0.0;
    for (int i = 1; i < classes; i++)
        top = logits[i] > top ? logits[i] : top;
    for (int i = 0; i < classes; i++) {
        out[i].index = i;
        out[i].probability = exp((double)logits[i] - top);
        sum += out[i].probability;
    }
    for (int i = 0; i < classes; i++)
        out[i].probability /= sum;
    qsort(out, (size_t)classes, sizeof(*out), by_probability);
}

/* JSON strings must be UTF-8: a file name that is not gets '?' for its stray bytes. */
static void write_json_text(const char *text)
{
    size_t length = strlen(text);
    if (gn_json_is_utf8(text, length)) {
        gn_json_write_string(stdout, text);
        return;
    }
    char *copy = malloc(length + 1);
    if (!copy) {
        gn_json_write_string(stdout, "?");
        return;
    }
    for (size_t i = 0; i <= length; i++)
        copy[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
    gn_json_write_string(stdout, copy);
    free(copy);
}

static void print_result(const options *o, const labels *l, int classes, const char *image,
                         const scored *ranked)
{
    char buf[32];
    int k = o->topk < classes ? o->topk : classes;
    if (o->json) {
        fputs("{\"file\": ", stdout);
        write_json_text(image);
        fputs(", \"top\": [", stdout);
        for (int i = 0; i < k; i++) {
            printf("%s{\"index\": %d, \"label\": ", i ? ", " : "", ranked[i].index);
            write_json_text(label_of(l, classes, ranked[i].index, buf, sizeof(buf)));
            printf(", \"probability\": %.9g}", ranked[i].probability);
        }
        fputs("]}\n", stdout);
        return;
    }
    printf("%s\n", image);
    for (int i = 0; i < k; i++)
        printf("  %7.3f%%  %4d  %s\n", 100.0 * ranked[i].probability, ranked[i].index,
               label_of(l, classes, ranked[i].index, buf, sizeof(buf)));
}

/* ---- the run ---- */

typedef struct run {
    const options *o;
    gn_context *ctx;
    gn_model *model;
    gn_preprocess prep;
    labels names;
    size_t image_floats;
    float *inputs;     /* batch (or, with --save-input, every image) x image_floats */
    float *logits;     /* batch x classes */
    scored *ranked;    /* classes */
    const char **done; /* names of the images in the current batch */
    int saved, failed;
} run;

/* Preprocesses images [begin, end) into the input buffer; returns the count that succeeded, or
 * -1 on an error that stops the run. */
static int prepare_batch(run *r, int begin, int end)
{
    int n = 0;
    for (int i = begin; i < end; i++) {
        float *slot = r->inputs + (size_t)(r->saved + n) * r->image_floats;
        gn_status st = gn_image_preprocess(r->ctx, r->o->images[i], &r->prep, slot);
        if (st != GN_OK) {
            cli_lib_error("classify", r->ctx, st);
            r->failed++;
            if (!r->o->keep_going)
                return -1;
            continue;
        }
        r->done[n++] = r->o->images[i];
    }
    return n;
}

static int classify_batch(run *r, int n)
{
    int classes = gn_model_num_classes(r->model);
    const float *batch = r->inputs + (size_t)r->saved * r->image_floats;
    gn_status st = gn_model_forward(r->model, batch, n, r->prep.crop_h, r->prep.crop_w, r->logits);
    if (st != GN_OK)
        return cli_lib_error("classify", r->ctx, st);
    for (int i = 0; i < n; i++) {
        rank(r->logits + (size_t)i * (size_t)classes, classes, r->ranked);
        print_result(r->o, &r->names, classes, r->done[i], r->ranked);
    }
    fflush(stdout);
    if (r->o->save_input)
        r->saved += n;
    return CLI_OK;
}

static int classify_all(run *r)
{
    const options *o = r->o;
    cli_progress progress;
    int show = !o->quiet && o->num_images > o->batch;
    if (show)
        cli_progress_start(&progress, o->num_images);
    int rc = CLI_OK;
    for (int begin = 0; begin < o->num_images && rc == CLI_OK; begin += o->batch) {
        int end = begin + o->batch < o->num_images ? begin + o->batch : o->num_images;
        int n = prepare_batch(r, begin, end);
        if (n < 0)
            rc = CLI_ERROR;
        else if (n > 0)
            rc = classify_batch(r, n);
        if (show && rc == CLI_OK)
            cli_progress_update(&progress, end, "classify", "");
    }
    if (show)
        cli_progress_end(&progress);
    if (rc == CLI_OK && o->save_input && r->saved > 0) {
        int64_t shape[4] = {r->saved, r->prep.channels, r->prep.crop_h, r->prep.crop_w};
        gn_status st = gn_npy_write(r->ctx, o->save_input, r->inputs, 4, shape);
        if (st != GN_OK)
            rc = cli_lib_error("classify", r->ctx, st);
    }
    return rc == CLI_OK && r->failed ? CLI_ERROR : rc;
}

static int setup(run *r)
{
    const options *o = r->o;
    int classes = gn_model_num_classes(r->model);
    gn_preprocess_for_model(r->model, &r->prep);
    r->image_floats = (size_t)r->prep.channels * (size_t)r->prep.crop_h * (size_t)r->prep.crop_w;
    size_t slots = o->save_input ? (size_t)o->num_images : (size_t)o->batch;
    r->inputs = calloc(slots, r->image_floats * sizeof(float));
    r->logits = calloc((size_t)o->batch * (size_t)classes, sizeof(float));
    r->ranked = calloc((size_t)classes, sizeof(scored));
    r->done = calloc((size_t)o->batch, sizeof(*r->done));
    if (!r->inputs || !r->logits || !r->ranked || !r->done) {
        fprintf(stderr, "ghostnet classify: error: out of memory for %zu images\n", slots);
        return CLI_ERROR;
    }
    return o->labels ? read_labels(o->labels, classes, &r->names) : CLI_OK;
}

static void free_options(options *o)
{
    free(o->images);
    free(o->list_text);
}

int cmd_classify(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof(o));
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        free_options(&o);
        return rc;
    }
    run r = {.o = &o};
    gn_context_options copts = {.threads = o.threads};
    cli_warn_threads("classify", o.threads);
    if (gn_context_create(&copts, &r.ctx) != GN_OK) {
        fprintf(stderr, "ghostnet classify: error: cannot create a context with %d threads\n",
                o.threads);
        free_options(&o);
        return CLI_ERROR;
    }
    rc = cli_open_checkpoint("classify", r.ctx, &o.spec, o.spec.weights, &r.model);
    if (rc == CLI_OK)
        rc = setup(&r);
    if (rc == CLI_OK)
        rc = classify_all(&r);
    free(r.inputs);
    free(r.logits);
    free(r.ranked);
    free(r.done);
    free(r.names.names);
    gn_model_free(r.model);
    gn_context_destroy(r.ctx);
    free_options(&o);
    return rc;
}
