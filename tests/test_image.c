/* Images: PIL's bilinear resize on small cases whose results PIL 9.4 gives (Image.resize with
 * BILINEAR; the live comparison on photographs is tests/python/test_classify.py), properties
 * any correct resize has (constants stay constant, same size is the identity, a window equals
 * the crop of the full resize), PIL's gray weights, and hostile files refused before any
 * pixel memory: PNG/BMP/PPM headers claiming huge or empty images, bad PPM headers, 16-bit PPM,
 * compressed BMP and truncated files. gn_image_preprocess on a file gives torchvision's float32
 * arithmetic and refuses options whose crop does not fit or whose std is not positive. */
#include "harness.h"
#include "image/image.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static gn_image gray(int w, int h, const uint8_t *values)
{
    gn_image img = {w, h, 1, malloc((size_t)w * (size_t)h)};
    memcpy(img.pixels, values, (size_t)w * (size_t)h);
    return img;
}

static void check_resize(gn_context *ctx, gn_image in, int w, int h, const uint8_t *want)
{
    gn_image out;
    gn_status st = gn_image_resize(ctx, &in, w, h, &out);
    CHECK_MSG(st == GN_OK, "%s", gn_context_error(ctx));
    if (st == GN_OK) {
        CHECK_MSG(memcmp(out.pixels, want, (size_t)w * (size_t)h) == 0, "%dx%d -> %dx%d",
                  in.width, in.height, w, h);
        gn_image_free(ctx, &out);
    }
    free(in.pixels);
}

/* Values from PIL 9.4's Image.resize(..., Image.BILINEAR) on the same inputs. */
static void test_resize_matches_pil(gn_context *ctx)
{
    static const uint8_t row[] = {0, 100, 200, 255}, row5[] = {0, 50, 100, 150, 250};
    static const uint8_t grid[] = {10, 20, 30, 40, 50, 60};
    static const uint8_t shrink2[] = {71, 209}, shrink3[] = {21, 100, 207};
    static const uint8_t grow[] = {10, 11, 16, 20, 24, 29, 30, 13, 14, 19, 23, 27, 32, 33,
                                   25, 26, 31, 35, 39, 44, 45, 37, 38, 43, 47, 51, 56, 57,
                                   40, 41, 46, 50, 54, 59, 60};
    check_resize(ctx, gray(4, 1, row), 2, 1, shrink2);
    check_resize(ctx, gray(5, 1, row5), 3, 1, shrink3);
    check_resize(ctx, gray(3, 2, grid), 7, 5, grow);
}

static gn_image random_rgb(int w, int h, unsigned seed)
{
    gn_image img = {w, h, 3, malloc((size_t)w * (size_t)h * 3)};
    for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i++) {
        seed = seed * 1103515245u + 12345u;
        img.pixels[i] = (uint8_t)(seed >> 16);
    }
    return img;
}

static void test_resize_properties(gn_context *ctx)
{
    static const int sizes[][4] = {{37, 23, 256, 160}, {640, 427, 384, 256}, {1000, 3, 17, 1},
                                   {5, 5, 5, 5}, {2, 300, 256, 38400 / 256}};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int w = sizes[s][0], h = sizes[s][1], ow = sizes[s][2], oh = sizes[s][3];
        gn_image in = random_rgb(w, h, (unsigned)s), full, window, flat, flat_out;
        CHECK(gn_image_resize(ctx, &in, ow, oh, &full) == GN_OK);
        int left = ow / 3, top = oh / 4, cw = ow - left - ow / 5, ch = oh - top;
        CHECK(gn_image_resize_window(ctx, &in, ow, oh, left, top, cw, ch, &window) == GN_OK);
        for (int y = 0; y < ch; y++)
            CHECK_MSG(memcmp(window.pixels + (size_t)y * cw * 3,
                             full.pixels + ((size_t)(y + top) * ow + left) * 3,
                             (size_t)cw * 3) == 0,
                      "window row %d of case %zu", y, s);
        if (w == ow && h == oh)
            CHECK(memcmp(full.pixels, in.pixels, (size_t)w * h * 3) == 0);
        memset(in.pixels, 77, (size_t)w * h * 3);
        flat = in;
        CHECK(gn_image_resize(ctx, &flat, ow, oh, &flat_out) == GN_OK);
        int constant = 1;
        for (size_t i = 0; i < (size_t)ow * oh * 3; i++)
            constant &= flat_out.pixels[i] == 77;
        CHECK_MSG(constant, "a constant image changed in case %zu", s);
        gn_image_free(ctx, &full);
        gn_image_free(ctx, &window);
        gn_image_free(ctx, &flat_out);
        free(in.pixels);
    }
    gn_image in = random_rgb(4, 4, 1), out;
    CHECK(gn_image_resize_window(ctx, &in, 8, 8, 4, 4, 5, 4, &out) == GN_ERR_ARGUMENT);
    CHECK(gn_image_resize(ctx, &in, 0, 8, &out) == GN_ERR_ARGUMENT);
    free(in.pixels);
}

