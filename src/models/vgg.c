/* CIFAR VGG-16 (Simonyan and Zisserman, ICLR 2015, with BN), the VGG-16 of GhostNet's Tables
 * 2-4: 13 3x3 convs in the layout 64, 64, M, 128, 128, M, 256 x 3, M, 512 x 3, M, 512 x 3, M
 * (M = 2x2 max pooling, stride 2), which brings a 32x32 image to 512 x 1 x 1, then a classifier
 * 512 -> 512 -> ReLU -> classes.
 *
 * Conventions (they give 14,986,698 parameters and 313,463,808 MACs at 3 x 32 x 32, 10 classes):
 * convs have no bias and are each followed by BN and ReLU; both linear layers have a bias; the
 * classifier has no BN, and no dropout unless config->dropout asks for it on its input while
 * training. Tensor names are those of a PyTorch nn.Sequential:
 * features.N (conv at N, its BN at N + 1, ReLU N + 2, a pool takes one index) and
 * classifier.{0,2}. With ghost s,d every conv but features.0 becomes a Ghost module under the
 * conv's name and its BN's index stays unused (see ghostify.c). */
#include "models/models.h"

#include <stdio.h>

#define VGG_POOL 0
static const int vgg16_layout[] = {64,  64,  VGG_POOL, 128, 128, VGG_POOL, 256, 256, 256, VGG_POOL,
                                   512, 512, 512,      VGG_POOL, 512, 512, 512, VGG_POOL};
#define VGG_HIDDEN 512

/* One conv -> BN -> ReLU group at features.index (the first conv is never a Ghost module). */
static gn_status conv_group(gn_model *m, const gn_model_config *c, int index, gn_value in,
                            int out_channels, gn_value *out)
{
    char conv[32], bn[32];
    snprintf(conv, sizeof(conv), "features.%d", index);
    snprintf(bn, sizeof(bn), "features.%d", index + 1);
    int ghost = index > 0 ? c->ghost_ratio : 0;
    gn_status st = gn_graph_begin_block(m, conv, ghost ? "Ghost 3x3" : "conv2d 3x3", 0, 0, 1);
    if (st == GN_OK)
        st = gn_conv3x3_bn(m, conv, bn, in, out_channels, 1, ghost, c->ghost_kernel, out);
    if (st == GN_OK)
        st = gn_graph_relu(m, *out, out);
    return st;
}

static gn_status pool(gn_model *m, int index, gn_value in, gn_value *out)
{
    char name[32];
    snprintf(name, sizeof(name), "features.%d", index);
    gn_status st = gn_graph_begin_block(m, name, "MaxPool 2x2", 0, 0, 2);
    if (st == GN_OK)
        st = gn_graph_maxpool(m, in, 2, 2, 0, out);
    return st;
}

gn_status gn_build_vgg(gn_model *m, const gn_model_config *c)
{
    if (c->depth != 16)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT, "VGG depth must be 16 (VGG-16), got %d",
                       c->depth);
    gn_value v = 0;
    gn_status st = GN_OK;
    int index = 0;
    for (size_t i = 0; i < sizeof(vgg16_layout) / sizeof(vgg16_layout[0]) && st == GN_OK; i++) {
        if (vgg16_layout[i] == VGG_POOL) {
            st = pool(m, index, v, &v);
            index += 1;
        } else {
            st = conv_group(m, c, index, v, vgg16_layout[i], &v);
            index += 3;
        }
    }
    if (st == GN_OK)
        st = gn_graph_begin_block(m, "classifier", "FC-ReLU-FC", 0, 0, 1);
    if (st == GN_OK && c->dropout > 0.0f)
        st = gn_graph_dropout(m, v, c->dropout, &v);
    if (st == GN_OK)
        st = gn_graph_linear(m, "classifier.0", v, VGG_HIDDEN, &v);
    if (st == GN_OK)
        st = gn_graph_relu(m, v, &v);
    if (st == GN_OK)
        st = gn_graph_linear(m, "classifier.2", v, c->num_classes, &v);
    if (st == GN_OK)
        st = gn_graph_set_output(m, v);
    return st;
}
