/* ghostnet train: SGD on a data set, with progress, a CSV log, a checkpoint every epoch (and on
 * Ctrl-C), and exact resumption.
 *
 * Everything random is derived from the seed and the position in the run: the epoch's order
 * from (seed, epoch), an image's augmentation from (seed, epoch, image), dropout from (seed,
 * step). So a run resumed from a checkpoint continues exactly as it would have, provided the
 * thread count is the same (it fixes the order of floating-point sums). */
#include "cli.h"
#include "io/safetensors.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char train_help[] =
    "usage: ghostnet train --arch NAME [model options] --data SOURCE -o MODEL [options]\n"
    "       ghostnet train --resume CHECKPOINT [--epochs N] [-o MODEL]\n"
    "\n"
    "Trains with SGD and softmax cross-entropy. SOURCE is fashion-mnist (Debian's\n"
    "dataset-fashion-mnist), a folder of IDX files (MNIST layout), of CIFAR-10/100 binary\n"
    "batches, or of images with one sub-folder per class (DIR/train/<class>/ and\n"
    "DIR/test/<class>/, or DIR/<class>/ with --val). Evaluates after every epoch (on --val\n"
    "images held out of the training set, or else on the test set), writes a checkpoint\n"
    "after every epoch and on Ctrl-C, and the final model to MODEL. Files are written\n"
    "atomically.\n"
    "\n"
    "Data and augmentation:\n"
    "  --data SOURCE        training data (required unless --resume)\n"
    "  --val N              hold out N training images for validation (default 0)\n"
    "  --input S            centre images on an S or HxW canvas, e.g. 32 for 28x28 images\n"
    "  --crop-padding P     random crops shifted by up to P pixels (default 4; 0 = off)\n"
    "  --flip / --no-flip   random horizontal flips (default on; off for digits)\n"
    "Optimisation:\n"
    "  --epochs N           (default 10)            --batch B   (default 128)\n"
    "  --lr LR              (default 0.1)           --momentum M (default 0.9)\n"
    "  --nesterov           Nesterov momentum       --wd W      weight decay (default 5e-4)\n"
    "  --decay-all          also decay BN parameters and biases\n"
    "  --label-smoothing E  (default 0)\n"
    "  --schedule S         cosine (default), step or constant\n"
    "  --warmup-epochs E    linear warm-up (default 0)\n"
    "  --step-epochs K      step schedule: decay every K epochs (default 30)\n"
    "  --gamma G            step schedule: decay factor (default 0.1)\n"
    "  --min-lr LR          cosine: final learning rate (default 0)\n"
    "  --dropout P          dropout before the classifier (default: the architecture's)\n"
    "Run:\n"
    "  -o, --output MODEL   final model file (required)\n"
    "  --checkpoint FILE    checkpoint path (default MODEL.ckpt)\n"
    "  --resume FILE        continue a run from its checkpoint\n"
    "  --log FILE           per-epoch CSV (epoch,lr,train_loss,train_acc,val_loss,val_acc,\n"
    "                       seconds); default MODEL.csv\n"
    "  --seed S             (default 0)             --threads N (default 2)\n"
    "  -h, --help           this help\n"
    "\n";

/* Everything a run needs to continue; stored in the checkpoint as train.* metadata. */
typedef struct run_options {
    char data[1024];
    int64_t val;
    int canvas_h, canvas_w;
    int crop_padding, flip;
    int epochs, batch;
    gn_train_config opt;
    int schedule_set;
    double warmup_epochs, step_epochs;
    uint64_t seed;
    int threads;
    char output[1024], checkpoint[1024], log[1024];
    /* progress */
    int epoch, step_in_epoch;
    double loss_sum;
    int64_t correct, seen;
} run_options;

/* Ctrl-C: the CLI's only global, as a signal handler needs one. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---------------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------------- */

static void run_defaults(run_options *r)
{
    memset(r, 0, sizeof(*r));
    gn_train_config_default(&r->opt);
    r->opt.schedule = GN_LR_COSINE;
    r->crop_padding = 4;
    r->flip = 1;
    r->epochs = 10;
    r->batch = 128;
    r->step_epochs = 30;
    r->threads = 2;
}

static int copy_path(const char *option, const char *value, char *out, size_t size)
{
    if (strlen(value) >= size)
        return cli_usage_error("train", "%s: path too long", option), -1;
    snprintf(out, size, "%s", value);
    return 0;
}

