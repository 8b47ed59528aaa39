/* Model files: safetensors whose tensors are the PyTorch state_dict of the model and whose
 * __metadata__ carries the architecture, so a file is all a user needs.
 *
 * Metadata keys (all values are strings):
 *   format       "ghostnet-model-1"
 *   arch         "ghostnet" | "resnet" | "vgg"
 *   width        GhostNet width multiplier ("1.0")
 *   depth        ResNet / VGG depth
 *   num_classes, in_channels
 *   input_size   "HxW" the model was made for
 *   mean, std    comma-separated, one value per input channel
 *   dropout      dropout before the classifier
 *   small_input  "1" or "2" for the 28-32 px GhostNet variants
 *   ghost        "s,d" when the convs were replaced by Ghost modules
 */
#include "io/model_file.h"
#include "models/models.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GN_MODEL_FORMAT "ghostnet-model-1"

/* ----------------------------------------------------------------------------------------------
 * Metadata parsing: strict, every number checked.
 * -------------------------------------------------------------------------------------------- */

static gn_status meta_int(gn_context *ctx, const gn_st_file *f, const char *key, int required,
                          int lo, int hi, int *out)
{
    const char *text = gn_st_meta(f, key);
    if (!text) {
        if (!required)
            return GN_OK;
        return gn_fail(ctx, GN_ERR_MISSING, "%s: metadata has no '%s'", f->path, key);
    }
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < lo || value > hi)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: metadata '%s' = '%s' is not an integer in [%d, %d]",
                       f->path, key, text, lo, hi);
    *out = (int)value;
    return GN_OK;
}

static gn_status meta_double(gn_context *ctx, const gn_st_file *f, const char *key, double lo,
                             double hi, double *out)
{
    const char *text = gn_st_meta(f, key);
    if (!text)
        return GN_OK;
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno || end == text || *end || !(value >= lo && value <= hi))
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: metadata '%s' = '%s' is not a number in [%g, %g]",
                       f->path, key, text, lo, hi);
    *out = value;
    return GN_OK;
}

/* "a,b,c" with exactly count positive-or-any floats. */
static gn_status meta_floats(gn_context *ctx, const gn_st_file *f, const char *key, int count,
                             float *out)
{
    const char *text = gn_st_meta(f, key);
    if (!text)
        return GN_OK;
    const char *p = text;
    for (int i = 0; i < count; i++) {
        char *end;
        errno = 0;
        double value = strtod(p, &end);
        if (errno || end == p || !isfinite(value))
            break;
        out[i] = (float)value;
        p = end;
        if (i + 1 == count)
            return *p ? gn_fail(ctx, GN_ERR_FORMAT,
                                "%s: metadata '%s' = '%s' has more than %d values", f->path, key,
                                text, count)
                      : GN_OK;
        if (*p != ',')
            break;
        p++;
    }
    return gn_fail(ctx, GN_ERR_FORMAT, "%s: metadata '%s' = '%s' is not %d comma-separated numbers",
                   f->path, key, text, count);
}

