/* ZIP archive reading (PKWARE APPNOTE: end of central directory, ZIP64 locator and record,
 * central directory headers, local headers), limited to what checkpoint files use. */
#include "io/zip.h"

#include "io/dtype.h"
#include "io/json.h"

#include <inttypes.h>
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

#define LOCAL_SIZE 30
#define CENTRAL_SIZE 46
#define END_SIZE 22
#define END64_SIZE 56
#define LOCATOR64_SIZE 20
#define MAX_COMMENT 65535
#define ZIP64_EXTRA_ID 0x0001
#define FLAG_ENCRYPTED 0x0001
#define METHOD_STORED 0

/* Where the central directory is, from the end records. */
typedef struct directory {
    uint64_t offset, size, count;
} directory;

bool gn_zip_is_archive(const unsigned char *data, size_t size)
{
    return size >= 4 && gn_load_le32(data) == SIG_LOCAL;
}

/* Whether [offset, offset + length) lies inside the archive. */
static bool in_archive(const gn_zip *zip, uint64_t offset, uint64_t length)
{
    return offset <= zip->size && length <= zip->size - offset;
}

/* The end-of-central-directory record is the last one in the file; a comment of up to 64 KiB
 * may follow it, so search backwards over that window. */
static gn_status find_end(gn_context *ctx, const gn_zip *zip, size_t *end)
{
    if (zip->size < END_SIZE)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: %zu bytes is too short for a ZIP archive",
                       zip->what, zip->size);
    size_t lowest = zip->size - END_SIZE > MAX_COMMENT ? zip->size - END_SIZE - MAX_COMMENT : 0;
    for (size_t at = zip->size - END_SIZE + 1; at-- > lowest;) {
        const unsigned char *p = zip->data + at;
        if (gn_load_le32(p) == SIG_END && at + END_SIZE + gn_load_le16(p + 20) == zip->size) {
            *end = at;
            return GN_OK;
        }
    }
    return gn_fail(ctx, GN_ERR_FORMAT,
                   "%s: no end-of-central-directory record (truncated or not a ZIP archive)",
                   zip->what);
}

static gn_status read_end64(gn_context *ctx, const gn_zip *zip, size_t end, directory *dir)
{
    if (end < LOCATOR64_SIZE || gn_load_le32(zip->data + end - LOCATOR64_SIZE) != SIG_LOCATOR64)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: ZIP64 sizes without a ZIP64 locator", zip->what);
    const unsigned char *locator = zip->data + end - LOCATOR64_SIZE;
    uint64_t record = gn_load_le64(locator + 8);
    if (gn_load_le32(locator + 4) != 0 || gn_load_le32(locator + 16) > 1)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: multi-disk ZIP archives are not supported",
                       zip->what);
    if (!in_archive(zip, record, END64_SIZE) || record + END64_SIZE > end - LOCATOR64_SIZE ||
        gn_load_le32(zip->data + record) != SIG_END64)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: ZIP64 end record at offset %" PRIu64
                       " is missing or outside the archive", zip->what, record);
    const unsigned char *p = zip->data + record;
    dir->count = gn_load_le64(p + 32);
    dir->size = gn_load_le64(p + 40);
    dir->offset = gn_load_le64(p + 48);
    if (gn_load_le32(p + 16) != 0 || gn_load_le32(p + 20) != 0 ||
        gn_load_le64(p + 24) != dir->count)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: multi-disk ZIP archives are not supported",
                       zip->what);
    return GN_OK;
}

static gn_status read_directory_location(gn_context *ctx, const gn_zip *zip, directory *dir)
{
    size_t end = 0;
    gn_status st = find_end(ctx, zip, &end);
    if (st != GN_OK)
        return st;
    const unsigned char *p = zip->data + end;
    uint16_t count16 = gn_load_le16(p + 10);
    uint32_t size32 = gn_load_le32(p + 12), offset32 = gn_load_le32(p + 16);
    if (count16 == 0xFFFF || size32 == 0xFFFFFFFFu || offset32 == 0xFFFFFFFFu)
        return read_end64(ctx, zip, end, dir);
    if (gn_load_le16(p + 4) != 0 || gn_load_le16(p + 6) != 0 || gn_load_le16(p + 8) != count16)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: multi-disk ZIP archives are not supported",
                       zip->what);
    dir->count = count16;
    dir->size = size32;
    dir->offset = offset32;
    return GN_OK;
}