/* Parses the optimisation and data options shared by a new run and a resumed one. */
static int parse_run_option(cli_args *a, const char *arg, run_options *r, int *error)
{
    double d;
    if (cli_option(a, arg, "--data", error))
        return *error ? -1 : copy_path("--data", a->value, r->data, sizeof(r->data));
    if (cli_option(a, arg, "--val", error)) {
        int v;
        if (*error || cli_parse_int("train", "--val", a->value, 0, 1 << 30, &v))
            return -1;
        r->val = v;
        return 0;
    }
    if (cli_option(a, arg, "--crop-padding", error))
        return *error ? -1 : cli_parse_int("train", "--crop-padding", a->value, 0, 64,
                                           &r->crop_padding);
    if (cli_flag(arg, "--flip") || cli_flag(arg, "--no-flip")) {
        r->flip = cli_flag(arg, "--flip");
        return 0;
    }
    if (cli_option(a, arg, "--epochs", error))
        return *error ? -1 : cli_parse_int("train", "--epochs", a->value, 1, 100000, &r->epochs);
    if (cli_option(a, arg, "--batch", error))
        return *error ? -1 : cli_parse_int("train", "--batch", a->value, 2, 65536, &r->batch);
    static const struct {
        const char *name;
        double lo, hi;
    } reals[] = {{"--lr", 1e-9, 100},         {"--momentum", 0, 0.999},
                 {"--wd", 0, 1},              {"--label-smoothing", 0, 0.999},
                 {"--warmup-epochs", 0, 1e5}, {"--step-epochs", 1e-3, 1e5},
                 {"--gamma", 0, 1},           {"--min-lr", 0, 100}};
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        if (!cli_option(a, arg, reals[i].name, error))
            continue;
        if (*error || cli_parse_double("train", reals[i].name, a->value, reals[i].lo,
                                       reals[i].hi, &d))
            return -1;
        switch (i) {
        case 0: r->opt.lr = (float)d; break;
        case 1: r->opt.momentum = (float)d; break;
        case 2: r->opt.weight_decay = (float)d; break;
        case 3: r->opt.label_smoothing = (float)d; break;
        case 4: r->warmup_epochs = d; break;
        case 5: r->step_epochs = d; break;
        case 6: r->opt.gamma = (float)d; break;
        default: r->opt.min_lr = (float)d; break;
        }
        return 0;
    }
    if (cli_flag(arg, "--nesterov")) {
        r->opt.nesterov = 1;
        return 0;
    }
    if (cli_flag(arg, "--decay-all")) {
        r->opt.decay_norm_and_bias = 1;
        return 0;
    }
    if (cli_option(a, arg, "--schedule", error)) {
        if (*error)
            return -1;
        if (strcmp(a->value, "cosine") == 0)
            r->opt.schedule = GN_LR_COSINE;
        else if (strcmp(a->value, "step") == 0)
            r->opt.schedule = GN_LR_STEP;
        else if (strcmp(a->value, "constant") == 0)
            r->opt.schedule = GN_LR_CONSTANT;
        else
            return cli_usage_error("train", "--schedule: '%s' is not cosine, step or constant",
                                   a->value), -1;
        return 0;
    }
    if (cli_option(a, arg, "--seed", error))
        return *error ? -1 : cli_parse_u64("train", "--seed", a->value, &r->seed);
    if (cli_option(a, arg, "--threads", error))
        return *error ? -1 : cli_parse_int("train", "--threads", a->value, 1, 256, &r->threads);
    if (cli_option(a, arg, "-o", error) || cli_option(a, arg, "--output", error))
        return *error ? -1 : copy_path("-o", a->value, r->output, sizeof(r->output));
    if (cli_option(a, arg, "--checkpoint", error))
        return *error ? -1 : copy_path("--checkpoint", a->value, r->checkpoint,
                                       sizeof(r->checkpoint));
    if (cli_option(a, arg, "--log", error))
        return *error ? -1 : copy_path("--log", a->value, r->log, sizeof(r->log));
    return 1; /* not ours */
}

/* ---------------------------------------------------------------------------------------------
 * Checkpoint metadata: the run options as train.* strings
 * ------------------------------------------------------------------------------------------- */

#define RUN_META_MAX 32

