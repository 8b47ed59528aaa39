/* The ghostnet command-line tool: shared option parsing and model opening. Each subcommand
 * lives in its own cmd_*.c and is a thin layer over the library. */
#ifndef GN_CLI_H
#define GN_CLI_H

#include "ghostnet.h"

#include <stdio.h>

/* Exit codes: 0 success, 1 runtime error, 2 usage error. */
enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2 };

/* Walks argv; supports "--name value" and "--name=value". */
typedef struct cli_args {
    int argc;
    char **argv;
    int index;          /* next argument to read                 */
    const char *command;
    const char *value;  /* value of the option just matched       */
    const char *inline_value;
} cli_args;

void cli_args_init(cli_args *a, const char *command, int argc, char **argv);
/* Next argument or NULL at the end. */
const char *cli_next(cli_args *a);
/* If arg is the option name, takes its value (reporting a missing one) and returns 1. */
int cli_option(cli_args *a, const char *arg, const char *name, int *error);
int cli_flag(const char *arg, const char *name);

int cli_parse_int(const char *command, const char *option, const char *text, long lo, long hi,
                  int *out);
int cli_parse_u64(const char *command, const char *option, const char *text, uint64_t *out);
int cli_parse_double(const char *command, const char *option, const char *text, double lo,
                     double hi, double *out);
/* "224" or "160x192". */
int cli_parse_size(const char *command, const char *option, const char *text, int *h, int *w);

/* Warns on stderr when threads exceeds the CPUs this process may run on (its affinity mask on
 * Linux, else the online count): the threads then take turns on the cores, and every step of a
 * forward pass or layer of a training step waits for all. */
void cli_warn_threads(const char *command, int threads);

/* Prints "ghostnet COMMAND: error: ..." to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Prints the library's message for st; returns CLI_ERROR. */
int cli_lib_error(const char *command, gn_context *ctx, gn_status st);

/* Options naming a model: --weights FILE, or --arch/--depth/--ghost/--width/--classes/
 * --in-chans/--input/--small-input to build one. */
typedef struct cli_model_spec {
    const char *weights;
    gn_model_config config;
    int have_arch;
    int have_input; /* --input was given */
    int have_classes, have_depth; /* --classes, --depth (or a depth in --arch) were given */
} cli_model_spec;

void cli_model_spec_init(cli_model_spec *spec);
/* Consumes arg if it is one of the model options: returns 1 if consumed, 0 if not, -1 on a
 * usage error (already reported). */
int cli_model_option(cli_args *a, const char *arg, cli_model_spec *spec);
/* Loads --weights or builds the architecture (seeded weights). */
int cli_open_model(const char *command, gn_context *ctx, const cli_model_spec *spec,
                   uint64_t seed, gn_model **out);
extern const char cli_model_options_help[];
/* Opens path with gn_checkpoint_load (model files, timm safetensors, PyTorch checkpoints); the
 * model options describe files without metadata, whose class count comes from the file unless
 * --classes was given. Reports errors; returns CLI_OK or CLI_ERROR. */
int cli_open_checkpoint(const char *command, gn_context *ctx, const cli_model_spec *spec,
                        const char *path, gn_model **out);

int cmd_info(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Shared by train and eval: evaluates model on data (inference mode), images prepared as the
 * model's metadata says (canvas size, mean/std). Fills loss/accuracy and, if confusion is not
 * NULL, the classes x classes matrix (rows: true label). */
typedef struct cli_eval_result {
    double loss, accuracy;
    int64_t count;
} cli_eval_result;
int cli_evaluate(const char *command, gn_model *model, const gn_dataset *data,
                 const int64_t *indices, int64_t count, int batch, int64_t *confusion,
                 cli_eval_result *result);

/* A progress line on stderr: redrawn in place on a terminal, plain lines every ~10% otherwise. */
typedef struct cli_progress {
    int tty;
    int64_t total;
    int last_decile;
    double start;
} cli_progress;
void cli_progress_start(cli_progress *p, int64_t total);
/* done of total units; text is appended after the bar (e.g. "loss 0.31 acc 88.2%"). */
void cli_progress_update(cli_progress *p, int64_t done, const char *prefix, const char *text);
void cli_progress_end(cli_progress *p);
double cli_now(void);

#endif
