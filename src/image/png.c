/* PNG decoding through libpng, reading from memory with every read bounded by the file and the
 * image size checked before any pixel memory is allocated. libpng reports errors by longjmp to
 * the setjmp in decode(); after the jump only objects reached through pointers are touched. */
#include "image/image.h"

#include <png.h>
#include <setjmp.h>
#include <string.h>

typedef struct png_state {
    gn_context *ctx;
    const char *what;
    const unsigned char *data;
    size_t size, at;
    char message[256];
    png_bytep rows_buffer; /* decoded rows with the file's channels (alpha included) */
    png_bytepp rows;
} png_state;

static void on_error(png_structp png, png_const_charp message)
{
    png_state *s = png_get_error_ptr(png);
    snprintf(s->message, sizeof(s->message), "%s", message);
    png_longjmp(png, 1);
}

/* Warnings (bad ancillary chunks, ...) do not stop PIL either. */
static void on_warning(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

static void read_bytes(png_structp png, png_bytep out, size_t length)
{
    png_state *s = png_get_io_ptr(png);
    if (length > s->size - s->at)
        png_error(png, "truncated PNG file");
    memcpy(out, s->data + s->at, length);
    s->at += length;
}

/* 8-bit samples, palettes expanded to RGB, low-depth gray expanded to 0..255, no gamma. */
static void set_transforms(png_structp png, png_infop info)
{
    int color = png_get_color_type(png, info);
    if (png_get_bit_depth(png, info) == 16)
        png_set_strip_16(png); /* keeps the high byte, as PIL's "RGB;16B" unpacking does */
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

/* Drops alpha: gray+alpha -> gray, RGBA -> RGB (PIL's convert does not composite). */
static void pack_pixels(const png_state *s, int file_channels, gn_image *out)
{
    int keep = out->channels;
    size_t count = (size_t)out->width * (size_t)out->height;
    for (size_t i = 0; i < count; i++)
        memcpy(out->pixels + i * (size_t)keep, s->rows_buffer + i * (size_t)file_channels,
               (size_t)keep);
}

static gn_status read_image(png_state *s, png_structp png, png_infop info, gn_image *out)
{
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    gn_status st = gn_image_check_size(s->ctx, s->what, width, height);
    if (st != GN_OK)
        return st;
    set_transforms(png, info);
    int file_channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (file_channels < 1 || file_channels > 4 || row_bytes != (size_t)width * file_channels)
        return gn_fail(s->ctx, GN_ERR_UNSUPPORTED, "%s: unexpected PNG layout", s->what);
    s->rows_buffer = gn_alloc_named(s->ctx, row_bytes * height, "PNG rows");
    s->rows = gn_alloc_named(s->ctx, sizeof(png_bytep) * height, "PNG row pointers");
    if (!s->rows_buffer || !s->rows)
        return GN_ERR_NOMEM;
    for (png_uint_32 y = 0; y < height; y++)
        s->rows[y] = s->rows_buffer + row_bytes * y;
    png_read_image(png, s->rows);
    png_read_end(png, NULL);
    st = gn_image_alloc(s->ctx, s->what, (int)width, (int)height, file_channels >= 3 ? 3 : 1, out);
    if (st == GN_OK)
        pack_pixels(s, file_channels, out);
    return st;
}

static gn_status decode(png_state *s, png_structp png, png_infop info, gn_image *out)
{
    if (setjmp(png_jmpbuf(png)))
        return gn_fail(s->ctx, GN_ERR_FORMAT, "%s: %s", s->what, s->message);
    png_set_read_fn(png, s, read_bytes);
    /* libpng's own limits off: gn_image_check_size refuses large images with our message. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_read_info(png, info);
    return read_image(s, png, info, out);
}

gn_status gn_decode_png(gn_context *ctx, const unsigned char *data, size_t size,
                        const char *what, gn_image *out)
{
    png_state s = {.ctx = ctx, .what = what, .data = data, .size = size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    gn_status st = info ? decode(&s, png, info, out)
                        : gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory for the PNG reader", what);
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    gn_free(ctx, s.rows_buffer);
    gn_free(ctx, s.rows);
    if (st != GN_OK)
        gn_image_free(ctx, out);
    return st;
}