typedef struct run_meta {
    const char *keys[RUN_META_MAX];
    const char *values[RUN_META_MAX];
    char text[RUN_META_MAX][1100];
    size_t count;
} run_meta;

static void meta_put(run_meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void meta_put(run_meta *m, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->text[m->count], sizeof(m->text[0]), fmt, ap);
    va_end(ap);
    m->keys[m->count] = key;
    m->values[m->count] = m->text[m->count];
    m->count++;
}

static void run_to_meta(const run_options *r, run_meta *m)
{
    m->count = 0;
    meta_put(m, "train.data", "%s", r->data);
    meta_put(m, "train.val", "%lld", (long long)r->val);
    meta_put(m, "train.crop_padding", "%d", r->crop_padding);
    meta_put(m, "train.flip", "%d", r->flip);
    meta_put(m, "train.epochs", "%d", r->epochs);
    meta_put(m, "train.batch", "%d", r->batch);
    meta_put(m, "train.lr", "%.9g", (double)r->opt.lr);
    meta_put(m, "train.momentum", "%.9g", (double)r->opt.momentum);
    meta_put(m, "train.nesterov", "%d", r->opt.nesterov);
    meta_put(m, "train.weight_decay", "%.9g", (double)r->opt.weight_decay);
    meta_put(m, "train.decay_all", "%d", r->opt.decay_norm_and_bias);
    meta_put(m, "train.label_smoothing", "%.9g", (double)r->opt.label_smoothing);
    meta_put(m, "train.schedule", "%d", (int)r->opt.schedule);
    meta_put(m, "train.warmup_epochs", "%.9g", r->warmup_epochs);
    meta_put(m, "train.step_epochs", "%.9g", r->step_epochs);
    meta_put(m, "train.gamma", "%.9g", (double)r->opt.gamma);
    meta_put(m, "train.min_lr", "%.9g", (double)r->opt.min_lr);
    meta_put(m, "train.seed", "%lld", (long long)r->seed);
    meta_put(m, "train.threads", "%d", r->threads);
    meta_put(m, "train.output", "%s", r->output);
    meta_put(m, "train.log", "%s", r->log);
    meta_put(m, "train.epoch", "%d", r->epoch);
    meta_put(m, "train.step_in_epoch", "%d", r->step_in_epoch);
    meta_put(m, "train.loss_sum", "%.17g", r->loss_sum);
    meta_put(m, "train.correct", "%lld", (long long)r->correct);
    meta_put(m, "train.seen", "%lld", (long long)r->seen);
}

/* Strict numbers out of checkpoint metadata; each returns 0, or -1 if missing or malformed. */
static int meta_double(const gn_st_file *f, const char *key, double *out)
{
    const char *v = gn_st_meta(f, key);
    char *end;
    if (!v)
        return -1;
    errno = 0;
    *out = strtod(v, &end);
    return errno || end == v || *end ? -1 : 0;
}

static int meta_i64(const gn_st_file *f, const char *key, int64_t *out)
{
    const char *v = gn_st_meta(f, key);
    char *end;
    if (!v)
        return -1;
    errno = 0;
    long long value = strtoll(v, &end, 10);
    *out = value;
    return errno || end == v || *end ? -1 : 0;
}

static int meta_int(const gn_st_file *f, const char *key, int *out)
{
    int64_t v = 0;
    int rc = meta_i64(f, key, &v);
    *out = (int)v;
    return rc || v < INT32_MIN || v > INT32_MAX ? -1 : 0;
}

static int meta_float(const gn_st_file *f, const char *key, float *out)
{
    double v = 0;
    int rc = meta_double(f, key, &v);
    *out = (float)v;
    return rc;
}

static int meta_text(const gn_st_file *f, const char *key, char *out, size_t size)
{
    const char *v = gn_st_meta(f, key);
    if (!v || strlen(v) >= size)
        return -1;
    snprintf(out, size, "%s", v);
    return 0;
}

