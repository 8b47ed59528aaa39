/* libFuzzer target for the safetensors reader. Every file it accepts must have its tensors
 * inside the mapping (each byte is read, so AddressSanitizer would see a stray pointer), sizes
 * that agree with dtype and shape, and must survive a write with gn_st_write and a re-read
 * unchanged. Every file it refuses must get a message naming the file. */
#include "fuzz_util.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check_tensor(const gn_st_file *file, const gn_st_tensor *t)
{
    const unsigned char *map = file->map;
    const unsigned char *p = t->data;
    fuzz_require(p >= map && (size_t)(p - map) + t->nbytes <= file->map_size,
                 "tensor data outside the mapping");
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++)
        numel *= t->shape[d];
    fuzz_require(numel == t->numel && (size_t)numel * gn_dtype_size(t->dtype) == t->nbytes,
                 "tensor size disagrees with dtype and shape");
    fuzz_require(gn_st_find(file, t->name) == t, "tensor not found by its name");
    unsigned sum = 0;
    for (size_t i = 0; i < t->nbytes; i++)
        sum += p[i];
    volatile unsigned sink = sum;
    (void)sink;
}

static int same_tensor(const gn_st_tensor *a, const gn_st_tensor *b)
{
    return strcmp(a->name, b->name) == 0 && a->dtype == b->dtype && a->ndim == b->ndim &&
           memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(a->shape[0])) == 0 &&
           a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0;
}

/* Writes file back out and checks that reading the copy gives the same tensors and metadata. */
static void check_rewrite(gn_context *ctx, const gn_st_file *file, const char *copy_path)
{
    gn_st_entry *entries = calloc(file->count + 1, sizeof(*entries));
    fuzz_require(entries != NULL, "out of memory");
    for (size_t i = 0; i < file->count; i++) {
        const gn_st_tensor *t = &file->tensors[i];
        entries[i] = (gn_st_entry){t->name, t->dtype, t->ndim, t->shape, t->data};
    }
    gn_status status = gn_st_write(ctx, copy_path, entries, file->count,
                                   (const char *const *)file->meta_keys,
                                   (const char *const *)file->meta_values, file->meta_count);
    free(entries);
    fuzz_require(status == GN_OK, "an accepted file cannot be written back");
    gn_st_file *copy = NULL;
    fuzz_require(gn_st_open(ctx, copy_path, &copy) == GN_OK, "a written file cannot be read");
    fuzz_require(copy->count == file->count && copy->meta_count == file->meta_count,
                 "the copy has different counts");
    for (size_t i = 0; i < file->count; i++)
        fuzz_require(same_tensor(&file->tensors[i], &copy->tensors[i]), "a tensor changed");
    for (size_t i = 0; i < file->meta_count; i++)
        fuzz_require(strcmp(copy->meta_keys[i], file->meta_keys[i]) == 0 &&
                         strcmp(copy->meta_values[i], file->meta_values[i]) == 0,
                     "metadata changed");
    fuzz_require((8 + gn_load_le64(copy->map)) % 64 == 0, "the copy's data is not aligned");
    gn_st_close(ctx, copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 0;
    char path[256], copy_path[300];
    fuzz_write_input(data, size, "st", path, sizeof(path));
    snprintf(copy_path, sizeof(copy_path), "%s.copy", path);
    gn_st_file *file = NULL;
    gn_status status = gn_st_open(ctx, path, &file);
    if (status == GN_OK) {
        for (size_t i = 0; i < file->count; i++)
            check_tensor(file, &file->tensors[i]);
        for (size_t i = 0; i < file->meta_count; i++)
            fuzz_require(gn_st_meta(file, file->meta_keys[i]) == file->meta_values[i],
                         "metadata not found by its key");
        check_rewrite(ctx, file, copy_path);
    } else {
        fuzz_require(file == NULL, "output set on failure");
        fuzz_require(strstr(gn_context_error(ctx), path) != NULL,
                     "error message does not name the file");
    }
    gn_st_close(ctx, file);
    unlink(path);
    unlink(copy_path);
    gn_context_destroy(ctx);
    return 0;
}
