/* ghostnet eval: accuracy, per-class accuracy and the confusion matrix of a model on a data
 * set; also the evaluation train uses after every epoch. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char eval_help[] =
    "usage: ghostnet eval --weights MODEL --data SOURCE [--split test|train] [options]\n"
    "\n"
    "Runs the model (inference mode) over a data set prepared as the model's metadata says\n"
    "(canvas size, mean and std) and prints the loss, accuracy, per-class accuracy and the\n"
    "confusion matrix (rows: true class, columns: predicted).\n"
    "\n"
    "  --weights FILE       model file\n"
    "  --data SOURCE        fashion-mnist, or a folder of IDX or CIFAR files\n"
    "  --split S            test (default) or train\n"
    "  --batch B            images per forward pass (default 256)\n"
    "  --threads N          worker threads (default 2)\n"
    "  --show N             also draw the first N images with their predictions\n"
    "  --json               print one JSON object instead of the tables\n"
    "  -h, --help           this help\n";

/* Buffers for running a model on batches of a data set, prepared as the model's metadata says
 * (canvas size, mean, std). */
typedef struct eval_buffers {
    gn_model *model;
    const gn_dataset *data;
    gn_augment aug;
    int classes, batch;
    float *images, *logits;
    int32_t *labels;
    int64_t *order;
} eval_buffers;

static void eval_buffers_free(eval_buffers *b)
{
    free(b->images);
    free(b->logits);
    free(b->labels);
    free(b->order);
}

static int eval_buffers_init(const char *command, gn_model *model, const gn_dataset *data,
                             int batch, eval_buffers *b)
{
    memset(b, 0, sizeof(*b));
    const gn_model_config *c = gn_model_get_config(model);
    int channels, h, w;
    gn_dataset_shape(data, &channels, &h, &w);
    b->model = model;
    b->data = data;
    b->classes = gn_model_num_classes(model);
    b->batch = batch;
    if (channels != c->in_channels || gn_dataset_classes(data) > b->classes)
        return cli_usage_error(command, "the model takes %d channels and %d classes; the data has "
                                        "%d and %d", c->in_channels, b->classes, channels,
                               gn_dataset_classes(data));
    b->aug.out_h = c->input_h > h ? c->input_h : h;
    b->aug.out_w = c->input_w > w ? c->input_w : w;
    memcpy(b->aug.mean, c->mean, sizeof(b->aug.mean));
    memcpy(b->aug.std, c->std, sizeof(b->aug.std));
    size_t image = (size_t)channels * b->aug.out_h * b->aug.out_w;
    b->images = malloc((size_t)batch * image * sizeof(float));
    b->logits = malloc((size_t)batch * b->classes * sizeof(float));
    b->labels = malloc((size_t)batch * sizeof(int32_t));
    b->order = malloc((size_t)batch * sizeof(int64_t));
    if (!b->images || !b->logits || !b->labels || !b->order) {
        eval_buffers_free(b);
        fprintf(stderr, "ghostnet %s: error: out of memory for a batch of %d\n", command, batch);
        return -1;
    }
    return 0;
}

/* Logits and labels of the n images b->order[0..n). */
static int eval_buffers_run(const char *command, eval_buffers *b, int n)
{
    gn_status st = gn_dataset_batch(b->data, b->order, n, &b->aug, 0, b->images, b->labels);
    if (st == GN_OK)
        st = gn_model_forward(b->model, b->images, n, b->aug.out_h, b->aug.out_w, b->logits);
    return st == GN_OK ? 0 : (cli_lib_error(command, gn_model_context(b->model), st), -1);
}

static int arg_max(const float *z, int count)
{
    int best = 0;
    for (int k = 1; k < count; k++)
        best = z[k] > z[best] ? k : best;
    return best;
}

