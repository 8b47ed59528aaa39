/* Element types found in model and array files. */
#ifndef GN_DTYPE_H
#define GN_DTYPE_H

#include <stddef.h>

typedef enum gn_dtype {
    GN_DTYPE_F32 = 0,
    GN_DTYPE_F16,
    GN_DTYPE_BF16,
    GN_DTYPE_F64,
    GN_DTYPE_I64,
    GN_DTYPE_I32,
    GN_DTYPE_I16,
    GN_DTYPE_I8,
    GN_DTYPE_U8,
    GN_DTYPE_BOOL,
    GN_DTYPE_COUNT
} gn_dtype;

/* Bytes per element. */
size_t gn_dtype_size(gn_dtype dtype);
/* The safetensors spelling ("F32", "BF16", ...). */
const char *gn_dtype_name(gn_dtype dtype);
/* Parses a safetensors dtype name; returns 0 and sets *out, or -1 if unknown. */
int gn_dtype_parse(const char *name, gn_dtype *out);

#endif
