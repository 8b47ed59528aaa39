/* Ghost module (paper Sec. 3.1). An ordinary conv makes init = ceil(out / s) intrinsic maps
 * (Eq. 2: Y' = X * f'); a cheap depthwise d x d conv makes s - 1 ghosts of each (Eq. 3:
 * y_ij = Phi_ij(y'_i)); the two are concatenated and the first out channels kept. Tensor names
 * follow the official release: primary_conv.{0,1}, cheap_operation.{0,1}. */
#include "core/graph.h"

#include <stdio.h>

/* Appends conv -> BN -> optional ReLU under prefix.{0,1}. */
static gn_status conv_bn(gn_model *m, const char *prefix, gn_value in, int out_channels,
                         int kernel, int stride, int groups, int relu, gn_value *out)
{
    char conv_name[GN_PARAM_NAME_MAX], bn_name[GN_PARAM_NAME_MAX];
    gn_join_name(conv_name, sizeof(conv_name), prefix, "0");
    gn_join_name(bn_name, sizeof(bn_name), prefix, "1");
    gn_value v;
    gn_status st = gn_graph_conv2d(m, conv_name, in, out_channels, kernel, stride, kernel / 2,
                                   groups, 0, &v);
    if (st == GN_OK)
        st = gn_graph_batchnorm(m, bn_name, v, &v);
    if (st == GN_OK && relu)
        st = gn_graph_relu(m, v, &v);
    if (st == GN_OK)
        *out = v;
    return st;
}

gn_status gn_graph_ghost_module(gn_model *m, const char *name, gn_value in, int out_channels,
                                int kernel, int stride, int ratio, int cheap_kernel, int relu,
                                gn_value *out)
{
    if (!m)
        return GN_ERR_ARGUMENT;
    if (out_channels < 1 || ratio < 2 || cheap_kernel < 1 || cheap_kernel % 2 == 0 ||
        kernel < 1 || stride < 1)
        return gn_fail(m->ctx, GN_ERR_ARGUMENT,
                       "gn_graph_ghost_module '%s': need out >= 1, ratio s >= 2 and an odd cheap "
                       "kernel d (got out %d, s %d, d %d, kernel %d, stride %d)",
                       name ? name : "", out_channels, ratio, cheap_kernel, kernel, stride);
    int init = (out_channels + ratio - 1) / ratio;
    int ghosts = init * (ratio - 1);
    char primary[GN_PARAM_NAME_MAX], cheap[GN_PARAM_NAME_MAX];
    gn_join_name(primary, sizeof(primary), name, "primary_conv");
    gn_join_name(cheap, sizeof(cheap), name, "cheap_operation");
    gn_value intrinsic, ghost;
    gn_status st = conv_bn(m, primary, in, init, kernel, stride, 1, relu, &intrinsic);
    if (st == GN_OK)
        st = conv_bn(m, cheap, intrinsic, ghosts, cheap_kernel, 1, init, relu, &ghost);
    if (st == GN_OK)
        st = gn_graph_concat(m, intrinsic, ghost, out_channels, out);
    return st;
}
