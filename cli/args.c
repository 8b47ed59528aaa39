/* Option parsing shared by the subcommands. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif

void cli_args_init(cli_args *a, const char *command, int argc, char **argv)
{
    memset(a, 0, sizeof(*a));
    a->argc = argc;
    a->argv = argv;
    a->index = 1;
    a->command = command;
}

const char *cli_next(cli_args *a)
{
    if (a->index >= a->argc)
        return NULL;
    return a->argv[a->index++];
}

int cli_flag(const char *arg, const char *name)
{
    return strcmp(arg, name) == 0;
}

int cli_option(cli_args *a, const char *arg, const char *name, int *error)
{
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0)
        return 0;
    if (arg[len] == '=') {
        a->value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0')
        return 0;
    if (a->index >= a->argc) {
        cli_usage_error(a->command, "%s needs a value", name);
        *error = 1;
        return 1;
    }
    a->value = a->argv[a->index++];
    return 1;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ghostnet %s: error: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'ghostnet %s --help')\n", command);
    return CLI_USAGE;
}

int cli_lib_error(const char *command, gn_context *ctx, gn_status st)
{
    const char *message = ctx ? gn_context_error(ctx) : "";
    fprintf(stderr, "ghostnet %s: error: %s\n", command, *message ? message : gn_status_name(st));
    return CLI_ERROR;
}

/* 0 if unknown. */
static int available_cpus(void)
{
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 && online < 1 << 20 ? (int)online : 0;
}

void cli_warn_threads(const char *command, int threads)
{
    int cpus = available_cpus();
    if (cpus > 0 && threads > cpus)
        fprintf(stderr,
                "ghostnet %s: warning: --threads %d is more than the %d CPU%s this process may "
                "use; every step waits for all threads, so expect it to run slower than with "
                "--threads %d\n",
                command, threads, cpus, cpus == 1 ? "" : "s", cpus);
}

int cli_parse_int(const char *command, const char *option, const char *text, long lo, long hi,
                  int *out)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < lo || value > hi) {
        cli_usage_error(command, "%s: '%s' is not an integer in [%ld, %ld]", option, text, lo, hi);
        return -1;
    }
    *out = (int)value;
    return 0;
}

int cli_parse_u64(const char *command, const char *option, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-') {
        cli_usage_error(command, "%s: '%s' is not a non-negative integer", option, text);
        return -1;
    }
    *out = (uint64_t)value;
    return 0;
}

int cli_parse_double(const char *command, const char *option, const char *text, double lo,
                     double hi, double *out)
{
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno || end == text || *end || !(value >= lo && value <= hi)) {
        cli_usage_error(command, "%s: '%s' is not a number in [%g, %g]", option, text, lo, hi);
        return -1;
    }
    *out = value;
    return 0;
}

int cli_parse_size(const char *command, const char *option, const char *text, int *h, int *w)
{
    char *end;
    errno = 0;
    long a = strtol(text, &end, 10), b;
    if (!errno && end != text && *end == '\0') {
        b = a;
    } else if (!errno && end != text && (*end == 'x' || *end == 'X')) {
        const char *second = end + 1;
        b = strtol(second, &end, 10);
        if (errno || end == second || *end)
            a = -1;
    } else {
        a = -1;
    }
    if (a < 1 || b < 1 || a > 65536 || b > 65536) {
        cli_usage_error(command, "%s: '%s' is not a size like 224 or 160x192", option, text);
        return -1;
    }
    *h = (int)a;
    *w = (int)b;
    return 0;
}
