/* NumPy .npy files: "\x93NUMPY", a version, a header length, a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and a newline,
 * then the raw elements in C order.
 *
 * The dict is read by a small scanner that accepts exactly the three keys NumPy writes and the
 * literal forms they take, rather than anything Python would evaluate. The data must fill the
 * rest of the file exactly, and the output buffer is only allocated once that is known, so its
 * size is bounded by the file's. */
#include "io/npy.h"

#include "io/atomic_file.h"
#include "io/dtype.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LENGTH 6
/* Far beyond any header of a plain float array; NumPy itself refuses more than 10000 bytes. */
#define NPY_MAX_HEADER (1u << 20)
#define NPY_ALIGNMENT 64
#define NPY_V1_PREAMBLE 10 /* magic, version, u16 header length */
#define NPY_V2_PREAMBLE 12 /* magic, version, u32 header length */
#define CHUNK_BYTES 8192

typedef struct npy_header {
    int have_descr, have_fortran_order, have_shape;
    size_t itemsize; /* 2, 4 or 8: float16, float32, float64 */
    int fortran_order;
    int ndim;
    int64_t shape[GN_NPY_MAX_DIMS];
} npy_header;

/* Reads the header text; offsets in messages are file offsets. */
typedef struct scanner {
    gn_context *ctx;
    const char *path;
    const char *text;
    size_t size;
    size_t pos;
    size_t file_offset; /* where text starts in the file */
} scanner;

static gn_status scan_error(scanner *s, const char *fmt, ...) GN_PRINTF(2, 3);

static gn_status scan_error(scanner *s, const char *fmt, ...)
{
    char problem[GN_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof(problem), fmt, ap);
    va_end(ap);
    return gn_fail(s->ctx, GN_ERR_FORMAT, "%s: header, byte %zu: %s", s->path,
                   s->file_offset + s->pos, problem);
}

static int peek(const scanner *s)
{
    return s->pos < s->size ? (unsigned char)s->text[s->pos] : -1;
}

static gn_status expected(scanner *s, const char *what)
{
    int c = peek(s);
    if (c < 0)
        return scan_error(s, "expected %s, found the end of the header", what);
    if (c >= 0x20 && c < 0x7f)
        return scan_error(s, "expected %s, found '%c'", what, c);
    return scan_error(s, "expected %s, found byte 0x%02x", what, (unsigned)c);
}

static void skip_space(scanner *s)
{
    while (peek(s) == ' ' || peek(s) == '\t' || peek(s) == '\n' || peek(s) == '\r')
        s->pos++;
}

