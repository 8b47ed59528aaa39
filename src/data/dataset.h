/* In-memory data sets: the readers fill one of these. */
#ifndef GN_DATASET_H
#define GN_DATASET_H

#include "core/internal.h"

#define GN_CLASS_NAME_MAX 64
#define GN_DATASET_MAX_CLASSES 1000

struct gn_dataset {
    gn_context *ctx;
    int64_t count;
    int channels, h, w;
    int classes;
    uint8_t *pixels;   /* count x channels x h x w */
    int32_t *labels;   /* count                    */
    char (*class_names)[GN_CLASS_NAME_MAX]; /* classes entries, or NULL */
    char name_buffer[GN_CLASS_NAME_MAX];    /* for "class N"            */
};

/* Allocates an empty data set of count images (pixels and labels uninitialised). */
gn_status gn_dataset_alloc(gn_context *ctx, int64_t count, int channels, int h, int w,
                           gn_dataset **out);
/* Sets class names from a NULL-terminated list or lines of text. */
gn_status gn_dataset_set_class_names(gn_dataset *d, const char *const *names, int count);

/* Readers. dir holds the files; split picks train or test. */
gn_status gn_dataset_read_idx(gn_context *ctx, const char *dir, gn_split split, gn_dataset **out);
gn_status gn_dataset_read_cifar(gn_context *ctx, const char *dir, gn_split split,
                                gn_dataset **out);
gn_status gn_dataset_read_folder(gn_context *ctx, const char *dir, gn_split split,
                                 gn_dataset **out);
/* Reads a whole (possibly gzipped) file into memory, at most max bytes. */
gn_status gn_read_file_gz(gn_context *ctx, const char *path, size_t max, uint8_t **data,
                          size_t *size);

#endif
