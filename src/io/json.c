/* A strict RFC 8259 JSON reader. The text comes from files anyone may have written, so nothing
 * is trusted: the input need not be NUL-terminated, every string is checked to be UTF-8, escapes
 * are decoded (surrogate pairs included), nesting is bounded, and each error says at which
 * byte parsing stopped.
 *
 * Values are built in place: a container counts a member as soon as its slot exists, so a parse
 * that fails halfway leaves a tree that gn_json_free releases without special cases. */
#include "io/json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

typedef struct parser {
    gn_context *ctx;
    const char *text;
    size_t size;
    size_t pos;
    const char *what;
    int depth;
} parser;

static gn_status parse_value(parser *p, gn_json *out);

static gn_status parse_error(parser *p, size_t at, const char *fmt, ...) GN_PRINTF(3, 4);

static gn_status parse_error(parser *p, size_t at, const char *fmt, ...)
{
    char problem[GN_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof(problem), fmt, ap);
    va_end(ap);
    return gn_fail(p->ctx, GN_ERR_FORMAT, "%s: at byte %zu: %s", p->what, at, problem);
}

static gn_status out_of_memory(parser *p)
{
    return gn_fail(p->ctx, GN_ERR_NOMEM, "%s: out of memory parsing JSON at byte %zu", p->what,
                   p->pos);
}

/* The next byte, or -1 at the end of the input. */
static int peek(const parser *p)
{
    return p->pos < p->size ? (unsigned char)p->text[p->pos] : -1;
}

/* Reports that something else was expected where p->pos points, describing what is there. */
static gn_status unexpected(parser *p, const char *expected)
{
    int c = peek(p);
    if (c < 0)
        return parse_error(p, p->pos, "expected %s, found the end of the input", expected);
    if (c >= 0x20 && c < 0x7f)
        return parse_error(p, p->pos, "expected %s, found '%c'", expected, c);
    return parse_error(p, p->pos, "expected %s, found byte 0x%02x", expected, (unsigned)c);
}

