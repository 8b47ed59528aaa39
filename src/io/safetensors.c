/* safetensors reading and writing.
 *
 * The reader maps the whole file and trusts nothing in it: the header length is checked against
 * the file size before the header is touched, the JSON is parsed strictly, and every tensor's
 * dtype, shape and offsets are checked before its data pointer is formed. Like the reference
 * implementation, the tensors sorted by offset must tile the data buffer exactly, so a file has
 * no hidden bytes, no overlapping tensors and no tensor that runs off the end. */
#include "io/safetensors.h"

#include "io/atomic_file.h"
#include "io/json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define METADATA_KEY "__metadata__"
/* The reference implementation's limit: a longer header is an attack, not a model. */
#define MAX_HEADER_LENGTH 100000000u
/* Data starts at a multiple of this in the files we write (any offset is accepted on read). */
#define DATA_ALIGNMENT 64
#define SHAPE_TEXT_MAX (GN_MAX_DIMS * 22 + 3)

/* Where one tensor's bytes lie in the data buffer, for the layout check. */
typedef struct span {
    uint64_t begin, end;
    const char *name;
} span;

/* ---------------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------------- */

/* A zeroed array of count elements (count may be 0), or NULL with an error recorded. */
static void *alloc_array(gn_context *ctx, const char *path, size_t count, size_t elem_size)
{
    size_t bytes;
    void *array = NULL;
    if (gn_mul_size(count, elem_size, &bytes))
        array = gn_alloc_zero(ctx, bytes ? bytes : 1);
    if (!array)
        gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory for a table of %zu entries", path, count);
    return array;
}

static gn_status map_file(gn_context *ctx, gn_st_file *file)
{
    const char *path = file->path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gn_fail(ctx, GN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    gn_status status = GN_OK;
    if (fstat(fd, &st) != 0) {
        status = gn_fail(ctx, GN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        status = gn_fail(ctx, GN_ERR_IO, "%s: not a regular file", path);
    } else if (st.st_size < 8) {
        status = gn_fail(ctx, GN_ERR_FORMAT,
                         "%s: file is %lld bytes, too short for the 8-byte header length", path,
                         (long long)st.st_size);
    } else if ((uintmax_t)st.st_size > SIZE_MAX) {
        status = gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: file is too large to map", path);
    } else {
        /* Private and writable: callers may update tensors in place, the file never changes. */
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            status = gn_fail(ctx, GN_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        } else {
            file->map = map;
            file->map_size = (size_t)st.st_size;
        }
    }
    close(fd);
    return status;
}

static void format_shape(char *out, const gn_st_tensor *tensor)
{
    size_t length = 0;
    out[length++] = '[';
    for (int i = 0; i < tensor->ndim; i++)
        length += (size_t)snprintf(out + length, SHAPE_TEXT_MAX - length, "%s%" PRId64,
                                   i ? ", " : "", tensor->shape[i]);
    snprintf(out + length, SHAPE_TEXT_MAX - length, "]");
}

/* Whether value is a JSON integer in [0, INT64_MAX]. */
static int is_count(const gn_json *value)
{
    return value->type == GN_JSON_NUMBER && value->is_integer && value->integer >= 0;
}

static gn_status read_dtype(gn_context *ctx, const char *path, const gn_json *desc,
                            gn_st_tensor *tensor)
{
    const gn_json *dtype = gn_json_get(desc, "dtype");
    if (!dtype || dtype->type != GN_JSON_STRING)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is missing or not a string",
                       path, tensor->name);
    if (gn_dtype_parse(dtype->string, &tensor->dtype) != 0)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: tensor '%s': unknown or unsupported dtype '%s' (known: F32, F16, "
                       "BF16, F64, I64, I32, I16, I8, U8, BOOL)",
                       path, tensor->name, dtype->string);
    return GN_OK;
}

static gn_status read_shape(gn_context *ctx, const char *path, const gn_json *desc,
                            gn_st_tensor *tensor)
{
    const gn_json *shape = gn_json_get(desc, "shape");
    if (!shape || shape->type != GN_JSON_ARRAY)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: tensor '%s': \"shape\" is missing or not an array",
                       path, tensor->name);
    if (shape->length > GN_MAX_DIMS)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED,
                       "%s: tensor '%s': shape has %zu dimensions, at most %d are supported", path,
                       tensor->name, shape->length, GN_MAX_DIMS);
    int64_t numel = 1;
    for (size_t i = 0; i < shape->length; i++) {
        const gn_json *dim = &shape->items[i];
        if (!is_count(dim))
            return gn_fail(ctx, GN_ERR_FORMAT,
                           "%s: tensor '%s': shape[%zu] is not a non-negative integer", path,
                           tensor->name, i);
        if (dim->integer != 0 && numel > INT64_MAX / dim->integer)
            return gn_fail(ctx, GN_ERR_FORMAT,
                           "%s: tensor '%s': shape has more elements than fit in 64 bits", path,
                           tensor->name);
        numel *= dim->integer;
        tensor->shape[i] = dim->integer;
    }
    tensor->ndim = (int)shape->length;
    tensor->numel = numel;
    return GN_OK;
}

