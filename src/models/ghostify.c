/* Plug-and-play Ghost modules (paper Sec. 4.1, Tables 2-4): an existing CNN becomes its Ghost
 * version by replacing its convolutions with Ghost modules, nothing else changed.
 *
 * The rule, for the CIFAR ResNets and VGG-16 (config->ghost_ratio = s >= 2, ghost_kernel = d odd):
 *   - the network's first conv stays an ordinary conv (it sees the raw image);
 *   - every other 3x3 conv and the BN after it become one Ghost module with ratio s and cheap
 *     kernel d whose primary conv keeps the replaced conv's kernel and stride. The module has a
 *     BN after each half and no ReLU inside; it replaces the conv's BN too, so the two halves'
 *     BNs are the only normalisation there (this is what gives Ghost-VGG-16 its 7,651,050
 *     parameters; keeping the old BN as well would add 8,320);
 *   - 1x1 convs (ResNet's projection shortcuts) and linear layers stay; the network's own ReLUs
 *     follow as before.
 * The Ghost module takes the conv's tensor name ("layer1.0.conv2" -> "layer1.0.conv2.primary_conv
 * .0.weight"), and the replaced BN's name disappears, as `ghostify` in tools/cifar_ref.py does
 * in PyTorch (it puts nn.Identity where the BN was). Builders call gn_conv3x3_bn for every 3x3
 * conv and BN pair. */
#include "models/models.h"

gn_status gn_check_ghost_config(gn_context *ctx, const gn_model_config *c)
{
    if (c->ghost_ratio == 0)
        return GN_OK;
    if (c->arch != GN_ARCH_RESNET && c->arch != GN_ARCH_VGG)
        return gn_fail(ctx, GN_ERR_ARGUMENT,
                       "ghost s,d applies to the resnet and vgg architectures, not '%s' (GhostNet "
                       "is built from Ghost modules already)",
                       gn_arch_name(c->arch));
    if (c->ghost_ratio < 2 || c->ghost_kernel < 1 || c->ghost_kernel % 2 == 0)
        return gn_fail(ctx, GN_ERR_ARGUMENT,
                       "ghost s,d needs a ratio s >= 2 and an odd cheap kernel d >= 1, got %d,%d",
                       c->ghost_ratio, c->ghost_kernel);
    return GN_OK;
}

gn_status gn_conv3x3_bn(gn_model *m, const char *conv, const char *bn, gn_value in,
                        int out_channels, int stride, int ghost_ratio, int ghost_kernel,
                        gn_value *out)
{
    if (ghost_ratio)
        return gn_graph_ghost_module(m, conv, in, out_channels, 3, stride, ghost_ratio,
                                     ghost_kernel, 0, out);
    gn_value v;
    gn_status st = gn_graph_conv2d(m, conv, in, out_channels, 3, stride, 1, 1, 0, &v);
    if (st == GN_OK)
        st = gn_graph_batchnorm(m, bn, v, out);
    return st;
}
