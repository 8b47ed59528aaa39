/* safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header length
 * N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {k: v}},
 * then the data. The reader memory-maps the file and checks everything before use: header
 * length within the file, JSON well-formed, every dtype known, shape product * dtype size equal
 * to end - begin, offsets inside the data, no two tensors overlapping. */
#ifndef GN_SAFETENSORS_H
#define GN_SAFETENSORS_H

#include "core/internal.h"
#include "io/dtype.h"

#define GN_MAX_DIMS 8

typedef struct gn_st_tensor {
    char *name;
    gn_dtype dtype;
    int ndim;
    int64_t shape[GN_MAX_DIMS];
    int64_t numel;
    const void *data;   /* inside the mapping; may be unaligned for the dtype */
    size_t nbytes;
} gn_st_tensor;

typedef struct gn_st_file {
    char *path;
    gn_st_tensor *tensors; /* in header order */
    size_t count;
    char **meta_keys;
    char **meta_values;
    size_t meta_count;
    void *map;             /* mapping of the whole file: MAP_PRIVATE, PROT_READ|PROT_WRITE, so
                              a model may update weights in place without touching the file */
    size_t map_size;
} gn_st_file;

gn_status gn_st_open(gn_context *ctx, const char *path, gn_st_file **out);
void gn_st_close(gn_context *ctx, gn_st_file *file);
const gn_st_tensor *gn_st_find(const gn_st_file *file, const char *name);
/* Metadata value for key, or NULL. */
const char *gn_st_meta(const gn_st_file *file, const char *key);

typedef struct gn_st_entry {
    const char *name;
    gn_dtype dtype;
    int ndim;            /* 0 for a scalar */
    const int64_t *shape;
    const void *data;    /* numel * dtype size bytes, little-endian */
} gn_st_entry;

/* Writes tensors in the given order and the metadata pairs (keys[i] -> values[i]) atomically.
 * The header is padded with spaces so the data starts 64-byte aligned. */
gn_status gn_st_write(gn_context *ctx, const char *path, const gn_st_entry *entries, size_t count,
                      const char *const *meta_keys, const char *const *meta_values,
                      size_t meta_count);

#endif