/* Reads the train.* metadata of a checkpoint back into r. */
static int run_from_checkpoint(gn_context *ctx, const char *path, run_options *r)
{
    gn_st_file *f;
    gn_status st = gn_st_open(ctx, path, &f);
    if (st != GN_OK)
        return cli_lib_error("train", ctx, st), -1;
    int schedule = 0, bad = 0;
    int64_t seed = 0;
    bad |= meta_text(f, "train.data", r->data, sizeof(r->data));
    bad |= meta_text(f, "train.output", r->output, sizeof(r->output));
    bad |= meta_text(f, "train.log", r->log, sizeof(r->log));
    bad |= meta_i64(f, "train.val", &r->val);
    bad |= meta_int(f, "train.crop_padding", &r->crop_padding);
    bad |= meta_int(f, "train.flip", &r->flip);
    bad |= meta_int(f, "train.epochs", &r->epochs);
    bad |= meta_int(f, "train.batch", &r->batch);
    bad |= meta_float(f, "train.lr", &r->opt.lr);
    bad |= meta_float(f, "train.momentum", &r->opt.momentum);
    bad |= meta_int(f, "train.nesterov", &r->opt.nesterov);
    bad |= meta_float(f, "train.weight_decay", &r->opt.weight_decay);
    bad |= meta_int(f, "train.decay_all", &r->opt.decay_norm_and_bias);
    bad |= meta_float(f, "train.label_smoothing", &r->opt.label_smoothing);
    bad |= meta_int(f, "train.schedule", &schedule);
    bad |= meta_double(f, "train.warmup_epochs", &r->warmup_epochs);
    bad |= meta_double(f, "train.step_epochs", &r->step_epochs);
    bad |= meta_float(f, "train.gamma", &r->opt.gamma);
    bad |= meta_float(f, "train.min_lr", &r->opt.min_lr);
    bad |= meta_i64(f, "train.seed", &seed);
    bad |= meta_int(f, "train.threads", &r->threads);
    bad |= meta_int(f, "train.epoch", &r->epoch);
    bad |= meta_int(f, "train.step_in_epoch", &r->step_in_epoch);
    bad |= meta_double(f, "train.loss_sum", &r->loss_sum);
    bad |= meta_i64(f, "train.correct", &r->correct);
    bad |= meta_i64(f, "train.seen", &r->seen);
    gn_st_close(ctx, f);
    r->seed = (uint64_t)seed;
    r->opt.schedule = (gn_lr_schedule)schedule;
    if (bad || r->batch < 2 || r->epochs < 1 || r->threads < 1 || r->epoch < 0 ||
        r->step_in_epoch < 0 || schedule < 0 || schedule > GN_LR_COSINE)
        return cli_usage_error("train", "%s: not a ghostnet training checkpoint (train.* "
                                        "metadata missing or invalid)", path), -1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The run
 * ------------------------------------------------------------------------------------------- */

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t z = a ^ (b * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void shuffle(int64_t *items, int64_t n, uint64_t seed)
{
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)gn_rng_below(&rng, (uint64_t)(i + 1));
        int64_t t = items[i];
        items[i] = items[j];
        items[j] = t;
    }
}

typedef struct run_state {
    run_options *r;
    gn_context *ctx;
    gn_dataset *train, *test;
    gn_model *model;
    gn_trainer *trainer;
    int64_t *train_idx, *val_idx, *order;
    int64_t ntrain, nval;
    float *images;
    int32_t *labels;
    gn_augment aug;
    int steps_per_epoch;
} run_state;

/* Validation images: a fixed draw from the training set (seed-independent of the run's other
 * randomness), the rest train. */
static int split_data(run_state *s)
{
    int64_t count = gn_dataset_size(s->train);
    if (s->r->val >= count)
        return cli_usage_error("train", "--val %lld leaves no training images (the set has "
                                        "%lld)", (long long)s->r->val, (long long)count), -1;
    int64_t *all = malloc((size_t)count * sizeof(int64_t));
    s->order = malloc((size_t)count * sizeof(int64_t));
    if (!all || !s->order) {
        free(all);
        fprintf(stderr, "ghostnet train: error: out of memory for %lld indices\n",
                (long long)count);
        return -1;
    }
    for (int64_t i = 0; i < count; i++)
        all[i] = i;
    if (s->r->val > 0)
        shuffle(all, count, mix(s->r->seed, 0x76616cULL));
    s->nval = s->r->val;
    s->val_idx = all;
    s->train_idx = all + s->nval;
    s->ntrain = count - s->nval;
    return 0;
}

