/* CIFAR ResNet and VGG-16 and their Ghost versions (issue #5): sizes against the issue's
 * numbers, the plug-and-play tensor layout (a Ghost module under the replaced conv's name, the
 * replaced BN gone, the first conv and the 1x1 shortcuts kept), the channel slice when
 * ceil(out/s)*s > out, configuration errors, and model files that keep arch/depth/ghost. */
#include "harness.h"

#include "core/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static gn_model_config cifar_config(gn_arch arch, int depth, int ratio, int cheap_kernel)
{
    gn_model_config c;
    gn_model_config_default(&c, arch);
    c.depth = depth;
    c.ghost_ratio = ratio;
    c.ghost_kernel = cheap_kernel;
    return c;
}

static gn_model *create(gn_context *ctx, const gn_model_config *c)
{
    gn_model *m = NULL;
    gn_status st = gn_model_create(ctx, c, 3, &m);
    CHECK_MSG(st == GN_OK, "create: %s", gn_context_error(ctx));
    return m;
}

static const gn_param *find_param(const gn_model *m, const char *name)
{
    for (int i = 0; i < m->num_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return &m->params[i];
    return NULL;
}

/* Issue #5, 3 x 32 x 32 input, 10 classes. */
static void test_issue_sizes(gn_context *ctx)
{
    static const struct {
        gn_arch arch;
        int depth, ratio;
        int64_t params, macs;
    } table[] = {{GN_ARCH_RESNET, 56, 0, 855770, 125747840},
                 {GN_ARCH_VGG, 16, 0, 14986698, 313463808},
                 {GN_ARCH_VGG, 16, 2, 7651050, 158699520}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        gn_model_config c = cifar_config(table[i].arch, table[i].depth, table[i].ratio, 3);
        gn_model *m = create(ctx, &c);
        if (!m)
            continue;
        int64_t macs = 0;
        CHECK(gn_model_macs(m, 32, 32, &macs) == GN_OK);
        CHECK_MSG(gn_model_param_count(m) == table[i].params && macs == table[i].macs,
                  "case %zu: params %lld macs %lld", i, (long long)gn_model_param_count(m),
                  (long long)macs);
        gn_block_info rows[64];
        int count = 0;
        CHECK(gn_model_summary(m, 32, 32, rows, 64, &count) == GN_OK && count <= 64);
        int64_t p = 0, mac = 0;
        for (int r = 0; r < count && r < 64; r++)
            p += rows[r].params, mac += rows[r].macs;
        CHECK(p == table[i].params && mac == table[i].macs);
        gn_model_free(m);
    }
}

/* Issue #5: Ghost-VGG-16 at s = 3, 4, 5 (d = 3) has about 107M, 81M and 67M MACs. */
static void test_ghost_vgg_ratios(gn_context *ctx)
{
    static const double about[3] = {107e6, 81e6, 67e6};
    for (int s = 3; s <= 5; s++) {
        gn_model_config c = cifar_config(GN_ARCH_VGG, 16, s, 3);
        gn_model *m = create(ctx, &c);
        int64_t macs = 0;
        CHECK(m && gn_model_macs(m, 32, 32, &macs) == GN_OK);
        CHECK_MSG(fabs((double)macs - about[s - 3]) < 0.015 * about[s - 3], "s=%d: %lld MACs", s,
                  (long long)macs);
        gn_model_free(m);
    }
}

/* Where the Ghost modules go and what they are called. */
static void test_ghost_layout(gn_context *ctx)
{
    gn_model_config c = cifar_config(GN_ARCH_RESNET, 20, 3, 5);
    gn_model *m = create(ctx, &c);
    if (!m)
        return;
    /* the stem and the 1x1 projection stay ordinary, with their BNs */
    CHECK(find_param(m, "conv1.weight") && find_param(m, "bn1.running_var"));
    CHECK(find_param(m, "layer2.0.shortcut.0.weight") && find_param(m, "layer2.0.shortcut.1.bias"));
    /* s = 3 on 16 channels: 6 intrinsic maps, 12 ghosts, 18 cut to 16 */
    const gn_param *primary = find_param(m, "layer1.0.conv2.primary_conv.0.weight");
    const gn_param *cheap = find_param(m, "layer1.0.conv2.cheap_operation.0.weight");
    CHECK(primary && primary->shape[0] == 6 && primary->shape[1] == 16 && primary->shape[2] == 3);
    CHECK(cheap && cheap->shape[0] == 12 && cheap->shape[1] == 1 && cheap->shape[2] == 5);
    CHECK(find_param(m, "layer1.0.conv2.cheap_operation.1.running_mean"));
    /* the replaced convs and their BNs are gone */
    CHECK(!find_param(m, "layer1.0.conv2.weight") && !find_param(m, "layer1.0.bn2.weight"));
    CHECK(!find_param(m, "layer3.2.bn1.weight"));
    /* the stride stays on the primary conv */
    for (int i = 0; i < m->num_nodes; i++)
        if (strcmp(m->nodes[i].name, "layer3.0.conv1.primary_conv.0") == 0)
            CHECK(m->nodes[i].attr.conv.stride == 2 && m->nodes[i].attr.conv.kernel == 3);
    gn_model_free(m);

    c = cifar_config(GN_ARCH_VGG, 16, 2, 3);
    m = create(ctx, &c);
    if (!m)
        return;
    CHECK(find_param(m, "features.0.weight") && find_param(m, "features.1.weight"));
    CHECK(find_param(m, "features.3.primary_conv.0.weight") && !find_param(m, "features.4.weight"));
    CHECK(find_param(m, "features.40.cheap_operation.1.bias"));
    CHECK(find_param(m, "classifier.0.weight") && find_param(m, "classifier.2.bias"));
    gn_model_free(m);
}

static void expect_error(gn_context *ctx, const gn_model_config *c, const char *mention)
{
    gn_model *m = NULL;
    gn_status st = gn_model_create(ctx, c, 0, &m);
    CHECK_MSG(st == GN_ERR_ARGUMENT && !m && strstr(gn_context_error(ctx), mention),
              "expected an error mentioning '%s', got %s: %s", mention, gn_status_name(st),
              gn_context_error(ctx));
    gn_model_free(m);
}

static void test_config_errors(gn_context *ctx)
{
    gn_model_config c = cifar_config(GN_ARCH_RESNET, 57, 0, 0);
    expect_error(ctx, &c, "depth");
    c = cifar_config(GN_ARCH_VGG, 19, 0, 0);
    expect_error(ctx, &c, "VGG depth");
    c = cifar_config(GN_ARCH_RESNET, 20, 2, 4);
    expect_error(ctx, &c, "odd cheap kernel");
    c = cifar_config(GN_ARCH_VGG, 16, 1, 3);
    expect_error(ctx, &c, "ratio s >= 2");
    c = cifar_config(GN_ARCH_GHOSTNET, 0, 2, 3);
    expect_error(ctx, &c, "ghostnet");
    c = cifar_config(GN_ARCH_RESNET, 20, 0, 0);
    c.width = 0.5;
    expect_error(ctx, &c, "width");
    /* VGG-16 needs 32x32: a 28x28 image reaches 1x1 before the last pool */
    c = cifar_config(GN_ARCH_VGG, 16, 0, 0);
    gn_model *m = create(ctx, &c);
    int64_t macs;
    CHECK(m && gn_model_macs(m, 28, 28, &macs) == GN_ERR_SHAPE);
    gn_model_free(m);
}

/* A 1-channel Ghost-ResNet saved and loaded: same config, same logits. */
static void test_file_round_trip(gn_context *ctx)
{
    gn_model_config c = cifar_config(GN_ARCH_RESNET, 20, 3, 3);
    c.in_channels = 1;
    c.num_classes = 7;
    gn_model *a = create(ctx, &c), *b = NULL;
    const char *path = gn_test_path("ghost_resnet20.safetensors");
    CHECK(a && gn_model_save(a, path) == GN_OK);
    CHECK_MSG(gn_model_load(ctx, path, &b) == GN_OK, "%s", gn_context_error(ctx));
    if (!a || !b) {
        gn_model_free(a);
        gn_model_free(b);
        return;
    }
    const gn_model_config *got = gn_model_get_config(b);
    CHECK(got->arch == GN_ARCH_RESNET && got->depth == 20 && got->ghost_ratio == 3 &&
          got->ghost_kernel == 3 && got->in_channels == 1 && gn_model_num_classes(b) == 7);
    CHECK(gn_model_param_count(a) == gn_model_param_count(b));
    float x[2 * 32 * 32], ya[2 * 7], yb[2 * 7];
    for (int i = 0; i < 2 * 32 * 32; i++)
        x[i] = (float)sin(0.37 * i);
    CHECK(gn_model_forward(a, x, 2, 32, 32, ya) == GN_OK);
    CHECK(gn_model_forward(b, x, 2, 32, 32, yb) == GN_OK);
    CHECK(memcmp(ya, yb, sizeof(ya)) == 0);
    gn_model_free(a);
    gn_model_free(b);
}

int main(void)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 1;
    test_issue_sizes(ctx);
    test_ghost_vgg_ratios(ctx);
    test_ghost_layout(ctx);
    test_config_errors(ctx);
    test_file_round_trip(ctx);
    gn_context_destroy(ctx);
    return gn_test_finish("test_models");
}