static int accept(scanner *s, char c)
{
    if (peek(s) != (unsigned char)c)
        return 0;
    s->pos++;
    return 1;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int token_is(const char *token, size_t length, const char *word)
{
    return strlen(word) == length && memcmp(token, word, length) == 0;
}

/* A quoted string of printable ASCII without escapes: all that NumPy writes in the keys and
 * type codes we read, and safe to quote in an error message. */
static gn_status scan_string(scanner *s, const char **out, size_t *length)
{
    int quote = peek(s);
    if (quote != '\'' && quote != '"')
        return expected(s, "a quoted string");
    size_t start = ++s->pos;
    while (peek(s) != quote) {
        int c = peek(s);
        if (c < 0)
            return scan_error(s, "unterminated string");
        if (c == '\\' || c < 0x20 || c > 0x7e)
            return scan_error(s, "unexpected byte 0x%02x in a string", (unsigned)c);
        s->pos++;
    }
    *out = s->text + start;
    *length = s->pos - start;
    s->pos++;
    return GN_OK;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Accepts '<f2', '<f4', '<f8', and '=' or '|' (native order, as NumPy reads them) on a
 * little-endian host. */
static gn_status interpret_descr(scanner *s, const char *descr, size_t length, npy_header *h)
{
    int shown = (int)length;
    char order = length == 3 ? descr[0] : 0;
    int little = order == '<' || ((order == '=' || order == '|') && host_is_little_endian());
    int is_float = length == 3 && descr[1] == 'f' &&
                   (descr[2] == '2' || descr[2] == '4' || descr[2] == '8');
    if (is_float && little) {
        h->itemsize = (size_t)(descr[2] - '0');
        return GN_OK;
    }
    if (is_float && (order == '>' || order == '=' || order == '|'))
        return gn_fail(s->ctx, GN_ERR_DTYPE,
                       "%s: dtype '%.*s' is big-endian; only little-endian arrays are supported",
                       s->path, shown, descr);
    return gn_fail(s->ctx, GN_ERR_DTYPE,
                   "%s: dtype '%.*s' is not supported; only float16, float32 and float64 arrays "
                   "('<f2', '<f4', '<f8') can be read", s->path, shown, descr);
}

static gn_status parse_descr(scanner *s, npy_header *h)
{
    if (peek(s) == '[')
        return gn_fail(s->ctx, GN_ERR_DTYPE,
                       "%s: structured dtypes (a list as 'descr') are not supported", s->path);
    const char *descr = NULL;
    size_t length = 0;
    gn_status status = scan_string(s, &descr, &length);
    return status == GN_OK ? interpret_descr(s, descr, length, h) : status;
}

static gn_status parse_fortran_order(scanner *s, npy_header *h)
{
    size_t start = s->pos;
    while ((peek(s) >= 'A' && peek(s) <= 'Z') || (peek(s) >= 'a' && peek(s) <= 'z'))
        s->pos++;
    const char *word = s->text + start;
    size_t length = s->pos - start;
    if (token_is(word, length, "True") || token_is(word, length, "False")) {
        h->fortran_order = word[0] == 'T';
        return GN_OK;
    }
    s->pos = start;
    return expected(s, "True or False for 'fortran_order'");
}

static gn_status scan_dimension(scanner *s, int64_t *out)
{
    if (peek(s) == '-')
        return scan_error(s, "negative dimension in 'shape'");
    if (!is_digit(peek(s)))
        return expected(s, "a dimension");
    size_t start = s->pos;
    int64_t value = 0;
    while (is_digit(peek(s))) {
        int digit = peek(s) - '0';
        if (value > (INT64_MAX - digit) / 10) {
            s->pos = start;
            return scan_error(s, "dimension too large");
        }
        value = value * 10 + digit;
        s->pos++;
    }
    if (s->pos - start > 1 && s->text[start] == '0') {
        s->pos = start;
        return scan_error(s, "dimension with a leading zero");
    }
    *out = value;
    return GN_OK;
}

/* A Python tuple: (), (5,), (2, 3) or (2, 3,). A lone (5) is an int, not a tuple. */
static gn_status parse_shape(scanner *s, npy_header *h)
{
    if (!accept(s, '('))
        return expected(s, "'(' starting the 'shape' tuple");
    int ndim = 0, trailing_comma = 0;
    for (;;) {
        skip_space(s);
        if (accept(s, ')'))
            break;
        if (ndim == GN_NPY_MAX_DIMS)
            return gn_fail(s->ctx, GN_ERR_UNSUPPORTED,
                           "%s: 'shape' has more than %d dimensions", s->path, GN_NPY_MAX_DIMS);
        gn_status status = scan_dimension(s, &h->shape[ndim++]);
        if (status != GN_OK)
            return status;
        skip_space(s);
        trailing_comma = accept(s, ',');
        if (!trailing_comma) {
            if (!accept(s, ')'))
                return expected(s, "',' or ')' in 'shape'");
            break;
        }
    }
    if (ndim == 1 && !trailing_comma)
        return scan_error(s, "'shape' (%" PRId64 ") is not a tuple; one dimension is written (%"
                          PRId64 ",)", h->shape[0], h->shape[0]);
    h->ndim = ndim;
    return GN_OK;
}

/* Reads one "'key': value" pair; each of the three keys must appear exactly once. */
static gn_status parse_entry(scanner *s, npy_header *h)
{
    size_t key_pos = s->pos;
    const char *key = NULL;
    size_t length = 0;
    gn_status status = scan_string(s, &key, &length);
    if (status != GN_OK)
        return status;
    int *seen;
    gn_status (*parse)(scanner *, npy_header *);
    if (token_is(key, length, "descr")) {
        seen = &h->have_descr;
        parse = parse_descr;
    } else if (token_is(key, length, "fortran_order")) {
        seen = &h->have_fortran_order;
        parse = parse_fortran_order;
    } else if (token_is(key, length, "shape")) {
        seen = &h->have_shape;
        parse = parse_shape;
    } else {
        s->pos = key_pos;
        return scan_error(s, "unexpected key '%.*s'", (int)length, key);
    }
    if (*seen) {
        s->pos = key_pos;
        return scan_error(s, "key '%.*s' appears twice", (int)length, key);
    }
    *seen = 1;
    skip_space(s);
    if (!accept(s, ':'))
        return expected(s, "':'");
    skip_space(s);
    return parse(s, h);
}

static gn_status parse_header(scanner *s, npy_header *h)
{
    memset(h, 0, sizeof(*h));
    skip_space(s);
    if (!accept(s, '{'))
        return expected(s, "'{'");
    for (;;) {
        skip_space(s);
        if (accept(s, '}'))
            break;
        gn_status status = parse_entry(s, h);
        if (status != GN_OK)
            return status;
        skip_space(s);
        if (accept(s, '}'))
            break;
        if (!accept(s, ','))
            return expected(s, "',' or '}'");
    }
    skip_space(s);
    if (s->pos != s->size)
        return expected(s, "only spaces after the dictionary");
    const char *missing = !h->have_descr           ? "descr"
                          : !h->have_fortran_order ? "fortran_order"
                          : !h->have_shape         ? "shape"
                                                   : NULL;
    if (missing)
        return scan_error(s, "the header has no '%s' key", missing);
    if (h->fortran_order)
        return gn_fail(s->ctx, GN_ERR_UNSUPPORTED,
                       "%s: Fortran-order arrays are not supported; save a C-order array", s->path);
    return GN_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------------- */

static gn_status read_failed(gn_context *ctx, const char *path, FILE *fp, const char *what)
{
    if (ferror(fp))
        return gn_fail(ctx, GN_ERR_IO, "%s: cannot read %s: %s", path, what, strerror(errno));
    return gn_fail(ctx, GN_ERR_FORMAT, "%s: file ended inside %s (did it change while being read?)",
                   path, what);
}

/* Reads magic, version and header length; sets where the header starts and how long it is. */
static gn_status read_preamble(gn_context *ctx, const char *path, FILE *fp, uint64_t file_size,
                               size_t *header_start, size_t *header_length)
{
    unsigned char pre[NPY_V2_PREAMBLE];
    if (file_size < NPY_V1_PREAMBLE)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: file is %" PRIu64 " bytes, too short for an .npy "
                       "header", path, file_size);
    if (fread(pre, 1, NPY_V1_PREAMBLE, fp) != NPY_V1_PREAMBLE)
        return read_failed(ctx, path, fp, "the preamble");
    if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LENGTH) != 0)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: not an .npy file (no \\x93NUMPY magic)", path);
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return gn_fail(ctx, GN_ERR_UNSUPPORTED,
                       "%s: .npy format version %d.%d is not supported (1.0, 2.0 and 3.0 are)",
                       path, major, minor);
    if (major == 1) {
        *header_start = NPY_V1_PREAMBLE;
        *header_length = gn_load_le16(pre + 8);
    } else {
        if (file_size < NPY_V2_PREAMBLE)
            return gn_fail(ctx, GN_ERR_FORMAT, "%s: file is %" PRIu64 " bytes, too short for an "
                           ".npy version %d.0 header", path, file_size, major);
        if (fread(pre + NPY_V1_PREAMBLE, 1, 2, fp) != 2)
            return read_failed(ctx, path, fp, "the preamble");
        *header_start = NPY_V2_PREAMBLE;
        *header_length = gn_load_le32(pre + 8);
    }
    if (*header_length > file_size - *header_start)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: header length %zu runs past the end of the file "
                       "(%" PRIu64 " bytes)", path, *header_length, file_size);
    if (*header_length > NPY_MAX_HEADER)
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: header length %zu is over the %u-byte limit",
                       path, *header_length, NPY_MAX_HEADER);
    return GN_OK;
}

