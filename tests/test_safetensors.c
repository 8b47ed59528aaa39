/* safetensors: round trips of every dtype, the layout of the files we write, zero-copy and
 * copy-on-write access, a hostile-input suite in which every bad file is refused with the right
 * status and a message naming the file and the tensor or field at fault, writer argument checks,
 * a write that fails halfway, and allocation failures at every point. */
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */

static void fill_pattern(unsigned char *data, size_t size, unsigned seed)
{
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 37 + seed * 11 + 5);
}

/* Writes a file made of a given header length field, header bytes and data_size data bytes. */
static void write_st_raw(const char *path, uint64_t length_field, const char *header,
                         size_t header_size, size_t data_size)
{
    size_t total = 8 + header_size + data_size;
    unsigned char *bytes = malloc(total);
    for (int i = 0; i < 8; i++)
        bytes[i] = (unsigned char)(length_field >> (8 * i));
    memcpy(bytes + 8, header, header_size);
    fill_pattern(bytes + 8 + header_size, data_size, 1);
    CHECK(gn_test_write_file(path, bytes, total) == 0);
    free(bytes);
}

static void write_st(const char *path, const char *header, size_t data_size)
{
    write_st_raw(path, strlen(header), header, strlen(header), data_size);
}

static int read_whole(const char *path, unsigned char **data, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    long length = ftell(fp);
    rewind(fp);
    *data = malloc(length > 0 ? (size_t)length : 1);
    *size = fread(*data, 1, (size_t)length, fp);
    fclose(fp);
    return *size == (size_t)length ? 0 : -1;
}

/* Opens path expecting failure with status; the message must name the file and each needle. */
static void expect_open_error(gn_context *ctx, const char *path, gn_status expected,
                              const char *needle1, const char *needle2)
{
    gn_st_file *file = (gn_st_file *)&file; /* must be reset to NULL */
    gn_status status = gn_st_open(ctx, path, &file);
    const char *message = gn_context_error(ctx);
    CHECK_MSG(status == expected, "%s: got %s, want %s (%s)", path, gn_status_name(status),
              gn_status_name(expected), message);
    CHECK(file == NULL);
    CHECK_MSG(strstr(message, path) != NULL, "message \"%s\" does not name %s", message, path);
    CHECK_MSG(!needle1 || strstr(message, needle1), "message \"%s\" lacks \"%s\"", message,
              needle1);
    CHECK_MSG(!needle2 || strstr(message, needle2), "message \"%s\" lacks \"%s\"", message,
              needle2);
}

/* Writes header and data_size bytes, then expects the open to fail as described. */
static void expect_header_error(gn_context *ctx, const char *header, size_t data_size,
                                gn_status expected, const char *needle1, const char *needle2)
{
    const char *path = gn_test_path("hostile.safetensors");
    write_st(path, header, data_size);
    expect_open_error(ctx, path, expected, needle1, needle2);
}

/* Number of temporary files for target_name left in dir. */
static int count_temp_files(const char *dir, const char *target_name)
{
    char prefix[256];
    snprintf(prefix, sizeof(prefix), ".%s.tmp.", target_name);
    DIR *d = opendir(dir);
    int count = 0;
    if (!d)
        return -1;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            count++;
    closedir(d);
    return count;
}

/* ---------------------------------------------------------------------------------------------
 * Round trips
 * ------------------------------------------------------------------------------------------- */

enum { ENTRY_COUNT = 12 };

typedef struct sample {
    gn_st_entry entries[ENTRY_COUNT];
    int64_t shapes[ENTRY_COUNT][4];
    unsigned char *data[ENTRY_COUNT];
} sample;

