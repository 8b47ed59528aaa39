/* ghostnet convert: a PyTorch checkpoint or a timm / Hugging Face safetensors file in, a ghostnet
 * model file (safetensors with metadata) out. */
#include "cli.h"
#include "models/models.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static const char convert_help[] =
    "usage: ghostnet convert IN -o OUT.safetensors [model options] [--mean M] [--std S]\n"
    "\n"
    "Reads weights natively (no Python needed) and writes a ghostnet model file: the same\n"
    "tensors as float32 plus metadata naming the architecture, so 'ghostnet classify' and the\n"
    "other commands need nothing else. IN may be:\n"
    "  - a PyTorch checkpoint written by torch.save (.pth/.pt; zip or legacy format) holding a\n"
    "    state dict, possibly wrapped as {'state_dict': ...} or {'model': ...}, keys possibly\n"
    "    prefixed 'module.' (the official ghostnet_1x.pth is one);\n"
    "  - a safetensors file without ghostnet metadata (timm's ghostnet_100);\n"
    "  - a ghostnet model file (rewritten as is).\n"
    "The pickle is parsed, never executed: a file naming anything but tensors and plain\n"
    "containers (os.system, a model class, ...) is refused. Every tensor is checked against the\n"
    "architecture by name and shape; nothing is written unless all match.\n"
    "\n"
    "  -o, --output FILE    where to write the model file (appears whole or not at all)\n"
    "  --mean M             input normalisation mean, one value per channel (default ImageNet's\n"
    "                       0.485,0.456,0.406)\n"
    "  --std S              input normalisation std (default 0.229,0.224,0.225)\n"
    "  -h, --help           this help\n"
    "\n"
    "The model options describe the architecture of IN (default: GhostNet, width 1.0); the\n"
    "number of classes is read from classifier.weight unless --classes is given.\n";

/* "a,b,c" with exactly count finite numbers. */
static int parse_floats(const char *option, const char *text, int count, float *out)
{
    const char *p = text;
    for (int i = 0; i < count; i++) {
        char *end;
        errno = 0;
        double value = strtod(p, &end);
        if (errno || end == p || !isfinite(value) || *end != (i + 1 == count ? '\0' : ','))
            break;
        out[i] = (float)value;
        if (i + 1 == count)
            return 0;
        p = end + 1;
    }
    cli_usage_error("convert", "%s: '%s' is not %d comma-separated numbers", option, text, count);
    return -1;
}

int cmd_convert(int argc, char **argv)
{
    cli_args a;
    cli_model_spec spec;
    const char *input = NULL, *output = NULL, *mean = NULL, *std = NULL;
    int error = 0;
    cli_args_init(&a, "convert", argc, argv);
    cli_model_spec_init(&spec);
    for (const char *arg; (arg = cli_next(&a));) {
        int used = cli_model_option(&a, arg, &spec);
        if (used < 0)
            return CLI_USAGE;
        if (used)
            continue;
        if (cli_option(&a, arg, "-o", &error) || cli_option(&a, arg, "--output", &error))
            output = a.value;
        else if (cli_option(&a, arg, "--mean", &error))
            mean = a.value;
        else if (cli_option(&a, arg, "--std", &error))
            std = a.value;
        else if (cli_flag(arg, "-h") || cli_flag(arg, "--help")) {
            fputs(convert_help, stdout);
            fputs(cli_model_options_help, stdout);
            return CLI_OK;
        } else if (arg[0] == '-' && arg[1])
            return cli_usage_error("convert", "unknown argument '%s'", arg);
        else if (input)
            return cli_usage_error("convert", "more than one input file ('%s' and '%s')", input,
                                   arg);
        else
            input = arg;
        if (error)
            return CLI_USAGE;
    }
    if (spec.weights && !input)
        input = spec.weights;
    if (!input || !output)
        return cli_usage_error("convert", "an input file and -o OUT are required");
    int channels = spec.config.in_channels < GN_MAX_NORM_CHANNELS ? spec.config.in_channels
                                                                   : GN_MAX_NORM_CHANNELS;
    if ((mean && parse_floats("--mean", mean, channels, spec.config.mean)) ||
        (std && parse_floats("--std", std, channels, spec.config.std)))
        return CLI_USAGE;
    for (int i = 0; std && i < channels; i++)
        if (!(spec.config.std[i] > 0.0f))
            return cli_usage_error("convert", "--std: values must be positive");

    gn_context *ctx = NULL;
    gn_model *m = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK) {
        fprintf(stderr, "ghostnet convert: error: cannot create a context\n");
        return CLI_ERROR;
    }
    int rc = cli_open_checkpoint("convert", ctx, &spec, input, &m);
    if (rc == CLI_OK) {
        gn_status st = gn_model_save(m, output);
        rc = st == GN_OK ? CLI_OK : cli_lib_error("convert", ctx, st);
    }
    if (rc == CLI_OK) {
        const gn_model_config *c = gn_model_get_config(m);
        printf("%s -> %s: %s, %d classes, %lld parameters\n", input, output,
               gn_arch_name(c->arch), gn_model_num_classes(m),
               (long long)gn_model_param_count(m));
    }
    gn_model_free(m);
    gn_context_destroy(ctx);
    return rc;
}
