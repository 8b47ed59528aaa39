/* libFuzzer target for PyTorch checkpoints (ZIP and legacy containers, pickle, state dict
 * extraction, strided copies). An accepted file's tensors must have consistent sizes and every
 * byte is read; a refused one must get a message naming the file. */
#include "fuzz_util.h"
#include "io/pth.h"

#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 0;
    char path[256];
    fuzz_write_input(data, size, "pth", path, sizeof(path));
    gn_st_file *file = NULL;
    gn_status status = gn_pth_read(ctx, path, &file);
    if (status == GN_OK) {
        unsigned sum = 0;
        for (size_t i = 0; i < file->count; i++) {
            const gn_st_tensor *t = &file->tensors[i];
            int64_t numel = 1;
            for (int d = 0; d < t->ndim; d++)
                numel *= t->shape[d];
            fuzz_require(numel == t->numel, "numel disagrees with the shape");
            fuzz_require(t->nbytes == (size_t)t->numel * gn_dtype_size(t->dtype),
                         "byte count disagrees with numel");
            for (size_t b = 0; b < t->nbytes; b++)
                sum += ((const unsigned char *)t->data)[b];
        }
        volatile unsigned sink = sum;
        (void)sink;
    } else {
        fuzz_require(file == NULL, "a tensor list on failure");
        fuzz_require(strstr(gn_context_error(ctx), path) != NULL,
                     "error message does not name the file");
    }
    gn_st_close(ctx, file);
    unlink(path);
    gn_context_destroy(ctx);
    return 0;
}