static gn_status config_from_metadata(gn_context *ctx, const gn_st_file *f, gn_model_config *c)
{
    const char *arch = gn_st_meta(f, "arch");
    if (!arch)
        return gn_fail(ctx, GN_ERR_MISSING,
                       "%s: metadata has no 'arch' (not a ghostnet model file; give the "
                       "architecture explicitly, e.g. --arch ghostnet --width 1.0)",
                       f->path);
    gn_arch a;
    if (gn_arch_parse(arch, &a) != 0 || a == GN_ARCH_CUSTOM)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: metadata arch '%s' is not a known architecture",
                       f->path, arch);
    const char *format = gn_st_meta(f, "format");
    if (format && strcmp(format, GN_MODEL_FORMAT) != 0)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: metadata format '%s' is not %s", f->path,
                       format, GN_MODEL_FORMAT);
    gn_model_config_default(c, a);
    gn_status st = meta_double(ctx, f, "width", 0.05, 16.0, &c->width);
    if (st == GN_OK)
        st = meta_int(ctx, f, "num_classes", 1, 1, 1 << 24, &c->num_classes);
    if (st == GN_OK)
        st = meta_int(ctx, f, "in_channels", 1, 1, 4096, &c->in_channels);
    if (st == GN_OK)
        st = meta_int(ctx, f, "depth", 0, 1, 10000, &c->depth);
    if (st == GN_OK)
        st = meta_int(ctx, f, "small_input", 0, 0, 2, &c->small_input);
    double dropout = c->dropout;
    if (st == GN_OK)
        st = meta_double(ctx, f, "dropout", 0.0, 0.999, &dropout);
    c->dropout = (float)dropout;
    if (st == GN_OK && gn_st_meta(f, "input_size")) {
        const char *size = gn_st_meta(f, "input_size");
        int h, w, used = 0;
        if (sscanf(size, "%dx%d%n", &h, &w, &used) != 2 || size[used] || h < 1 || w < 1 ||
            h > 65536 || w > 65536)
            st = gn_fail(ctx, GN_ERR_FORMAT, "%s: metadata input_size '%s' is not HxW", f->path,
                         size);
        c->input_h = h;
        c->input_w = w;
    }
    if (st == GN_OK && gn_st_meta(f, "ghost")) {
        const char *ghost = gn_st_meta(f, "ghost");
        int s, d, used = 0;
        if (sscanf(ghost, "%d,%d%n", &s, &d, &used) != 2 || ghost[used] || s < 2 || d < 1 ||
            d % 2 == 0)
            st = gn_fail(ctx, GN_ERR_FORMAT, "%s: metadata ghost '%s' is not 's,d' (s >= 2, odd d)",
                         f->path, ghost);
        c->ghost_ratio = s;
        c->ghost_kernel = d;
    }
    int norm = c->in_channels < GN_MAX_NORM_CHANNELS ? c->in_channels : GN_MAX_NORM_CHANNELS;
    if (st == GN_OK)
        st = meta_floats(ctx, f, "mean", norm, c->mean);
    if (st == GN_OK)
        st = meta_floats(ctx, f, "std", norm, c->std);
    return st;
}

/* ----------------------------------------------------------------------------------------------
 * Binding tensors to parameters
 * -------------------------------------------------------------------------------------------- */

static void format_shape(char *out, size_t size, int ndim, const int64_t *shape)
{
    size_t used = 0;
    out[0] = '\0';
    if (ndim == 0)
        snprintf(out, size, "scalar");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, i ? "x%lld" : "%lld",
                                 (long long)shape[i]);
}

static const char *bn_suffix = ".num_batches_tracked";

/* The BN node a "<prefix>.num_batches_tracked" key belongs to, or NULL. */
static gn_node *bn_for_counter(gn_model *m, const char *name)
{
    size_t len = strlen(name), suffix = strlen(bn_suffix);
    if (len <= suffix || strcmp(name + len - suffix, bn_suffix) != 0)
        return NULL;
    for (int i = 0; i < m->num_nodes; i++) {
        gn_node *node = &m->nodes[i];
        if (node->op == GN_OP_BATCHNORM && strlen(node->name) == len - suffix &&
            strncmp(node->name, name, len - suffix) == 0)
            return node;
    }
    return NULL;
}