/* ---- decoding ---- */

static gn_status decode(gn_context *ctx, const void *data, size_t size, int channels,
                        gn_image *out)
{
    unsigned char *copy = malloc(size ? size : 1); /* exact size, so ASan sees any overread */
    memcpy(copy, data, size);
    gn_status st = gn_image_decode(ctx, copy, size, "test.img", channels, out);
    free(copy);
    return st;
}

static void test_channels(gn_context *ctx)
{
    static const char ppm[] = "P6\n# a comment\n3 1\n255\n\xff\x00\x00\x00\xff\x00\x00\x00\xff";
    static const char pgm[] = "P5 2 1 255\n\x00\xff";
    gn_image img;
    CHECK(decode(ctx, ppm, sizeof(ppm) - 1, 1, &img) == GN_OK);
    CHECK(img.channels == 1 && img.pixels[0] == 76 && img.pixels[1] == 150 && img.pixels[2] == 29);
    gn_image_free(ctx, &img);
    CHECK(decode(ctx, pgm, sizeof(pgm) - 1, 3, &img) == GN_OK);
    CHECK(img.width == 2 && img.channels == 3 && img.pixels[0] == 0 && img.pixels[5] == 255 &&
          img.pixels[3] == 255);
    gn_image_free(ctx, &img);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A PNG whose IHDR (with a correct CRC) claims w x h RGB pixels, then a tiny IDAT. */
static size_t claimed_png(unsigned char *out, uint32_t w, uint32_t h)
{
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, signature, 8);
    unsigned char *ihdr = out + 8;
    put_be32(ihdr, 13);
    memcpy(ihdr + 4, "IHDR", 4);
    put_be32(ihdr + 8, w);
    put_be32(ihdr + 12, h);
    memcpy(ihdr + 16, "\x08\x02\x00\x00\x00", 5);
    put_be32(ihdr + 21, (uint32_t)crc32(0L, ihdr + 4, 17));
    unsigned char *idat = ihdr + 25;
    put_be32(idat, 0);
    memcpy(idat + 4, "IDAT", 4);
    put_be32(idat + 8, (uint32_t)crc32(0L, idat + 4, 4));
    return 8 + 25 + 12;
}

static void expect(gn_context *ctx, const void *data, size_t size, gn_status want,
                   const char *needle)
{
    gn_image img;
    gn_status st = decode(ctx, data, size, 3, &img);
    const char *message = gn_context_error(ctx);
    CHECK_MSG(st == want && img.pixels == NULL, "got %s, want %s (%s)", gn_status_name(st),
              gn_status_name(want), message);
    CHECK_MSG(strstr(message, "test.img") && strstr(message, needle), "\"%s\" lacks \"%s\"",
              message, needle);
    gn_image_free(ctx, &img);
}

#define EXPECT(ctx, s, want, needle) expect(ctx, s, sizeof(s) - 1, want, needle)