int cli_evaluate(const char *command, gn_model *model, const gn_dataset *data,
                 const int64_t *indices, int64_t count, int batch, int64_t *confusion,
                 cli_eval_result *result)
{
    eval_buffers b;
    if (eval_buffers_init(command, model, data, batch, &b))
        return -1;
    gn_context *ctx = gn_model_context(model);
    double loss_sum = 0;
    int64_t correct = 0;
    int rc = 0;
    for (int64_t first = 0; first < count && rc == 0; first += batch) {
        int n = (int)(count - first < batch ? count - first : batch);
        for (int i = 0; i < n; i++)
            b.order[i] = indices ? indices[first + i] : first + i;
        float loss = 0;
        rc = eval_buffers_run(command, &b, n);
        gn_status st = rc ? GN_OK : gn_cross_entropy(ctx, b.logits, b.labels, n, b.classes, 0.0f,
                                                     &loss, NULL);
        if (st != GN_OK)
            rc = (cli_lib_error(command, ctx, st), -1);
        if (rc)
            break;
        loss_sum += (double)loss * n;
        for (int i = 0; i < n; i++) {
            int best = arg_max(b.logits + (size_t)i * b.classes, b.classes);
            correct += best == b.labels[i];
            if (confusion)
                confusion[(size_t)b.labels[i] * b.classes + best]++;
        }
    }
    eval_buffers_free(&b);
    result->count = count;
    result->loss = count ? loss_sum / (double)count : NAN;
    result->accuracy = count ? (double)correct / (double)count : NAN;
    return rc;
}

static void print_tables(const gn_dataset *data, int classes, const int64_t *confusion,
                         const cli_eval_result *r)
{
    printf("images %lld  loss %.4f  accuracy %.2f%%\n\n", (long long)r->count, r->loss,
           100.0 * r->accuracy);
    printf("%-5s %-16s %8s %8s\n", "class", "name", "images", "accuracy");
    for (int k = 0; k < classes; k++) {
        int64_t total = 0;
        for (int j = 0; j < classes; j++)
            total += confusion[(size_t)k * classes + j];
        if (total == 0)
            continue;
        printf("%-5d %-16.16s %8lld %7.2f%%\n", k, gn_dataset_class_name(data, k),
               (long long)total, 100.0 * (double)confusion[(size_t)k * classes + k] / total);
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted)\n      ");
    for (int j = 0; j < classes; j++)
        printf("%6d", j);
    putchar('\n');
    for (int k = 0; k < classes; k++) {
        printf("%6d", k);
        for (int j = 0; j < classes; j++)
            printf("%6lld", (long long)confusion[(size_t)k * classes + j]);
        putchar('\n');
    }
}

static void print_json(const gn_dataset *data, int classes, const int64_t *confusion,
                       const cli_eval_result *r)
{
    printf("{\"images\": %lld, \"loss\": %.6f, \"accuracy\": %.6f, \"classes\": [",
           (long long)r->count, r->loss, r->accuracy);
    for (int k = 0; k < classes; k++) {
        int64_t total = 0;
        for (int j = 0; j < classes; j++)
            total += confusion[(size_t)k * classes + j];
        const char *name = gn_dataset_class_name(data, k);
        printf("%s{\"label\": %d, \"name\": \"", k ? ", " : "", k);
        for (const char *p = name; *p; p++)
            printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
        printf("\", \"images\": %lld, \"accuracy\": %.6f}", (long long)total,
               total ? (double)confusion[(size_t)k * classes + k] / total : 0.0);
    }
    printf("], \"confusion\": [");
    for (int k = 0; k < classes; k++) {
        printf("%s[", k ? ", " : "");
        for (int j = 0; j < classes; j++)
            printf("%s%lld", j ? ", " : "", (long long)confusion[(size_t)k * classes + j]);
        putchar(']');
    }
    printf("]}\n");
}

/* Draws an image in text (two rows per line, shades by brightness of the first channel). */
static void draw(const float *image, int h, int w, float mean, float std)
{
    static const char shades[] = " .:-=+*#%@";
    for (int y = 0; y + 1 < h; y += 2) {
        fputs("    ", stdout);
        for (int x = 0; x < w; x++) {
            float v = (image[y * w + x] + image[(y + 1) * w + x]) / 2 * std + mean;
            int level = (int)(v * 9.99f);
            putchar(shades[level < 0 ? 0 : (level > 9 ? 9 : level)]);
        }
        putchar('\n');
    }
}

