/* ghostnet: command-line entry point. */
#include "cli.h"

#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "per-block table of shapes, params and MACs (paper Table 1)"},
    {"forward", cmd_forward, "logits for an NCHW .npy batch"},
    {"init", cmd_init, "write a randomly initialised model file"},
    {"convert", cmd_convert, "PyTorch checkpoint or timm safetensors -> model file"},
    {"classify", cmd_classify, "top-k ImageNet classes of photos (JPEG, PNG, BMP, PPM)"},
    {"train", cmd_train, "train a model on Fashion-MNIST, MNIST or CIFAR (SGD, checkpoints)"},
    {"eval", cmd_eval, "accuracy, per-class accuracy and confusion matrix on a data set"},
    {"bench", cmd_bench, "inference latency, throughput, GMAC/s, memory; per-layer times"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ghostnet COMMAND [options]    (ghostnet COMMAND --help for details)\n\n"
                 "GhostNet (Han et al., CVPR 2020) inference and training in C.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n  --version  print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ghostnet %s\n", GN_VERSION_STRING);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ghostnet: error: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