/* ZIP64 extended information: the 64-bit values of the header fields that hold 0xFFFFFFFF,
 * in the order uncompressed size, compressed size, local header offset. */
static gn_status read_zip64_extra(gn_context *ctx, const gn_zip *zip, const unsigned char *extra,
                                  size_t length, const char *name, uint64_t *fields[3])
{
    while (length >= 4) {
        uint16_t id = gn_load_le16(extra), size = gn_load_le16(extra + 2);
        if ((size_t)size > length - 4)
            break;
        if (id == ZIP64_EXTRA_ID) {
            size_t used = 0;
            for (int i = 0; i < 3; i++) {
                if (*fields[i] != 0xFFFFFFFFu)
                    continue;
                if (used + 8 > size)
                    return gn_fail(ctx, GN_ERR_FORMAT, "%s: entry '%s': ZIP64 field too short",
                                   zip->what, name);
                *fields[i] = gn_load_le64(extra + 4 + used);
                used += 8;
            }
            return GN_OK;
        }
        extra += 4 + (size_t)size;
        length -= 4 + (size_t)size;
    }
    if (*fields[0] == 0xFFFFFFFFu || *fields[1] == 0xFFFFFFFFu || *fields[2] == 0xFFFFFFFFu)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: entry '%s' needs a ZIP64 field it does not have",
                       zip->what, name);
    return GN_OK;
}

/* The data follows the local header, whose name and extra field may differ in length from the
 * central directory's (PyTorch pads the local extra field to align the data). */
static gn_status locate_data(gn_context *ctx, const gn_zip *zip, uint64_t local, size_t name_length,
                             gn_zip_entry *entry)
{
    if (!in_archive(zip, local, LOCAL_SIZE) || gn_load_le32(zip->data + local) != SIG_LOCAL)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: entry '%s': no local header at offset %" PRIu64,
                       zip->what, entry->name, local);
    const unsigned char *p = zip->data + local;
    size_t local_name = gn_load_le16(p + 26), local_extra = gn_load_le16(p + 28);
    uint64_t start = local + LOCAL_SIZE + local_name + local_extra;
    if (!in_archive(zip, local + LOCAL_SIZE, local_name + local_extra))
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: entry '%s': local header runs past the end",
                       zip->what, entry->name);
    if (local_name != name_length || memcmp(p + LOCAL_SIZE, entry->name, name_length) != 0)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: entry '%s': local header names another file",
                       zip->what, entry->name);
    if (!in_archive(zip, start, entry->size))
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: entry '%s': %" PRIu64 " bytes at offset %" PRIu64
                       " run past the end of the archive (%zu bytes)",
                       zip->what, entry->name, entry->size, start, zip->size);
    entry->offset = start;
    return GN_OK;
}

/* Parses one central directory header at *at (checked to lie inside the directory). */
static gn_status read_entry(gn_context *ctx, const gn_zip *zip, const unsigned char *dir,
                            uint64_t dir_size, uint64_t *at, gn_zip_entry *entry)
{
    if (dir_size - *at < CENTRAL_SIZE || gn_load_le32(dir + *at) != SIG_CENTRAL)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: central directory entry at offset %" PRIu64
                       " is damaged", zip->what, *at);
    const unsigned char *p = dir + *at;
    size_t name_length = gn_load_le16(p + 28), extra_length = gn_load_le16(p + 30);
    size_t total = CENTRAL_SIZE + name_length + extra_length + gn_load_le16(p + 32);
    if (dir_size - *at < total)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: central directory entry at offset %" PRIu64
                       " runs past the directory", zip->what, *at);
    entry->name = gn_alloc_named(ctx, name_length + 1, "a ZIP entry name");
    if (!entry->name)
        return GN_ERR_NOMEM;
    memcpy(entry->name, p + CENTRAL_SIZE, name_length);
    entry->name[name_length] = '\0';
    if (strlen(entry->name) != name_length)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: an entry name contains a NUL byte", zip->what);
    uint16_t flags = gn_load_le16(p + 8), method = gn_load_le16(p + 10);
    if (flags & FLAG_ENCRYPTED)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: entry '%s' is encrypted", zip->what,
                       entry->name);
    if (method != METHOD_STORED)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED,
                       "%s: entry '%s' is compressed (method %u); only stored entries are "
                       "supported, as torch.save writes them",
                       zip->what, entry->name, method);
    uint64_t size = gn_load_le32(p + 24), compressed = gn_load_le32(p + 20);
    uint64_t local = gn_load_le32(p + 42);
    uint64_t *fields[3] = {&size, &compressed, &local};
    gn_status st = read_zip64_extra(ctx, zip, p + CENTRAL_SIZE + name_length, extra_length,
                                    entry->name, fields);
    if (st != GN_OK)
        return st;
    if (compressed != size)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: stored entry '%s' has sizes %" PRIu64
                       " and %" PRIu64, zip->what, entry->name, compressed, size);
    entry->size = size;
    entry->crc32 = gn_load_le32(p + 16);
    *at += total;
    return locate_data(ctx, zip, local, name_length, entry);
}

