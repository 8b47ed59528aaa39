/* libFuzzer target for the .npy reader. An accepted file must give numel elements matching its
 * shape (each is read, so AddressSanitizer checks the buffer) and must survive gn_npy_write and
 * a re-read bit for bit; a refused one must get a message naming the file. */
#include "fuzz_util.h"
#include "io/npy.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void check_rewrite(gn_context *ctx, const gn_npy *array, const char *copy_path)
{
    gn_status status = gn_npy_write(ctx, copy_path, array->data, array->ndim, array->shape);
    fuzz_require(status == GN_OK, "an accepted array cannot be written back");
    gn_npy copy;
    fuzz_require(gn_npy_read(ctx, copy_path, &copy) == GN_OK, "a written array cannot be read");
    fuzz_require(copy.ndim == array->ndim && copy.numel == array->numel &&
                     memcmp(copy.shape, array->shape, sizeof(copy.shape)) == 0,
                 "the copy has a different shape");
    fuzz_require(memcmp(copy.data, array->data, (size_t)array->numel * sizeof(float)) == 0,
                 "the copy has different values");
    gn_npy_free(ctx, &copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 0;
    char path[256], copy_path[300];
    fuzz_write_input(data, size, "npy", path, sizeof(path));
    snprintf(copy_path, sizeof(copy_path), "%s.copy.npy", path);
    gn_npy array;
    gn_status status = gn_npy_read(ctx, path, &array);
    if (status == GN_OK) {
        int64_t numel = 1;
        for (int d = 0; d < array.ndim; d++)
            numel *= array.shape[d];
        fuzz_require(numel == array.numel, "numel disagrees with the shape");
        unsigned sum = 0;
        for (int64_t i = 0; i < array.numel; i++) {
            unsigned bits;
            memcpy(&bits, &array.data[i], sizeof(bits));
            sum += bits;
        }
        volatile unsigned sink = sum;
        (void)sink;
        check_rewrite(ctx, &array, copy_path);
    } else {
        fuzz_require(array.data == NULL, "data set on failure");
        fuzz_require(strstr(gn_context_error(ctx), path) != NULL,
                     "error message does not name the file");
    }
    gn_npy_free(ctx, &array);
    unlink(path);
    unlink(copy_path);
    gn_context_destroy(ctx);
    return 0;
}
