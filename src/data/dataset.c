/* Data sets: opening by name, batches with augmentation. */
#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

static const char *const fashion_mnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

gn_status gn_dataset_alloc(gn_context *ctx, int64_t count, int channels, int h, int w,
                           gn_dataset **out)
{
    *out = NULL;
    size_t pixels;
    if (count < 1 || channels < 1 || h < 1 || w < 1 ||
        !gn_mul_size((size_t)count, (size_t)channels * h * w, &pixels))
        return gn_fail(ctx, GN_ERR_FORMAT, "invalid data set size %lld x %d x %d x %d",
                       (long long)count, channels, h, w);
    gn_dataset *d = gn_alloc_zero(ctx, sizeof(*d));
    if (!d)
        return gn_fail(ctx, GN_ERR_NOMEM, "out of memory for a data set");
    d->ctx = ctx;
    d->count = count;
    d->channels = channels;
    d->h = h;
    d->w = w;
    d->pixels = gn_alloc_named(ctx, pixels, "data set images");
    d->labels = d->pixels ? gn_alloc_named(ctx, (size_t)count * sizeof(int32_t), "labels") : NULL;
    if (!d->labels) {
        gn_dataset_free(d);
        return GN_ERR_NOMEM;
    }
    *out = d;
    return GN_OK;
}

void gn_dataset_free(gn_dataset *d)
{
    if (!d)
        return;
    gn_free(d->ctx, d->pixels);
    gn_free(d->ctx, d->labels);
    gn_free(d->ctx, d->class_names);
    gn_free(d->ctx, d);
}

gn_status gn_dataset_set_class_names(gn_dataset *d, const char *const *names, int count)
{
    if (count != d->classes)
        return gn_fail(d->ctx, GN_ERR_FORMAT, "%d class names for %d classes", count, d->classes);
    d->class_names = gn_alloc_named(d->ctx, (size_t)count * GN_CLASS_NAME_MAX, "class names");
    if (!d->class_names)
        return GN_ERR_NOMEM;
    for (int i = 0; i < count; i++)
        snprintf(d->class_names[i], GN_CLASS_NAME_MAX, "%s", names[i]);
    return GN_OK;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_file(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (stat(path, &st) == 0)
        return 1;
    snprintf(path, sizeof(path), "%s/%s.gz", dir, name);
    return stat(path, &st) == 0;
}

/* Labels outside [0, classes) were refused by the readers; count classes from the labels. */
static void count_classes(gn_dataset *d)
{
    int most = 0;
    for (int64_t i = 0; i < d->count; i++)
        most = d->labels[i] > most ? d->labels[i] : most;
    d->classes = most + 1;
}

gn_status gn_dataset_open(gn_context *ctx, const char *source, gn_split split, gn_dataset **out)
{
    if (!ctx || !source || !out)
        return ctx ? gn_fail(ctx, GN_ERR_ARGUMENT, "gn_dataset_open: NULL argument")
                   : GN_ERR_ARGUMENT;
    *out = NULL;
    int fashion = strcmp(source, "fashion-mnist") == 0;
    const char *dir = fashion ? FASHION_MNIST_DIR : source;
    if (!is_dir(dir))
        return gn_fail(ctx, GN_ERR_IO,
                       fashion ? "%s: not found (install Debian's dataset-fashion-mnist)"
                               : "%s: not a folder (of IDX files, CIFAR batches or images)",
                       dir);
    gn_status st;
    if (has_file(dir, "train-images-idx3-ubyte") || has_file(dir, "t10k-images-idx3-ubyte"))
        st = gn_dataset_read_idx(ctx, dir, split, out);
    else if (has_file(dir, "data_batch_1.bin") || has_file(dir, "test_batch.bin") ||
             has_file(dir, "train.bin"))
        st = gn_dataset_read_cifar(ctx, dir, split, out);
    else
        st = gn_dataset_read_folder(ctx, dir, split, out);
    if (st != GN_OK)
        return st;
    if ((*out)->classes == 0)
        count_classes(*out);
    if (fashion && (*out)->classes == 10 && !(*out)->class_names)
        st = gn_dataset_set_class_names(*out, fashion_mnist_classes, 10);
    if (st != GN_OK) {
        gn_dataset_free(*out);
        *out = NULL;
    }
    return st;
}

int64_t gn_dataset_size(const gn_dataset *d)
{
    return d ? d->count : 0;
}

void gn_dataset_shape(const gn_dataset *d, int *channels, int *h, int *w)
{
    if (channels)
        *channels = d->channels;
    if (h)
        *h = d->h;
    if (w)
        *w = d->w;
}

int gn_dataset_classes(const gn_dataset *d)
{
    return d ? d->classes : 0;
}

const char *gn_dataset_class_name(const gn_dataset *d, int label)
{
    if (!d || label < 0 || label >= d->classes)
        return "?";
    if (d->class_names)
        return d->class_names[label];
    snprintf(((gn_dataset *)d)->name_buffer, sizeof(d->name_buffer), "class %d", label);
    return d->name_buffer;
}

void gn_dataset_stats(const gn_dataset *d, float *mean, float *std)
{
    size_t plane = (size_t)d->h * d->w;
    for (int c = 0; c < d->channels && c < GN_MAX_NORM_CHANNELS; c++) {
        double sum = 0.0, sq = 0.0;
        for (int64_t i = 0; i < d->count; i++) {
            const uint8_t *p = d->pixels + ((size_t)i * d->channels + c) * plane;
            uint64_t s1 = 0, s2 = 0;
            for (size_t k = 0; k < plane; k++) {
                s1 += p[k];
                s2 += (uint64_t)p[k] * p[k];
            }
            sum += (double)s1;
            sq += (double)s2;
        }
        double n = (double)d->count * (double)plane;
        double m = sum / n / 255.0;
        mean[c] = (float)m;
        double var = sq / n / (255.0 * 255.0) - m * m;
        std[c] = (float)sqrt(var > 0.0 ? var : 0.0);
    }
}
