/* .npy files: round trips through the writer, the exact bytes it produces, files as NumPy
 * writes them in every version and float type, and a hostile-input suite in which each bad file
 * is refused with the right status and a message naming the file and the problem. */
#include "harness.h"
#include "io/npy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes magic, version major.0, the header length field for that version, header and data. */
static void write_npy_raw(const char *path, int major, size_t length_field, const char *header,
                          const void *data, size_t data_size)
{
    size_t header_size = strlen(header);
    size_t preamble = major == 1 ? 10 : 12;
    size_t total = preamble + header_size + data_size;
    unsigned char *bytes = malloc(total);
    memcpy(bytes, "\x93NUMPY", 6);
    bytes[6] = (unsigned char)major;
    bytes[7] = 0;
    for (size_t i = 8; i < preamble; i++)
        bytes[i] = (unsigned char)(length_field >> (8 * (i - 8)));
    memcpy(bytes + preamble, header, header_size);
    if (data_size)
        memcpy(bytes + preamble + header_size, data, data_size);
    CHECK(gn_test_write_file(path, bytes, total) == 0);
    free(bytes);
}

static void write_npy(const char *path, int major, const char *header, const void *data,
                      size_t data_size)
{
    write_npy_raw(path, major, strlen(header), header, data, data_size);
}

static void expect_read_error(gn_context *ctx, const char *path, gn_status expected,
                              const char *needle1, const char *needle2)
{
    gn_npy array;
    gn_status status = gn_npy_read(ctx, path, &array);
    const char *message = gn_context_error(ctx);
    CHECK_MSG(status == expected, "%s: got %s, want %s (%s)", path, gn_status_name(status),
              gn_status_name(expected), message);
    CHECK(array.data == NULL && array.numel == 0);
    CHECK_MSG(strstr(message, path) != NULL, "message \"%s\" does not name %s", message, path);
    CHECK_MSG(!needle1 || strstr(message, needle1), "message \"%s\" lacks \"%s\"", message,
              needle1);
    CHECK_MSG(!needle2 || strstr(message, needle2), "message \"%s\" lacks \"%s\"", message,
              needle2);
    gn_npy_free(ctx, &array);
}

/* A version 1.0 file with this header and data_size zero bytes must fail as described. */
static void expect_header_error(gn_context *ctx, const char *header, size_t data_size,
                                gn_status expected, const char *needle1, const char *needle2)
{
    const char *path = gn_test_path("hostile.npy");
    unsigned char *zeros = calloc(data_size ? data_size : 1, 1);
    write_npy(path, 1, header, zeros, data_size);
    free(zeros);
    expect_read_error(ctx, path, expected, needle1, needle2);
}