static void make_sample(sample *s)
{
    static const struct {
        const char *name;
        gn_dtype dtype;
        int ndim;
        int64_t shape[4];
    } specs[ENTRY_COUNT] = {
        {"blocks.0.0.ghost1.primary_conv.0.weight", GN_DTYPE_F32, 4, {4, 3, 1, 1}},
        {"half", GN_DTYPE_F16, 2, {3, 5}},
        {"brain", GN_DTYPE_BF16, 1, {7}},
        {"double", GN_DTYPE_F64, 1, {3}},
        {"scalar", GN_DTYPE_F32, 0, {0}},
        {"num_batches_tracked", GN_DTYPE_I64, 0, {0}},
        {"ints", GN_DTYPE_I32, 2, {2, 2}},
        {"shorts", GN_DTYPE_I16, 1, {3}},
        {"bytes", GN_DTYPE_I8, 1, {5}},
        {"ubytes", GN_DTYPE_U8, 3, {1, 2, 3}},
        {"flags", GN_DTYPE_BOOL, 1, {4}},
        {"empty", GN_DTYPE_F32, 2, {0, 4}},
    };
    for (int i = 0; i < ENTRY_COUNT; i++) {
        size_t nbytes = gn_dtype_size(specs[i].dtype);
        for (int d = 0; d < specs[i].ndim; d++) {
            s->shapes[i][d] = specs[i].shape[d];
            nbytes *= (size_t)specs[i].shape[d];
        }
        s->data[i] = malloc(nbytes ? nbytes : 1);
        fill_pattern(s->data[i], nbytes, (unsigned)i);
        if (specs[i].dtype == GN_DTYPE_BOOL)
            for (size_t b = 0; b < nbytes; b++)
                s->data[i][b] &= 1;
        s->entries[i] = (gn_st_entry){specs[i].name, specs[i].dtype, specs[i].ndim,
                                      s->shapes[i], s->data[i]};
    }
}

static void free_sample(sample *s)
{
    for (int i = 0; i < ENTRY_COUNT; i++)
        free(s->data[i]);
}

static size_t entry_nbytes(const gn_st_entry *e)
{
    size_t n = gn_dtype_size(e->dtype);
    for (int d = 0; d < e->ndim; d++)
        n *= (size_t)e->shape[d];
    return n;
}

static const char *const meta_keys[] = {"format", "arch", "note"};
static const char *const meta_values[] = {"pt", "ghostnet", "quote \" tab \t caf\xc3\xa9"};

static void check_file_layout(const char *path, const char *first_key)
{
    unsigned char *bytes = NULL;
    size_t size = 0;
    CHECK(read_whole(path, &bytes, &size) == 0);
    if (size < 8) {
        free(bytes);
        return;
    }
    uint64_t header_length = 0;
    for (int i = 0; i < 8; i++)
        header_length |= (uint64_t)bytes[i] << (8 * i);
    CHECK(header_length <= size - 8);
    CHECK_MSG((8 + header_length) % 64 == 0, "data starts at %llu",
              (unsigned long long)(8 + header_length));
    CHECK(bytes[8] == '{');
    size_t prefix = strlen(first_key);
    CHECK_MSG(header_length > prefix && memcmp(bytes + 9, first_key, prefix) == 0,
              "header begins %.40s", (const char *)bytes + 8);
    /* The padding is spaces, after the closing brace. */
    size_t end = 8 + (size_t)header_length;
    while (end > 8 && bytes[end - 1] == ' ')
        end--;
    CHECK(end > 8 && bytes[end - 1] == '}');
    CHECK(8 + header_length - end < 64);
    free(bytes);
}

static void test_round_trip(gn_context *ctx)
{
    sample s;
    make_sample(&s);
    const char *path = gn_test_path("round_trip.safetensors");
    gn_status status = gn_st_write(ctx, path, s.entries, ENTRY_COUNT, meta_keys, meta_values, 3);
    CHECK_MSG(status == GN_OK, "%s", gn_context_error(ctx));
    check_file_layout(path, "\"__metadata__\":{\"format\":\"pt\"");

    gn_st_file *file = NULL;
    status = gn_st_open(ctx, path, &file);
    CHECK_MSG(status == GN_OK, "%s", gn_context_error(ctx));
    if (!file) {
        free_sample(&s);
        return;
    }
    CHECK(file->count == ENTRY_COUNT);
    CHECK(strcmp(file->path, path) == 0);
    const unsigned char *map = file->map;
    for (size_t i = 0; i < file->count && i < ENTRY_COUNT; i++) {
        const gn_st_tensor *t = &file->tensors[i];
        const gn_st_entry *e = &s.entries[i];
        size_t nbytes = entry_nbytes(e);
        CHECK_MSG(strcmp(t->name, e->name) == 0, "tensor %zu is %s", i, t->name); /* order */
        CHECK(t->dtype == e->dtype && t->ndim == e->ndim && t->nbytes == nbytes);
        int64_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            CHECK(t->shape[d] == e->shape[d]);
            numel *= e->shape[d];
        }
        CHECK(t->numel == numel);
        CHECK_MSG(memcmp(t->data, e->data, nbytes) == 0, "data of %s", e->name);
        /* Zero-copy: the data lies inside the mapping. */
        const unsigned char *p = t->data;
        CHECK(p >= map && p + nbytes <= map + file->map_size);
        CHECK(gn_st_find(file, e->name) == t);
    }
    /* The first tensor starts the 64-byte aligned data section. */
    CHECK(((const unsigned char *)file->tensors[0].data - map) % 64 == 0);
    CHECK(file->tensors[4].ndim == 0 && file->tensors[4].numel == 1 &&
          file->tensors[4].nbytes == 4);
    CHECK(file->tensors[11].numel == 0 && file->tensors[11].nbytes == 0);
    CHECK(gn_st_find(file, "missing") == NULL);
    CHECK(file->meta_count == 3);
    CHECK(gn_st_meta(file, "arch") && strcmp(gn_st_meta(file, "arch"), "ghostnet") == 0);
    CHECK(gn_st_meta(file, "note") && strcmp(gn_st_meta(file, "note"), meta_values[2]) == 0);
    CHECK(gn_st_meta(file, "missing") == NULL);

    /* Copy-on-write: writing through the mapping leaves the file alone. */
    unsigned char *weights = (unsigned char *)file->tensors[0].data;
    unsigned char original = weights[0];
    weights[0] = (unsigned char)(original ^ 0xff);
    CHECK(weights[0] == (unsigned char)(original ^ 0xff));
    gn_st_file *again = NULL;
    CHECK(gn_st_open(ctx, path, &again) == GN_OK);
    CHECK(again && ((const unsigned char *)again->tensors[0].data)[0] == original);
    gn_st_close(ctx, again);
    gn_st_close(ctx, file);
    gn_st_close(ctx, NULL);
    free_sample(&s);
}

