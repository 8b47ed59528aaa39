/* Batches: copy images out of the data set as floats, with the training augmentations of the
 * CIFAR recipe (He et al. 2016): centre on a canvas (28 -> 32), random crop with zero padding,
 * random horizontal flip; then normalise. */
#include "data/dataset.h"

#include <string.h>

typedef struct batch_job {
    const gn_dataset *d;
    const int64_t *indices;
    const gn_augment *aug;
    uint64_t seed;
    float *images;
    int32_t *labels;
    int out_h, out_w;
} batch_job;

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t z = a ^ (b * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void make_image(const batch_job *job, int64_t i)
{
    const gn_dataset *d = job->d;
    const gn_augment *aug = job->aug;
    int64_t index = job->indices[i];
    int shift_y = 0, shift_x = 0, flip = 0;
    if (aug && (aug->crop_padding > 0 || aug->hflip)) {
        gn_rng rng;
        gn_rng_seed(&rng, mix(job->seed, (uint64_t)index));
        int span = 2 * aug->crop_padding + 1;
        shift_y = (int)gn_rng_below(&rng, (uint64_t)span) - aug->crop_padding;
        shift_x = (int)gn_rng_below(&rng, (uint64_t)span) - aug->crop_padding;
        flip = aug->hflip && (gn_rng_next(&rng) >> 63);
    }
    /* output (y, x) shows canvas (y + shift_y, x' + shift_x), x' the flipped column; the image
     * sits on the canvas at (top, left) */
    int top = (job->out_h - d->h) / 2, left = (job->out_w - d->w) / 2;
    size_t plane = (size_t)d->h * d->w, out_plane = (size_t)job->out_h * job->out_w;
    for (int c = 0; c < d->channels; c++) {
        const uint8_t *src = d->pixels + ((size_t)index * d->channels + c) * plane;
        float *dst = job->images + ((size_t)i * d->channels + c) * out_plane;
        float scale = 1.0f / 255.0f, mean = 0.0f, inv_std = 1.0f;
        if (aug && c < GN_MAX_NORM_CHANNELS) {
            mean = aug->mean[c];
            inv_std = 1.0f / aug->std[c];
        }
        for (int y = 0; y < job->out_h; y++) {
            int sy = y + shift_y - top;
            for (int x = 0; x < job->out_w; x++) {
                int cx = flip ? job->out_w - 1 - x : x;
                int sx = cx + shift_x - left;
                float v = 0.0f;
                if (sy >= 0 && sy < d->h && sx >= 0 && sx < d->w)
                    v = src[(size_t)sy * d->w + sx] * scale;
                dst[(size_t)y * job->out_w + x] = (v - mean) * inv_std;
            }
        }
    }
    job->labels[i] = d->labels[index];
}

static void batch_range(void *arg, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        make_image(arg, i);
}

gn_status gn_dataset_batch(const gn_dataset *d, const int64_t *indices, int n,
                           const gn_augment *aug, uint64_t seed, float *images, int32_t *labels)
{
    if (!d)
        return GN_ERR_ARGUMENT;
    if (!indices || !images || !labels || n < 1)
        return gn_fail(d->ctx, GN_ERR_ARGUMENT, "gn_dataset_batch: invalid arguments");
    batch_job job = {d, indices, aug, seed, images, labels, d->h, d->w};
    if (aug && aug->out_h)
        job.out_h = aug->out_h;
    if (aug && aug->out_w)
        job.out_w = aug->out_w;
    if (job.out_h < d->h || job.out_w < d->w || (aug && aug->crop_padding < 0))
        return gn_fail(d->ctx, GN_ERR_ARGUMENT,
                       "augmentation canvas %dx%d is smaller than the %dx%d images",
                       job.out_h, job.out_w, d->h, d->w);
    for (int i = 0; i < n; i++)
        if (indices[i] < 0 || indices[i] >= d->count)
            return gn_fail(d->ctx, GN_ERR_ARGUMENT, "image index %lld is outside [0, %lld)",
                           (long long)indices[i], (long long)d->count);
    for (int c = 0; aug && c < d->channels && c < GN_MAX_NORM_CHANNELS; c++)
        if (!(aug->std[c] > 0.0f))
            return gn_fail(d->ctx, GN_ERR_ARGUMENT, "std[%d] must be > 0", c);
    gn_parallel_for(d->ctx, n, batch_range, &job);
    return GN_OK;
}