/* Checks data_offsets against the data size and the tensor's dtype and shape. */
static gn_status read_offsets(gn_context *ctx, const char *path, const gn_json *desc,
                              uint64_t data_size, gn_st_tensor *tensor, span *where)
{
    const gn_json *offsets = gn_json_get(desc, "data_offsets");
    if (!offsets || offsets->type != GN_JSON_ARRAY || offsets->length != 2)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: tensor '%s': \"data_offsets\" is missing or not a [begin, end] pair",
                       path, tensor->name);
    if (!is_count(&offsets->items[0]) || !is_count(&offsets->items[1]))
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets are not non-negative integers", path,
                       tensor->name);
    uint64_t begin = (uint64_t)offsets->items[0].integer;
    uint64_t end = (uint64_t)offsets->items[1].integer;
    if (begin > end)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they "
                       "begin", path, tensor->name, begin, end);
    if (end > data_size)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] run past the end "
                       "of the data (%" PRIu64 " bytes)", path, tensor->name, begin, end,
                       data_size);
    size_t nbytes = 0;
    if ((uint64_t)tensor->numel > SIZE_MAX ||
        !gn_mul_size((size_t)tensor->numel, gn_dtype_size(tensor->dtype), &nbytes) ||
        nbytes != end - begin) {
        char shape_text[SHAPE_TEXT_MAX];
        format_shape(shape_text, tensor);
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: tensor '%s': %s %s needs %" PRId64 " x %zu bytes but data_offsets [%"
                       PRIu64 ", %" PRIu64 "] hold %" PRIu64, path, tensor->name,
                       gn_dtype_name(tensor->dtype), shape_text, tensor->numel,
                       gn_dtype_size(tensor->dtype), begin, end, end - begin);
    }
    tensor->nbytes = nbytes;
    where->begin = begin;
    where->end = end;
    where->name = tensor->name;
    return GN_OK;
}

static gn_status check_fields(gn_context *ctx, const char *path, const gn_json *desc,
                              const char *name)
{
    if (desc->type != GN_JSON_OBJECT)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: tensor '%s': description is not an object", path,
                       name);
    for (size_t i = 0; i < desc->length; i++) {
        const char *key = desc->keys[i];
        if (strcmp(key, "dtype") != 0 && strcmp(key, "shape") != 0 &&
            strcmp(key, "data_offsets") != 0)
            return gn_fail(ctx, GN_ERR_FORMAT, "%s: tensor '%s': unexpected field \"%s\"", path,
                           name, key);
    }
    return GN_OK;
}