/* F16 and BF16 bit patterns, NaNs and infinities included, come back bit for bit. */
static void test_half_bits(gn_context *ctx)
{
    static const uint16_t bits[] = {0x0000, 0x8000, 0x3c00, 0x7c00, 0xfc00, 0x7e01,
                                    0x0001, 0x7bff, 0x3f80, 0xff80, 0x7fc1, 0x1234};
    int64_t shape[1] = {12};
    gn_st_entry entries[2] = {{"f16", GN_DTYPE_F16, 1, shape, bits},
                              {"bf16", GN_DTYPE_BF16, 1, shape, bits}};
    const char *path = gn_test_path("half.safetensors");
    CHECK(gn_st_write(ctx, path, entries, 2, NULL, NULL, 0) == GN_OK);
    check_file_layout(path, "\"f16\":{\"dtype\":\"F16\",\"shape\":[12],\"data_offsets\":[0,24]}");
    gn_st_file *file = NULL;
    CHECK(gn_st_open(ctx, path, &file) == GN_OK);
    if (!file)
        return;
    CHECK(file->meta_count == 0);
    for (size_t i = 0; i < 2 && i < file->count; i++) {
        CHECK(memcmp(file->tensors[i].data, bits, sizeof(bits)) == 0);
        CHECK(file->tensors[i].nbytes == sizeof(bits));
    }
    gn_st_close(ctx, file);
}

static void test_empty_files(gn_context *ctx)
{
    /* No tensors and no metadata: just "{}" and padding. */
    const char *path = gn_test_path("nothing.safetensors");
    CHECK(gn_st_write(ctx, path, NULL, 0, NULL, NULL, 0) == GN_OK);
    check_file_layout(path, "}");
    gn_st_file *file = NULL;
    CHECK_MSG(gn_st_open(ctx, path, &file) == GN_OK, "%s", gn_context_error(ctx));
    CHECK(file && file->count == 0 && file->meta_count == 0);
    gn_st_close(ctx, file);

    /* Metadata only. */
    const char *k[] = {"only"}, *v[] = {""};
    CHECK(gn_st_write(ctx, path, NULL, 0, k, v, 1) == GN_OK);
    file = NULL;
    CHECK(gn_st_open(ctx, path, &file) == GN_OK);
    CHECK(file && file->count == 0 && file->meta_count == 1 &&
          strcmp(gn_st_meta(file, "only"), "") == 0);
    gn_st_close(ctx, file);

    /* An empty "__metadata__" object, written by hand. */
    write_st(path,
             "{\"__metadata__\":{},\"w\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}",
             3);
    file = NULL;
    CHECK_MSG(gn_st_open(ctx, path, &file) == GN_OK, "%s", gn_context_error(ctx));
    CHECK(file && file->count == 1 && file->meta_count == 0 && file->tensors[0].nbytes == 3);
    gn_st_close(ctx, file);
}

/* Files as other writers make them: 8-byte padding, keys not in offset order, metadata last,
 * whitespace in the JSON, zero-size tensors sharing an offset. */
