/* A strict reader for ZIP archives held in memory, as PyTorch (>= 1.6) writes checkpoints:
 * entries stored uncompressed, optionally ZIP64. Everything read from the archive is checked
 * against its size before use: the end-of-central-directory record, the central directory, each
 * local header and each entry's data. Compressed, encrypted and multi-disk archives are refused
 * with a message saying so. */
#ifndef GN_ZIP_H
#define GN_ZIP_H

#include "core/internal.h"

typedef struct gn_zip_entry {
    char *name;           /* NUL-terminated; names with an embedded NUL are refused          */
    uint64_t offset;      /* of the entry's data in the archive                              */
    uint64_t size;        /* bytes of data (stored, so compressed size == size)              */
    uint32_t crc32;
} gn_zip_entry;

typedef struct gn_zip {
    const char *what;     /* names the archive in messages (a path)                          */
    const unsigned char *data;
    size_t size;
    gn_zip_entry *entries; /* in central-directory order                                     */
    size_t count;
} gn_zip;

/* Whether data starts like a ZIP archive (a local file header). */
bool gn_zip_is_archive(const unsigned char *data, size_t size);
/* Reads the directory of the archive data[0..size). The archive must outlive the gn_zip. */
gn_status gn_zip_open(gn_context *ctx, const unsigned char *data, size_t size, const char *what,
                      gn_zip *out);
void gn_zip_close(gn_context *ctx, gn_zip *zip);
const gn_zip_entry *gn_zip_find(const gn_zip *zip, const char *name);
/* The entry's bytes (inside the archive), after checking its CRC-32. */
gn_status gn_zip_entry_data(gn_context *ctx, const gn_zip *zip, const gn_zip_entry *entry,
                            const unsigned char **bytes);

#endif
