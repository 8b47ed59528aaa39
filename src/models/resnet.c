/* CIFAR ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, Sec. 4.2),
 * the ResNet-56 of GhostNet's Table 4. depth = 6n + 2: a 3x3 stem conv to 16 channels, three
 * stages of n basic blocks at 16, 32 and 64 channels (the first block of the second and third at
 * stride 2), global average pooling and a linear classifier.
 *
 * Conventions (they give ResNet-56 its 855,770 parameters and 125,747,840 MACs at 32x32):
 *   - convs have no bias and are each followed by a BN;
 *   - a basic block is conv1 3x3 (stride) -> bn1 -> ReLU -> conv2 3x3 -> bn2, plus the shortcut,
 *     then ReLU;
 *   - the shortcut is the identity, or where the shape changes a 1x1 conv (stride) + BN
 *     projection (He et al.'s option B; option A's zero-padded identity has 2,752 fewer
 *     parameters);
 *   - the classifier is one linear layer with bias (config->dropout, if set, drops its inputs
 *     while training).
 * Tensor names are the common PyTorch CIFAR ResNet's: conv1, bn1, layer1.0.conv1, layer1.0.bn1,
 * ..., layer2.0.shortcut.{0,1}, linear. With ghost s,d every 3x3 conv but conv1 becomes a Ghost
 * module (see ghostify.c). */
#include "models/models.h"

#include <stdio.h>

#define RESNET_STAGES 3
static const int stage_channels[RESNET_STAGES] = {16, 32, 64};

/* 1x1 conv (stride) + BN under name.shortcut.{0,1}, where the block changes the shape. */
static gn_status projection(gn_model *m, const char *block, gn_value in, int out_channels,
                            int stride, gn_value *out)
{
    char conv[GN_PARAM_NAME_MAX], bn[GN_PARAM_NAME_MAX];
    snprintf(conv, sizeof(conv), "%s.shortcut.0", block);
    snprintf(bn, sizeof(bn), "%s.shortcut.1", block);
    gn_value v;
    gn_status st = gn_graph_conv2d(m, conv, in, out_channels, 1, stride, 0, 1, 0, &v);
    if (st == GN_OK)
        st = gn_graph_batchnorm(m, bn, v, out);
    return st;
}

static gn_status basic_block(gn_model *m, const gn_model_config *c, const char *block,
                             gn_value in, int out_channels, int stride, gn_value *out)
{
    char conv[GN_PARAM_NAME_MAX], bn[GN_PARAM_NAME_MAX];
    gn_value v, shortcut = in;
    snprintf(conv, sizeof(conv), "%s.conv1", block);
    snprintf(bn, sizeof(bn), "%s.bn1", block);
    gn_status st = gn_conv3x3_bn(m, conv, bn, in, out_channels, stride, c->ghost_ratio,
                                 c->ghost_kernel, &v);
    if (st == GN_OK)
        st = gn_graph_relu(m, v, &v);
    snprintf(conv, sizeof(conv), "%s.conv2", block);
    snprintf(bn, sizeof(bn), "%s.bn2", block);
    if (st == GN_OK)
        st = gn_conv3x3_bn(m, conv, bn, v, out_channels, 1, c->ghost_ratio, c->ghost_kernel, &v);
    if (st == GN_OK && (stride != 1 || gn_graph_channels(m, in) != out_channels))
        st = projection(m, block, in, out_channels, stride, &shortcut);
    if (st == GN_OK)
        st = gn_graph_add(m, v, shortcut, &v);
    if (st == GN_OK)
        st = gn_graph_relu(m, v, out);
    return st;
}

gn_status gn_build_resnet(gn_model *m, const gn_model_config *c)
{
    if (c->depth < 8 || (c->depth - 2) % 6 != 0)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT,
                       "CIFAR ResNet depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110, ...), "
                       "got %d",
                       c->depth);
    int blocks = (c->depth - 2) / 6;
    const char *block_op = c->ghost_ratio ? "G-BasicBlock" : "BasicBlock";
    gn_value v;
    gn_status st = gn_graph_begin_block(m, "conv1", "conv2d 3x3", 0, 0, 1);
    if (st == GN_OK)
        st = gn_conv3x3_bn(m, "conv1", "bn1", 0, stage_channels[0], 1, 0, 0, &v);
    if (st == GN_OK)
        st = gn_graph_relu(m, v, &v);
    for (int s = 0; s < RESNET_STAGES && st == GN_OK; s++)
        for (int i = 0; i < blocks && st == GN_OK; i++) {
            int stride = s > 0 && i == 0 ? 2 : 1;
            char name[32];
            snprintf(name, sizeof(name), "layer%d.%d", s + 1, i);
            st = gn_graph_begin_block(m, name, block_op, 0, 0, stride);
            if (st == GN_OK)
                st = basic_block(m, c, name, v, stage_channels[s], stride, &v);
        }
    if (st == GN_OK)
        st = gn_graph_begin_block(m, "avgpool", "AvgPool", 0, 0, 1);
    if (st == GN_OK)
        st = gn_graph_global_avgpool(m, v, &v);
    if (st == GN_OK)
        st = gn_graph_begin_block(m, "linear", "FC", 0, 0, 1);
    if (st == GN_OK && c->dropout > 0.0f)
        st = gn_graph_dropout(m, v, c->dropout, &v);
    if (st == GN_OK)
        st = gn_graph_linear(m, "linear", v, c->num_classes, &v);
    if (st == GN_OK)
        st = gn_graph_set_output(m, v);
    return st;
}