/* The first count images of the set, drawn, with the model's top prediction. */
static int show_predictions(gn_model *model, const gn_dataset *data, int count)
{
    eval_buffers b;
    if (eval_buffers_init("eval", model, data, count, &b))
        return -1;
    for (int i = 0; i < count; i++)
        b.order[i] = i;
    int rc = eval_buffers_run("eval", &b, count);
    const gn_model_config *c = gn_model_get_config(model);
    size_t image = (size_t)c->in_channels * b.aug.out_h * b.aug.out_w;
    for (int i = 0; rc == 0 && i < count; i++) {
        const float *z = b.logits + (size_t)i * b.classes;
        int best = arg_max(z, b.classes);
        double sum = 0;
        for (int k = 0; k < b.classes; k++)
            sum += exp((double)(z[k] - z[best]));
        printf("\nimage %d: true %s, predicted %s (p = %.3f)%s\n", i,
               gn_dataset_class_name(data, b.labels[i]), gn_dataset_class_name(data, best),
               1.0 / sum, best == b.labels[i] ? "" : "  <- wrong");
        draw(b.images + (size_t)i * image, b.aug.out_h, b.aug.out_w, c->mean[0], c->std[0]);
    }
    eval_buffers_free(&b);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    cli_args a;
    const char *weights = NULL, *source = NULL;
    int json = 0, batch = 256, threads = 2, error = 0, show = 0;
    gn_split split = GN_SPLIT_TEST;
    cli_args_init(&a, "eval", argc, argv);
    for (const char *arg; (arg = cli_next(&a));) {
        if (cli_option(&a, arg, "--weights", &error))
            weights = a.value;
        else if (cli_option(&a, arg, "--data", &error))
            source = a.value;
        else if (cli_option(&a, arg, "--split", &error)) {
            if (!error && strcmp(a.value, "test") != 0 && strcmp(a.value, "train") != 0)
                return cli_usage_error("eval", "--split: '%s' is not test or train", a.value);
            if (!error)
                split = strcmp(a.value, "train") == 0 ? GN_SPLIT_TRAIN : GN_SPLIT_TEST;
        } else if (cli_option(&a, arg, "--batch", &error)) {
            if (!error && cli_parse_int("eval", "--batch", a.value, 1, 65536, &batch))
                return CLI_USAGE;
        } else if (cli_option(&a, arg, "--threads", &error)) {
            if (!error && cli_parse_int("eval", "--threads", a.value, 1, 256, &threads))
                return CLI_USAGE;
        } else if (cli_option(&a, arg, "--show", &error)) {
            if (!error && cli_parse_int("eval", "--show", a.value, 0, 1000, &show))
                return CLI_USAGE;
        } else if (cli_flag(arg, "--json")) {
            json = 1;
        } else if (cli_flag(arg, "-h") || cli_flag(arg, "--help")) {
            fputs(eval_help, stdout);
            return CLI_OK;
        } else {
            return cli_usage_error("eval", "unknown argument '%s'", arg);
        }
        if (error)
            return CLI_USAGE;
    }
    if (!weights || !source)
        return cli_usage_error("eval", "--weights and --data are required");
    gn_context_options options = {.threads = threads};
    cli_warn_threads("eval", threads);
    gn_context *ctx = NULL;
    gn_model *model = NULL;
    gn_dataset *data = NULL;
    int64_t *confusion = NULL;
    int rc = CLI_ERROR;
    if (gn_context_create(&options, &ctx) != GN_OK) {
        fprintf(stderr, "ghostnet eval: error: cannot create a context with %d threads\n",
                threads);
        return CLI_ERROR;
    }
    gn_status st = gn_model_load(ctx, weights, &model);
    if (st == GN_OK)
        st = gn_dataset_open(ctx, source, split, &data);
    if (st != GN_OK) {
        cli_lib_error("eval", ctx, st);
        goto done;
    }
    int classes = gn_model_num_classes(model);
    confusion = calloc((size_t)classes * classes, sizeof(int64_t));
    if (!confusion) {
        fprintf(stderr, "ghostnet eval: error: out of memory\n");
        goto done;
    }
    cli_eval_result result;
    if (cli_evaluate("eval", model, data, NULL, gn_dataset_size(data), batch, confusion,
                     &result) != 0)
        goto done;
    if (json)
        print_json(data, classes, confusion, &result);
    else
        print_tables(data, classes, confusion, &result);
    if (show > 0 && show_predictions(model, data, show < result.count ? show : (int)result.count))
        goto done;
    rc = CLI_OK;
done:
    free(confusion);
    gn_dataset_free(data);
    gn_model_free(model);
    gn_context_destroy(ctx);
    return rc;
}
