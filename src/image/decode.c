/* Image files to 8-bit pixels: format detection by signature, the size checks every decoder
 * makes before allocating, and conversion between gray and RGB as PIL converts. */
#include "image/image.h"

#include "io/file_map.h"

#include <string.h>

gn_status gn_image_check_size(gn_context *ctx, const char *what, uint64_t width, uint64_t height)
{
    if (width < 1 || height < 1)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: image of %llux%llu pixels is empty", what,
                       (unsigned long long)width, (unsigned long long)height);
    if (width > GN_IMAGE_MAX_SIDE || height > GN_IMAGE_MAX_SIDE ||
        width * height > GN_IMAGE_MAX_PIXELS)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED,
                       "%s: image of %llux%llu pixels is larger than allowed (%d per side, %llu "
                       "in all)",
                       what, (unsigned long long)width, (unsigned long long)height,
                       GN_IMAGE_MAX_SIDE, GN_IMAGE_MAX_PIXELS);
    return GN_OK;
}

gn_status gn_image_alloc(gn_context *ctx, const char *what, int width, int height, int channels,
                         gn_image *out)
{
    size_t bytes = (size_t)width * (size_t)height * (size_t)channels;
    out->pixels = gn_alloc(ctx, bytes);
    if (!out->pixels)
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory for %dx%d pixels", what, width,
                       height);
    out->width = width;
    out->height = height;
    out->channels = channels;
    return GN_OK;
}

void gn_image_free(gn_context *ctx, gn_image *image)
{
    gn_free(ctx, image->pixels);
    memset(image, 0, sizeof(*image));
}

/* PIL's "RGB" -> "L": ITU-R 601 weights in 16-bit fixed point, rounded. */
static void rgb_to_gray(const uint8_t *rgb, uint8_t *gray, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t sum = rgb[3 * i] * 19595u + rgb[3 * i + 1] * 38470u + rgb[3 * i + 2] * 7471u;
        gray[i] = (uint8_t)((sum + 0x8000u) >> 16);
    }
}

static void gray_to_rgb(const uint8_t *gray, uint8_t *rgb, size_t count)
{
    for (size_t i = 0; i < count; i++)
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
}

static gn_status convert_channels(gn_context *ctx, const char *what, gn_image *image, int channels)
{
    if (image->channels == channels)
        return GN_OK;
    gn_image converted;
    gn_status st = gn_image_alloc(ctx, what, image->width, image->height, channels, &converted);
    if (st != GN_OK)
        return st;
    size_t count = (size_t)image->width * (size_t)image->height;
    if (channels == 1)
        rgb_to_gray(image->pixels, converted.pixels, count);
    else
        gray_to_rgb(image->pixels, converted.pixels, count);
    gn_image_free(ctx, image);
    *image = converted;
    return GN_OK;
}

typedef gn_status (*decoder)(gn_context *, const unsigned char *, size_t, const char *,
                             gn_image *);

static decoder find_decoder(const unsigned char *data, size_t size)
{
    static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return gn_decode_jpeg;
    if (size >= 8 && memcmp(data, png_signature, 8) == 0)
        return gn_decode_png;
    if (size >= 2 && data[0] == 'B' && data[1] == 'M')
        return gn_decode_bmp;
    if (size >= 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '6'))
        return gn_decode_pnm;
    return NULL;
}

gn_status gn_image_decode(gn_context *ctx, const unsigned char *data, size_t size,
                          const char *what, int channels, gn_image *out)
{
    memset(out, 0, sizeof(*out));
    if (channels != 1 && channels != 3)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: images decode to 1 or 3 channels, not %d", what,
                       channels);
    decoder decode = find_decoder(data, size);
    if (!decode)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED,
                       "%s: not a JPEG, PNG, BMP or binary PPM/PGM image", what);
    gn_status st = decode(ctx, data, size, what, out);
    if (st == GN_OK)
        st = convert_channels(ctx, what, out, channels);
    if (st != GN_OK)
        gn_image_free(ctx, out);
    return st;
}

gn_status gn_image_load(gn_context *ctx, const char *path, int channels, gn_image *out)
{
    memset(out, 0, sizeof(*out));
    gn_file_map map;
    gn_status st = gn_file_map_open(ctx, path, GN_IMAGE_MAX_FILE_BYTES, "an image", &map);
    if (st != GN_OK)
        return st;
    st = gn_image_decode(ctx, map.data, map.size, path, channels, out);
    gn_file_map_close(&map);
    return st;
}
