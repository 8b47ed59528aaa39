/* Progress on stderr: a bar redrawn in place on a terminal; when stderr is a file or a pipe,
 * one plain line per tenth of the work, so logs stay readable. */
#include "cli.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, int64_t total)
{
    p->tty = isatty(fileno(stderr));
    p->total = total > 0 ? total : 1;
    p->last_decile = -1;
    p->start = cli_now();
}

static void format_duration(double seconds, char *buf, size_t size)
{
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void cli_progress_update(cli_progress *p, int64_t done, const char *prefix, const char *text)
{
    double elapsed = cli_now() - p->start;
    double fraction = (double)done / (double)p->total;
    char eta[32];
    format_duration(fraction > 0 ? elapsed * (1 - fraction) / fraction : 0, eta, sizeof(eta));
    if (p->tty) {
        char bar[31];
        int filled = (int)(fraction * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
        bar[30] = '\0';
        fprintf(stderr, "\r\033[K%s [%s] %3d%% %s ETA %s", prefix, bar, (int)(fraction * 100),
                text, eta);
        fflush(stderr);
        return;
    }
    int decile = (int)(fraction * 10);
    if (decile == p->last_decile)
        return;
    p->last_decile = decile;
    fprintf(stderr, "%s %3d%% %s ETA %s\n", prefix, (int)(fraction * 100), text, eta);
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty)
        fputs("\r\033[K", stderr);
}