static void *alloc_for(gn_context *ctx, const char *path, size_t size, const char *what)
{
    void *ptr = gn_alloc(ctx, size ? size : 1);
    if (!ptr)
        gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory for %zu bytes of %s", path, size, what);
    return ptr;
}

static gn_status read_header(gn_context *ctx, const char *path, FILE *fp, uint64_t file_size,
                             npy_header *h, uint64_t *data_start)
{
    size_t start = 0, length = 0;
    gn_status status = read_preamble(ctx, path, fp, file_size, &start, &length);
    if (status != GN_OK)
        return status;
    char *text = alloc_for(ctx, path, length, "header");
    if (!text)
        return GN_ERR_NOMEM;
    if (fread(text, 1, length, fp) != length) {
        status = read_failed(ctx, path, fp, "the header");
    } else {
        scanner s = {ctx, path, text, length, 0, start};
        status = parse_header(&s, h);
    }
    gn_free(ctx, text);
    *data_start = start + length;
    return status;
}

static float element_to_float(const unsigned char *p, size_t itemsize)
{
    if (itemsize == 2)
        return gn_f16_to_f32(gn_load_le16(p));
    if (itemsize == 4) {
        uint32_t bits = gn_load_le32(p);
        float f;
        memcpy(&f, &bits, sizeof(f));
        return f;
    }
    uint64_t bits = gn_load_le64(p);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return (float)d;
}

