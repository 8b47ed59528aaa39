/* IDX files (the MNIST format): big-endian magic 0x000008TT with TT the element type (0x08 =
 * unsigned byte) and the last byte the number of dimensions, then one big-endian u32 per
 * dimension, then the data. Gzipped or not (zlib reads both). */
#include "data/dataset.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAX_BYTES ((size_t)1 << 32)

gn_status gn_read_file_gz(gn_context *ctx, const char *path, size_t max, uint8_t **data,
                          size_t *size)
{
    *data = NULL;
    *size = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return gn_fail(ctx, GN_ERR_IO, "%s: cannot open", path);
    size_t cap = 1 << 20, used = 0;
    uint8_t *buf = gn_alloc(ctx, cap);
    gn_status st = buf ? GN_OK : gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory", path);
    while (st == GN_OK) {
        if (used == cap) {
            if (cap >= max) {
                st = gn_fail(ctx, GN_ERR_FORMAT, "%s: larger than %zu bytes", path, max);
                break;
            }
            uint8_t *bigger = gn_alloc(ctx, cap * 2);
            if (!bigger) {
                st = gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            memcpy(bigger, buf, used);
            gn_free(ctx, buf);
            buf = bigger;
            cap *= 2;
        }
        size_t want = cap - used > (1u << 30) ? (1u << 30) : cap - used;
        int got = gzread(f, buf + used, (unsigned)want);
        if (got < 0) {
            int err;
            st = gn_fail(ctx, GN_ERR_FORMAT, "%s: %s", path, gzerror(f, &err));
        } else if (got == 0) {
            break;
        }
        used += got > 0 ? (size_t)got : 0;
    }
    gzclose(f);
    if (st != GN_OK) {
        gn_free(ctx, buf);
        return st;
    }
    *data = buf;
    *size = used;
    return GN_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens dir/name or dir/name.gz; checks the header for ndim dimensions of unsigned bytes. */
static gn_status read_idx(gn_context *ctx, const char *dir, const char *name, int ndim,
                          uint8_t **file, const uint8_t **data, uint32_t *dims)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *probe = fopen(path, "rb");
    if (probe)
        fclose(probe);
    else
        snprintf(path, sizeof(path), "%s/%s.gz", dir, name);
    size_t size;
    gn_status st = gn_read_file_gz(ctx, path, IDX_MAX_BYTES, file, &size);
    if (st != GN_OK)
        return st;
    size_t header = 4 + 4 * (size_t)ndim;
    if (size < header || be32(*file) != (0x0800u | (uint32_t)ndim)) {
        gn_free(ctx, *file);
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: not an IDX file of %d-D unsigned bytes", path,
                       ndim);
    }
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(*file + 4 + 4 * i);
        if (dims[i] == 0 || !gn_mul_size(count, dims[i], &count)) {
            gn_free(ctx, *file);
            return gn_fail(ctx, GN_ERR_FORMAT, "%s: invalid dimension %u", path, dims[i]);
        }
    }
    if (size - header != count) {
        gn_free(ctx, *file);
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: %zu data bytes, the header says %zu", path,
                       size - header, count);
    }
    *data = *file + header;
    return GN_OK;
}

gn_status gn_dataset_read_idx(gn_context *ctx, const char *dir, gn_split split, gn_dataset **out)
{
    const char *prefix = split == GN_SPLIT_TRAIN ? "train" : "t10k";
    char images_name[64], labels_name[64];
    snprintf(images_name, sizeof(images_name), "%s-images-idx3-ubyte", prefix);
    snprintf(labels_name, sizeof(labels_name), "%s-labels-idx1-ubyte", prefix);
    uint8_t *images_file = NULL, *labels_file = NULL;
    const uint8_t *images, *labels;
    uint32_t image_dims[3], label_dims[1];
    gn_status st = read_idx(ctx, dir, images_name, 3, &images_file, &images, image_dims);
    if (st == GN_OK)
        st = read_idx(ctx, dir, labels_name, 1, &labels_file, &labels, label_dims);
    if (st == GN_OK && label_dims[0] != image_dims[0])
        st = gn_fail(ctx, GN_ERR_FORMAT, "%s/%s: %u labels for %u images", dir, labels_name,
                     label_dims[0], image_dims[0]);
    if (st == GN_OK)
        st = gn_dataset_alloc(ctx, image_dims[0], 1, (int)image_dims[1], (int)image_dims[2], out);
    if (st == GN_OK) {
        gn_dataset *d = *out;
        memcpy(d->pixels, images, (size_t)image_dims[0] * image_dims[1] * image_dims[2]);
        for (uint32_t i = 0; i < label_dims[0]; i++)
            d->labels[i] = labels[i];
    }
    gn_free(ctx, images_file);
    gn_free(ctx, labels_file);
    return st;
}