static int param_index(const gn_model *m, const char *name)
{
    for (int i = 0; i < m->num_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return i;
    return -1;
}

/* Every expected tensor present with the right shape and a float dtype; nothing unexpected. */
static gn_status check_tensors(gn_model *m, const gn_st_file *f)
{
    gn_context *ctx = m->ctx;
    for (int i = 0; i < m->num_params; i++) {
        const gn_param *p = &m->params[i];
        int64_t want[4];
        for (int k = 0; k < p->ndim; k++)
            want[k] = p->shape[k];
        char want_text[64], got_text[64];
        format_shape(want_text, sizeof(want_text), p->ndim, want);
        const gn_st_tensor *t = gn_st_find(f, p->name);
        if (!t)
            return gn_fail(ctx, GN_ERR_MISSING, "%s: missing tensor '%s' (expected %s)", f->path,
                           p->name, want_text);
        if (t->dtype != GN_DTYPE_F32 && t->dtype != GN_DTYPE_F16 && t->dtype != GN_DTYPE_BF16)
            return gn_fail(ctx, GN_ERR_DTYPE, "%s: tensor '%s' has dtype %s; expected F32, F16 or BF16",
                           f->path, p->name, gn_dtype_name(t->dtype));
        int same = t->ndim == p->ndim;
        for (int k = 0; same && k < p->ndim; k++)
            same = t->shape[k] == want[k];
        if (!same) {
            format_shape(got_text, sizeof(got_text), t->ndim, t->shape);
            return gn_fail(ctx, GN_ERR_SHAPE, "%s: tensor '%s' has shape %s; expected %s", f->path,
                           p->name, got_text, want_text);
        }
    }
    for (size_t i = 0; i < f->count; i++) {
        const gn_st_tensor *t = &f->tensors[i];
        if (param_index(m, t->name) >= 0 ||
            strncmp(t->name, GN_OPTIMIZER_PREFIX, strlen(GN_OPTIMIZER_PREFIX)) == 0)
            continue;
        if (bn_for_counter(m, t->name)) {
            if (t->numel != 1 || (t->dtype != GN_DTYPE_I64 && t->dtype != GN_DTYPE_I32))
                return gn_fail(ctx, GN_ERR_FORMAT, "%s: tensor '%s' should be one integer",
                               f->path, t->name);
            continue;
        }
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: unexpected tensor '%s' (not part of this %s model; renamed, or a "
                       "different architecture?)",
                       f->path, t->name, gn_arch_name(m->config.arch));
    }
    return GN_OK;
}

static void convert_to_f32(const gn_st_tensor *t, float *out)
{
    const unsigned char *src = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        uint16_t h;
        switch (t->dtype) {
        case GN_DTYPE_F32:
            memcpy(&out[i], src + 4 * i, 4);
            break;
        case GN_DTYPE_F16:
            memcpy(&h, src + 2 * i, 2);
            out[i] = gn_f16_to_f32(h);
            break;
        default: /* BF16, the only other dtype check_tensors lets through */
            memcpy(&h, src + 2 * i, 2);
            out[i] = gn_bf16_to_f32(h);
            break;
        }
    }
}

/* Points (zero_copy) or copies every parameter at the file's data. Call check_tensors first. */
static gn_status bind_tensors(gn_model *m, const gn_st_file *f, int zero_copy)
{
    for (int i = 0; i < m->num_params; i++) {
        gn_param *p = &m->params[i];
        const gn_st_tensor *t = gn_st_find(f, p->name);
        int aligned = ((uintptr_t)t->data % sizeof(float)) == 0;
        if (zero_copy && t->dtype == GN_DTYPE_F32 && aligned && !p->owned) {
            p->data = (float *)t->data; /* inside a MAP_PRIVATE mapping: writes stay private */
            continue;
        }
        if (!p->data) {
            p->data = gn_alloc_named(m->ctx, p->count * sizeof(float), p->name);
            if (!p->data)
                return GN_ERR_NOMEM;
            p->owned = 1;
        }
        convert_to_f32(t, p->data);
    }
    for (size_t i = 0; i < f->count; i++) {
        gn_node *bn = bn_for_counter(m, f->tensors[i].name);
        if (!bn)
            continue;
        int64_t count = 0;
        if (f->tensors[i].dtype == GN_DTYPE_I64) {
            memcpy(&count, f->tensors[i].data, 8);
        } else {
            int32_t small;
            memcpy(&small, f->tensors[i].data, 4);
            count = small;
        }
        bn->attr.bn.num_batches_tracked = count;
    }
    gn_model_drop_cache(m);
    m->has_weights = 1;
    return GN_OK;
}

