/* A folder of images with one sub-folder per class (torchvision's ImageFolder layout):
 *   DIR/train/<class>/<image> and DIR/test/<class>/<image> (or DIR/val/...), or, without train/
 *   and test/ folders, DIR/<class>/... as the training set (hold out validation images with
 *   train --val).
 * Classes are the sub-folder names in sorted order. Images (JPEG, PNG, BMP, PPM/PGM) are decoded
 * to RGB, resized so the shorter side fits and centre-cropped to the size of the first image of
 * the first class (PIL's bilinear resize), and kept in memory. */
#include "data/dataset.h"
#include "image/image.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define FOLDER_MAX_FILES 10000000

typedef struct name_list {
    char **items;
    int count, cap;
} name_list;

static void names_free(name_list *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *name)
{
    static const char *const endings[] = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm"};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(endings) / sizeof(endings[0]); i++)
        if (strcasecmp(dot, endings[i]) == 0)
            return 1;
    return 0;
}

/* Sorted entries of dir that are directories (want_dirs) or image files. */
static gn_status list_dir(gn_context *ctx, const char *dir, int want_dirs, name_list *out)
{
    memset(out, 0, sizeof(*out));
    DIR *d = opendir(dir);
    if (!d)
        return gn_fail(ctx, GN_ERR_IO, "%s: cannot open the folder", dir);
    gn_status st = GN_OK;
    for (struct dirent *e; st == GN_OK && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0)
            continue;
        int wanted = want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode) && is_image_name(e->d_name);
        if (!wanted)
            continue;
        if (out->count == out->cap) {
            int cap = out->cap ? out->cap * 2 : 64;
            char **bigger = cap <= FOLDER_MAX_FILES ? realloc(out->items, (size_t)cap * sizeof(char *)) : NULL;
            if (!bigger) {
                st = gn_fail(ctx, GN_ERR_NOMEM, "%s: too many entries", dir);
                break;
            }
            out->items = bigger;
            out->cap = cap;
        }
        out->items[out->count] = strdup(e->d_name);
        if (!out->items[out->count])
            st = gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory listing files", dir);
        else
            out->count++;
    }
    closedir(d);
    if (st == GN_OK && out->count)
        qsort(out->items, (size_t)out->count, sizeof(char *), compare_names);
    if (st != GN_OK)
        names_free(out);
    return st;
}

static int exists_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The folder holding the split's class folders, or NULL if the layout has no such split. */
static int split_dir(const char *dir, gn_split split, char *out, size_t size)
{
    char train[4096];
    snprintf(train, sizeof(train), "%s/train", dir);
    if (!exists_dir(train)) {
        if (split != GN_SPLIT_TRAIN)
            return -1;
        snprintf(out, size, "%s", dir);
        return 0;
    }
    if (split == GN_SPLIT_TRAIN) {
        snprintf(out, size, "%s", train);
        return 0;
    }
    static const char *const names[] = {"test", "val"};
    for (int i = 0; i < 2; i++) {
        snprintf(out, size, "%s/%s", dir, names[i]);
        if (exists_dir(out))
            return 0;
    }
    return -1;
}

/* Decodes path to RGB and fits it to w x h: shorter side resized, centre crop. */
static gn_status load_fitted(gn_context *ctx, const char *path, int w, int h, uint8_t *planes)
{
    gn_image img = {0}, fitted = {0};
    gn_status st = gn_image_load(ctx, path, 3, &img);
    if (st == GN_OK) {
        double scale = (double)w / img.width > (double)h / img.height ? (double)w / img.width
                                                                       : (double)h / img.height;
        int rw = (int)(img.width * scale + 0.5), rh = (int)(img.height * scale + 0.5);
        rw = rw < w ? w : rw;
        rh = rh < h ? h : rh;
        st = gn_image_resize_window(ctx, &img, rw, rh, (rw - w) / 2, (rh - h) / 2, w, h, &fitted);
    }
    if (st == GN_OK) /* interleaved RGB -> planes */
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < w * h; i++)
                planes[(size_t)c * w * h + i] = fitted.pixels[(size_t)i * 3 + c];
    gn_image_free(ctx, &img);
    gn_image_free(ctx, &fitted);
    return st;
}

gn_status gn_dataset_read_folder(gn_context *ctx, const char *dir, gn_split split,
                                 gn_dataset **out)
{
    *out = NULL;
    char root[4096];
    if (split_dir(dir, split, root, sizeof(root)) != 0)
        return gn_fail(ctx, GN_ERR_MISSING,
                       "%s: no %s folder (the layout is DIR/train/<class>/ and DIR/test/<class>/, "
                       "or DIR/<class>/ with train --val)",
                       dir, split == GN_SPLIT_TRAIN ? "train" : "test or val");
    name_list classes, *files = NULL;
    gn_status st = list_dir(ctx, root, 1, &classes);
    if (st != GN_OK)
        return st;
    if (classes.count == 0 || classes.count > GN_DATASET_MAX_CLASSES)
        st = gn_fail(ctx, GN_ERR_FORMAT, "%s: %d class folders (need 1 to %d)", root,
                     classes.count, GN_DATASET_MAX_CLASSES);
    files = st == GN_OK ? calloc((size_t)classes.count, sizeof(*files)) : NULL;
    if (st == GN_OK && !files)
        st = gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory", root);
    int64_t total = 0;
    for (int c = 0; st == GN_OK && c < classes.count; c++) {
        char sub[8192];
        snprintf(sub, sizeof(sub), "%s/%s", root, classes.items[c]);
        st = list_dir(ctx, sub, 0, &files[c]);
        total += st == GN_OK ? files[c].count : 0;
    }
    if (st == GN_OK && total == 0)
        st = gn_fail(ctx, GN_ERR_FORMAT, "%s: no images (.jpg .png .bmp .ppm .pgm) in the class "
                     "folders", root);
    /* the size of the first image decides the size of all */
    int w = 0, h = 0;
    for (int c = 0; st == GN_OK && !w && c < classes.count; c++) {
        if (!files[c].count)
            continue;
        char path[8192];
        gn_image first = {0};
        snprintf(path, sizeof(path), "%s/%s/%s", root, classes.items[c], files[c].items[0]);
        st = gn_image_load(ctx, path, 3, &first);
        w = first.width;
        h = first.height;
        gn_image_free(ctx, &first);
    }
    if (st == GN_OK)
        st = gn_dataset_alloc(ctx, total, 3, h, w, out);
    int64_t at = 0;
    for (int c = 0; st == GN_OK && c < classes.count; c++)
        for (int i = 0; st == GN_OK && i < files[c].count; i++, at++) {
            char path[8192];
            snprintf(path, sizeof(path), "%s/%s/%s", root, classes.items[c], files[c].items[i]);
            st = load_fitted(ctx, path, w, h, (*out)->pixels + (size_t)at * 3 * w * h);
            (*out)->labels[at] = c;
        }
    if (st == GN_OK) {
        (*out)->classes = classes.count;
        st = gn_dataset_set_class_names(*out, (const char *const *)classes.items, classes.count);
    }
    for (int c = 0; files && c < classes.count; c++)
        names_free(&files[c]);
    free(files);
    names_free(&classes);
    if (st != GN_OK) {
        gn_dataset_free(*out);
        *out = NULL;
    }
    return st;
}
