/* Whole files mapped read-only into memory, for readers that walk a file's bytes in place. */
#ifndef GN_FILE_MAP_H
#define GN_FILE_MAP_H

#include "core/internal.h"

typedef struct gn_file_map {
    const unsigned char *data; /* NULL for an empty file                                      */
    size_t size;
} gn_file_map;

/* Maps a regular file of at most max_size bytes. Errors name the path: it does not open, is
 * not a regular file, or is larger than max_size ("what" says what the file should be). */
gn_status gn_file_map_open(gn_context *ctx, const char *path, uint64_t max_size,
                           const char *what, gn_file_map *out);
void gn_file_map_close(gn_file_map *map);

#endif