static void test_foreign_layout(gn_context *ctx)
{
    const char *path = gn_test_path("foreign.safetensors");
    write_st(path,
             "{\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]},\n"
             " \"a\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4]},\n"
             " \"z1\": {\"dtype\": \"F16\", \"shape\": [0], \"data_offsets\": [12, 12]},\n"
             " \"z2\": {\"data_offsets\": [12, 12], \"shape\": [3, 0], \"dtype\": \"I64\"},\n"
             " \"__metadata__\": {\"format\": \"pt\"}}   ",
             12);
    gn_st_file *file = NULL;
    CHECK_MSG(gn_st_open(ctx, path, &file) == GN_OK, "%s", gn_context_error(ctx));
    if (!file)
        return;
    CHECK(file->count == 4 && file->meta_count == 1);
    const unsigned char *base = file->tensors[1].data;
    CHECK(strcmp(file->tensors[0].name, "b") == 0 && strcmp(file->tensors[1].name, "a") == 0);
    CHECK((const unsigned char *)file->tensors[0].data == base + 4);
    CHECK(file->tensors[1].ndim == 0 && file->tensors[1].numel == 1);
    CHECK(file->tensors[3].ndim == 2 && file->tensors[3].numel == 0);
    CHECK(strcmp(gn_st_meta(file, "format"), "pt") == 0);
    gn_st_close(ctx, file);
}

/* ---------------------------------------------------------------------------------------------
 * Hostile input
 * ------------------------------------------------------------------------------------------- */

static void test_hostile_files(gn_context *ctx)
{
    const char *path = gn_test_path("hostile.safetensors");
    expect_open_error(ctx, gn_test_path("does-not-exist.safetensors"), GN_ERR_IO, "cannot open",
                      NULL);
    mkdir(gn_test_path("a-directory.safetensors"), 0777);
    expect_open_error(ctx, gn_test_path("a-directory.safetensors"), GN_ERR_IO,
                      "not a regular file", NULL);

    CHECK(gn_test_write_file(path, "", 0) == 0);
    expect_open_error(ctx, path, GN_ERR_FORMAT, "0 bytes", "8-byte header length");
    CHECK(gn_test_write_file(path, "\x02\0\0\0\0\0\0", 7) == 0);
    expect_open_error(ctx, path, GN_ERR_FORMAT, "7 bytes", NULL);

    write_st_raw(path, (uint64_t)1 << 63, "{}", 2, 0);
    expect_open_error(ctx, path, GN_ERR_FORMAT, "header length 9223372036854775808",
                      "runs past the end of the file (10 bytes)");
    write_st_raw(path, UINT64_MAX, "{}", 2, 0);
    expect_open_error(ctx, path, GN_ERR_FORMAT, "18446744073709551615", "runs past the end");
    write_st_raw(path, 3, "{}", 2, 0);
    expect_open_error(ctx, path, GN_ERR_FORMAT, "header length 3 runs past", NULL);
    write_st_raw(path, 0, "{}", 2, 0);
    expect_open_error(ctx, path, GN_ERR_FORMAT, "does not start with '{'", NULL);

    /* A header length over the limit in a (sparse) file big enough to hold it. */
    write_st_raw(path, 100000001, "{}", 2, 0);
    CHECK(truncate(path, 100000001 + 8) == 0);
    expect_open_error(ctx, path, GN_ERR_FORMAT, "header length 100000001",
                      "100000000-byte limit");

    expect_header_error(ctx, "[]", 0, GN_ERR_FORMAT, "does not start with '{'", NULL);
    expect_header_error(ctx, " {}", 0, GN_ERR_FORMAT, "does not start with '{'", NULL);
    expect_header_error(ctx, "{", 0, GN_ERR_FORMAT, "header: at byte 1", "string key");
    expect_header_error(ctx, "{}x", 0, GN_ERR_FORMAT, "header: at byte 2", "found 'x'");
    expect_header_error(ctx, "{\"a\":1,}", 0, GN_ERR_FORMAT, "at byte 7", NULL);
    write_st_raw(path, 4, "{}\0\0", 4, 0);
    expect_open_error(ctx, path, GN_ERR_FORMAT, "found byte 0x00", NULL);
    expect_header_error(ctx, "{\"w\xff\":{}}", 0, GN_ERR_FORMAT, "invalid UTF-8", NULL);
}

