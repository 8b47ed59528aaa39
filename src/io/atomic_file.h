/* Files that appear whole or not at all: write to a temporary file beside the target, fsync,
 * rename over the target, fsync the directory. A crash or an error never leaves a half-written
 * file at the target path. */
#ifndef GN_ATOMIC_FILE_H
#define GN_ATOMIC_FILE_H

#include "core/internal.h"

#include <stdio.h>

typedef struct gn_atomic_file {
    FILE *fp;          /* write through this                                  */
    char *path;        /* target                                              */
    char *temp_path;   /* "<dir>/.<name>.tmp.<pid>.<n>"                       */
} gn_atomic_file;

gn_status gn_atomic_open(gn_context *ctx, const char *path, gn_atomic_file *af);
/* Writes size bytes through af->fp; a failure is recorded naming the target and temp file. */
gn_status gn_atomic_write(gn_context *ctx, gn_atomic_file *af, const void *data, size_t size);
/* After writing through af->fp directly (fprintf, fputc): records an error if any failed. */
gn_status gn_atomic_check(gn_context *ctx, gn_atomic_file *af);
/* Flushes, fsyncs, renames. On failure the temporary file is removed and the target untouched. */
gn_status gn_atomic_commit(gn_context *ctx, gn_atomic_file *af);
/* Discards the temporary file. Safe to call after a failed commit or twice. */
void gn_atomic_abort(gn_context *ctx, gn_atomic_file *af);

#endif
