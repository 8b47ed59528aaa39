/* Options that name a model, shared by info, forward, init and the commands to come. */
#include "cli.h"

#include <string.h>

const char cli_model_options_help[] =
    "Model (either a file or an architecture):\n"
    "  --weights FILE       a ghostnet model file (.safetensors with metadata)\n"
    "  --arch NAME          ghostnet\n"
    "  --width W            GhostNet width multiplier (default 1.0; paper: 0.5, 1.0, 1.3)\n"
    "  --classes N          number of classes (default 1000)\n"
    "  --in-chans C         input channels (default 3)\n"
    "  --input S            input size the model is made for: 224 or HxW (default 224)\n"
    "  --small-input        GhostNet variant for 28-32 px images (stride-1 stem and stage 1)\n";

void cli_model_spec_init(cli_model_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    gn_model_config_default(&spec->config, GN_ARCH_GHOSTNET);
}

int cli_model_option(cli_args *a, const char *arg, cli_model_spec *spec)
{
    int error = 0;
    gn_model_config *c = &spec->config;
    if (cli_option(a, arg, "--weights", &error)) {
        spec->weights = a->value;
    } else if (cli_option(a, arg, "--arch", &error)) {
        if (error)
            return -1;
        if (strcmp(a->value, "ghostnet") != 0) {
            cli_usage_error(a->command, "--arch: unknown architecture '%s' (known: ghostnet)",
                            a->value);
            return -1;
        }
        c->arch = GN_ARCH_GHOSTNET;
        spec->have_arch = 1;
    } else if (cli_option(a, arg, "--width", &error)) {
        if (!error && cli_parse_double(a->command, "--width", a->value, 0.05, 16.0, &c->width))
            return -1;
    } else if (cli_option(a, arg, "--classes", &error)) {
        if (!error &&
            cli_parse_int(a->command, "--classes", a->value, 1, 1 << 24, &c->num_classes))
            return -1;
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
