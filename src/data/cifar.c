/* CIFAR binary batches (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"):
 * CIFAR-10 has data_batch_1..5.bin and test_batch.bin, records of 1 label byte + 3072 pixel
 * bytes (3 x 32 x 32, channel planes); CIFAR-100 has train.bin and test.bin with 2 label bytes
 * (coarse, fine; we use fine). Class names come from batches.meta.txt or
 * fine_label_names.txt when present. */
#include "data/dataset.h"

#include <stdio.h>
#include <string.h>

#define CIFAR_PIXELS 3072
#define CIFAR_MAX_FILES 5

typedef struct cifar_layout {
    const char *files[CIFAR_MAX_FILES + 1];
    int label_bytes;
    int classes;
    const char *names_file;
} cifar_layout;

static const cifar_layout cifar10_train = {
    {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
     "data_batch_5.bin", NULL},
    1, 10, "batches.meta.txt"};
static const cifar_layout cifar10_test = {{"test_batch.bin", NULL}, 1, 10, "batches.meta.txt"};
static const cifar_layout cifar100_train = {{"train.bin", NULL}, 2, 100, "fine_label_names.txt"};
static const cifar_layout cifar100_test = {{"test.bin", NULL}, 2, 100, "fine_label_names.txt"};

static int exists(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

/* Class names, one per line; silently absent if the file is missing or does not fit. */
static void read_names(gn_dataset *d, const char *dir, const char *file)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    uint8_t *text;
    size_t size;
    if (gn_read_file_gz(d->ctx, path, 1 << 20, &text, &size) != GN_OK) {
        gn_clear_error(d->ctx);
        return;
    }
    const char *names[GN_DATASET_MAX_CLASSES];
    char *p = (char *)text, *end = (char *)text + size;
    int count = 0;
    while (p < end && count < d->classes + 1) {
        char *line = p;
        while (p < end && *p != '\n')
            p++;
        if (p < end)
            *p++ = '\0';
        else
            break; /* last line without a newline: cannot terminate it in place */
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        if (len)
            names[count++] = line;
    }
    if (count == d->classes && gn_dataset_set_class_names(d, names, count) != GN_OK)
        gn_clear_error(d->ctx);
    gn_free(d->ctx, text);
}

gn_status gn_dataset_read_cifar(gn_context *ctx, const char *dir, gn_split split,
                                gn_dataset **out)
{
    int hundred = exists(dir, "train.bin") || exists(dir, "test.bin");
    *out = NULL;
    const cifar_layout *layout = hundred ? (split == GN_SPLIT_TRAIN ? &cifar100_train
                                                                     : &cifar100_test)
                                         : (split == GN_SPLIT_TRAIN ? &cifar10_train
                                                                    : &cifar10_test);
    size_t record = (size_t)layout->label_bytes + CIFAR_PIXELS;
    uint8_t *files[CIFAR_MAX_FILES] = {NULL};
    size_t sizes[CIFAR_MAX_FILES] = {0};
    int64_t total = 0;
    gn_status st = GN_OK;
    int nfiles = 0;
    for (; layout->files[nfiles] && st == GN_OK; nfiles++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, layout->files[nfiles]);
        st = gn_read_file_gz(ctx, path, (size_t)1 << 31, &files[nfiles], &sizes[nfiles]);
        if (st == GN_OK && (sizes[nfiles] == 0 || sizes[nfiles] % record != 0))
            st = gn_fail(ctx, GN_ERR_FORMAT, "%s: %zu bytes is not a whole number of %zu-byte "
                         "records", path, sizes[nfiles], record);
        total += (int64_t)(sizes[nfiles] / record);
    }
    if (st == GN_OK)
        st = gn_dataset_alloc(ctx, total, 3, 32, 32, out);
    int64_t at = 0;
    for (int f = 0; f < nfiles && st == GN_OK; f++) {
        for (size_t r = 0; r < sizes[f] / record && st == GN_OK; r++, at++) {
            const uint8_t *rec = files[f] + r * record;
            int label = rec[layout->label_bytes - 1];
            if (label >= layout->classes)
                st = gn_fail(ctx, GN_ERR_FORMAT, "%s/%s: record %zu has label %d of %d classes",
                             dir, layout->files[f], r, label, layout->classes);
            (*out)->labels[at] = label;
            memcpy((*out)->pixels + (size_t)at * CIFAR_PIXELS, rec + layout->label_bytes,
                   CIFAR_PIXELS);
        }
    }
    for (int f = 0; f < nfiles; f++)
        gn_free(ctx, files[f]);
    if (st != GN_OK) {
        gn_dataset_free(*out);
        *out = NULL;
        return st;
    }
    (*out)->classes = layout->classes;
    read_names(*out, dir, layout->names_file);
    return GN_OK;
}
