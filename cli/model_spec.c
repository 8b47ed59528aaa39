/* Options that name a model, shared by info, forward, init and the commands to come. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

const char cli_model_options_help[] =
    "Model (either a file or an architecture):\n"
    "  --weights FILE       a ghostnet model file (.safetensors with metadata)\n"
    "  --arch NAME          ghostnet; resnet20, resnet32, resnet44, resnet56, resnet110 or\n"
    "                       resnet with --depth (CIFAR ResNet); vgg16 (CIFAR VGG-16)\n"
    "  --depth N            CIFAR ResNet depth, 6n+2 (default 56)\n"
    "  --ghost S,D          resnet/vgg with Ghost modules (the paper's plug-and-play): every\n"
    "                       3x3 conv but the first, with its BN, becomes a Ghost module of\n"
    "                       ratio S >= 2 and cheap kernel D (odd); the paper uses 2,3\n"
    "  --width W            GhostNet width multiplier (default 1.0; paper: 0.5, 1.0, 1.3)\n"
    "  --classes N          number of classes (default 1000 for ghostnet, 10 for resnet/vgg)\n"
    "  --in-chans C         input channels (default 3)\n"
    "  --input S            input size the model is made for: 224 or HxW (default 224 for\n"
    "                       ghostnet, 32 for resnet/vgg)\n"
    "  --small-input[=L]    GhostNet for 28-32 px images: L=1 (default) stride-1 stem,\n"
    "                       L=2 also a stride-1 blocks.1\n";

void cli_model_spec_init(cli_model_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    gn_model_config_default(&spec->config, GN_ARCH_GHOSTNET);
}

/* "ghostnet", "resnet", "resnet<depth>", "vgg", "vgg16": the arch and the depth the name
 * gives (0 for none). Returns 0, or -1 after reporting a usage error. */
static int parse_arch(const char *command, const char *name, gn_arch *arch, int *depth)
{
    static const struct {
        const char *family;
        gn_arch arch;
    } families[] = {{"ghostnet", GN_ARCH_GHOSTNET}, {"resnet", GN_ARCH_RESNET}, {"vgg", GN_ARCH_VGG}};
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        size_t len = strlen(families[i].family);
        if (strncmp(name, families[i].family, len) != 0)
            continue;
        *arch = families[i].arch;
        *depth = 0;
        if (!name[len])
            return 0;
        if (*arch != GN_ARCH_GHOSTNET)
            return cli_parse_int(command, "--arch depth", name + len, 1, 10000, depth);
    }
    cli_usage_error(command, "--arch: unknown architecture '%s' (known: ghostnet, resnet20, "
                             "resnet32, resnet44, resnet56, resnet110, resnet, vgg16)",
                    name);
    return -1;
}

/* The depth of --arch and of --depth, whichever came second; they must agree. */
static int set_depth(const char *command, cli_model_spec *spec, int depth)
{
    if (spec->have_depth && spec->config.depth != depth) {
        cli_usage_error(command, "--arch and --depth give different depths (%d and %d)",
                        spec->config.depth, depth);
        return -1;
    }
    spec->config.depth = depth;
    spec->have_depth = 1;
    return 0;
}

/* --arch: the architecture's defaults for what no option has set, whatever the order. */
static int set_arch(const char *command, cli_model_spec *spec, const char *name)
{
    gn_arch arch;
    int depth;
    if (parse_arch(command, name, &arch, &depth))
        return -1;
    gn_model_config defaults;
    gn_model_config_default(&defaults, arch);
    gn_model_config *c = &spec->config;
    c->arch = arch;
    c->dropout = defaults.dropout;
    if (!spec->have_classes)
        c->num_classes = defaults.num_classes;
    if (!spec->have_input) {
        c->input_h = defaults.input_h;
        c->input_w = defaults.input_w;
    }
    if (!spec->have_depth)
        c->depth = defaults.depth;
    spec->have_arch = 1;
    return depth ? set_depth(command, spec, depth) : 0;
}

/* "S,D" for --ghost. */
static int parse_ghost(const char *command, const char *text, gn_model_config *c)
{
    int used = 0;
    if (sscanf(text, "%d,%d%n", &c->ghost_ratio, &c->ghost_kernel, &used) != 2 || text[used] ||
        c->ghost_ratio < 2 || c->ghost_kernel < 1 || c->ghost_kernel % 2 == 0) {
        cli_usage_error(command, "--ghost: '%s' is not S,D with a ratio S >= 2 and an odd cheap "
                                 "kernel D", text);
        return -1;
    }
    return 0;
}

int cli_model_option(cli_args *a, const char *arg, cli_model_spec *spec)
{
    int error = 0;
    gn_model_config *c = &spec->config;
    if (cli_option(a, arg, "--weights", &error)) {
        spec->weights = a->value;
    } else if (cli_option(a, arg, "--arch", &error)) {
        if (!error && set_arch(a->command, spec, a->value))
            return -1;
    } else if (cli_option(a, arg, "--depth", &error)) {
        int depth;
        if (!error && (cli_parse_int(a->command, "--depth", a->value, 1, 10000, &depth) ||
                       set_depth(a->command, spec, depth)))
            return -1;
    } else if (cli_option(a, arg, "--ghost", &error)) {
        if (!error && parse_ghost(a->command, a->value, c))
            return -1;
    } else if (cli_option(a, arg, "--width", &error)) {
        if (!error && cli_parse_double(a->command, "--width", a->value, 0.05, 16.0, &c->width))
            return -1;
    } else if (cli_option(a, arg, "--classes", &error)) {
        if (!error &&
            cli_parse_int(a->command, "--classes", a->value, 1, 1 << 24, &c->num_classes))
            return -1;
        spec->have_classes = 1;
    } else if (cli_option(a, arg, "--in-chans", &error)) {
        if (!error &&
            cli_parse_int(a->command, "--in-chans", a->value, 1, 4096, &c->in_channels))
            return -1;
    } else if (cli_option(a, arg, "--input", &error)) {
        if (!error && cli_parse_size(a->command, "--input", a->value, &c->input_h, &c->input_w))
            return -1;
        spec->have_input = 1;
    } else if (cli_flag(arg, "--small-input")) {
        c->small_input = 1;
    } else if (strncmp(arg, "--small-input=", 14) == 0) {
        if (cli_parse_int(a->command, "--small-input", arg + 14, 0, 2, &c->small_input))
            return -1;
    } else {
        return 0;
    }
    return error ? -1 : 1;
}

int cli_open_model(const char *command, gn_context *ctx, const cli_model_spec *spec,
                   uint64_t seed, gn_model **out)
{
    gn_status st;
    if (spec->weights && spec->have_arch)
        return cli_usage_error(command, "give either --weights or --arch, not both");
    if (spec->weights)
        st = gn_model_load(ctx, spec->weights, out);
    else if (spec->have_arch)
        st = gn_model_create(ctx, &spec->config, seed, out);
    else
        return cli_usage_error(command, "no model: give --weights FILE or --arch NAME");
    return st == GN_OK ? CLI_OK : cli_lib_error(command, ctx, st);
}
