/* Architecture builders: each appends its layers to an empty graph made for config. */
#ifndef GN_MODELS_H
#define GN_MODELS_H

#include "core/graph.h"

/* Builds the graph for config (any arch); parameters get no storage yet. */
gn_status gn_model_build_graph(gn_context *ctx, const gn_model_config *config, gn_model **out);

/* The official GhostNet (paper Table 1) at config->width, or its small-input variant. */
gn_status gn_build_ghostnet(gn_model *m, const gn_model_config *config);
/* CIFAR ResNet of config->depth (6n + 2) and CIFAR VGG-16, ghostified when config->ghost_ratio
 * is set (resnet.c, vgg.c, ghostify.c). */
gn_status gn_build_resnet(gn_model *m, const gn_model_config *config);
gn_status gn_build_vgg(gn_model *m, const gn_model_config *config);

/* Plug-and-play (ghostify.c): checks ghost_ratio / ghost_kernel and that the arch takes them. */
gn_status gn_check_ghost_config(gn_context *ctx, const gn_model_config *config);
/* A bias-free 3x3 conv (padding 1) and its BN under the given names; with ghost_ratio > 0, a
 * Ghost module (ratio, cheap kernel ghost_kernel, no ReLU) in their place under the conv's name. */
gn_status gn_conv3x3_bn(gn_model *m, const char *conv, const char *bn, gn_value in,
                        int out_channels, int stride, int ghost_ratio, int ghost_kernel,
                        gn_value *out);

/* Name used in model-file metadata and on the command line ("ghostnet", "resnet", ...). */
const char *gn_arch_name(gn_arch arch);
/* Parses an arch name; returns 0 on success. */
int gn_arch_parse(const char *name, gn_arch *out);

#endif