static gn_status read_elements(gn_context *ctx, const char *path, FILE *fp, size_t itemsize,
                               size_t numel, float *out)
{
    unsigned char chunk[CHUNK_BYTES];
    size_t per_chunk = sizeof(chunk) / itemsize;
    for (size_t done = 0; done < numel;) {
        size_t n = numel - done < per_chunk ? numel - done : per_chunk;
        if (fread(chunk, itemsize, n, fp) != n)
            return read_failed(ctx, path, fp, "the data");
        for (size_t i = 0; i < n; i++)
            out[done + i] = element_to_float(chunk + i * itemsize, itemsize);
        done += n;
    }
    return GN_OK;
}

/* Number of elements, and the bytes they take in the file; fails if either overflows. */
static int array_size(const npy_header *h, size_t *numel, uint64_t *nbytes)
{
    size_t n = 1;
    for (int i = 0; i < h->ndim; i++)
        if ((uint64_t)h->shape[i] > SIZE_MAX || !gn_mul_size(n, (size_t)h->shape[i], &n))
            return 0;
    if (n > INT64_MAX || n > UINT64_MAX / h->itemsize)
        return 0;
    *numel = n;
    *nbytes = (uint64_t)n * h->itemsize;
    return 1;
}

static gn_status check_data_size(gn_context *ctx, const char *path, const npy_header *h,
                                 uint64_t available, size_t *numel)
{
    uint64_t needed = 0;
    if (!array_size(h, numel, &needed))
        return gn_fail(ctx, GN_ERR_FORMAT, "%s: 'shape' has more elements than fit in memory",
                       path);
    if (needed > available)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: truncated: the data should be %" PRIu64 " bytes (%zu elements of %zu "
                       "bytes) but the file has %" PRIu64 " after the header",
                       path, needed, *numel, h->itemsize, available);
    if (needed < available)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: %" PRIu64 " unexpected bytes after the data (expected %" PRIu64
                       " bytes of data, found %" PRIu64 ")",
                       path, available - needed, needed, available);
    return GN_OK;
}

static gn_status read_array(gn_context *ctx, const char *path, FILE *fp, gn_npy *out)
{
    struct stat st;
    if (fstat(fileno(fp), &st) != 0)
        return gn_fail(ctx, GN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return gn_fail(ctx, GN_ERR_IO, "%s: not a regular file", path);
    uint64_t file_size = (uint64_t)st.st_size;
    npy_header h;
    uint64_t data_start = 0;
    size_t numel = 0, bytes = 0;
    gn_status status = read_header(ctx, path, fp, file_size, &h, &data_start);
    if (status == GN_OK)
        status = check_data_size(ctx, path, &h, file_size - data_start, &numel);
    if (status != GN_OK)
        return status;
    if (!gn_mul_size(numel, sizeof(float), &bytes))
        return gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: %zu elements do not fit in memory", path,
                       numel);
    out->data = alloc_for(ctx, path, bytes, "array data");
    if (!out->data)
        return GN_ERR_NOMEM;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof(h.shape));
    out->numel = (int64_t)numel;
    return read_elements(ctx, path, fp, h.itemsize, numel, out->data);
}