static void test_hostile_metadata(gn_context *ctx)
{
    expect_header_error(ctx, "{\"__metadata__\":[]}", 0, GN_ERR_FORMAT,
                        "\"__metadata__\" is not an object", NULL);
    expect_header_error(ctx, "{\"__metadata__\":{\"epoch\":3}}", 0, GN_ERR_FORMAT,
                        "metadata \"epoch\" is not a string", NULL);
    expect_header_error(ctx, "{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", 0, GN_ERR_FORMAT,
                        "duplicate key \"a\"", NULL);
    expect_header_error(ctx, "{\"__metadata__\":{},\"__metadata__\":{}}", 0, GN_ERR_FORMAT,
                        "duplicate key \"__metadata__\"", NULL);
}

#define TENSOR(name, dtype, shape, offsets)                                                  \
    "\"" name "\":{\"dtype\":" dtype ",\"shape\":" shape ",\"data_offsets\":" offsets "}"

static void test_hostile_tensors(gn_context *ctx)
{
    const char *w = "tensor 'w'";
    expect_header_error(ctx, "{\"w\":[1]}", 0, GN_ERR_FORMAT, w, "description is not an object");
    expect_header_error(ctx, "{" TENSOR("w", "\"F8_E4M3\"", "[1]", "[0,1]") "}", 1,
                        GN_ERR_FORMAT, w, "unknown or unsupported dtype 'F8_E4M3'");
    expect_header_error(ctx, "{" TENSOR("w", "\"f32\"", "[1]", "[0,4]") "}", 4, GN_ERR_FORMAT, w,
                        "dtype 'f32'");
    expect_header_error(ctx, "{" TENSOR("w", "4", "[1]", "[0,4]") "}", 4, GN_ERR_FORMAT, w,
                        "\"dtype\" is missing or not a string");
    expect_header_error(ctx, "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, GN_ERR_FORMAT,
                        w, "\"dtype\" is missing");
    expect_header_error(ctx, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
                        GN_ERR_FORMAT, w, "\"shape\" is missing or not an array");
    expect_header_error(ctx, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, GN_ERR_FORMAT, w,
                        "\"data_offsets\" is missing or not a [begin, end] pair");
    expect_header_error(ctx, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],"
                             "\"extra\":1}}", 4, GN_ERR_FORMAT, w, "unexpected field \"extra\"");
    expect_header_error(ctx, "{" TENSOR("", "\"F32\"", "[1]", "[0,4]") "}", 4, GN_ERR_FORMAT,
                        "a tensor has an empty name", NULL);

    /* Shapes. */
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[-1]", "[0,4]") "}", 4, GN_ERR_FORMAT, w,
                        "shape[0] is not a non-negative integer");
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[1,1.5]", "[0,4]") "}", 4,
                        GN_ERR_FORMAT, w, "shape[1] is not a non-negative integer");
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[\"1\"]", "[0,4]") "}", 4,
                        GN_ERR_FORMAT, w, "shape[0]");
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[9223372036854775808]", "[0,4]") "}", 4,
                        GN_ERR_FORMAT, w, "shape[0]");
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "1", "[0,4]") "}", 4, GN_ERR_FORMAT, w,
                        "\"shape\" is missing or not an array");
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4,
                        GN_ERR_UNSUPPORTED, w, "9 dimensions, at most 8");
    expect_header_error(ctx, "{" TENSOR("w", "\"U8\"", "[4294967296,4294967296,4294967296]",
                                        "[0,4]") "}", 4,
                        GN_ERR_FORMAT, w, "more elements than fit in 64 bits");
    expect_header_error(ctx, "{" TENSOR("w", "\"F64\"", "[2305843009213693952]",
                                        "[0,4]") "}", 4,
                        GN_ERR_FORMAT, w, "data_offsets [0, 4] hold 4");

    /* Offsets. */
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[1]", "[0]") "}", 4, GN_ERR_FORMAT, w,
                        "not a [begin, end] pair");
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[1]", "[0,4,8]") "}", 4, GN_ERR_FORMAT,
                        w, "not a [begin, end] pair");
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[1]", "{}") "}", 4, GN_ERR_FORMAT, w,
                        "not a [begin, end] pair");
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[1]", "[-4,0]") "}", 4, GN_ERR_FORMAT,
                        w, "not non-negative integers");
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[1]", "[0,4.0]") "}", 4, GN_ERR_FORMAT,
                        w, "not non-negative integers");
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[1]", "[8,4]") "}", 8, GN_ERR_FORMAT, w,
                        "data_offsets [8, 4] end before they begin");
    expect_header_error(ctx,
                        "{" TENSOR("blocks.0.0.ghost1.primary_conv.0.weight", "\"F32\"", "[1225]",
                                   "[100,5000]") "}",
                        4000, GN_ERR_FORMAT,
                        "tensor 'blocks.0.0.ghost1.primary_conv.0.weight': data_offsets [100, "
                        "5000] run past the end of the data (4000 bytes)",
                        NULL);
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[2,2]", "[0,12]") "}", 12,
                        GN_ERR_FORMAT, w, "F32 [2, 2] needs 4 x 4 bytes but data_offsets [0, 12] "
                                          "hold 12");
    expect_header_error(ctx, "{" TENSOR("w", "\"BF16\"", "[]", "[0,4]") "}", 4, GN_ERR_FORMAT, w,
                        "BF16 [] needs 1 x 2 bytes");
}