static gn_status check_unique_names(gn_context *ctx, const gn_zip *zip)
{
    const char **names = gn_alloc_named(ctx, (zip->count ? zip->count : 1) * sizeof(*names),
                                        "ZIP entry names");
    if (!names)
        return GN_ERR_NOMEM;
    for (size_t i = 0; i < zip->count; i++)
        names[i] = zip->entries[i].name;
    const char *duplicate = NULL;
    gn_status st = gn_json_find_duplicate(ctx, names, zip->count, &duplicate);
    gn_free(ctx, names);
    if (st == GN_OK && duplicate)
        st = gn_fail(ctx, GN_ERR_FORMAT, "%s: entry '%s' appears twice", zip->what, duplicate);
    return st;
}

static gn_status read_entries(gn_context *ctx, gn_zip *zip, const directory *dir)
{
    if (!in_archive(zip, dir->offset, dir->size))
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: central directory (%" PRIu64 " bytes at offset %" PRIu64
                       ") runs past the end of the archive (%zu bytes)",
                       zip->what, dir->size, dir->offset, zip->size);
    /* Each header takes at least CENTRAL_SIZE bytes, which bounds the table by the file. */
    if (dir->count > dir->size / CENTRAL_SIZE)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: %" PRIu64 " entries cannot fit in a %" PRIu64 "-byte directory",
                       zip->what, dir->count, dir->size);
    zip->entries = gn_alloc_zero(ctx, (size_t)(dir->count ? dir->count : 1) * sizeof(gn_zip_entry));
    if (!zip->entries)
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory for %" PRIu64 " entries", zip->what,
                       dir->count);
    const unsigned char *base = zip->data + dir->offset;
    uint64_t at = 0;
    for (uint64_t i = 0; i < dir->count; i++) {
        gn_status st = read_entry(ctx, zip, base, dir->size, &at, &zip->entries[zip->count++]);
        if (st != GN_OK)
            return st;
    }
    return check_unique_names(ctx, zip);
}

gn_status gn_zip_open(gn_context *ctx, const unsigned char *data, size_t size, const char *what,
                      gn_zip *out)
{
    memset(out, 0, sizeof(*out));
    out->what = what;
    out->data = data;
    out->size = size;
    directory dir = {0, 0, 0};
    gn_status st = read_directory_location(ctx, out, &dir);
    if (st == GN_OK)
        st = read_entries(ctx, out, &dir);
    if (st != GN_OK)
        gn_zip_close(ctx, out);
    return st;
}

void gn_zip_close(gn_context *ctx, gn_zip *zip)
{
    for (size_t i = 0; i < zip->count; i++)
        gn_free(ctx, zip->entries[i].name);
    gn_free(ctx, zip->entries);
    zip->entries = NULL;
    zip->count = 0;
}

const gn_zip_entry *gn_zip_find(const gn_zip *zip, const char *name)
{
    for (size_t i = 0; i < zip->count; i++)
        if (strcmp(zip->entries[i].name, name) == 0)
            return &zip->entries[i];
    return NULL;
}

gn_status gn_zip_entry_data(gn_context *ctx, const gn_zip *zip, const gn_zip_entry *entry,
                            const unsigned char **bytes)
{
    const unsigned char *p = zip->data + entry->offset;
    /* zlib's crc32 takes a uInt length: feed large entries in pieces. */
    uLong crc = crc32(0L, Z_NULL, 0);
    for (uint64_t done = 0; done < entry->size;) {
        uint64_t piece = entry->size - done < (1u << 30) ? entry->size - done : (1u << 30);
        crc = crc32(crc, p + done, (uInt)piece);
        done += piece;
    }
    if ((uint32_t)crc != entry->crc32)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: entry '%s' is corrupt (CRC-32 %08" PRIx32
                       ", expected %08" PRIx32 ")", zip->what, entry->name, (uint32_t)crc,
                       entry->crc32);
    *bytes = p;
    return GN_OK;
}
