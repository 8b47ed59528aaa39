/* The evaluation preprocessing of torchvision / timm as a library call:
 *   Resize(resize)      shorter side to resize, longer side int(resize * long / short)
 *   CenterCrop(crop)    top = round((h - crop_h) / 2) with Python's round (halves to even)
 *   ToTensor            x / 255 in float32
 *   Normalize(mean,std) (x - mean) / std in float32
 * Every step is done in the same arithmetic as PyTorch, so the result is bit-identical when the
 * decoded pixels are (see image.h). Only the crop window of the resize is computed. */
#include "image/image.h"

#include <math.h>

/* GhostNet's evaluation crop percentage in timm: resize = floor(crop / 0.875). */
#define CROP_FRACTION 0.875

void gn_preprocess_for_model(const gn_model *model, gn_preprocess *p)
{
    const gn_model_config *c = gn_model_get_config(model);
    int crop = c->input_h < c->input_w ? c->input_h : c->input_w;
    p->resize = (int)floor(crop / CROP_FRACTION);
    p->crop_h = c->input_h;
    p->crop_w = c->input_w;
    p->channels = c->in_channels == 1 ? 1 : 3;
    for (int i = 0; i < GN_MAX_NORM_CHANNELS; i++) {
        p->mean[i] = c->mean[i];
        p->std[i] = c->std[i];
    }
}

static gn_status check_options(gn_context *ctx, const gn_preprocess *p)
{
    if (p->channels != 1 && p->channels != 3)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "preprocess: channels must be 1 or 3, not %d",
                       p->channels);
    if (p->crop_h < 1 || p->crop_w < 1 || p->resize > GN_IMAGE_MAX_SIDE ||
        p->resize < (p->crop_h > p->crop_w ? p->crop_h : p->crop_w))
        return gn_fail(ctx, GN_ERR_ARGUMENT,
                       "preprocess: resize %d and crop %dx%d (the crop must fit in the resized "
                       "image)",
                       p->resize, p->crop_h, p->crop_w);
    for (int c = 0; c < p->channels; c++)
        if (!(p->std[c] > 0.0f) || !isfinite(p->mean[c]))
            return gn_fail(ctx, GN_ERR_ARGUMENT, "preprocess: channel %d has std %g, mean %g", c,
                           (double)p->std[c], (double)p->mean[c]);
    return GN_OK;
}

/* Python's round(x / 2) for an integer x >= 0: halves go to the even neighbour. */
static int half_to_even(int x)
{
    int half = x / 2;
    return x % 2 && half % 2 ? half + 1 : half;
}

/* torchvision's size for Resize(short): the shorter side becomes short, the longer one
 * int(short * long / short_side), computed in double as Python does. */
static void resized_size(int width, int height, int shorter, int *new_w, int *new_h)
{
    if (width <= height) {
        *new_w = shorter;
        *new_h = (int)((double)shorter * height / width);
    } else {
        *new_h = shorter;
        *new_w = (int)((double)shorter * width / height);
    }
}

static void to_tensor(const gn_image *img, const gn_preprocess *p, float *out)
{
    size_t plane = (size_t)img->width * (size_t)img->height;
    for (int c = 0; c < img->channels; c++)
        for (size_t i = 0; i < plane; i++) {
            float x = (float)img->pixels[i * (size_t)img->channels + (size_t)c] / 255.0f;
            out[(size_t)c * plane + i] = (x - p->mean[c]) / p->std[c];
        }
}

gn_status gn_image_preprocess(gn_context *ctx, const char *path, const gn_preprocess *p,
                              float *out)
{
    if (!ctx || !path || !p || !out)
        return ctx ? gn_fail(ctx, GN_ERR_ARGUMENT, "gn_image_preprocess: NULL argument")
                   : GN_ERR_ARGUMENT;
    gn_status st = check_options(ctx, p);
    if (st != GN_OK)
        return st;
    gn_image img, crop;
    st = gn_image_load(ctx, path, p->channels, &img);
    if (st != GN_OK)
        return st;
    int width, height;
    resized_size(img.width, img.height, p->resize, &width, &height);
    if (width > GN_IMAGE_MAX_SIDE || height > GN_IMAGE_MAX_SIDE) {
        st = gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: %dx%d resized to %dx%d is too large", path,
                     img.width, img.height, width, height);
        gn_image_free(ctx, &img);
        return st;
    }
    st = gn_image_resize_window(ctx, &img, width, height, half_to_even(width - p->crop_w),
                                half_to_even(height - p->crop_h), p->crop_w, p->crop_h, &crop);
    gn_image_free(ctx, &img);
    if (st != GN_OK)
        return gn_fail_prefix(ctx, st, "%s", path);
    to_tensor(&crop, p, out);
    gn_image_free(ctx, &crop);
    return GN_OK;
}
