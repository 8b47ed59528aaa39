/* The JSON reader: every RFC 8259 form it must accept, the many it must refuse, exact integers,
 * UTF-8 and escapes, the depth limit, and error messages that say where parsing stopped. */
#include "harness.h"
#include "io/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parses a copy of text[0..size) in a buffer of exactly that size, so that a read past the end
 * is caught by AddressSanitizer (the reader must not need a terminating NUL). */
static gn_status parse_exact(gn_context *ctx, const char *text, size_t size, gn_json **out)
{
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return GN_ERR_NOMEM;
    memcpy(copy, text, size);
    gn_status status = gn_json_parse(ctx, copy, size, "doc.json", out);
    free(copy);
    return status;
}

static gn_json *parse_ok(gn_context *ctx, const char *text)
{
    gn_json *json = NULL;
    gn_status status = parse_exact(ctx, text, strlen(text), &json);
    CHECK_MSG(status == GN_OK && json, "parsing '%s': %s", text, gn_context_error(ctx));
    return json;
}

/* Expects a FORMAT error whose message names the document and contains needle. */
static void expect_error_n(gn_context *ctx, const char *text, size_t size, const char *needle)
{
    gn_json *json = NULL;
    gn_status status = parse_exact(ctx, text, size, &json);
    const char *message = gn_context_error(ctx);
    CHECK_MSG(status == GN_ERR_FORMAT, "'%.*s' gave %s", (int)size, text, gn_status_name(status));
    CHECK(json == NULL);
    CHECK_MSG(strstr(message, "doc.json") && strstr(message, needle),
              "'%.*s': message \"%s\" lacks \"%s\"", (int)size, text, message, needle);
    gn_json_free(ctx, json);
}

static void expect_error(gn_context *ctx, const char *text, const char *needle)
{
    expect_error_n(ctx, text, strlen(text), needle);
}

