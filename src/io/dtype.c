/* Element types: sizes and the names safetensors headers use for them. */
#include "io/dtype.h"

#include <string.h>

typedef struct dtype_info {
    const char *name;
    size_t size;
} dtype_info;

/* Indexed by gn_dtype, so the table and the enum must stay in the same order. */
static const dtype_info dtype_table[GN_DTYPE_COUNT] = {
    [GN_DTYPE_F32] = {"F32", 4},  [GN_DTYPE_F16] = {"F16", 2}, [GN_DTYPE_BF16] = {"BF16", 2},
    [GN_DTYPE_F64] = {"F64", 8},  [GN_DTYPE_I64] = {"I64", 8}, [GN_DTYPE_I32] = {"I32", 4},
    [GN_DTYPE_I16] = {"I16", 2},  [GN_DTYPE_I8] = {"I8", 1},   [GN_DTYPE_U8] = {"U8", 1},
    [GN_DTYPE_BOOL] = {"BOOL", 1},
};

static int dtype_is_valid(gn_dtype dtype)
{
    return (unsigned)dtype < (unsigned)GN_DTYPE_COUNT;
}

size_t gn_dtype_size(gn_dtype dtype)
{
    return dtype_is_valid(dtype) ? dtype_table[dtype].size : 0;
}

const char *gn_dtype_name(gn_dtype dtype)
{
    return dtype_is_valid(dtype) ? dtype_table[dtype].name : "?";
}

int gn_dtype_parse(const char *name, gn_dtype *out)
{
    for (int i = 0; i < GN_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_table[i].name) == 0) {
            *out = (gn_dtype)i;
            return 0;
        }
    }
    return -1;
}