static int read_whole(const char *path, unsigned char *buf, size_t capacity, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    *size = fread(buf, 1, capacity, fp);
    fclose(fp);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Round trips and the writer's output
 * ------------------------------------------------------------------------------------------- */

static void round_trip(gn_context *ctx, int ndim, const int64_t *shape, const char *shape_text)
{
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= shape[i];
    float *data = malloc((size_t)(numel ? numel : 1) * sizeof(float));
    for (int64_t i = 0; i < numel; i++)
        data[i] = (float)i * 0.5f - 3.25f;
    if (numel >= 4) {
        data[0] = -0.0f;
        data[1] = INFINITY;
        data[2] = NAN;
        data[3] = 1e-40f; /* subnormal */
    }
    const char *path = gn_test_path("round_trip.npy");
    CHECK_MSG(gn_npy_write(ctx, path, data, ndim, shape) == GN_OK, "%s", gn_context_error(ctx));

    /* The bytes NumPy would write: magic, 1.0, header padded to 64 bytes, then the data. */
    static unsigned char bytes[1 << 16];
    size_t size = 0;
    CHECK(read_whole(path, bytes, sizeof(bytes), &size) == 0);
    size_t header_length = (size_t)bytes[8] | ((size_t)bytes[9] << 8);
    CHECK(memcmp(bytes, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK((10 + header_length) % 64 == 0);
    CHECK(size == 10 + header_length + (size_t)numel * 4);
    char expected[200];
    int n = snprintf(expected, sizeof(expected),
                     "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape_text);
    CHECK_MSG(memcmp(bytes + 10, expected, (size_t)n) == 0, "header is %.*s", (int)header_length,
              (const char *)bytes + 10);
    for (size_t i = 10 + (size_t)n; i < 9 + header_length; i++)
        CHECK(bytes[i] == ' ');
    CHECK(bytes[9 + header_length] == '\n');

    gn_npy array;
    CHECK_MSG(gn_npy_read(ctx, path, &array) == GN_OK, "%s", gn_context_error(ctx));
    CHECK(array.ndim == ndim && array.numel == numel);
    for (int i = 0; i < ndim; i++)
        CHECK(array.shape[i] == shape[i]);
    CHECK(array.data != NULL);
    if (array.data && numel)
        CHECK(memcmp(array.data, data, (size_t)numel * sizeof(float)) == 0);
    gn_npy_free(ctx, &array);
    CHECK(array.data == NULL);
    free(data);
}

static void test_round_trips(gn_context *ctx)
{
    int64_t s2[] = {3, 4}, s1[] = {5}, s0[] = {0}, s3[] = {2, 0, 3};
    int64_t s8[] = {1, 2, 1, 2, 1, 2, 1, 2};
    int64_t big[] = {300, 41}; /* more than one chunk of conversion */
    round_trip(ctx, 2, s2, "(3, 4)");
    round_trip(ctx, 1, s1, "(5,)");
    round_trip(ctx, 0, NULL, "()");
    round_trip(ctx, 1, s0, "(0,)");
    round_trip(ctx, 3, s3, "(2, 0, 3)");
    round_trip(ctx, 8, s8, "(1, 2, 1, 2, 1, 2, 1, 2)");
    round_trip(ctx, 2, big, "(300, 41)");
}

static void test_writer_arguments(gn_context *ctx)
{
    const char *path = gn_test_path("bad_write.npy");
    float data[2] = {1, 2};
    int64_t negative[] = {-2}, nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, two[] = {2};
    int64_t huge[] = {INT64_MAX, 2};
    unlink(path);
    CHECK(gn_npy_write(ctx, path, data, -1, two) == GN_ERR_ARGUMENT);
    CHECK(gn_npy_write(ctx, path, data, 9, nine) == GN_ERR_ARGUMENT);
    CHECK(gn_npy_write(ctx, path, data, 1, negative) == GN_ERR_ARGUMENT);
    CHECK(strstr(gn_context_error(ctx), "invalid dimension 0 (-2)") != NULL);
    CHECK(gn_npy_write(ctx, path, data, 2, huge) == GN_ERR_ARGUMENT);
    CHECK(gn_npy_write(ctx, path, NULL, 1, two) == GN_ERR_ARGUMENT);
    CHECK(gn_npy_write(ctx, path, data, 1, NULL) == GN_ERR_ARGUMENT);
    CHECK(strstr(gn_context_error(ctx), path) != NULL);
    CHECK(access(path, F_OK) != 0);
    CHECK(gn_npy_write(ctx, gn_test_path("no-such-dir/a.npy"), data, 1, two) == GN_ERR_IO);
}

/* ---------------------------------------------------------------------------------------------
 * Files as NumPy writes them
 * ------------------------------------------------------------------------------------------- */

static void check_values(gn_context *ctx, const char *path, int ndim, int64_t d0,
                         const float *expected, int64_t numel)
{
    gn_npy array;
    gn_status status = gn_npy_read(ctx, path, &array);
    CHECK_MSG(status == GN_OK, "%s", gn_context_error(ctx));
    if (status != GN_OK)
        return;
    CHECK(array.ndim == ndim && array.numel == numel);
    CHECK(ndim == 0 || array.shape[0] == d0);
    for (int64_t i = 0; i < numel && i < array.numel; i++)
        CHECK_MSG(array.data[i] == expected[i] ||
                      (isnan(array.data[i]) && isnan(expected[i])),
                  "%s[%lld] = %g, want %g", path, (long long)i, array.data[i], expected[i]);
    gn_npy_free(ctx, &array);
}

static void test_numpy_files(gn_context *ctx)
{
    const char *path = gn_test_path("numpy.npy");
    /* float16: 1, -2, 0.5, 65504, inf, smallest subnormal */
    const unsigned char f16[] = {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38,
                                 0xff, 0x7b, 0x00, 0x7c, 0x01, 0x00};
    const float f16_values[] = {1.0f, -2.0f, 0.5f, 65504.0f, INFINITY, 5.9604645e-8f};
    write_npy(path, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (6,), }    \n", f16,
              sizeof(f16));
    check_values(ctx, path, 1, 6, f16_values, 6);

    /* float64, version 2.0, keys in another order, double quotes and odd whitespace. */
    double f64[4] = {1.5, -0.1, 1e300, 3.0};
    unsigned char f64_bytes[sizeof(f64)];
    memcpy(f64_bytes, f64, sizeof(f64)); /* the test host is little-endian, as is x86 and arm */
    const float f64_values[] = {1.5f, -0.1f, INFINITY, 3.0f};
    write_npy(path, 2, "{ \"shape\" : (2 , 2 ,) ,\n\"descr\":\"<f8\",'fortran_order':False}\n",
              f64_bytes, sizeof(f64_bytes));
    check_values(ctx, path, 2, 2, f64_values, 4);

    /* float32, version 3.0, native byte order markers, a scalar. */
    float one = 42.5f;
    write_npy(path, 3, "{'descr': '=f4', 'fortran_order': False, 'shape': ()}", &one, 4);
    check_values(ctx, path, 0, 0, &one, 1);
    write_npy(path, 1, "{'descr': '|f4', 'fortran_order': False, 'shape': (1,)}", &one, 4);
    check_values(ctx, path, 1, 1, &one, 1);

    /* Empty array: no data bytes at all. */
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }\n", NULL, 0);
    check_values(ctx, path, 2, 0, NULL, 0);
}

/* ---------------------------------------------------------------------------------------------
 * Hostile input
 * ------------------------------------------------------------------------------------------- */

static void test_hostile_preamble(gn_context *ctx)
{
    const char *path = gn_test_path("hostile.npy");
    expect_read_error(ctx, gn_test_path("missing.npy"), GN_ERR_IO, "cannot open", NULL);
    mkdir(gn_test_path("dir.npy"), 0777);
    expect_read_error(ctx, gn_test_path("dir.npy"), GN_ERR_IO, "not a regular file", NULL);
    CHECK(gn_test_write_file(path, "", 0) == 0);
    expect_read_error(ctx, path, GN_ERR_FORMAT, "file is 0 bytes", NULL);
    CHECK(gn_test_write_file(path, "\x93NUMPY\x01\x00\x00", 9) == 0);
    expect_read_error(ctx, path, GN_ERR_FORMAT, "file is 9 bytes", NULL);
    CHECK(gn_test_write_file(path, "\x93NUMPX\x01\x00\x00\x00{}", 12) == 0);
    expect_read_error(ctx, path, GN_ERR_FORMAT, "not an .npy file", NULL);
    CHECK(gn_test_write_file(path, "\x93NUMPY\x04\x00\x02\x00{}", 12) == 0);
    expect_read_error(ctx, path, GN_ERR_UNSUPPORTED, "version 4.0 is not supported", NULL);
    CHECK(gn_test_write_file(path, "\x93NUMPY\x01\x01\x02\x00{}", 12) == 0);
    expect_read_error(ctx, path, GN_ERR_UNSUPPORTED, "version 1.1", NULL);
    CHECK(gn_test_write_file(path, "\x93NUMPY\x00\x00\x02\x00{}", 12) == 0);
    expect_read_error(ctx, path, GN_ERR_UNSUPPORTED, "version 0.0", NULL);
    CHECK(gn_test_write_file(path, "\x93NUMPY\x02\x00\x00\x00\x00", 11) == 0);
    expect_read_error(ctx, path, GN_ERR_FORMAT, "too short for an .npy version 2.0 header", NULL);

    write_npy_raw(path, 1, 0xffff, "{}", NULL, 0);
    expect_read_error(ctx, path, GN_ERR_FORMAT, "header length 65535 runs past the end of the "
                                                "file (12 bytes)", NULL);
    write_npy_raw(path, 2, 0xffffffffu, "{}", NULL, 0);
    expect_read_error(ctx, path, GN_ERR_FORMAT, "header length 4294967295 runs past", NULL);
    /* Over the header limit, in a (sparse) file long enough to hold it. */
    write_npy_raw(path, 3, (1u << 20) + 1, "{}", NULL, 0);
    CHECK(truncate(path, (1 << 20) + 64) == 0);
    expect_read_error(ctx, path, GN_ERR_FORMAT, "header length 1048577 is over the 1048576-byte "
                                                "limit", NULL);
}

static void test_hostile_dtypes(gn_context *ctx)
{
    static const char *unsupported[] = {"<i8", "<i4", "|u1", "|b1", "<c8", "<U10", "|S3",
                                        "<f16", "float32", "f4", "<e", ""};
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        char header[128], quoted[32];
        snprintf(header, sizeof(header),
                 "{'descr': '%s', 'fortran_order': False, 'shape': (1,), }", unsupported[i]);
        snprintf(quoted, sizeof(quoted), "dtype '%s' is not supported", unsupported[i]);
        expect_header_error(ctx, header, 8, GN_ERR_DTYPE, quoted, "'<f4'");
    }
    expect_header_error(ctx, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8,
                        GN_ERR_DTYPE, "dtype '|O' is not supported", NULL);
    expect_header_error(ctx, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4,
                        GN_ERR_DTYPE, "dtype '>f4' is big-endian", "little-endian");
    expect_header_error(ctx, "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", 8,
                        GN_ERR_DTYPE, "'>f8' is big-endian", NULL);
    expect_header_error(ctx, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",
                        4, GN_ERR_DTYPE, "structured dtypes", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16,
                        GN_ERR_UNSUPPORTED, "Fortran-order arrays are not supported", NULL);
}

static void test_hostile_headers(gn_context *ctx)
{
    const gn_status F = GN_ERR_FORMAT;
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 12, F,
                        "truncated: the data should be 16 bytes", "the file has 12 after");
    expect_header_error(ctx, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 47,
                        F, "should be 48 bytes (6 elements of 8 bytes)", "has 47");
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 0, F,
                        "should be 4 bytes", "has 0");
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 5, F,
                        "1 unexpected bytes after the data (expected 4 bytes of data, found 5)",
                        NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False}", 4, F,
                        "the header has no 'shape' key", NULL);
    expect_header_error(ctx, "{'shape': (1,), 'fortran_order': False}", 4, F, "no 'descr' key",
                        NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'shape': (1,)}", 4, F, "no 'fortran_order' key",
                        NULL);
    expect_header_error(ctx, "{}", 4, F, "no 'descr' key", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                        4, F, "header, byte 66: unexpected key 'x'", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                             "'shape': (1,)}", 4, F, "key 'descr' appears twice", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (5)}", 20, F,
                        "'shape' (5) is not a tuple", "(5,)");
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': 5}", 20, F,
                        "expected '(' starting the 'shape' tuple, found '5'", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 0, F,
                        "negative dimension", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}", 0, F,
                        "expected ',' or ')' in 'shape', found '.'", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", 0, F,
                        "expected a dimension, found ','", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (01,)}", 4, F,
                        "leading zero", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, "
                             "'shape': (99999999999999999999,)}", 0, F, "dimension too large",
                        NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, "
                             "'shape': (4294967296, 4294967296, 4294967296)}", 0, F,
                        "more elements than fit", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, "
                             "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1)}", 4, GN_ERR_UNSUPPORTED,
                        "more than 8 dimensions", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4, F,
                        "byte 44: expected True or False for 'fortran_order', found '0'", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (1,)}", 4, F,
                        "True or False", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", 4, F,
                        "expected only spaces after the dictionary, found 'x'", NULL);
    expect_header_error(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4, F,
                        "expected ',' or '}', found the end of the header", NULL);
    expect_header_error(ctx, "[1]", 4, F, "header, byte 10: expected '{', found '['", NULL);
    expect_header_error(ctx, "", 4, F, "expected '{', found the end of the header", NULL);
    expect_header_error(ctx, "{'descr: '<f4'}", 4, F, "unexpected key 'descr: '", NULL);
    expect_header_error(ctx, "{'descr", 4, F, "unterminated string", NULL);
    expect_header_error(ctx, "{'de\\scr': '<f4'}", 4, F, "unexpected byte 0x5c in a string",
                        NULL);
    expect_header_error(ctx, "{'d\xc3\xa9scr': '<f4'}", 4, F, "unexpected byte 0xc3 in a string",
                        NULL);
    expect_header_error(ctx, "{'descr': '<f\x7f'}", 4, F, "header, byte 23: unexpected byte 0x7f",
                        NULL);
    expect_header_error(ctx, "{descr: '<f4'}", 4, F, "expected a quoted string, found 'd'", NULL);
    expect_header_error(ctx, "{'descr' '<f4'}", 4, F, "expected ':'", NULL);
    expect_header_error(ctx, "{,}", 4, F, "expected a quoted string, found ','", NULL);
    expect_header_error(ctx, "{'descr': '<f4',, }", 4, F, "found ','", NULL);
    /* A NUL inside the header (the header is not a C string). */
    const char *path = gn_test_path("hostile.npy");
    write_npy_raw(path, 1, 5, "{'d", "\0'", 2);
    expect_read_error(ctx, path, F, "header, byte 13: unexpected byte 0x00 in a string", NULL);
}

int main(void)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 1;
    test_round_trips(ctx);
    test_writer_arguments(ctx);
    test_numpy_files(ctx);
    test_hostile_preamble(ctx);
    test_hostile_dtypes(ctx);
    test_hostile_headers(ctx);
    gn_context_destroy(ctx);
    return gn_test_finish("test_npy");
}