static gn_status read_tensor(gn_context *ctx, gn_st_file *file, const char *name,
                             const gn_json *desc, const unsigned char *data, uint64_t data_size,
                             gn_st_tensor *tensor, span *where)
{
    const char *path = file->path;
    if (name[0] == '\0')
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: a tensor has an empty name", path);
    gn_status status = check_fields(ctx, path, desc, name);
    if (status != GN_OK)
        return status;
    tensor->name = gn_strdup(ctx, name);
    if (!tensor->name)
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: tensor '%s': out of memory", path, name);
    status = read_dtype(ctx, path, desc, tensor);
    if (status == GN_OK)
        status = read_shape(ctx, path, desc, tensor);
    if (status == GN_OK)
        status = read_offsets(ctx, path, desc, data_size, tensor, where);
    if (status == GN_OK)
        tensor->data = data + where->begin;
    return status;
}

static gn_status read_metadata(gn_context *ctx, gn_st_file *file, const gn_json *meta)
{
    const char *path = file->path;
    if (meta->type != GN_JSON_OBJECT)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: \"" METADATA_KEY "\" is not an object", path);
    file->meta_keys = alloc_array(ctx, path, meta->length, sizeof(char *));
    file->meta_values = alloc_array(ctx, path, meta->length, sizeof(char *));
    if (!file->meta_keys || !file->meta_values)
        return GN_ERR_NOMEM;
    file->meta_count = meta->length;
    for (size_t i = 0; i < meta->length; i++) {
        if (meta->items[i].type != GN_JSON_STRING)
            return gn_fail(ctx, GN_ERR_FORMAT, "%s: metadata \"%s\" is not a string", path,
                           meta->keys[i]);
        file->meta_keys[i] = gn_strdup(ctx, meta->keys[i]);
        file->meta_values[i] = gn_strdup(ctx, meta->items[i].string);
        if (!file->meta_keys[i] || !file->meta_values[i])
            return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory copying metadata", path);
    }
    return GN_OK;
}

static int compare_spans(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Sorted by offset, the tensors must follow one another with no gap or overlap and end exactly
 * where the data does. */
static gn_status check_layout(gn_context *ctx, const char *path, span *spans, size_t count,
                              uint64_t data_size)
{
    qsort(spans, count, sizeof(*spans), compare_spans);
    uint64_t covered = 0;
    for (size_t i = 0; i < count; i++) {
        const span *s = &spans[i];
        if (s->begin < covered)
            return gn_fail(ctx, GN_ERR_FORMAT,
                           "%s: tensors '%s' [%" PRIu64 ", %" PRIu64 "] and '%s' [%" PRIu64
                           ", %" PRIu64 "] overlap", path, spans[i - 1].name, spans[i - 1].begin,
                           spans[i - 1].end, s->name, s->begin, s->end);
        if (s->begin > covered && i == 0)
            return gn_fail(ctx, GN_ERR_FORMAT,
                           "%s: the first %" PRIu64 " bytes of the data belong to no tensor "
                           "(tensor '%s' begins at %" PRIu64 ")", path, s->begin, s->name,
                           s->begin);
        if (s->begin > covered)
            return gn_fail(ctx, GN_ERR_FORMAT,
                           "%s: %" PRIu64 " bytes between tensor '%s' (ends at %" PRIu64
                           ") and tensor '%s' (begins at %" PRIu64 ") belong to no tensor",
                           path, s->begin - covered, spans[i - 1].name, covered, s->name,
                           s->begin);
        covered = s->end;
    }
    if (covered != data_size)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: the last %" PRIu64 " bytes of the data (offsets %" PRIu64 " to %" PRIu64
                       ") belong to no tensor", path, data_size - covered, covered, data_size);
    return GN_OK;
}

static gn_status read_entries(gn_context *ctx, gn_st_file *file, const gn_json *header,
                              const unsigned char *data, uint64_t data_size)
{
    const char *path = file->path;
    const gn_json *meta = gn_json_get(header, METADATA_KEY);
    size_t count = header->length - (meta != NULL);
    gn_status status = meta ? read_metadata(ctx, file, meta) : GN_OK;
    if (status != GN_OK)
        return status;
    file->tensors = alloc_array(ctx, path, count, sizeof(gn_st_tensor));
    span *spans = alloc_array(ctx, path, count, sizeof(span));
    if (!file->tensors || !spans) {
        gn_free(ctx, spans);
        return GN_ERR_NOMEM;
    }
    for (size_t i = 0; i < header->length && status == GN_OK; i++) {
        if (&header->items[i] == meta)
            continue;
        size_t n = file->count++; /* counted first, so gn_st_close frees a partial entry */
        status = read_tensor(ctx, file, header->keys[i], &header->items[i], data, data_size,
                             &file->tensors[n], &spans[n]);
    }
    if (status == GN_OK)
        status = check_layout(ctx, path, spans, count, data_size);
    gn_free(ctx, spans);
    return status;
}

static gn_status read_header(gn_context *ctx, gn_st_file *file)
{
    const char *path = file->path;
    const unsigned char *bytes = file->map;
    uint64_t header_length = gn_load_le64(bytes);
    uint64_t rest = file->map_size - 8;
    if (header_length > rest)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: header length %" PRIu64 " runs past the end of the file (%zu bytes)",
                       path, header_length, file->map_size);
    if (header_length > MAX_HEADER_LENGTH)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: header length %" PRIu64 " is over the %u-byte limit", path,
                       header_length, MAX_HEADER_LENGTH);
    if (header_length == 0 || bytes[8] != '{')
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: header does not start with '{'", path);
    char what[GN_ERROR_MAX];
    snprintf(what, sizeof(what), "%s: header", path);
    gn_json *header = NULL;
    gn_status status = gn_json_parse(ctx, (const char *)bytes + 8, (size_t)header_length, what,
                                     &header);
    if (status != GN_OK)
        return status;
    status = read_entries(ctx, file, header, bytes + 8 + header_length, rest - header_length);
    gn_json_free(ctx, header);
    return status;
}