static void test_literals(gn_context *ctx)
{
    static const struct {
        const char *text;
        gn_json_type type;
    } cases[] = {
        {"null", GN_JSON_NULL}, {"true", GN_JSON_TRUE}, {"false", GN_JSON_FALSE},
        {" \t\r\n true \n", GN_JSON_TRUE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gn_json *json = parse_ok(ctx, cases[i].text);
        CHECK(json && json->type == cases[i].type);
        gn_json_free(ctx, json);
    }
    expect_error(ctx, "tru", "expected a value");
    expect_error(ctx, "nul", "at byte 0");
    expect_error(ctx, "True", "found 'T'");
    expect_error(ctx, "truex", "at byte 4: expected the end of the input, found 'x'");
    expect_error(ctx, "", "found the end of the input");
    expect_error(ctx, "   ", "at byte 3");
}

static void check_integer(gn_context *ctx, const char *text, int64_t expected)
{
    gn_json *json = parse_ok(ctx, text);
    CHECK_MSG(json && json->type == GN_JSON_NUMBER && json->is_integer &&
                  json->integer == expected && json->number == (double)expected,
              "%s", text);
    gn_json_free(ctx, json);
}

static void check_real(gn_context *ctx, const char *text, double expected)
{
    gn_json *json = parse_ok(ctx, text);
    CHECK_MSG(json && json->type == GN_JSON_NUMBER && !json->is_integer &&
                  json->number == expected,
              "%s -> %.17g", text, json ? json->number : 0.0);
    gn_json_free(ctx, json);
}

static void test_numbers(gn_context *ctx)
{
    check_integer(ctx, "0", 0);
    check_integer(ctx, "-0", 0);
    check_integer(ctx, "7", 7);
    check_integer(ctx, "-123", -123);
    check_integer(ctx, "4000000000", 4000000000);
    check_integer(ctx, "9223372036854775807", INT64_MAX);
    check_integer(ctx, "-9223372036854775808", INT64_MIN);
    check_real(ctx, "1.5", 1.5);
    check_real(ctx, "-0.25", -0.25);
    check_real(ctx, "1e3", 1000.0);
    check_real(ctx, "1E+2", 100.0);
    check_real(ctx, "2.5e-3", 0.0025);
    check_real(ctx, "1.0", 1.0); /* integral value, but written with a fraction */
    check_real(ctx, "1e-400", 0.0); /* underflow is not an error */
    /* Out of int64 range: still a number, but not an exact integer. */
    check_real(ctx, "9223372036854775808", 9223372036854775808.0);
    check_real(ctx, "-9223372036854775809", -9223372036854775808.0);
    check_real(ctx, "123456789012345678901234567890", 1.2345678901234568e29);

    /* A token longer than the reader's small buffer. */
    char longer[200];
    memset(longer, '0', sizeof(longer));
    longer[0] = '1';
    longer[1] = '.';
    longer[sizeof(longer) - 2] = '5';
    longer[sizeof(longer) - 1] = '\0';
    check_real(ctx, longer, 1.0);

    expect_error(ctx, "01", "at byte 0: numbers may not have leading zeros");
    expect_error(ctx, "-01", "leading zeros");
    expect_error(ctx, "-", "expected a digit, found the end");
    expect_error(ctx, "+1", "found '+'");
    expect_error(ctx, ".5", "found '.'");
    expect_error(ctx, "1.", "at byte 2: expected a digit after the decimal point");
    expect_error(ctx, "1.e3", "decimal point");
    expect_error(ctx, "1e", "digit in the exponent");
    expect_error(ctx, "1e+", "digit in the exponent");
    expect_error(ctx, "0x10", "found 'x'");
    expect_error(ctx, "NaN", "found 'N'");
    expect_error(ctx, "Infinity", "found 'I'");
    expect_error(ctx, "-Infinity", "expected a digit");
    expect_error(ctx, "1.0.0", "at byte 3");
    expect_error(ctx, "1e999", "too large for a double");
    expect_error(ctx, "-1e999", "too large");
}

static void check_string(gn_context *ctx, const char *text, const char *expected)
{
    gn_json *json = parse_ok(ctx, text);
    CHECK_MSG(json && json->type == GN_JSON_STRING && strcmp(json->string, expected) == 0 &&
                  json->length == strlen(expected),
              "%s", text);
    gn_json_free(ctx, json);
}

static void test_strings(gn_context *ctx)
{
    check_string(ctx, "\"\"", "");
    check_string(ctx, "\"abc\"", "abc");
    check_string(ctx, "\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d");
    check_string(ctx, "\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t");
    check_string(ctx, "\"\\u0041\\u00e9\"", "A\xc3\xa9");
    check_string(ctx, "\"\\u20AC\"", "\xe2\x82\xac");
    check_string(ctx, "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");
    check_string(ctx, "\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf");
    check_string(ctx, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
                 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    check_string(ctx, "\"\x7f\"", "\x7f");

    expect_error(ctx, "\"abc", "at byte 0: unterminated string");
    expect_error(ctx, "\"abc\\\"", "unterminated string");
    expect_error(ctx, "'abc'", "found '''");
    expect_error(ctx, "\"a\nb\"", "at byte 2: control character 0x0a");
    expect_error(ctx, "\"a\tb\"", "control character 0x09");
    expect_error_n(ctx, "\"a\0b\"", 5, "control character 0x00");
    expect_error(ctx, "\"\\u0000\"", "at byte 1: \\u0000 (NUL) is not allowed");
    expect_error(ctx, "\"x\\ud83d\"", "at byte 2: \\uD83D is a high surrogate without a low");
    expect_error(ctx, "\"\\ud83d\\u0041\"", "high surrogate");
    expect_error(ctx, "\"\\ud83dx\"", "high surrogate");
    expect_error(ctx, "\"\\ude00\"", "\\uDE00 is a low surrogate");
    expect_error(ctx, "\"\\x41\"", "invalid escape sequence (byte 0x78");
    expect_error(ctx, "\"\\u12\"", "four hex digits");
    expect_error(ctx, "\"\\u12G4\"", "four hex digits");
    expect_error(ctx, "\"\\", "unterminated string");
    expect_error(ctx, "\"\xff\"", "at byte 1: invalid UTF-8 in string (byte 0xff)");
    expect_error(ctx, "\"\xc0\xaf\"", "invalid UTF-8");          /* overlong '/' */
    expect_error(ctx, "\"\xe0\x80\xaf\"", "invalid UTF-8");      /* overlong, 3 bytes */
    expect_error(ctx, "\"\xed\xa0\x80\"", "invalid UTF-8");      /* encoded surrogate */
    expect_error(ctx, "\"\xf4\x90\x80\x80\"", "invalid UTF-8");  /* above U+10FFFF */
    expect_error(ctx, "\"\xe2\x82\"", "invalid UTF-8");          /* cut short by the quote */
    expect_error(ctx, "\"\x80\"", "byte 0x80");                  /* stray continuation */
    expect_error(ctx, "\xef\xbb\xbf\"bom\"", "found byte 0xef"); /* no byte order mark */
}

static void test_containers(gn_context *ctx)
{
    gn_json *json = parse_ok(ctx, " { \"a\" : 1 , \"b\" : [ true , null , \"x\" , [ ] , { } ] ,"
                                  " \"\" : -2.5 } ");
    CHECK(json && json->type == GN_JSON_OBJECT && json->length == 3);
    if (json && json->length == 3) {
        CHECK(strcmp(json->keys[0], "a") == 0 && strcmp(json->keys[1], "b") == 0 &&
              strcmp(json->keys[2], "") == 0);
        const gn_json *b = gn_json_get(json, "b");
        CHECK(b && b->type == GN_JSON_ARRAY && b->length == 5);
        CHECK(b && b->items[0].type == GN_JSON_TRUE && b->items[1].type == GN_JSON_NULL);
        CHECK(b && strcmp(b->items[2].string, "x") == 0);
        CHECK(b && b->items[3].type == GN_JSON_ARRAY && b->items[3].length == 0);
        CHECK(b && b->items[4].type == GN_JSON_OBJECT && b->items[4].length == 0);
        CHECK(gn_json_get(json, "a")->integer == 1);
        CHECK(gn_json_get(json, "")->number == -2.5);
        CHECK(gn_json_get(json, "c") == NULL);
        CHECK(gn_json_get(b, "a") == NULL); /* not an object */
        CHECK(gn_json_get(NULL, "a") == NULL);
    }
    gn_json_free(ctx, json);

    /* Enough members to grow the tables many times. */
    enum { N = 5000 };
    char *big = malloc(N * 8 + 2);
    size_t length = 0;
    big[length++] = '[';
    for (int i = 0; i < N; i++)
        length += (size_t)sprintf(big + length, "%s%d", i ? "," : "", i);
    big[length++] = ']';
    big[length] = '\0';
    json = parse_ok(ctx, big);
    CHECK(json && json->length == N && json->items[N - 1].integer == N - 1);
    gn_json_free(ctx, json);
    free(big);

    expect_error(ctx, "[1,]", "at byte 3: expected a value, found ']'");
    expect_error(ctx, "[,1]", "at byte 1");
    expect_error(ctx, "[1 2]", "at byte 3: expected ',' or ']', found '2'");
    expect_error(ctx, "[1", "expected ',' or ']', found the end of the input");
    expect_error(ctx, "[", "at byte 1");
    expect_error(ctx, "{", "expected a string key");
    expect_error(ctx, "{\"a\":1,}", "at byte 7: expected a string key, found '}'");
    expect_error(ctx, "{a:1}", "expected a string key, found 'a'");
    expect_error(ctx, "{\"a\" 1}", "at byte 5: expected ':'");
    expect_error(ctx, "{\"a\":}", "expected a value, found '}'");
    expect_error(ctx, "{\"a\":1 \"b\":2}", "expected ',' or '}'");
    expect_error(ctx, "{\"a\":1,\"b\":2,\"a\":3}", "at byte 0: duplicate key \"a\"");
    expect_error(ctx, "[{\"k\":{\"x\":1,\"x\":1}}]", "at byte 6: duplicate key \"x\"");
    expect_error(ctx, "[1] [2]", "at byte 4: expected the end of the input");
    expect_error(ctx, "// comment\n1", "found '/'");
    expect_error(ctx, "/* c */ 1", "found '/'");
    expect_error(ctx, "[1, /* c */ 2]", "found '/'");
}

/* "[[[...]]]" nested depth times, in a buffer the caller frees. */
static char *nested(int depth, char open, char close)
{
    char *text = malloc((size_t)depth * 2 + 1);
    for (int i = 0; i < depth; i++) {
        text[i] = open;
        text[depth * 2 - 1 - i] = close;
    }
    text[depth * 2] = '\0';
    return text;
}

static void test_depth(gn_context *ctx)
{
    char *ok = nested(64, '[', ']');
    gn_json *json = parse_ok(ctx, ok);
    CHECK(json && json->type == GN_JSON_ARRAY);
    gn_json_free(ctx, json);
    free(ok);

    char *deep = nested(65, '[', ']');
    expect_error(ctx, deep, "at byte 64: nesting is deeper than 64 levels");
    free(deep);
    /* Far deeper than the limit: refused without recursing that deep. */
    char *very = nested(100000, '[', ']');
    expect_error(ctx, very, "deeper than 64");
    free(very);

    /* Objects count as well: {"a":{"a":...}} */
    char objects[65 * 5 + 65 + 8];
    size_t length = 0;
    for (int i = 0; i < 65; i++)
        length += (size_t)sprintf(objects + length, "{\"a\":");
    length += (size_t)sprintf(objects + length, "1");
    for (int i = 0; i < 65; i++)
        objects[length++] = '}';
    objects[length] = '\0';
    expect_error(ctx, objects, "deeper than 64");
}

/* Strings written with gn_json_write_string read back unchanged. */
static void test_write_string(gn_context *ctx)
{
    static const char *samples[] = {
        "", "plain", "quote \" backslash \\ slash /", "\b\f\n\r\t", "\x01\x1f\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
    };
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        FILE *fp = tmpfile();
        CHECK(fp != NULL);
        if (!fp)
            return;
        gn_json_write_string(fp, samples[i]);
        long size = ftell(fp);
        char text[256];
        rewind(fp);
        CHECK(size > 0 && size < (long)sizeof(text) &&
              fread(text, 1, (size_t)size, fp) == (size_t)size);
        fclose(fp);
        gn_json *json = NULL;
        CHECK(parse_exact(ctx, text, (size_t)size, &json) == GN_OK);
        CHECK_MSG(json && json->type == GN_JSON_STRING && strcmp(json->string, samples[i]) == 0,
                  "sample %zu", i);
        gn_json_free(ctx, json);
    }
}

static void test_helpers(gn_context *ctx)
{
    CHECK(gn_json_is_utf8("", 0));
    CHECK(gn_json_is_utf8("abc \xc3\xa9 \xf0\x9f\x98\x80", 11));
    CHECK(!gn_json_is_utf8("\xc3", 1));
    CHECK(!gn_json_is_utf8("\xc0\x80", 2));
    CHECK(!gn_json_is_utf8("\xed\xbf\xbf", 3));
    CHECK(!gn_json_is_utf8("\xfe", 1));

    const char *distinct[] = {"b", "a", "c", "ab"};
    const char *repeated[] = {"x", "y", "z", "y"};
    const char *duplicate = "unset";
    CHECK(gn_json_find_duplicate(ctx, distinct, 4, &duplicate) == GN_OK && duplicate == NULL);
    CHECK(gn_json_find_duplicate(ctx, repeated, 4, &duplicate) == GN_OK && duplicate &&
          strcmp(duplicate, "y") == 0);
    CHECK(gn_json_find_duplicate(ctx, repeated, 1, &duplicate) == GN_OK && duplicate == NULL);
    gn_json_free(ctx, NULL);
}

int main(void)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 1;
    test_literals(ctx);
    test_numbers(ctx);
    test_strings(ctx);
    test_containers(ctx);
    test_depth(ctx);
    test_write_string(ctx);
    test_helpers(ctx);
    gn_context_destroy(ctx);
    return gn_test_finish("test_json");
}