static void schedule_in_steps(run_state *s)
{
    run_options *r = s->r;
    int64_t spe = s->steps_per_epoch;
    r->opt.warmup_steps = (int64_t)(r->warmup_epochs * (double)spe + 0.5);
    r->opt.total_steps = (int64_t)r->epochs * spe - r->opt.warmup_steps;
    if (r->opt.total_steps < 1)
        r->opt.total_steps = 1;
    r->opt.step_size = (int64_t)(r->step_epochs * (double)spe + 0.5);
    if (r->opt.step_size < 1)
        r->opt.step_size = 1;
    r->opt.seed = r->seed;
}

static int save_checkpoint(run_state *s)
{
    run_meta meta;
    run_to_meta(s->r, &meta);
    gn_status st = gn_trainer_save(s->trainer, s->r->checkpoint, meta.keys, meta.values,
                                   meta.count);
    return st == GN_OK ? 0 : (cli_lib_error("train", s->ctx, st), -1);
}

static int append_log(const run_options *r, int epoch, double lr, double train_loss,
                      double train_acc, const cli_eval_result *val, double seconds)
{
    FILE *fp = fopen(r->log, "a");
    if (!fp) {
        fprintf(stderr, "ghostnet train: error: %s: %s\n", r->log, strerror(errno));
        return -1;
    }
    if (ftell(fp) == 0)
        fprintf(fp, "epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds\n");
    fprintf(fp, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.2f\n", epoch, lr, train_loss, train_acc,
            val->loss, val->accuracy, seconds);
    int bad = ferror(fp);
    bad |= fclose(fp) != 0;
    if (bad)
        fprintf(stderr, "ghostnet train: error: %s: write failed\n", r->log);
    return bad ? -1 : 0;
}

/* One epoch from r->step_in_epoch on. Returns 0 when done, 1 if interrupted, -1 on error. */
static int train_epoch(run_state *s, cli_progress *progress, double *epoch_seconds)
{
    run_options *r = s->r;
    memcpy(s->order, s->train_idx, (size_t)s->ntrain * sizeof(int64_t));
    shuffle(s->order, s->ntrain, mix(r->seed, (uint64_t)r->epoch + 1));
    uint64_t aug_seed = mix(r->seed ^ 0x61756721ULL, (uint64_t)r->epoch);
    double start = cli_now();
    char prefix[64], text[160];
    int64_t done = 0;
    snprintf(prefix, sizeof(prefix), "epoch %d/%d", r->epoch + 1, r->epochs);
    for (int step = r->step_in_epoch; step < s->steps_per_epoch; step++) {
        int64_t first = (int64_t)step * r->batch;
        int n = (int)(s->ntrain - first < r->batch ? s->ntrain - first : r->batch);
        gn_status st = gn_dataset_batch(s->train, s->order + first, n, &s->aug, aug_seed,
                                        s->images, s->labels);
        gn_step_stats stats;
        if (st == GN_OK)
            st = gn_trainer_step(s->trainer, s->images, s->labels, n, &stats);
        if (st != GN_OK)
            return cli_lib_error("train", s->ctx, st), -1;
        r->loss_sum += (double)stats.loss * n;
        r->correct += stats.correct;
        r->seen += n;
        r->step_in_epoch = step + 1;
        done += n;
        double elapsed = cli_now() - start;
        snprintf(text, sizeof(text), "%6.0f img/s  loss %.4f  acc %5.2f%%  lr %.4g",
                 (double)done / (elapsed > 0 ? elapsed : 1e-9), r->loss_sum / (double)r->seen,
                 100.0 * (double)r->correct / (double)r->seen, (double)stats.lr);
        cli_progress_update(progress, step + 1, prefix, text);
        if (interrupted)
            return 1;
    }
    *epoch_seconds = cli_now() - start;
    return 0;
}

/* The model of a new run: the architecture from the command line, the data's channels and
 * classes, the canvas size and the data's mean/std recorded in its metadata. */
static int new_model(run_state *s, cli_model_spec *spec, double dropout)
{
    int channels, h, w;
    gn_dataset_shape(s->train, &channels, &h, &w);
    gn_model_config *c = &spec->config;
    c->in_channels = channels;
    c->num_classes = gn_dataset_classes(s->train);
    c->input_h = s->r->canvas_h ? s->r->canvas_h : h;
    c->input_w = s->r->canvas_w ? s->r->canvas_w : w;
    if (dropout >= 0)
        c->dropout = (float)dropout;
    gn_dataset_stats(s->train, c->mean, c->std);
    for (int i = 0; i < channels && i < GN_MAX_NORM_CHANNELS; i++)
        if (!(c->std[i] > 0.0f))
            c->std[i] = 1.0f; /* a constant channel: keep it finite */
    return cli_open_model("train", s->ctx, spec, s->r->seed, &s->model);
}

