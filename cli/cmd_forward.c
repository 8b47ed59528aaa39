/* ghostnet forward: logits for an NCHW float32 .npy batch. */
#include "cli.h"
#include "io/npy.h"

#include <stdlib.h>

static const char forward_help[] =
    "usage: ghostnet forward --weights FILE --input X.npy --output Y.npy [--threads N]\n"
    "\n"
    "Runs one inference pass (BN with running statistics, no dropout) on an N x C x H x W\n"
    "float32 .npy batch (float64/float16 are converted) and writes the N x classes logits as\n"
    "a float32 .npy. The output appears whole or not at all.\n"
    "\n"
    "  --weights FILE       model file (.safetensors with ghostnet metadata)\n"
    "  --input FILE         input batch (.npy, 4-D, C = the model's input channels)\n"
    "  --output FILE        where to write the logits (.npy)\n"
    "  --threads N          worker threads (default 1)\n"
    "  -h, --help           this help\n";

int cmd_forward(int argc, char **argv)
{
    cli_args a;
    const char *weights = NULL, *input = NULL, *output = NULL;
    int threads = 1, error = 0;
    cli_args_init(&a, "forward", argc, argv);
    for (const char *arg; (arg = cli_next(&a));) {
        if (cli_option(&a, arg, "--weights", &error))
            weights = a.value;
        else if (cli_option(&a, arg, "--input", &error))
            input = a.value;
        else if (cli_option(&a, arg, "--output", &error) || cli_option(&a, arg, "-o", &error))
            output = a.value;
        else if (cli_option(&a, arg, "--threads", &error)) {
            if (!error && cli_parse_int("forward", "--threads", a.value, 1, 256, &threads))
                return CLI_USAGE;
        } else if (cli_flag(arg, "-h") || cli_flag(arg, "--help")) {
            fputs(forward_help, stdout);
            return CLI_OK;
        } else
            return cli_usage_error("forward", "unknown argument '%s'", arg);
        if (error)
            return CLI_USAGE;
    }
    if (!weights || !input || !output)
        return cli_usage_error("forward", "--weights, --input and --output are required");

    gn_context_options options = {.threads = threads};
    cli_warn_threads("forward", threads);
    gn_context *ctx = NULL;
    gn_model *m = NULL;
    gn_npy x = {0};
    float *logits = NULL;
    int rc = CLI_ERROR;
    gn_status st = gn_context_create(&options, &ctx);
    if (st != GN_OK) {
        fprintf(stderr, "ghostnet forward: error: cannot create a context with %d threads\n",
                threads);
        return CLI_ERROR;
    }
    st = gn_model_load(ctx, weights, &m);
    if (st == GN_OK)
        st = gn_npy_read(ctx, input, &x);
    if (st != GN_OK) {
        rc = cli_lib_error("forward", ctx, st);
        goto done;
    }
    if (x.ndim != 4 || x.shape[1] != gn_model_in_channels(m) || x.shape[0] < 1 ||
        x.shape[0] > 1000000 || x.shape[2] > 65536 || x.shape[3] > 65536) {
        fprintf(stderr,
                "ghostnet forward: error: %s: expected a 4-D array N x %d x H x W, got %d-D",
                input, gn_model_in_channels(m), x.ndim);
        for (int i = 0; i < x.ndim; i++)
            fprintf(stderr, "%s%lld", i ? "x" : " ", (long long)x.shape[i]);
        fputc('\n', stderr);
        goto done;
    }
    int n = (int)x.shape[0], h = (int)x.shape[2], w = (int)x.shape[3];
    int classes = gn_model_num_classes(m);
    logits = malloc((size_t)n * (size_t)classes * sizeof(float));
    if (!logits) {
        fprintf(stderr, "ghostnet forward: error: out of memory for %d x %d logits\n", n, classes);
        goto done;
    }
    st = gn_model_forward(m, x.data, n, h, w, logits);
    if (st == GN_OK) {
        int64_t shape[2] = {n, classes};
        st = gn_npy_write(ctx, output, logits, 2, shape);
    }
    rc = st == GN_OK ? CLI_OK : cli_lib_error("forward", ctx, st);
done:
    free(logits);
    gn_npy_free(ctx, &x);
    gn_model_free(m);
    gn_context_destroy(ctx);
    return rc;
}
