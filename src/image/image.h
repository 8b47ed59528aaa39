/* Images inside the library: decode a file to 8-bit pixels, resize exactly as PIL does.
 *
 * Decoding agrees with PIL's Image.open(path).convert("RGB") (or "L") pixel for pixel on 8-bit
 * files: JPEG through libjpeg-turbo (the decoder PIL uses, with PIL's settings; CMYK files
 * converted with PIL's formula), PNG through libpng (palette, gray and 1/2/4-bit expanded, alpha
 * and tRNS dropped, 16-bit files cut to their high byte, no gamma correction), BMP and binary
 * PPM/PGM (maxval 255) through stb_image. EXIF orientation is ignored, as PIL ignores it.
 * Gray from colour uses PIL's weights: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.
 *
 * Resizing is PIL's bilinear Image.resize: a separable convolution whose triangle filter is
 * widened by the scale factor when shrinking (so it antialiases), with PIL's 22-bit fixed-point
 * weights and rounding to 8 bits after each pass (horizontal first), so results are identical.
 *
 * Hostile files: dimensions are checked before any pixel buffer is allocated (at most
 * GN_IMAGE_MAX_SIDE per side and GN_IMAGE_MAX_PIXELS in all), decoders never read past the
 * file's bytes, and a truncated file is an error rather than a partly grey image. */
#ifndef GN_IMAGE_H
#define GN_IMAGE_H

#include "core/internal.h"

#define GN_IMAGE_MAX_SIDE 65535
#define GN_IMAGE_MAX_PIXELS 100000000ull /* 100 megapixels */
#define GN_IMAGE_MAX_FILE_BYTES (1ull << 30)

typedef struct gn_image {
    int width, height;
    int channels;    /* 1 (gray) or 3 (RGB), interleaved */
    uint8_t *pixels; /* height rows of width * channels bytes, gn_alloc'd; NULL when empty */
} gn_image;

/* Decodes the file at path (JPEG, PNG, BMP, PPM/PGM) to channels = 3 (RGB) or 1 (gray). */
gn_status gn_image_load(gn_context *ctx, const char *path, int channels, gn_image *out);
/* The same from bytes in memory; what names them in messages. */
gn_status gn_image_decode(gn_context *ctx, const unsigned char *data, size_t size,
                          const char *what, int channels, gn_image *out);
void gn_image_free(gn_context *ctx, gn_image *image);

/* PIL's bilinear resize of in to width x height (a new image in out). */
gn_status gn_image_resize(gn_context *ctx, const gn_image *in, int width, int height,
                          gn_image *out);
/* The window [left, left + out_w) x [top, top + out_h) of in resized to width x height, computed
 * without the rest (each output pixel depends only on its own filter taps, so the window equals
 * the crop of the full resize). */
gn_status gn_image_resize_window(gn_context *ctx, const gn_image *in, int width, int height,
                                 int left, int top, int out_w, int out_h, gn_image *out);

/* ---- used by the decoders ---- */

/* Fails unless width x height is a size the library decodes (checked before allocating). */
gn_status gn_image_check_size(gn_context *ctx, const char *what, uint64_t width,
                              uint64_t height);
/* Allocates out->pixels for width x height x channels (size already checked). */
gn_status gn_image_alloc(gn_context *ctx, const char *what, int width, int height, int channels,
                         gn_image *out);

/* Decoders: fill out with the file's own channel count, 1 (gray) or 3 (RGB). */
gn_status gn_decode_jpeg(gn_context *ctx, const unsigned char *data, size_t size,
                         const char *what, gn_image *out);
gn_status gn_decode_png(gn_context *ctx, const unsigned char *data, size_t size,
                        const char *what, gn_image *out);
gn_status gn_decode_bmp(gn_context *ctx, const unsigned char *data, size_t size,
                        const char *what, gn_image *out);
/* Binary PPM ("P6") or PGM ("P5"); data starts with one of those. */
gn_status gn_decode_pnm(gn_context *ctx, const unsigned char *data, size_t size,
                        const char *what, gn_image *out);

#endif
