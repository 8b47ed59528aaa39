/* JPEG decoding through libjpeg-turbo, set up as PIL sets it up (default islow IDCT and fancy
 * upsampling, CMYK read as Adobe-inverted), so the pixels are the ones torchvision sees.
 *
 * libjpeg reports errors by calling error_exit, which must not return: it longjmps back to
 * decode(). Nothing local to decode() changes between setjmp and longjmp; the pixel buffer is
 * reached through `out`, so cleanup after the jump is well defined. */
#include "image/image.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct error_state {
    struct jpeg_error_mgr manager; /* first, so the jpeg_error_mgr pointer converts back */
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int truncated;
} error_state;

static void on_error(j_common_ptr cinfo)
{
    error_state *e = (error_state *)cinfo->err;
    cinfo->err->format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* Warnings are ignored, as PIL ignores them, except running out of data: libjpeg would pad the
 * image with grey, PIL refuses a truncated file, and so do we. */
static void on_message(j_common_ptr cinfo, int level)
{
    error_state *e = (error_state *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        e->truncated = 1;
        longjmp(e->jump, 1);
    }
}

/* PIL reads CMYK JPEGs as Adobe-inverted (c = 255 - stored value, likewise m, y, k) and
 * converts with channel = (255 - k) - round(c * (255 - k) / 255); note 255 - k is the stored k. */
static void cmyk_to_rgb(const unsigned char *cmyk, unsigned char *rgb, int width)
{
    for (int x = 0; x < width; x++) {
        int white = cmyk[4 * x + 3];
        for (int c = 0; c < 3; c++) {
            int t = (255 - cmyk[4 * x + c]) * white + 128;
            rgb[3 * x + c] = (unsigned char)(white - (((t >> 8) + t) >> 8));
        }
    }
}

static gn_status read_pixels(gn_context *ctx, j_decompress_ptr cinfo, const char *what,
                             unsigned char *cmyk_row, gn_image *out)
{
    size_t stride = (size_t)out->width * (size_t)out->channels;
    while (cinfo->output_scanline < cinfo->output_height) {
        unsigned char *row = out->pixels + stride * cinfo->output_scanline;
        JSAMPROW target = cmyk_row ? cmyk_row : row;
        if (jpeg_read_scanlines(cinfo, &target, 1) != 1)
            return gn_fail(ctx, GN_ERR_FORMAT, "%s: JPEG data ends early", what);
        if (cmyk_row)
            cmyk_to_rgb(cmyk_row, row, out->width);
    }
    return GN_OK;
}

/* Chooses the output colour space: gray stays gray, CMYK/YCCK come out as CMYK for
 * cmyk_to_rgb, everything else as RGB. Returns the channels libjpeg will write. */
static int choose_color_space(j_decompress_ptr cinfo)
{
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo->out_color_space = JCS_GRAYSCALE;
        return 1;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK;
        return 4;
    default:
        cinfo->out_color_space = JCS_RGB;
        return 3;
    }
}

static gn_status decode(gn_context *ctx, j_decompress_ptr cinfo, error_state *err,
                        const unsigned char *data, size_t size, const char *what, gn_image *out,
                        unsigned char **cmyk_row)
{
    if (setjmp(err->jump))
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: %s", what,
                       err->truncated ? "truncated JPEG file" : err->message);
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_read_header(cinfo, TRUE);
    gn_status st = gn_image_check_size(ctx, what, cinfo->image_width, cinfo->image_height);
    if (st != GN_OK)
        return st;
    int components = choose_color_space(cinfo);
    jpeg_start_decompress(cinfo);
    int channels = components == 1 ? 1 : 3;
    st = gn_image_alloc(ctx, what, (int)cinfo->output_width, (int)cinfo->output_height, channels,
                        out);
    if (st == GN_OK && components == 4) {
        *cmyk_row = gn_alloc_named(ctx, (size_t)out->width * 4, "a CMYK row");
        if (!*cmyk_row)
            st = GN_ERR_NOMEM;
    }
    if (st == GN_OK)
        st = read_pixels(ctx, cinfo, what, *cmyk_row, out);
    if (st == GN_OK)
        jpeg_finish_decompress(cinfo);
    return st;
}

gn_status gn_decode_jpeg(gn_context *ctx, const unsigned char *data, size_t size,
                         const char *what, gn_image *out)
{
    struct jpeg_decompress_struct cinfo;
    error_state err;
    memset(&cinfo, 0, sizeof(cinfo));
    memset(&err, 0, sizeof(err));
    cinfo.err = jpeg_std_error(&err.manager);
    err.manager.error_exit = on_error;
    err.manager.emit_message = on_message;
    unsigned char *cmyk_row = NULL;
    gn_status st = decode(ctx, &cinfo, &err, data, size, what, out, &cmyk_row);
    jpeg_destroy_decompress(&cinfo);
    gn_free(ctx, cmyk_row);
    if (st != GN_OK)
        gn_image_free(ctx, out);
    return st;
}