static void test_hostile(gn_context *ctx)
{
    unsigned char png[64];
    size_t n = claimed_png(png, 100000, 100000);
    expect(ctx, png, n, GN_ERR_UNSUPPORTED, "larger than allowed");
    n = claimed_png(png, 70000, 2);
    expect(ctx, png, n, GN_ERR_UNSUPPORTED, "larger than allowed");
    n = claimed_png(png, 4, 4); /* plausible size, no image data */
    expect(ctx, png, n, GN_ERR_FORMAT, "");
    expect(ctx, png, 20, GN_ERR_FORMAT, "truncated");

    EXPECT(ctx, "P6\n99999999999 1\n255\n\0\0\0", GN_ERR_FORMAT, "header");
    EXPECT(ctx, "P6\n100000 100000\n255\n\0\0\0", GN_ERR_UNSUPPORTED, "larger than allowed");
    EXPECT(ctx, "P6\n2 2\n65535\n\0\0\0", GN_ERR_UNSUPPORTED, "maxval 65535");
    EXPECT(ctx, "P6\n2 2\n255\n\0\0\0", GN_ERR_FORMAT, "truncated");
    EXPECT(ctx, "P5\n0 5\n255\n", GN_ERR_FORMAT, "empty");
    EXPECT(ctx, "P6\n2 2", GN_ERR_FORMAT, "header");

    unsigned char bmp[54] = {'B', 'M'};
    bmp[10] = 54;
    bmp[14] = 40;
    bmp[18] = 0x00, bmp[19] = 0x00, bmp[20] = 0x00, bmp[21] = 0x40; /* width 2^30 */
    bmp[22] = 1;
    bmp[28] = 24;
    expect(ctx, bmp, sizeof(bmp), GN_ERR_UNSUPPORTED, "larger than allowed");
    bmp[21] = 0, bmp[19] = 1; /* 256 x 1 at 24 bits: 768 bytes that are not there */
    expect(ctx, bmp, sizeof(bmp), GN_ERR_FORMAT, "truncated");
    bmp[30] = 1; /* RLE8 */
    expect(ctx, bmp, sizeof(bmp), GN_ERR_UNSUPPORTED, "compressed");

    EXPECT(ctx, "\xff\xd8\xff", GN_ERR_FORMAT, "");
    EXPECT(ctx, "GIF89a......", GN_ERR_UNSUPPORTED, "not a JPEG, PNG");
    expect(ctx, "", 0, GN_ERR_UNSUPPORTED, "not a JPEG, PNG");
}

/* The public call on a file: a constant image stays constant through resize and crop, so every
 * output is (v / 255 - mean) / std in float32, as torchvision computes it. */
static void test_preprocess(gn_context *ctx)
{
    static const char header[] = "P6\n6 4\n255\n";
    static const unsigned char rgb[3] = {200, 100, 7};
    unsigned char file[sizeof(header) - 1 + 6 * 4 * 3];
    memcpy(file, header, sizeof(header) - 1);
    for (size_t k = 0; k < 6 * 4 * 3; k++)
        file[sizeof(header) - 1 + k] = rgb[k % 3];
    const char *path = gn_test_path("constant.ppm");
    CHECK(gn_test_write_file(path, file, sizeof(file)) == 0);
    gn_preprocess p = {.resize = 9, .crop_h = 8, .crop_w = 5, .channels = 3,
                       .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}};
    float out[3 * 8 * 5];
    gn_status st = gn_image_preprocess(ctx, path, &p, out);
    CHECK_MSG(st == GN_OK, "%s", gn_context_error(ctx));
    for (int c = 0; c < 3 && st == GN_OK; c++) {
        float want = ((float)rgb[c] / 255.0f - p.mean[c]) / p.std[c];
        for (int i = 0; i < 8 * 5; i++)
            CHECK_MSG(out[c * 40 + i] == want, "channel %d: %g != %g", c, (double)out[c * 40 + i],
                      (double)want);
    }
    p.resize = 7; /* the crop no longer fits */
    CHECK(gn_image_preprocess(ctx, path, &p, out) == GN_ERR_ARGUMENT);
    p.resize = 9;
    p.std[1] = 0.0f;
    CHECK(gn_image_preprocess(ctx, path, &p, out) == GN_ERR_ARGUMENT);
}

int main(void)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 1;
    test_resize_matches_pil(ctx);
    test_resize_properties(ctx);
    test_channels(ctx);
    test_hostile(ctx);
    test_preprocess(ctx);
    gn_context_destroy(ctx);
    return gn_test_finish("test_image");
}