static void skip_whitespace(parser *p)
{
    while (p->pos < p->size) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static gn_status parse_literal(parser *p, const char *word, gn_json_type type, gn_json *out)
{
    size_t length = strlen(word);
    if (p->size - p->pos < length || memcmp(p->text + p->pos, word, length) != 0)
        return unexpected(p, "a value");
    p->pos += length;
    out->type = type;
    return GN_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Numbers
 * ------------------------------------------------------------------------------------------- */

static size_t skip_digits(parser *p)
{
    size_t start = p->pos;
    while (is_digit(peek(p)))
        p->pos++;
    return p->pos - start;
}

/* Moves past one number, checking the RFC grammar; *integral is set when the number has
 * neither a fraction nor an exponent. */
static gn_status scan_number(parser *p, int *integral)
{
    if (peek(p) == '-')
        p->pos++;
    size_t int_start = p->pos;
    size_t digits = skip_digits(p);
    if (digits == 0)
        return unexpected(p, "a digit");
    if (digits > 1 && p->text[int_start] == '0')
        return parse_error(p, int_start, "numbers may not have leading zeros");
    *integral = 1;
    if (peek(p) == '.') {
        p->pos++;
        *integral = 0;
        if (skip_digits(p) == 0)
            return unexpected(p, "a digit after the decimal point");
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        *integral = 0;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        if (skip_digits(p) == 0)
            return unexpected(p, "a digit in the exponent");
    }
    return GN_OK;
}

/* Converts an integral token exactly; returns 0 when it does not fit in int64_t. */
static int token_to_int64(const char *s, size_t length, int64_t *out)
{
    int negative = s[0] == '-';
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t value = 0;
    for (size_t i = (size_t)negative; i < length; i++) {
        unsigned digit = (unsigned)(s[i] - '0');
        if (value > (limit - digit) / 10)
            return 0;
        value = value * 10 + digit;
    }
    if (!negative)
        *out = (int64_t)value;
    else
        *out = value == limit ? INT64_MIN : -(int64_t)value;
    return 1;
}

/* strtod honours LC_NUMERIC, but JSON always writes '.': when the program runs in a locale with
 * another single-byte radix character, put that one in the copy strtod reads. */
static void use_locale_radix(char *number)
{
    char *dot = strchr(number, '.');
    if (!dot)
        return;
    const char *radix = localeconv()->decimal_point;
    if (radix[0] != '\0' && radix[1] == '\0')
        *dot = radix[0];
}

static gn_status token_to_double(parser *p, size_t start, size_t length, double *out)
{
    char small[64];
    char *copy = length < sizeof(small) ? small : gn_alloc(p->ctx, length + 1);
    if (!copy)
        return out_of_memory(p);
    memcpy(copy, p->text + start, length);
    copy[length] = '\0';
    use_locale_radix(copy);
    char *end;
    errno = 0;
    double value = strtod(copy, &end);
    int overflow = errno == ERANGE && isinf(value);
    int complete = end == copy + length;
    if (copy != small)
        gn_free(p->ctx, copy);
    if (!complete)
        return parse_error(p, start, "number cannot be converted in the current locale");
    if (overflow)
        return parse_error(p, start, "number is too large for a double");
    *out = value;
    return GN_OK;
}

static gn_status parse_number(parser *p, gn_json *out)
{
    size_t start = p->pos;
    int integral = 0;
    gn_status status = scan_number(p, &integral);
    if (status != GN_OK)
        return status;
    size_t length = p->pos - start;
    out->type = GN_JSON_NUMBER;
    status = token_to_double(p, start, length, &out->number);
    if (status != GN_OK)
        return status;
    out->is_integer = integral && token_to_int64(p->text + start, length, &out->integer);
    return GN_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Strings
 * ------------------------------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (avail bytes readable), or 0 when it is
 * malformed: overlong forms, surrogates and code points above U+10FFFF are all refused. */
static size_t utf8_sequence_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : lo;
        hi = c == 0xed ? 0x9f : hi;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : lo;
        hi = c == 0xf4 ? 0x8f : hi;
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

bool gn_json_is_utf8(const char *s, size_t length)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < length) {
        size_t n = utf8_sequence_length(u + i, length - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static size_t encode_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads the four hex digits at text[at..at+4), all before end; returns 0 if they are not. */
static int read_hex4(const parser *p, size_t at, size_t end, uint32_t *out)
{
    if (at > end || end - at < 4)
        return 0;
    uint32_t value = 0;
    for (size_t i = at; i < at + 4; i++) {
        char c = p->text[i];
        uint32_t digit;
        if (c >= '0' && c <= '9')
            digit = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            digit = (uint32_t)(c - 'A' + 10);
        else
            return 0;
        value = value * 16 + digit;
    }
    *out = value;
    return 1;
}

/* Decodes \uXXXX (or a \uD8xx\uDCxx surrogate pair) at p->pos into UTF-8. */
static gn_status decode_unicode_escape(parser *p, size_t end, char *buf, size_t *length)
{
    size_t at = p->pos;
    uint32_t cp = 0, low = 0;
    size_t consumed = 6;
    if (!read_hex4(p, at + 2, end, &cp))
        return parse_error(p, at, "\\u must be followed by four hex digits");
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return parse_error(p, at, "\\u%04X is a low surrogate without a high surrogate", cp);
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (end - at < 12 || p->text[at + 6] != '\\' || p->text[at + 7] != 'u' ||
            !read_hex4(p, at + 8, end, &low) || low < 0xdc00 || low > 0xdfff)
            return parse_error(p, at, "\\u%04X is a high surrogate without a low surrogate", cp);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        consumed = 12;
    }
    if (cp == 0)
        return parse_error(p, at, "\\u0000 (NUL) is not allowed in strings");
    *length += encode_utf8(cp, buf + *length);
    p->pos += consumed;
    return GN_OK;
}

/* The character a one-letter escape stands for, or 0 if the letter is not an escape. */
static char simple_escape(char letter)
{
    switch (letter) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
    }
}

static gn_status decode_escape(parser *p, size_t end, char *buf, size_t *length)
{
    char letter = p->text[p->pos + 1];
    if (letter == 'u')
        return decode_unicode_escape(p, end, buf, length);
    char decoded = simple_escape(letter);
    if (!decoded)
        return parse_error(p, p->pos, "invalid escape sequence (byte 0x%02x after '\\')",
                           (unsigned)(unsigned char)letter);
    buf[(*length)++] = decoded;
    p->pos += 2;
    return GN_OK;
}

static gn_status copy_utf8(parser *p, size_t end, char *buf, size_t *length)
{
    const unsigned char *s = (const unsigned char *)p->text + p->pos;
    size_t n = utf8_sequence_length(s, end - p->pos);
    if (n == 0)
        return parse_error(p, p->pos, "invalid UTF-8 in string (byte 0x%02x)", (unsigned)s[0]);
    memcpy(buf + *length, s, n);
    *length += n;
    p->pos += n;
    return GN_OK;
}

/* Finds the quote that closes the string opening at p->pos. Escapes only ever shrink, so the
 * raw length bounds the decoded one. */
static gn_status find_string_end(parser *p, size_t *end)
{
    size_t i = p->pos + 1;
    while (i < p->size) {
        char c = p->text[i];
        if (c == '"') {
            *end = i;
            return GN_OK;
        }
        i += c == '\\' ? 2 : 1;
    }
    return parse_error(p, p->pos, "unterminated string");
}

static gn_status parse_string(parser *p, char **out, size_t *out_length)
{
    size_t end = 0;
    gn_status status = find_string_end(p, &end);
    if (status != GN_OK)
        return status;
    char *buf = gn_alloc(p->ctx, end - p->pos); /* raw bytes between the quotes, plus NUL */
    if (!buf)
        return out_of_memory(p);
    size_t length = 0;
    p->pos++;
    while (p->pos < end && status == GN_OK) {
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c == '\\')
            status = decode_escape(p, end, buf, &length);
        else if (c < 0x20)
            status = parse_error(p, p->pos, "control character 0x%02x in a string", (unsigned)c);
        else
            status = copy_utf8(p, end, buf, &length);
    }
    if (status != GN_OK) {
        gn_free(p->ctx, buf);
        return status;
    }
    buf[length] = '\0';
    p->pos = end + 1;
    *out = buf;
    *out_length = length;
    return GN_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Arrays and objects
 * ------------------------------------------------------------------------------------------- */

/* A copy of the first count elements of old in a buffer of capacity elements; old is freed.
 * NULL (old kept) when memory runs out. */
static void *resized_copy(parser *p, void *old, size_t count, size_t capacity, size_t elem_size)
{
    size_t bytes;
    if (!gn_mul_size(capacity, elem_size, &bytes))
        return NULL;
    void *grown = gn_alloc(p->ctx, bytes);
    if (!grown)
        return NULL;
    if (count)
        memcpy(grown, old, count * elem_size);
    gn_free(p->ctx, old);
    return grown;
}

/* Appends a zeroed member to an array or object (with a NULL key) and returns it. */
static gn_json *new_member(parser *p, gn_json *container, size_t *capacity)
{
    if (container->length == *capacity) {
        size_t grown = *capacity ? *capacity * 2 : 4;
        gn_json *items = resized_copy(p, container->items, container->length, grown,
                                      sizeof(*items));
        if (!items)
            return NULL;
        container->items = items;
        if (container->type == GN_JSON_OBJECT) {
            char **keys = resized_copy(p, container->keys, container->length, grown,
                                       sizeof(*keys));
            if (!keys)
                return NULL;
            container->keys = keys;
        }
        *capacity = grown;
    }
    gn_json *member = &container->items[container->length];
    memset(member, 0, sizeof(*member));
    if (container->type == GN_JSON_OBJECT)
        container->keys[container->length] = NULL;
    container->length++;
    return member;
}

static gn_status parse_array(parser *p, gn_json *out)
{
    size_t capacity = 0;
    out->type = GN_JSON_ARRAY;
    p->pos++;
    skip_whitespace(p);
    if (peek(p) == ']') {
        p->pos++;
        return GN_OK;
    }
    for (;;) {
        gn_json *item = new_member(p, out, &capacity);
        if (!item)
            return out_of_memory(p);
        gn_status status = parse_value(p, item);
        if (status != GN_OK)
            return status;
        skip_whitespace(p);
        if (peek(p) == ']') {
            p->pos++;
            return GN_OK;
        }
        if (peek(p) != ',')
            return unexpected(p, "',' or ']'");
        p->pos++;
    }
}

static gn_status parse_member(parser *p, gn_json *object, size_t *capacity)
{
    if (peek(p) != '"')
        return unexpected(p, "a string key");
    char *key = NULL;
    size_t key_length = 0;
    gn_status status = parse_string(p, &key, &key_length);
    if (status != GN_OK)
        return status;
    gn_json *value = new_member(p, object, capacity);
    if (!value) {
        gn_free(p->ctx, key);
        return out_of_memory(p);
    }
    object->keys[object->length - 1] = key;
    skip_whitespace(p);
    if (peek(p) != ':')
        return unexpected(p, "':'");
    p->pos++;
    return parse_value(p, value);
}

/* RFC 8259 only says keys SHOULD be unique; a header with two values for one name is ambiguous,
 * so it is refused rather than resolved by picking one. */
static gn_status check_unique_keys(parser *p, const gn_json *object, size_t start)
{
    const char *duplicate = NULL;
    gn_status status = gn_json_find_duplicate(p->ctx, (const char *const *)object->keys,
                                              object->length, &duplicate);
    if (status != GN_OK)
        return out_of_memory(p);
    if (duplicate)
        return parse_error(p, start, "duplicate key \"%s\" in object", duplicate);
    return GN_OK;
}

static gn_status parse_object(parser *p, gn_json *out)
{
    size_t start = p->pos, capacity = 0;
    out->type = GN_JSON_OBJECT;
    p->pos++;
    skip_whitespace(p);
    if (peek(p) == '}') {
        p->pos++;
        return GN_OK;
    }
    for (;;) {
        gn_status status = parse_member(p, out, &capacity);
        if (status != GN_OK)
            return status;
        skip_whitespace(p);
        if (peek(p) == '}') {
            p->pos++;
            return check_unique_keys(p, out, start);
        }
        if (peek(p) != ',')
            return unexpected(p, "',' or '}'");
        p->pos++;
        skip_whitespace(p);
    }
}

static gn_status parse_nested(parser *p, gn_json *out)
{
    if (p->depth == JSON_MAX_DEPTH)
        return parse_error(p, p->pos, "nesting is deeper than %d levels", JSON_MAX_DEPTH);
    p->depth++;
    gn_status status = peek(p) == '[' ? parse_array(p, out) : parse_object(p, out);
    p->depth--;
    return status;
}

static gn_status parse_value(parser *p, gn_json *out)
{
    skip_whitespace(p);
    int c = peek(p);
    switch (c) {
    case '[':
    case '{':
        return parse_nested(p, out);
    case '"':
        out->type = GN_JSON_STRING;
        return parse_string(p, &out->string, &out->length);
    case 't':
        return parse_literal(p, "true", GN_JSON_TRUE, out);
    case 'f':
        return parse_literal(p, "false", GN_JSON_FALSE, out);
    case 'n':
        return parse_literal(p, "null", GN_JSON_NULL, out);
    default:
        if (c == '-' || is_digit(c))
            return parse_number(p, out);
        return unexpected(p, "a value");
    }
}

/* ---------------------------------------------------------------------------------------------
 * Public functions
 * ------------------------------------------------------------------------------------------- */

gn_status gn_json_parse(gn_context *ctx, const char *text, size_t size, const char *what,
                        gn_json **out)
{
    parser p = {ctx, text, size, 0, what, 0};
    *out = NULL;
    gn_json *root = gn_alloc_zero(ctx, sizeof(*root));
    if (!root)
        return out_of_memory(&p);
    gn_status status = parse_value(&p, root);
    if (status == GN_OK) {
        skip_whitespace(&p);
        if (p.pos != size)
            status = unexpected(&p, "the end of the input");
    }
    if (status != GN_OK) {
        gn_json_free(ctx, root);
        return status;
    }
    *out = root;
    return GN_OK;
}

static void free_contents(gn_context *ctx, gn_json *value)
{
    if (value->type == GN_JSON_ARRAY || value->type == GN_JSON_OBJECT) {
        for (size_t i = 0; i < value->length; i++) {
            free_contents(ctx, &value->items[i]);
            if (value->keys)
                gn_free(ctx, value->keys[i]);
        }
    }
    gn_free(ctx, value->string);
    gn_free(ctx, value->items);
    gn_free(ctx, value->keys);
}

void gn_json_free(gn_context *ctx, gn_json *json)
{
    if (!json)
        return;
    free_contents(ctx, json);
    gn_free(ctx, json);
}

const gn_json *gn_json_get(const gn_json *object, const char *key)
{
    if (!object || object->type != GN_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < object->length; i++)
        if (strcmp(object->keys[i], key) == 0)
            return &object->items[i];
    return NULL;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

gn_status gn_json_find_duplicate(gn_context *ctx, const char *const *names, size_t count,
                                 const char **duplicate)
{
    *duplicate = NULL;
    if (count < 2)
        return GN_OK;
    size_t bytes;
    const char **sorted = NULL;
    if (gn_mul_size(count, sizeof(*sorted), &bytes))
        sorted = gn_alloc(ctx, bytes);
    if (!sorted)
        return gn_fail(ctx, GN_ERR_NOMEM, "out of memory checking %zu names for duplicates",
                       count);
    memcpy(sorted, names, bytes);
    qsort(sorted, count, sizeof(*sorted), compare_strings);
    for (size_t i = 1; i < count && !*duplicate; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            *duplicate = sorted[i];
    gn_free(ctx, sorted);
    return GN_OK;
}

void gn_json_write_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': fputs("\\\"", fp); break;
        case '\\': fputs("\\\\", fp); break;
        case '\b': fputs("\\b", fp); break;
        case '\f': fputs("\\f", fp); break;
        case '\n': fputs("\\n", fp); break;
        case '\r': fputs("\\r", fp); break;
        case '\t': fputs("\\t", fp); break;
        default:
            if (*c < 0x20)
                fprintf(fp, "\\u%04x", (unsigned)*c);
            else
                fputc(*c, fp);
        }
    }
    fputc('"', fp);
}