gn_status gn_model_load(gn_context *ctx, const char *path, gn_model **out)
{
    if (!ctx || !path || !out)
        return ctx ? gn_fail(ctx, GN_ERR_ARGUMENT, "gn_model_load: NULL argument")
                   : GN_ERR_ARGUMENT;
    *out = NULL;
    gn_st_file *f;
    gn_status st = gn_st_open(ctx, path, &f);
    if (st != GN_OK)
        return st;
    gn_model_config config;
    st = config_from_metadata(ctx, f, &config);
    if (st != GN_OK) {
        gn_st_close(ctx, f);
        return st;
    }
    return gn_model_from_tensors(ctx, &config, f, out);
}

gn_status gn_model_from_tensors(gn_context *ctx, const gn_model_config *config, gn_st_file *f,
                                gn_model **out)
{
    gn_model *m = NULL;
    gn_status st = gn_model_build_graph(ctx, config, &m);
    if (st != GN_OK)
        gn_fail_prefix(ctx, st, "%s: the model it describes cannot be built", f->path);
    if (st == GN_OK)
        st = check_tensors(m, f);
    if (st == GN_OK)
        st = bind_tensors(m, f, 1);
    if (st != GN_OK) {
        gn_model_free(m);
        gn_st_close(ctx, f);
        return st;
    }
    m->mapped = f;
    *out = m;
    return GN_OK;
}

gn_status gn_model_load_weights(gn_model *m, const char *path)
{
    if (!m || !path)
        return m ? gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_model_load_weights: NULL path")
                 : GN_ERR_ARGUMENT;
    if (m->output < 0)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_model_load_weights: the graph has no output");
    gn_st_file *f;
    gn_status st = gn_st_open(m->ctx, path, &f);
    if (st != GN_OK)
        return st;
    st = check_tensors(m, f);
    if (st == GN_OK)
        st = gn_graph_alloc_params(m);
    if (st == GN_OK)
        st = bind_tensors(m, f, 0);
    gn_st_close(m->ctx, f);
    return st;
}

/* ----------------------------------------------------------------------------------------------
 * Saving
 * -------------------------------------------------------------------------------------------- */

#define GN_META_MAX 64

typedef struct meta_builder {
    const char *keys[GN_META_MAX];
    const char *values[GN_META_MAX];
    char storage[GN_META_MAX][256];
    size_t count;
} meta_builder;

static void meta_add(meta_builder *b, const char *key, const char *fmt, ...) GN_PRINTF(3, 4);

static void meta_add(meta_builder *b, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->storage[b->count], sizeof(b->storage[0]), fmt, ap);
    va_end(ap);
    b->keys[b->count] = key;
    b->values[b->count] = b->storage[b->count];
    b->count++;
}

static void meta_add_floats(meta_builder *b, const char *key, const float *values, int count)
{
    char text[256];
    size_t used = 0;
    for (int i = 0; i < count && used < sizeof(text); i++) {
        /* The shortest text that reads back as the same float (0.485, not 0.485000014), so a
         * resumed run normalises its inputs exactly as the original did. */
        char number[32];
        for (int digits = 6; digits <= 9; digits++) {
            snprintf(number, sizeof(number), "%.*g", digits, (double)values[i]);
            if (strtof(number, NULL) == values[i])
                break;
        }
        used += (size_t)snprintf(text + used, sizeof(text) - used, i ? ",%s" : "%s", number);
    }
    meta_add(b, key, "%s", text);
}

static void build_metadata(const gn_model *m, meta_builder *b)
{
    const gn_model_config *c = &m->config;
    b->count = 0;
    meta_add(b, "format", "%s", GN_MODEL_FORMAT);
    meta_add(b, "arch", "%s", gn_arch_name(c->arch));
    if (c->arch == GN_ARCH_GHOSTNET)
        meta_add(b, "width", "%g", c->width);
    if (c->arch == GN_ARCH_RESNET || c->arch == GN_ARCH_VGG)
        meta_add(b, "depth", "%d", c->depth);
    meta_add(b, "num_classes", "%d", gn_model_num_classes(m));
    meta_add(b, "in_channels", "%d", c->in_channels);
    meta_add(b, "input_size", "%dx%d", c->input_h, c->input_w);
    int norm = c->in_channels < GN_MAX_NORM_CHANNELS ? c->in_channels : GN_MAX_NORM_CHANNELS;
    meta_add_floats(b, "mean", c->mean, norm);
    meta_add_floats(b, "std", c->std, norm);
    meta_add(b, "dropout", "%g", (double)c->dropout);
    if (c->small_input)
        meta_add(b, "small_input", "%d", c->small_input);
    if (c->ghost_ratio)
        meta_add(b, "ghost", "%d,%d", c->ghost_ratio, c->ghost_kernel);
}