gn_status gn_st_open(gn_context *ctx, const char *path, gn_st_file **out)
{
    *out = NULL;
    gn_st_file *file = gn_alloc_zero(ctx, sizeof(*file));
    if (file)
        file->path = gn_strdup(ctx, path);
    if (!file || !file->path) {
        gn_free(ctx, file);
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory", path);
    }
    gn_status status = map_file(ctx, file);
    if (status == GN_OK)
        status = read_header(ctx, file);
    if (status != GN_OK) {
        gn_st_close(ctx, file);
        return status;
    }
    *out = file;
    return GN_OK;
}

void gn_st_close(gn_context *ctx, gn_st_file *file)
{
    if (!file)
        return;
    for (size_t i = 0; i < file->count; i++)
        gn_free(ctx, file->tensors[i].name);
    for (size_t i = 0; i < file->meta_count; i++) {
        gn_free(ctx, file->meta_keys[i]);
        gn_free(ctx, file->meta_values[i]);
    }
    gn_free(ctx, file->tensors);
    gn_free(ctx, file->meta_keys);
    gn_free(ctx, file->meta_values);
    if (file->map)
        munmap(file->map, file->map_size);
    gn_free(ctx, file->path);
    gn_free(ctx, file);
}

const gn_st_tensor *gn_st_find(const gn_st_file *file, const char *name)
{
    for (size_t i = 0; i < file->count; i++)
        if (strcmp(file->tensors[i].name, name) == 0)
            return &file->tensors[i];
    return NULL;
}