static void test_hostile_layout(gn_context *ctx)
{
    expect_header_error(ctx, "{" TENSOR("a", "\"F32\"", "[2]", "[0,8]") ","
                                 TENSOR("b", "\"F32\"", "[2]", "[4,12]") "}",
                        12, GN_ERR_FORMAT, "tensors 'a' [0, 8] and 'b' [4, 12] overlap", NULL);
    expect_header_error(ctx, "{" TENSOR("b", "\"F32\"", "[2]", "[0,8]") ","
                                 TENSOR("a", "\"F32\"", "[2]", "[0,8]") "}",
                        8, GN_ERR_FORMAT, "overlap", NULL);
    expect_header_error(ctx, "{" TENSOR("a", "\"F32\"", "[2]", "[0,8]") ","
                                 TENSOR("z", "\"F32\"", "[0]", "[4,4]") "}",
                        8, GN_ERR_FORMAT, "tensors 'a' [0, 8] and 'z' [4, 4] overlap", NULL);
    expect_header_error(ctx, "{" TENSOR("b", "\"F32\"", "[1]", "[8,12]") ","
                                 TENSOR("a", "\"F32\"", "[1]", "[0,4]") "}",
                        12, GN_ERR_FORMAT,
                        "4 bytes between tensor 'a' (ends at 4) and tensor 'b' (begins at 8) "
                        "belong to no tensor", NULL);
    expect_header_error(ctx, "{" TENSOR("a", "\"F32\"", "[1]", "[4,8]") "}", 8, GN_ERR_FORMAT,
                        "the first 4 bytes of the data belong to no tensor (tensor 'a' begins "
                        "at 4)", NULL);
    expect_header_error(ctx, "{" TENSOR("a", "\"F32\"", "[1]", "[0,4]") "}", 9, GN_ERR_FORMAT,
                        "the last 5 bytes of the data (offsets 4 to 9) belong to no tensor",
                        NULL);
    expect_header_error(ctx, "{}", 3, GN_ERR_FORMAT, "the last 3 bytes", NULL);
    expect_header_error(ctx, "{\"__metadata__\":{}}", 1, GN_ERR_FORMAT, "the last 1 bytes", NULL);
    expect_header_error(ctx, "{" TENSOR("w", "\"F32\"", "[1]", "[0,4]") ","
                                 TENSOR("w", "\"F32\"", "[1]", "[4,8]") "}",
                        8, GN_ERR_FORMAT, "duplicate key \"w\"", NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------------------------- */

static void expect_write_error(gn_context *ctx, const gn_st_entry *entries, size_t count,
                               const char *const *keys, const char *const *values,
                               size_t meta_count, const char *needle)
{
    const char *path = gn_test_path("bad_write.safetensors");
    unlink(path);
    gn_status status = gn_st_write(ctx, path, entries, count, keys, values, meta_count);
    const char *message = gn_context_error(ctx);
    CHECK_MSG(status == GN_ERR_ARGUMENT, "got %s (%s)", gn_status_name(status), message);
    CHECK_MSG(strstr(message, path) && strstr(message, needle), "message \"%s\" lacks \"%s\"",
              message, needle);
    CHECK(access(path, F_OK) != 0); /* nothing was created */
}

static void test_writer_arguments(gn_context *ctx)
{
    float values[4] = {1, 2, 3, 4};
    int64_t shape[GN_MAX_DIMS + 1] = {2, 2, 1, 1, 1, 1, 1, 1, 1};
    int64_t negative[1] = {-1};
    gn_st_entry good = {"w", GN_DTYPE_F32, 2, shape, values};
    gn_st_entry e[2] = {good, good};

    e[0].dtype = GN_DTYPE_COUNT;
    expect_write_error(ctx, e, 1, NULL, NULL, 0, "tensor 'w': invalid dtype");
    e[0] = good;
    e[0].ndim = GN_MAX_DIMS + 1;
    expect_write_error(ctx, e, 1, NULL, NULL, 0, "(9 dimensions)");
    e[0] = good;
    e[0].ndim = 1;
    e[0].shape = negative;
    expect_write_error(ctx, e, 1, NULL, NULL, 0, "tensor 'w': invalid dtype");
    e[0] = good;
    e[0].name = NULL;
    expect_write_error(ctx, e, 1, NULL, NULL, 0, "tensor 0 has no name");
    e[0].name = "";
    expect_write_error(ctx, e, 1, NULL, NULL, 0, "tensor 0 has no name");
    e[0].name = "__metadata__";
    expect_write_error(ctx, e, 1, NULL, NULL, 0, "is not a tensor name");
    e[0].name = "bad\xff";
    expect_write_error(ctx, e, 1, NULL, NULL, 0, "not valid UTF-8");
    e[0] = good;
    e[0].data = NULL;
    expect_write_error(ctx, e, 1, NULL, NULL, 0, "tensor 'w': no data");
    e[0] = good;
    expect_write_error(ctx, e, 2, NULL, NULL, 0, "tensor name 'w' appears twice");

    /* Sizes that each fit but together pass 2^63 bytes (never read: the check comes first). */
    int64_t huge[1] = {(int64_t)1 << 62};
    gn_st_entry pair[2] = {{"a", GN_DTYPE_U8, 1, huge, values},
                           {"b", GN_DTYPE_I16, 1, huge, values}};
    expect_write_error(ctx, pair, 2, NULL, NULL, 0, "more than 2^63 bytes in total");

    const char *keys[] = {"k", "k"}, *vals[] = {"1", "2"}, *null_val[] = {"1", NULL};
    expect_write_error(ctx, e, 1, keys, vals, 2, "metadata key 'k' appears twice");
    expect_write_error(ctx, e, 1, keys, null_val, 2, "metadata entry 1 is NULL");
    const char *bad_val[] = {"\xc0\x80"};
    expect_write_error(ctx, e, 1, keys, bad_val, 1, "metadata entry 0 is not valid UTF-8");

    /* A name that needs escaping is fine. */
    e[0].name = "we\"ird\\na\nme";
    const char *path = gn_test_path("escaped.safetensors");
    CHECK(gn_st_write(ctx, path, e, 1, NULL, NULL, 0) == GN_OK);
    gn_st_file *file = NULL;
    CHECK(gn_st_open(ctx, path, &file) == GN_OK);
    CHECK(file && gn_st_find(file, "we\"ird\\na\nme") != NULL);
    gn_st_close(ctx, file);

    /* A bad target path fails cleanly. */
    gn_status status = gn_st_write(ctx, gn_test_path("no-such-dir/x.safetensors"), e, 1, NULL,
                                   NULL, 0);
    CHECK(status == GN_ERR_IO && strstr(gn_context_error(ctx), "no-such-dir/x.safetensors"));
}

/* A write that fails halfway (file size limit) reports GN_ERR_IO, leaves the previous file as
 * it was and no temporary file behind. */
static void test_failed_write(gn_context *ctx)
{
    const char *dir = gn_test_path("st_fail");
    mkdir(dir, 0777);
    char path[1100];
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    CHECK(gn_test_write_file(path, "previous", 8) == 0);

    enum { BIG = 1 << 16 };
    unsigned char *big = calloc(BIG, 1);
    int64_t shape[1] = {BIG};
    gn_st_entry entry = {"big", GN_DTYPE_U8, 1, shape, big};
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    gn_status status = gn_st_write(ctx, path, &entry, 1, NULL, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_MSG(status == GN_ERR_IO, "got %s", gn_status_name(status));
    CHECK(strstr(gn_context_error(ctx), path) != NULL);
    unsigned char *bytes = NULL;
    size_t size = 0;
    CHECK(read_whole(path, &bytes, &size) == 0 && size == 8 && memcmp(bytes, "previous", 8) == 0);
    free(bytes);
    CHECK(count_temp_files(dir, "model.safetensors") == 0);

    /* And with the limit lifted, the same write replaces the file. */
    CHECK(gn_st_write(ctx, path, &entry, 1, NULL, NULL, 0) == GN_OK);
    CHECK(count_temp_files(dir, "model.safetensors") == 0);
    gn_st_file *file = NULL;
    CHECK(gn_st_open(ctx, path, &file) == GN_OK && file && file->tensors[0].nbytes == BIG);
    gn_st_close(ctx, file);
    free(big);
}

/* ---------------------------------------------------------------------------------------------
 * Allocation failures: at every allocation in turn, the readers and writers must report
 * GN_ERR_NOMEM (or succeed) and leak nothing; LeakSanitizer checks the latter at exit.
 * ------------------------------------------------------------------------------------------- */

typedef gn_status (*fault_case)(gn_context *ctx, const char *path);

static gn_status open_case(gn_context *ctx, const char *path)
{
    gn_st_file *file = NULL;
    gn_status status = gn_st_open(ctx, path, &file);
    gn_st_close(ctx, file);
    return status;
}

static gn_status write_case(gn_context *ctx, const char *path)
{
    static const char *const keys[] = {"a", "b"}, *const values[] = {"1", "2"};
    static const float data[6] = {1, 2, 3, 4, 5, 6};
    static const int64_t shape[2] = {2, 3};
    const gn_st_entry entries[2] = {{"x", GN_DTYPE_F32, 2, shape, data},
                                    {"y", GN_DTYPE_F32, 1, shape, data}};
    char target[1100];
    snprintf(target, sizeof(target), "%s.out", path);
    return gn_st_write(ctx, target, entries, 2, keys, values, 2);
}

static gn_status json_case(gn_context *ctx, const char *path)
{
    static const char text[] = "{\"a\":[1,2,{\"b\":\"c\\u00e9\",\"d\":[[],{}]}],\"e\":\"f\","
                               "\"g\":1.5,\"h\":[1,2,3,4,5,6,7,8,9,10]}";
    gn_json *json = NULL;
    gn_status status = gn_json_parse(ctx, text, sizeof(text) - 1, path, &json);
    gn_json_free(ctx, json);
    return status;
}

static gn_status npy_case(gn_context *ctx, const char *path)
{
    static const float data[6] = {1, 2, 3, 4, 5, 6};
    static const int64_t shape[2] = {3, 2};
    char target[1100];
    snprintf(target, sizeof(target), "%s.npy", path);
    gn_status status = gn_npy_write(ctx, target, data, 2, shape);
    if (status != GN_OK)
        return status;
    gn_npy array;
    status = gn_npy_read(ctx, target, &array);
    gn_npy_free(ctx, &array);
    return status;
}

static void run_fault_case(const char *name, fault_case run, const char *path)
{
    gn_test_faults fault;
    gn_context *ctx = gn_test_fault_context(&fault, 1);
    if (!ctx)
        return;
    long n;
    gn_status status = GN_ERR_NOMEM;
    for (n = 0; n < 10000 && status != GN_OK; n++) {
        fault.remaining = n;
        status = run(ctx, path);
        CHECK_MSG(status == GN_OK || status == GN_ERR_NOMEM, "%s, failing allocation %ld: %s (%s)",
                  name, n, gn_status_name(status), gn_context_error(ctx));
        CHECK_MSG(status == GN_OK || strstr(gn_context_error(ctx), path),
                  "%s, failing allocation %ld: \"%s\" does not name the file", name, n,
                  gn_context_error(ctx));
    }
    CHECK_MSG(status == GN_OK && n > 1, "%s never succeeded", name);
    fault.remaining = -1;
    gn_context_destroy(ctx);
}

static void test_allocation_failures(gn_context *ctx)
{
    sample s;
    make_sample(&s);
    const char *path = gn_test_path("faults.safetensors");
    CHECK(gn_st_write(ctx, path, s.entries, ENTRY_COUNT, meta_keys, meta_values, 3) == GN_OK);
    free_sample(&s);
    run_fault_case("gn_st_open", open_case, path);
    run_fault_case("gn_st_write", write_case, path);
    run_fault_case("gn_json_parse", json_case, path);
    run_fault_case("gn_npy", npy_case, path);
    CHECK(count_temp_files(getenv("GN_TEST_TMP") ? getenv("GN_TEST_TMP") : "/tmp",
                           "faults.safetensors.out") == 0);
}

int main(void)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 1;
    test_round_trip(ctx);
    test_half_bits(ctx);
    test_empty_files(ctx);
    test_foreign_layout(ctx);
    test_hostile_files(ctx);
    test_hostile_metadata(ctx);
    test_hostile_tensors(ctx);
    test_hostile_layout(ctx);
    test_writer_arguments(ctx);
    test_failed_write(ctx);
    test_allocation_failures(ctx);
    gn_context_destroy(ctx);
    return gn_test_finish("test_safetensors");
}
