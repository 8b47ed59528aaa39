/* NumPy .npy arrays (format versions 1.0, 2.0 and 3.0). Reads little-endian float32/float64/
 * float16 C-order arrays into float32; refuses Fortran order, big-endian, object and other
 * dtypes, and any header or data size that does not fit the file. */
#ifndef GN_NPY_H
#define GN_NPY_H

#include "core/internal.h"

#define GN_NPY_MAX_DIMS 8

typedef struct gn_npy {
    int ndim;
    int64_t shape[GN_NPY_MAX_DIMS];
    int64_t numel;
    float *data; /* owned, gn_alloc'd; free with gn_npy_free */
} gn_npy;

gn_status gn_npy_read(gn_context *ctx, const char *path, gn_npy *out);
void gn_npy_free(gn_context *ctx, gn_npy *array);
/* Writes a float32 array ('<f4', C order, version 1.0) atomically. */
gn_status gn_npy_write(gn_context *ctx, const char *path, const float *data, int ndim,
                       const int64_t *shape);

#endif
