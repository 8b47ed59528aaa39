/* Ghost bottleneck (paper Sec. 3.2, Fig. 3): ghost1 expands with ReLU; for stride 2 a depthwise
 * conv + BN (no activation) downsamples; optional squeeze-excite; ghost2 projects without ReLU;
 * the shortcut is identity, or depthwise conv + BN + 1x1 conv + BN when the shape changes; the
 * sum has no activation. */
#include "core/graph.h"

#include <stdio.h>

static gn_status shortcut_path(gn_model *m, const char *name, gn_value in, int out_channels,
                               int kernel, int stride, gn_value *out)
{
    int in_channels = m->values[in].channels;
    if (in_channels == out_channels && stride == 1) {
        *out = in;
        return GN_OK;
    }
    char part[4][GN_PARAM_NAME_MAX];
    for (int i = 0; i < 4; i++) {
        char index[4];
        snprintf(index, sizeof(index), "%d", i);
        char prefix[GN_PARAM_NAME_MAX];
        gn_join_name(prefix, sizeof(prefix), name, "shortcut");
        gn_join_name(part[i], sizeof(part[i]), prefix, index);
    }
    gn_value v;
    gn_status st = gn_graph_conv2d(m, part[0], in, in_channels, kernel, stride,
                                   (kernel - 1) / 2, in_channels, 0, &v);
    if (st == GN_OK)
        st = gn_graph_batchnorm(m, part[1], v, &v);
    if (st == GN_OK)
        st = gn_graph_conv2d(m, part[2], v, out_channels, 1, 1, 0, 1, 0, &v);
    if (st == GN_OK)
        st = gn_graph_batchnorm(m, part[3], v, &v);
    if (st == GN_OK)
        *out = v;
    return st;
}

gn_status gn_graph_ghost_bottleneck(gn_model *m, const char *name, gn_value in, int mid,
                                    int out_channels, int kernel, int stride, float se_ratio,
                                    gn_value *out)
{
    if (!m)
        return GN_ERR_ARGUMENT;
    gn_status st = gn_graph_check_value(m, in, "gn_graph_ghost_bottleneck");
    if (st != GN_OK)
        return st;
    if (mid < 1 || out_channels < 1 || kernel < 1 || kernel % 2 == 0 || stride < 1 ||
        se_ratio < 0.0f)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT,
                       "gn_graph_ghost_bottleneck '%s': invalid mid %d out %d kernel %d stride "
                       "%d se_ratio %g",
                       name ? name : "", mid, out_channels, kernel, stride, (double)se_ratio);
    char sub[GN_PARAM_NAME_MAX], sub2[GN_PARAM_NAME_MAX];
    gn_value v;
    gn_join_name(sub, sizeof(sub), name, "ghost1");
    st = gn_graph_ghost_module(m, sub, in, mid, 1, 1, 2, 3, 1, &v);
    if (st == GN_OK && stride > 1) {
        gn_join_name(sub, sizeof(sub), name, "conv_dw");
        gn_join_name(sub2, sizeof(sub2), name, "bn_dw");
        st = gn_graph_conv2d(m, sub, v, mid, kernel, stride, (kernel - 1) / 2, mid, 0, &v);
        if (st == GN_OK)
            st = gn_graph_batchnorm(m, sub2, v, &v);
    }
    if (st == GN_OK && se_ratio > 0.0f) {
        gn_join_name(sub, sizeof(sub), name, "se");
        st = gn_graph_squeeze_excite(m, sub, v, se_ratio, &v);
    }
    if (st == GN_OK) {
        gn_join_name(sub, sizeof(sub), name, "ghost2");
        st = gn_graph_ghost_module(m, sub, v, out_channels, 1, 1, 2, 3, 0, &v);
    }
    gn_value shortcut;
    if (st == GN_OK)
        st = shortcut_path(m, name, in, out_channels, kernel, stride, &shortcut);
    if (st == GN_OK)
        st = gn_graph_add(m, v, shortcut, out);
    return st;
}