static int prepare(run_state *s)
{
    run_options *r = s->r;
    const gn_model_config *c = gn_model_get_config(s->model);
    int channels, h, w;
    gn_dataset_shape(s->train, &channels, &h, &w);
    if (c->in_channels != channels || gn_model_num_classes(s->model) < gn_dataset_classes(s->train))
        return cli_usage_error("train", "the model takes %d channels and %d classes; the data has "
                                        "%d and %d", c->in_channels, gn_model_num_classes(s->model),
                               channels, gn_dataset_classes(s->train)), -1;
    memset(&s->aug, 0, sizeof(s->aug));
    s->aug.out_h = c->input_h;
    s->aug.out_w = c->input_w;
    s->aug.crop_padding = r->crop_padding;
    s->aug.hflip = r->flip;
    memcpy(s->aug.mean, c->mean, sizeof(s->aug.mean));
    memcpy(s->aug.std, c->std, sizeof(s->aug.std));
    if (split_data(s))
        return -1;
    s->steps_per_epoch = (int)((s->ntrain + r->batch - 1) / r->batch);
    schedule_in_steps(s);
    size_t image = (size_t)channels * c->input_h * c->input_w;
    s->images = malloc((size_t)r->batch * image * sizeof(float));
    s->labels = malloc((size_t)r->batch * sizeof(int32_t));
    if (!s->images || !s->labels) {
        fprintf(stderr, "ghostnet train: error: out of memory for a batch of %d\n", r->batch);
        return -1;
    }
    gn_status st = gn_trainer_create(s->model, &r->opt, r->batch, c->input_h, c->input_w,
                                     &s->trainer);
    return st == GN_OK ? 0 : (cli_lib_error("train", s->ctx, st), -1);
}

static int run_epochs(run_state *s)
{
    run_options *r = s->r;
    const gn_dataset *eval_data = s->nval > 0 ? s->train : s->test;
    const int64_t *eval_idx = s->nval > 0 ? s->val_idx : NULL;
    int64_t eval_count = s->nval > 0 ? s->nval : gn_dataset_size(s->test);
    while (r->epoch < r->epochs) {
        cli_progress progress;
        cli_progress_start(&progress, s->steps_per_epoch);
        double seconds = 0;
        int rc = train_epoch(s, &progress, &seconds);
        cli_progress_end(&progress);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            if (save_checkpoint(s))
                return -1;
            fprintf(stderr, "ghostnet train: interrupted in epoch %d; checkpoint %s (continue "
                            "with: ghostnet train --resume %s)\n",
                    r->epoch + 1, r->checkpoint, r->checkpoint);
            return 130;
        }
        cli_eval_result val;
        if (cli_evaluate("train", s->model, eval_data, eval_idx, eval_count, 256, NULL, &val))
            return -1;
        double train_loss = r->loss_sum / (double)r->seen;
        double train_acc = (double)r->correct / (double)r->seen;
        double lr = gn_train_lr_at(&r->opt, gn_trainer_steps(s->trainer) - 1);
        fprintf(stderr, "epoch %d/%d  train loss %.4f acc %.2f%%  %s loss %.4f acc %.2f%%  "
                        "%.1f s\n",
                r->epoch + 1, r->epochs, train_loss, 100 * train_acc,
                s->nval > 0 ? "val" : "test", val.loss, 100 * val.accuracy, seconds);
        r->epoch++;
        r->step_in_epoch = 0;
        r->loss_sum = 0;
        r->correct = r->seen = 0;
        if (save_checkpoint(s) ||
            append_log(r, r->epoch, lr, train_loss, train_acc, &val, seconds))
            return -1;
    }
    gn_status st = gn_model_save(s->model, r->output);
    if (st != GN_OK)
        return cli_lib_error("train", s->ctx, st), -1;
    fprintf(stderr, "ghostnet train: wrote %s\n", r->output);
    return 0;
}

