/* GhostNet (paper Table 1), in the official release's layout and tensor names, so official
 * checkpoints load unchanged. */
#include "models/models.h"

#include <stdio.h>

typedef struct bneck_cfg {
    int kernel, exp, out;
    float se_ratio;
    int stride;
} bneck_cfg;

/* Stages blocks.0 ... blocks.8; a zero kernel ends a stage. */
#define GN_STAGES 9
#define GN_STAGE_MAX 5
static const bneck_cfg stages[GN_STAGES][GN_STAGE_MAX] = {
    {{3, 16, 16, 0.0f, 1}},
    {{3, 48, 24, 0.0f, 2}},
    {{3, 72, 24, 0.0f, 1}},
    {{5, 72, 40, 0.25f, 2}},
    {{5, 120, 40, 0.25f, 1}},
    {{3, 240, 80, 0.0f, 2}},
    {{3, 200, 80, 0.0f, 1},
     {3, 184, 80, 0.0f, 1},
     {3, 184, 80, 0.0f, 1},
     {3, 480, 112, 0.25f, 1},
     {3, 672, 112, 0.25f, 1}},
    {{5, 672, 160, 0.25f, 2}},
    {{5, 960, 160, 0.0f, 1},
     {5, 960, 160, 0.25f, 1},
     {5, 960, 160, 0.0f, 1},
     {5, 960, 160, 0.25f, 1}},
};

#define GN_HEAD_CHANNELS 1280

/* conv -> BN -> ReLU with explicit tensor names, as the stem and blocks.9 are laid out. */
static gn_status conv_bn_relu(gn_model *m, const char *conv, const char *bn, gn_value in,
                              int out_channels, int kernel, int stride, gn_value *out)
{
    gn_value v;
    gn_status st = gn_graph_conv2d(m, conv, in, out_channels, kernel, stride, kernel / 2, 1, 0, &v);
    if (st == GN_OK)
        st = gn_graph_batchnorm(m, bn, v, &v);
    if (st == GN_OK)
        st = gn_graph_relu(m, v, out);
    return st;
}

/* The small-input variants (28-32 px images) keep the official layout but downsample less:
 * small_input 1 runs the stem at stride 1 (16x in all, 28x28 reaches the head at 2x2);
 * small_input 2 also runs blocks.1 at stride 1 (8x; 32x32 reaches the head at 4x4), which
 * drops blocks.1.0.conv_dw / bn_dw. */
static int stage_stride(const gn_model_config *config, int stage, const bneck_cfg *b)
{
    if (config->small_input >= 2 && stage == 1)
        return 1;
    return b->stride;
}

gn_status gn_build_ghostnet(gn_model *m, const gn_model_config *config)
{
    double w = config->width;
    int stem_stride = config->small_input ? 1 : 2;
    int channels = gn_make_divisible(16 * w, 4);
    gn_value v;
    gn_status st = gn_graph_begin_block(m, "conv_stem", "conv2d 3x3", 0, 0, stem_stride);
    if (st == GN_OK)
        st = conv_bn_relu(m, "conv_stem", "bn1", 0, channels, 3, stem_stride, &v);
    int last_exp = 0;
    for (int s = 0; s < GN_STAGES && st == GN_OK; s++) {
        for (int j = 0; j < GN_STAGE_MAX && stages[s][j].kernel && st == GN_OK; j++) {
            const bneck_cfg *b = &stages[s][j];
            int stride = stage_stride(config, s, b);
            int mid = gn_make_divisible(b->exp * w, 4);
            int out = gn_make_divisible(b->out * w, 4);
            char name[32];
            snprintf(name, sizeof(name), "blocks.%d.%d", s, j);
            st = gn_graph_begin_block(m, name, "G-bneck", mid, b->se_ratio > 0.0f, stride);
            if (st == GN_OK)
                st = gn_graph_ghost_bottleneck(m, name, v, mid, out, b->kernel, stride,
                                               b->se_ratio, &v);
            last_exp = b->exp;
        }
    }
    channels = gn_make_divisible(last_exp * w, 4);
    if (st == GN_OK)
        st = gn_graph_begin_block(m, "blocks.9.0", "conv2d 1x1", 0, 0, 1);
    if (st == GN_OK)
        st = conv_bn_relu(m, "blocks.9.0.conv", "blocks.9.0.bn1", v, channels, 1, 1, &v);
    if (st == GN_OK)
        st = gn_graph_begin_block(m, "global_pool", "AvgPool", 0, 0, 1);
    if (st == GN_OK)
        st = gn_graph_global_avgpool(m, v, &v);
    if (st == GN_OK)
        st = gn_graph_begin_block(m, "conv_head", "conv2d 1x1", 0, 0, 1);
    if (st == GN_OK)
        st = gn_graph_conv2d(m, "conv_head", v, GN_HEAD_CHANNELS, 1, 1, 0, 1, 1, &v);
    if (st == GN_OK)
        st = gn_graph_relu(m, v, &v);
    if (st == GN_OK)
        st = gn_graph_begin_block(m, "classifier", "FC", 0, 0, 1);
    if (st == GN_OK && config->dropout > 0.0f)
        st = gn_graph_dropout(m, v, config->dropout, &v);
    if (st == GN_OK)
        st = gn_graph_linear(m, "classifier", v, config->num_classes, &v);
    if (st == GN_OK)
        st = gn_graph_set_output(m, v);
    return st;
}