const char *gn_st_meta(const gn_st_file *file, const char *key)
{
    for (size_t i = 0; i < file->meta_count; i++)
        if (strcmp(file->meta_keys[i], key) == 0)
            return file->meta_values[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------------- */

/* Bytes of an entry's data; 0 (and *nbytes untouched) if its shape is invalid or too large. */
static int entry_bytes(const gn_st_entry *entry, size_t *nbytes)
{
    size_t total = gn_dtype_size(entry->dtype);
    if (total == 0 || entry->ndim < 0 || entry->ndim > GN_MAX_DIMS ||
        (entry->ndim > 0 && !entry->shape))
        return 0;
    for (int i = 0; i < entry->ndim; i++) {
        int64_t dim = entry->shape[i];
        if (dim < 0 || (uint64_t)dim > SIZE_MAX || !gn_mul_size(total, (size_t)dim, &total))
            return 0;
    }
    *nbytes = total;
    return 1;
}

/* Checks one entry and sets *nbytes to the size of its data. */
static gn_status check_entry(gn_context *ctx, const char *path, const gn_st_entry *entry,
                             size_t index, size_t *nbytes)
{
    const char *name = entry->name;
    if (!name || name[0] == '\0')
        return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: tensor %zu has no name", path, index);
    if (!gn_json_is_utf8(name, strlen(name)))
        return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: tensor %zu: name is not valid UTF-8", path,
                       index);
    if (strcmp(name, METADATA_KEY) == 0)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: \"" METADATA_KEY "\" is not a tensor name",
                       path);
    if (!entry_bytes(entry, nbytes))
        return gn_fail(ctx, GN_ERR_ARGUMENT,
                       "%s: tensor '%s': invalid dtype (%d) or shape (%d dimensions)", path, name,
                       (int)entry->dtype, entry->ndim);
    if (*nbytes > 0 && !entry->data)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: tensor '%s': no data", path, name);
    return GN_OK;
}

/* Refuses a repeated name: the file would be unreadable. */
static gn_status check_unique(gn_context *ctx, const char *path, const char *const *names,
                              size_t count, const char *kind)
{
    const char *duplicate = NULL;
    gn_status status = gn_json_find_duplicate(ctx, names, count, &duplicate);
    if (status != GN_OK)
        return gn_fail_prefix(ctx, status, "%s", path);
    if (duplicate)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: %s '%s' appears twice", path, kind, duplicate);
    return GN_OK;
}

static gn_status check_entries(gn_context *ctx, const char *path, const gn_st_entry *entries,
                               size_t count)
{
    uint64_t total = 0; /* offsets must stay within int64 for readers */
    for (size_t i = 0; i < count; i++) {
        size_t nbytes = 0;
        gn_status status = check_entry(ctx, path, &entries[i], i, &nbytes);
        if (status != GN_OK)
            return status;
        if (nbytes > (uint64_t)INT64_MAX - total)
            return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: tensors hold more than 2^63 bytes in total",
                           path);
        total += nbytes;
    }
    const char **names = alloc_array(ctx, path, count, sizeof(*names));
    if (!names)
        return GN_ERR_NOMEM;
    for (size_t i = 0; i < count; i++)
        names[i] = entries[i].name;
    gn_status status = check_unique(ctx, path, names, count, "tensor name");
    gn_free(ctx, names);
    return status;
}

static gn_status check_metadata(gn_context *ctx, const char *path, const char *const *keys,
                                const char *const *values, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (!keys[i] || !values[i])
            return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: metadata entry %zu is NULL", path, i);
        if (!gn_json_is_utf8(keys[i], strlen(keys[i])) ||
            !gn_json_is_utf8(values[i], strlen(values[i])))
            return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: metadata entry %zu is not valid UTF-8",
                           path, i);
    }
    return check_unique(ctx, path, keys, count, "metadata key");
}

static void write_metadata(FILE *fp, const char *const *keys, const char *const *values,
                           size_t count)
{
    gn_json_write_string(fp, METADATA_KEY);
    fputs(":{", fp);
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            fputc(',', fp);
        gn_json_write_string(fp, keys[i]);
        fputc(':', fp);
        gn_json_write_string(fp, values[i]);
    }
    fputc('}', fp);
}