gn_status gn_model_save(gn_model *m, const char *path)
{
    if (!m || !path)
        return m ? gn_fail(m->ctx, GN_ERR_ARGUMENT, "gn_model_save: NULL path") : GN_ERR_ARGUMENT;
    return gn_model_write(m, path, NULL);
}

gn_status gn_model_write(gn_model *m, const char *path, const gn_model_extras *extras)
{
    if (!m->has_weights)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "%s: the model has no weights to save", path);
    gn_context *ctx = m->ctx;
    size_t extra_count = extras ? extras->count : 0;
    size_t extra_meta = extras ? extras->meta_count : 0;
    if (extra_meta > GN_META_MAX / 2)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: too many metadata entries (%zu)", path,
                       extra_meta);
    int num_bn = 0;
    for (int i = 0; i < m->num_nodes; i++)
        num_bn += m->nodes[i].op == GN_OP_BATCHNORM;
    size_t count = (size_t)m->num_params + (size_t)num_bn + extra_count;
    gn_st_entry *entries = gn_alloc_named(ctx, count * sizeof(*entries), "tensor list");
    int64_t *shapes = gn_alloc_named(ctx, (size_t)m->num_params * 4 * sizeof(int64_t), "shapes");
    int64_t *counters = gn_alloc_named(ctx, (size_t)(num_bn ? num_bn : 1) * sizeof(int64_t),
                                       "BN counters");
    char(*counter_names)[GN_PARAM_NAME_MAX] =
        gn_alloc_named(ctx, (size_t)(num_bn ? num_bn : 1) * GN_PARAM_NAME_MAX, "BN names");
    gn_status st = GN_OK;
    if (!entries || !shapes || !counters || !counter_names)
        st = GN_ERR_NOMEM;
    size_t e = 0;
    int bn_index = 0;
    /* state_dict order: a module's parameters, then its buffers, module by module. */
    for (int i = 0; i < m->num_nodes && st == GN_OK; i++) {
        const gn_node *node = &m->nodes[i];
        for (int k = 0; k < node->num_params; k++) {
            const gn_param *p = &m->params[node->params[k]];
            int64_t *shape = shapes + (size_t)node->params[k] * 4;
            for (int d = 0; d < p->ndim; d++)
                shape[d] = p->shape[d];
            entries[e++] = (gn_st_entry){p->name, GN_DTYPE_F32, p->ndim, shape, p->data};
        }
        if (node->op == GN_OP_BATCHNORM) {
            counters[bn_index] = node->attr.bn.num_batches_tracked;
            gn_join_name(counter_names[bn_index], GN_PARAM_NAME_MAX, node->name,
                         "num_batches_tracked");
            entries[e++] = (gn_st_entry){counter_names[bn_index], GN_DTYPE_I64, 0, NULL,
                                         &counters[bn_index]};
            bn_index++;
        }
    }
    for (size_t i = 0; i < extra_count && st == GN_OK; i++)
        entries[e++] = extras->entries[i];
    if (st == GN_OK) {
        meta_builder meta;
        build_metadata(m, &meta);
        for (size_t i = 0; i < extra_meta; i++) {
            meta.keys[meta.count] = extras->meta_keys[i];
            meta.values[meta.count++] = extras->meta_values[i];
        }
        st = gn_st_write(ctx, path, entries, e, meta.keys, meta.values, meta.count);
    }
    gn_free(ctx, entries);
    gn_free(ctx, shapes);
    gn_free(ctx, counters);
    gn_free(ctx, counter_names);
    return st;
}
