/* BMP (through stb_image) and binary PPM/PGM (read here).
 *
 * stb_image fills missing bytes with zeros instead of failing, so the BMP header is checked
 * first: the pixel data it describes must lie inside the file. The PNM reader is our own, as
 * stb's integer parser overflows on hostile headers and it, too, pads truncated data. */
#include "image/image.h"

#include "io/dtype.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_NO_FAILURE_STRINGS
#define STBI_MAX_DIMENSIONS GN_IMAGE_MAX_SIDE
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
/* Static, so the library exports no stbi_* symbols. The BMP-only build leaves some declared
 * functions undefined, which the compiler reports at the end of the file, so the warning stays
 * off for the whole (small) file. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_image.h>

#define BMP_FILE_HEADER 14
#define BMP_CORE_HEADER 12
#define BMP_RGB 0
#define BMP_BITFIELDS 3

/* Width, height (absolute), bits per pixel and data offset of an uncompressed BMP, with the
 * data checked to fit in the file. */
static gn_status check_bmp(gn_context *ctx, const unsigned char *data, size_t size,
                           const char *what)
{
    if (size < BMP_FILE_HEADER + BMP_CORE_HEADER)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: truncated BMP header", what);
    uint32_t offset = gn_load_le32(data + 10), header = gn_load_le32(data + 14);
    int64_t width, height;
    unsigned bits, compression = BMP_RGB;
    if (header == BMP_CORE_HEADER) {
        width = gn_load_le16(data + 18);
        height = gn_load_le16(data + 20);
        bits = gn_load_le16(data + 24);
    } else {
        if (header < 40 || size < BMP_FILE_HEADER + 40)
            return gn_fail(ctx, GN_ERR_FORMAT, "%s: truncated or unknown BMP header", what);
        width = (int32_t)gn_load_le32(data + 18);
        height = (int32_t)gn_load_le32(data + 22);
        bits = gn_load_le16(data + 28);
        compression = gn_load_le32(data + 30);
    }
    if (height < 0)
        height = -height; /* top-down rows */
    if (compression != BMP_RGB && compression != BMP_BITFIELDS)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: compressed BMP files are not supported",
                       what);
    if (width < 1 || height < 1 || (bits != 1 && bits != 4 && bits != 8 && bits != 16 &&
                                    bits != 24 && bits != 32))
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: BMP of %lldx%lld at %u bits is invalid", what,
                       (long long)width, (long long)height, bits);
    gn_status st = gn_image_check_size(ctx, what, (uint64_t)width, (uint64_t)height);
    if (st != GN_OK)
        return st;
    uint64_t row = ((uint64_t)width * bits + 31) / 32 * 4;
    if (offset > size || row * (uint64_t)height > size - offset)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: truncated BMP file (%zu bytes)", what, size);
    return GN_OK;
}

gn_status gn_decode_bmp(gn_context *ctx, const unsigned char *data, size_t size,
                            const char *what, gn_image *out)
{
    gn_status st = check_bmp(ctx, data, size, what);
    if (st != GN_OK)
        return st;
    if (size > INT_MAX)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: BMP file too large", what);
    int width, height, channels;
    stbi_uc *pixels = stbi_load_from_memory(data, (int)size, &width, &height, &channels, 3);
    if (!pixels)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: corrupt or unsupported BMP file", what);
    st = gn_image_alloc(ctx, what, width, height, 3, out);
    if (st == GN_OK)
        memcpy(out->pixels, pixels, (size_t)width * (size_t)height * 3);
    stbi_image_free(pixels);
    return st;
}

/* ---- PNM: "P5" (gray) or "P6" (RGB), width, height, maxval, one whitespace, samples ---- */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skips whitespace and '#' comments, then reads a decimal number of at most 9 digits. */
static int pnm_number(const unsigned char *data, size_t size, size_t *at, long *out)
{
    for (;;) {
        while (*at < size && is_space(data[*at]))
            (*at)++;
        if (*at < size && data[*at] == '#') {
            while (*at < size && data[*at] != '\n' && data[*at] != '\r')
                (*at)++;
            continue;
        }
        break;
    }
    long value = 0;
    int digits = 0;
    while (*at < size && data[*at] >= '0' && data[*at] <= '9' && digits < 10) {
        value = value * 10 + (data[*at] - '0');
        (*at)++;
        digits++;
    }
    *out = value;
    return digits >= 1 && digits <= 9;
}

gn_status gn_decode_pnm(gn_context *ctx, const unsigned char *data, size_t size,
                            const char *what, gn_image *out)
{
    int channels = data[1] == '6' ? 3 : 1;
    size_t at = 2;
    long width, height, maxval;
    if (!pnm_number(data, size, &at, &width) || !pnm_number(data, size, &at, &height) ||
        !pnm_number(data, size, &at, &maxval) || at >= size || !is_space(data[at]))
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: bad or truncated PPM/PGM header", what);
    at++;
    if (maxval != 255)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED,
                       "%s: PPM/PGM with maxval %ld (only 8-bit files, maxval 255, are supported)",
                       what, maxval);
    if (width < 1 || height < 1)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: PPM/PGM of %ldx%ld is empty", what, width, height);
    gn_status st = gn_image_check_size(ctx, what, (uint64_t)width, (uint64_t)height);
    if (st != GN_OK)
        return st;
    size_t bytes = (size_t)width * (size_t)height * (size_t)channels;
    if (bytes > size - at)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: truncated PPM/PGM file (%zu of %zu pixel bytes)",
                       what, size - at, bytes);
    st = gn_image_alloc(ctx, what, (int)width, (int)height, channels, out);
    if (st == GN_OK)
        memcpy(out->pixels, data + at, bytes);
    return st;
}
