/* Squeeze-excite as GhostNet uses it: global average pool -> conv_reduce (1x1, bias) -> ReLU ->
 * conv_expand (1x1, bias) -> hard_sigmoid gate -> scale the input's channels. */
#include "core/graph.h"

gn_status gn_graph_squeeze_excite(gn_model *m, const char *name, gn_value in, float se_ratio,
                                  gn_value *out)
{
    if (!m)
        return GN_ERR_ARGUMENT;
    gn_status st = gn_graph_check_value(m, in, "gn_graph_squeeze_excite");
    if (st != GN_OK)
        return st;
    if (!(se_ratio > 0.0f))
        return gn_fail(m->ctx, GN_ERR_ARGUMENT,
                       "gn_graph_squeeze_excite '%s': se_ratio must be > 0, got %g",
                       name ? name : "", (double)se_ratio);
    int channels = m->values[in].channels;
    int reduced = gn_make_divisible((double)channels * se_ratio, 4);
    char reduce[GN_PARAM_NAME_MAX], expand[GN_PARAM_NAME_MAX];
    gn_join_name(reduce, sizeof(reduce), name, "conv_reduce");
    gn_join_name(expand, sizeof(expand), name, "conv_expand");
    gn_value v;
    st = gn_graph_global_avgpool(m, in, &v);
    if (st == GN_OK)
        st = gn_graph_conv2d(m, reduce, v, reduced, 1, 1, 0, 1, 1, &v);
    if (st == GN_OK)
        st = gn_graph_relu(m, v, &v);
    if (st == GN_OK)
        st = gn_graph_conv2d(m, expand, v, channels, 1, 1, 0, 1, 1, &v);
    if (st == GN_OK)
        st = gn_graph_hard_sigmoid(m, v, &v);
    if (st == GN_OK)
        st = gn_graph_channel_scale(m, in, v, out);
    return st;
}
