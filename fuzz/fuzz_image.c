/* libFuzzer target for the image decoders (JPEG, PNG, BMP, PPM/PGM) and the resize. An accepted
 * image must have a size within the limits and is resized to a small window (every pixel read);
 * a refused one must leave no pixels and a message naming the input. */
#include "fuzz_util.h"
#include "image/image.h"

#include <string.h>

static void check_image(gn_context *ctx, const gn_image *img, int channels)
{
    fuzz_require(img->pixels && img->channels == channels && img->width >= 1 &&
                     img->height >= 1 && img->width <= GN_IMAGE_MAX_SIDE &&
                     img->height <= GN_IMAGE_MAX_SIDE,
                 "decoded image has impossible dimensions");
    gn_image small;
    fuzz_require(gn_image_resize_window(ctx, img, 40, 30, 3, 2, 30, 20, &small) == GN_OK,
                 "resize of a decoded image failed");
    gn_image_free(ctx, &small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 0;
    for (int channels = 1; channels <= 3; channels += 2) {
        gn_image img;
        gn_status status = gn_image_decode(ctx, data, size, "fuzz.img", channels, &img);
        if (status == GN_OK) {
            check_image(ctx, &img, channels);
        } else {
            fuzz_require(img.pixels == NULL, "pixels on failure");
            fuzz_require(strstr(gn_context_error(ctx), "fuzz.img") != NULL,
                         "error message does not name the input");
        }
        gn_image_free(ctx, &img);
    }
    gn_context_destroy(ctx);
    return 0;
}