static void write_tensor_entry(FILE *fp, const gn_st_entry *entry, size_t begin, size_t end)
{
    gn_json_write_string(fp, entry->name);
    fprintf(fp, ":{\"dtype\":\"%s\",\"shape\":[", gn_dtype_name(entry->dtype));
    for (int i = 0; i < entry->ndim; i++)
        fprintf(fp, "%s%" PRId64, i ? "," : "", entry->shape[i]);
    fprintf(fp, "],\"data_offsets\":[%zu,%zu]}", begin, end);
}

static gn_status seek_failed(gn_context *ctx, const gn_atomic_file *af)
{
    return gn_fail(ctx, GN_ERR_IO, "%s: cannot seek in temporary file '%s': %s", af->path,
                   af->temp_path, strerror(errno));
}

/* Writes a placeholder length, the JSON and the padding, then goes back to fill the length in:
 * it is only known once the names have been escaped and the numbers printed. */
static gn_status write_header(gn_context *ctx, gn_atomic_file *af, const gn_st_entry *entries,
                              size_t count, const char *const *meta_keys,
                              const char *const *meta_values, size_t meta_count)
{
    FILE *fp = af->fp;
    unsigned char length_bytes[8] = {0};
    gn_status status = gn_atomic_write(ctx, af, length_bytes, sizeof(length_bytes));
    if (status != GN_OK)
        return status;
    fputc('{', fp);
    if (meta_count > 0)
        write_metadata(fp, meta_keys, meta_values, meta_count);
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        size_t nbytes = 0;
        entry_bytes(&entries[i], &nbytes); /* checked by check_entries */
        if (i > 0 || meta_count > 0)
            fputc(',', fp);
        write_tensor_entry(fp, &entries[i], offset, offset + nbytes);
        offset += nbytes;
    }
    fputc('}', fp);
    status = gn_atomic_check(ctx, af);
    if (status != GN_OK)
        return status;
    long end = ftell(fp);
    if (end < 0)
        return seek_failed(ctx, af);
    size_t padding = (DATA_ALIGNMENT - (size_t)end % DATA_ALIGNMENT) % DATA_ALIGNMENT;
    uint64_t header_length = (uint64_t)end + padding - 8;
    if (header_length > MAX_HEADER_LENGTH)
        return gn_fail(ctx, GN_ERR_ARGUMENT,
                       "%s: header would be %" PRIu64 " bytes, over the %u-byte limit readers "
                       "accept", af->path, header_length, MAX_HEADER_LENGTH);
    char spaces[DATA_ALIGNMENT];
    memset(spaces, ' ', sizeof(spaces));
    status = gn_atomic_write(ctx, af, spaces, padding);
    if (status != GN_OK)
        return status;
    gn_store_le(length_bytes, header_length, sizeof(length_bytes));
    if (fseek(fp, 0, SEEK_SET) != 0)
        return seek_failed(ctx, af);
    status = gn_atomic_write(ctx, af, length_bytes, sizeof(length_bytes));
    if (status == GN_OK && fseek(fp, 0, SEEK_END) != 0)
        status = seek_failed(ctx, af);
    return status;
}

gn_status gn_st_write(gn_context *ctx, const char *path, const gn_st_entry *entries, size_t count,
                      const char *const *meta_keys, const char *const *meta_values,
                      size_t meta_count)
{
    gn_status status = check_entries(ctx, path, entries, count);
    if (status == GN_OK)
        status = check_metadata(ctx, path, meta_keys, meta_values, meta_count);
    if (status != GN_OK)
        return status;
    gn_atomic_file af;
    status = gn_atomic_open(ctx, path, &af);
    if (status != GN_OK)
        return status;
    status = write_header(ctx, &af, entries, count, meta_keys, meta_values, meta_count);
    for (size_t i = 0; i < count && status == GN_OK; i++) {
        size_t nbytes = 0;
        entry_bytes(&entries[i], &nbytes);
        status = gn_atomic_write(ctx, &af, entries[i].data, nbytes);
    }
    if (status != GN_OK) {
        gn_atomic_abort(ctx, &af);
        return status;
    }
    return gn_atomic_commit(ctx, &af);
}