int cmd_train(int argc, char **argv)
{
    cli_args a;
    cli_model_spec spec;
    run_options r;
    const char *resume = NULL;
    double dropout = -1;
    int error = 0, epochs_given = 0;
    cli_args_init(&a, "train", argc, argv);
    cli_model_spec_init(&spec);
    run_defaults(&r);
    for (const char *arg; (arg = cli_next(&a));) {
        if (cli_flag(arg, "-h") || cli_flag(arg, "--help")) {
            fputs(train_help, stdout);
            fputs(cli_model_options_help, stdout);
            return CLI_OK;
        }
        if (cli_option(&a, arg, "--resume", &error)) {
            if (error)
                return CLI_USAGE;
            resume = a.value;
            continue;
        }
        if (cli_option(&a, arg, "--dropout", &error)) {
            if (error || cli_parse_double("train", "--dropout", a.value, 0, 0.99, &dropout))
                return CLI_USAGE;
            continue;
        }
        epochs_given |= strncmp(arg, "--epochs", 8) == 0;
        int used = cli_model_option(&a, arg, &spec);
        if (used < 0)
            return CLI_USAGE;
        if (used) {
            if (strncmp(arg, "--input", 7) == 0) {
                r.canvas_h = spec.config.input_h;
                r.canvas_w = spec.config.input_w;
            }
            continue;
        }
        int rc = parse_run_option(&a, arg, &r, &error);
        if (rc < 0)
            return CLI_USAGE;
        if (rc > 0)
            return cli_usage_error("train", "unknown argument '%s'", arg);
    }
    int new_epochs = r.epochs;
    gn_context *ctx = NULL;
    gn_context_options options = {.threads = r.threads};
    if (resume) {
        gn_context *probe = NULL;
        if (gn_context_create(NULL, &probe) != GN_OK)
            return CLI_ERROR;
        int bad = run_from_checkpoint(probe, resume, &r);
        gn_context_destroy(probe);
        if (bad)
            return CLI_USAGE;
        if (epochs_given)
            r.epochs = new_epochs;
        snprintf(r.checkpoint, sizeof(r.checkpoint), "%s", resume);
        options.threads = r.threads;
    } else {
        if (!spec.have_arch || !r.data[0] || !r.output[0])
            return cli_usage_error("train", "--arch, --data and -o are required (or --resume)");
        if (spec.weights)
            return cli_usage_error("train", "--weights does not apply; give --arch");
        if (!r.checkpoint[0])
            snprintf(r.checkpoint, sizeof(r.checkpoint), "%.1000s.ckpt", r.output);
        if (!r.log[0])
            snprintf(r.log, sizeof(r.log), "%.1000s.csv", r.output);
    }
    cli_warn_threads("train", options.threads);
    if (gn_context_create(&options, &ctx) != GN_OK) {
        fprintf(stderr, "ghostnet train: error: cannot create a context with %d threads\n",
                options.threads);
        return CLI_ERROR;
    }
    run_state s = {&r, ctx, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL,
                   {0}, 0};
    int rc = CLI_ERROR;
    gn_status st = gn_dataset_open(ctx, r.data, GN_SPLIT_TRAIN, &s.train);
    if (st == GN_OK && r.val == 0) /* without held-out images, each epoch is tested */
        st = gn_dataset_open(ctx, r.data, GN_SPLIT_TEST, &s.test);
    if (st != GN_OK) {
        cli_lib_error("train", ctx, st);
        goto done;
    }
    if (resume) {
        st = gn_model_load(ctx, resume, &s.model);
        if (st != GN_OK) {
            cli_lib_error("train", ctx, st);
            goto done;
        }
    } else if (new_model(&s, &spec, dropout)) {
        goto done;
    }
    if (prepare(&s))
        goto done;
    if (resume) {
        st = gn_trainer_restore(s.trainer, resume);
        if (st != GN_OK) {
            cli_lib_error("train", ctx, st);
            goto done;
        }
        fprintf(stderr, "ghostnet train: resuming %s at epoch %d, step %d\n", resume,
                r.epoch + 1, r.step_in_epoch);
    } else {
        remove(r.log); /* a new run starts a new log */
    }
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    rc = run_epochs(&s);
    rc = rc == 130 ? 130 : (rc == 0 ? CLI_OK : CLI_ERROR);
done:
    free(s.images);
    free(s.labels);
    free(s.order);
    free(s.val_idx);
    gn_trainer_free(s.trainer);
    gn_model_free(s.model);
    gn_dataset_free(s.train);
    gn_dataset_free(s.test);
    gn_context_destroy(ctx);
    return rc;
}
