/* Element types found in model and array files. */
#ifndef GN_DTYPE_H
#define GN_DTYPE_H

#include <stddef.h>
#include <stdint.h>

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

/* Bytes per element (0 for a value outside the enum). */
size_t gn_dtype_size(gn_dtype dtype);
/* The safetensors spelling ("F32", "BF16", ...; "?" for a value outside the enum). */
const char *gn_dtype_name(gn_dtype dtype);
/* Parses a safetensors dtype name; returns 0 and sets *out, or -1 if unknown. */
int gn_dtype_parse(const char *name, gn_dtype *out);

/* Little-endian loads and stores, byte by byte so they work at any alignment on any host. */
static inline uint16_t gn_load_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t gn_load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t gn_load_le64(const unsigned char *p)
{
    return (uint64_t)gn_load_le32(p) | ((uint64_t)gn_load_le32(p + 4) << 32);
}

static inline void gn_store_le(unsigned char *p, uint64_t value, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        p[i] = (unsigned char)(value >> (8 * i));
}

#endif
