/* gn_checkpoint_load: one entry point for every kind of weights file a user may hold — our model
 * files, timm / Hugging Face safetensors and PyTorch checkpoints — so convert and classify
 * accept them all. */
#include "io/model_file.h"
#include "io/pth.h"
#include "io/json.h"
#include "models/models.h"

#include <stdio.h>
#include <string.h>

#define MODULE_PREFIX "module."

typedef enum file_kind { KIND_UNKNOWN, KIND_SAFETENSORS, KIND_PTH } file_kind;

/* Sniffs the first bytes: safetensors starts with a header length and '{'. */
static gn_status sniff(gn_context *ctx, const char *path, file_kind *kind)
{
    unsigned char head[16] = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return gn_fail(ctx, GN_ERR_IO, "%s: cannot open", path);
    size_t got = fread(head, 1, sizeof(head), fp);
    fclose(fp);
    if (got >= 9 && head[8] == '{')
        *kind = KIND_SAFETENSORS;
    else if (gn_pth_is_checkpoint(head, got))
        *kind = KIND_PTH;
    else
        *kind = KIND_UNKNOWN;
    return GN_OK;
}

/* DataParallel saves "module.conv_stem.weight": drop the prefix (repeatedly, as nested wrappers
 * stack it), then make sure no two names became one. */
static gn_status strip_module_prefixes(gn_context *ctx, gn_st_file *f)
{
    size_t prefix = strlen(MODULE_PREFIX);
    const char **names = gn_alloc_named(ctx, (f->count ? f->count : 1) * sizeof(*names),
                                        "tensor names");
    if (!names)
        return GN_ERR_NOMEM;
    for (size_t i = 0; i < f->count; i++) {
        char *name = f->tensors[i].name;
        while (strncmp(name, MODULE_PREFIX, prefix) == 0 && name[prefix])
            memmove(name, name + prefix, strlen(name + prefix) + 1);
        names[i] = name;
    }
    const char *duplicate = NULL;
    gn_status st = gn_json_find_duplicate(ctx, names, f->count, &duplicate);
    gn_free(ctx, names);
    if (st == GN_OK && duplicate)
        st = gn_fail(ctx, GN_ERR_FORMAT, "%s: tensor '%s' appears both with and without '%s'",
                     f->path, duplicate, MODULE_PREFIX);
    return st;
}

/* The tensor the file holds for a node's first parameter (its weight), or NULL. */
static const gn_st_tensor *weight_of(const gn_model *m, const gn_node *node, const gn_st_file *f)
{
    return node->num_params ? gn_st_find(f, m->params[node->params[0]].name) : NULL;
}

/* num_classes from the rows of the layer that makes the output. */
static gn_status infer_classes(gn_context *ctx, const gn_model *m, const gn_st_file *f, int *out)
{
    int producer = m->values[m->output].producer;
    const gn_node *node = producer >= 0 ? &m->nodes[producer] : NULL;
    const gn_st_tensor *t = node ? weight_of(m, node, f) : NULL;
    if (!t || t->ndim < 1 || t->shape[0] < 1 || t->shape[0] > (1 << 24))
        return gn_fail(ctx, GN_ERR_MISSING,
                       "%s: cannot tell the number of classes: no usable tensor '%s' (give "
                       "--classes)",
                       f->path, node && node->num_params ? m->params[node->params[0]].name : "?");
    *out = (int)t->shape[0];
    return GN_OK;
}

/* in_channels from the first convolution that reads the input. */
static gn_status infer_in_channels(gn_context *ctx, const gn_model *m, const gn_st_file *f,
                                   int *out)
{
    for (int i = 0; i < m->num_nodes; i++) {
        const gn_node *node = &m->nodes[i];
        if (node->op != GN_OP_CONV2D || node->inputs[0] != 0)
            continue;
        const gn_st_tensor *t = weight_of(m, node, f);
        int64_t channels = t && t->ndim == 4 ? t->shape[1] * node->attr.conv.groups : 0;
        if (channels < 1 || channels > 4096)
            return gn_fail(ctx, GN_ERR_MISSING,
                           "%s: cannot tell the input channels: no usable tensor '%s' (give "
                           "--in-chans)",
                           f->path, m->params[node->params[0]].name);
        *out = (int)channels;
        return GN_OK;
    }
    return gn_fail(ctx, GN_ERR_MISSING, "%s: cannot tell the input channels (give --in-chans)",
                   f->path);
}

/* Fills the sizes the caller left at 0 from the tensors, using the layer names of a model built
 * with placeholder sizes. */
static gn_status infer_sizes(gn_context *ctx, gn_model_config *c, const gn_st_file *f)
{
    if (c->num_classes > 0 && c->in_channels > 0)
        return GN_OK;
    gn_model_config probe = *c;
    if (probe.num_classes <= 0)
        probe.num_classes = 1000;
    if (probe.in_channels <= 0)
        probe.in_channels = 3;
    gn_model *m;
    gn_status st = gn_model_build_graph(ctx, &probe, &m);
    if (st == GN_OK && c->num_classes <= 0)
        st = infer_classes(ctx, m, f, &c->num_classes);
    if (st == GN_OK && c->in_channels <= 0)
        st = infer_in_channels(ctx, m, f, &c->in_channels);
    if (m)
        gn_model_free(m);
    return st;
}

static gn_status open_tensors(gn_context *ctx, const char *path, file_kind kind, gn_st_file **f)
{
    if (kind == KIND_PTH)
        return gn_pth_read(ctx, path, f);
    return gn_st_open(ctx, path, f);
}

gn_status gn_checkpoint_load(gn_context *ctx, const char *path, const gn_model_config *config,
                             gn_model **out)
{
    if (!ctx || !path || !out)
        return ctx ? gn_fail(ctx, GN_ERR_ARGUMENT, "gn_checkpoint_load: NULL argument")
                   : GN_ERR_ARGUMENT;
    *out = NULL;
    file_kind kind = KIND_UNKNOWN;
    gn_status st = sniff(ctx, path, &kind);
    if (st != GN_OK)
        return st;
    if (kind == KIND_UNKNOWN)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: not a model file, safetensors file or PyTorch checkpoint", path);
    gn_st_file *f;
    st = open_tensors(ctx, path, kind, &f);
    if (st != GN_OK)
        return st;
    if (kind == KIND_SAFETENSORS && gn_st_meta(f, "arch")) {
        gn_st_close(ctx, f); /* our own model file: its metadata names the architecture */
        return gn_model_load(ctx, path, out);
    }
    gn_model_config c;
    if (config)
        c = *config;
    else
        gn_model_config_default(&c, GN_ARCH_GHOSTNET);
    st = strip_module_prefixes(ctx, f);
    if (st == GN_OK)
        st = infer_sizes(ctx, &c, f);
    if (st != GN_OK) {
        gn_st_close(ctx, f);
        return st;
    }
    return gn_model_from_tensors(ctx, &c, f, out);
}