gn_status gn_npy_read(gn_context *ctx, const char *path, gn_npy *out)
{
    memset(out, 0, sizeof(*out));
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return gn_fail(ctx, GN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gn_status status = read_array(ctx, path, fp, out);
    fclose(fp);
    if (status != GN_OK)
        gn_npy_free(ctx, out);
    return status;
}

void gn_npy_free(gn_context *ctx, gn_npy *array)
{
    if (!array)
        return;
    gn_free(ctx, array->data);
    memset(array, 0, sizeof(*array));
}

/* ---------------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------------- */

/* Enough for the dict with eight 19-digit dimensions, the padding and the newline. */
#define HEADER_TEXT_MAX 384

/* The header text, padded with spaces and ended with '\n' so the data starts 64-byte aligned;
 * returns its length. */
static size_t format_header(char *text, int ndim, const int64_t *shape)
{
    size_t length = (size_t)snprintf(text, HEADER_TEXT_MAX,
                                     "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < ndim; i++)
        length += (size_t)snprintf(text + length, HEADER_TEXT_MAX - length, "%s%" PRId64,
                                   i ? ", " : "", shape[i]);
    length += (size_t)snprintf(text + length, HEADER_TEXT_MAX - length, "%s), }",
                               ndim == 1 ? "," : "");
    size_t total = NPY_V1_PREAMBLE + length + 1;
    size_t padding = (NPY_ALIGNMENT - total % NPY_ALIGNMENT) % NPY_ALIGNMENT;
    memset(text + length, ' ', padding);
    length += padding;
    text[length++] = '\n';
    return length;
}

static gn_status check_write_args(gn_context *ctx, const char *path, const float *data, int ndim,
                                  const int64_t *shape)
{
    if (ndim < 0 || ndim > GN_NPY_MAX_DIMS || (ndim > 0 && !shape))
        return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: cannot write an array of %d dimensions", path,
                       ndim);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || (uint64_t)shape[i] > SIZE_MAX / sizeof(float) ||
            !gn_mul_size(numel, (size_t)shape[i], &numel) || numel > SIZE_MAX / sizeof(float))
            return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: invalid dimension %d (%" PRId64 ")", path,
                           i, shape[i]);
    if (numel > 0 && !data)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "%s: no data", path);
    return GN_OK;
}

static gn_status write_elements(gn_context *ctx, gn_atomic_file *af, const float *data,
                                size_t numel)
{
    unsigned char chunk[CHUNK_BYTES];
    size_t per_chunk = sizeof(chunk) / sizeof(float);
    gn_status status = GN_OK;
    for (size_t done = 0; done < numel && status == GN_OK;) {
        size_t n = numel - done < per_chunk ? numel - done : per_chunk;
        for (size_t i = 0; i < n; i++) {
            uint32_t bits;
            memcpy(&bits, &data[done + i], sizeof(bits));
            gn_store_le(chunk + i * sizeof(float), bits, sizeof(float));
        }
        status = gn_atomic_write(ctx, af, chunk, n * sizeof(float));
        done += n;
    }
    return status;
}

gn_status gn_npy_write(gn_context *ctx, const char *path, const float *data, int ndim,
                       const int64_t *shape)
{
    gn_status status = check_write_args(ctx, path, data, ndim, shape);
    if (status != GN_OK)
        return status;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= (size_t)shape[i];
    char text[HEADER_TEXT_MAX];
    size_t length = format_header(text, ndim, shape);
    unsigned char preamble[NPY_V1_PREAMBLE] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    gn_store_le(preamble + 8, length, 2);
    gn_atomic_file af;
    status = gn_atomic_open(ctx, path, &af);
    if (status != GN_OK)
        return status;
    status = gn_atomic_write(ctx, &af, preamble, sizeof(preamble));
    if (status == GN_OK)
        status = gn_atomic_write(ctx, &af, text, length);
    if (status == GN_OK)
        status = write_elements(ctx, &af, data, numel);
    if (status != GN_OK) {
        gn_atomic_abort(ctx, &af);
        return status;
    }
    return gn_atomic_commit(ctx, &af);
}
