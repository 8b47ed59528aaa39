/* ghostnet init: a randomly initialised model file with metadata. */
#include "cli.h"

static const char init_help[] =
    "usage: ghostnet init --arch NAME [model options] [--seed S] -o FILE\n"
    "\n"
    "Writes a model with PyTorch's default initialisation (kaiming-uniform conv and linear\n"
    "weights, BN weight 1 and bias 0) as a .safetensors model file with metadata.\n"
    "\n"
    "  -o, --output FILE    where to write the model\n"
    "  --seed S             random seed (default 0)\n"
    "  -h, --help           this help\n"
    "\n";

int cmd_init(int argc, char **argv)
{
    cli_args a;
    cli_model_spec spec;
    const char *output = NULL;
    uint64_t seed = 0;
    int error = 0;
    cli_args_init(&a, "init", argc, argv);
    cli_model_spec_init(&spec);
    for (const char *arg; (arg = cli_next(&a));) {
        int used = cli_model_option(&a, arg, &spec);
        if (used < 0)
            return CLI_USAGE;
        if (used)
            continue;
        if (cli_option(&a, arg, "-o", &error) || cli_option(&a, arg, "--output", &error))
            output = a.value;
        else if (cli_option(&a, arg, "--seed", &error)) {
            if (!error && cli_parse_u64("init", "--seed", a.value, &seed))
                return CLI_USAGE;
        } else if (cli_flag(arg, "-h") || cli_flag(arg, "--help")) {
            fputs(init_help, stdout);
            fputs(cli_model_options_help, stdout);
            return CLI_OK;
        } else
            return cli_usage_error("init", "unknown argument '%s'", arg);
        if (error)
            return CLI_USAGE;
    }
    if (!output)
        return cli_usage_error("init", "-o FILE is required");
    if (spec.weights)
        return cli_usage_error("init", "--weights does not apply; give --arch");
    gn_context *ctx = NULL;
    gn_model *m = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK) {
        fprintf(stderr, "ghostnet init: error: cannot create a context\n");
        return CLI_ERROR;
    }
    int rc = cli_open_model("init", ctx, &spec, seed, &m);
    if (rc == CLI_OK) {
        gn_status st = gn_model_save(m, output);
        rc = st == GN_OK ? CLI_OK : cli_lib_error("init", ctx, st);
    }
    gn_model_free(m);
    gn_context_destroy(ctx);
    return rc;
}
