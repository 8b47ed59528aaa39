/* libFuzzer target for the JSON reader. Beyond not crashing, a successful parse must give a
 * tree that keeps the reader's promises: bounded depth, NUL-free UTF-8 strings, exact integers
 * that agree with their double, and strings that survive gn_json_write_string and a re-parse. */
#include "fuzz_util.h"
#include "io/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strings re-serialised per input: enough to cover every escape, bounded for speed. */
#define MAX_REWRITES 32

typedef struct walk {
    gn_context *ctx;
    int rewrites;
} walk;

static void check_string(walk *w, const char *s, size_t length)
{
    fuzz_require(strlen(s) == length, "string length disagrees with its NUL");
    fuzz_require(gn_json_is_utf8(s, length), "string is not UTF-8");
    if (w->rewrites++ >= MAX_REWRITES)
        return;
    char *text = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&text, &size);
    fuzz_require(fp != NULL, "open_memstream failed");
    gn_json_write_string(fp, s);
    fuzz_require(fclose(fp) == 0, "writing a string failed");
    gn_json *again = NULL;
    gn_status status = gn_json_parse(w->ctx, text, size, "rewrite", &again);
    fuzz_require(status == GN_OK, "a written string does not parse");
    fuzz_require(again->type == GN_JSON_STRING && again->length == length &&
                     memcmp(again->string, s, length) == 0,
                 "a written string reads back different");
    gn_json_free(w->ctx, again);
    free(text);
}

static void check_value(walk *w, const gn_json *value, int depth)
{
    switch (value->type) {
    case GN_JSON_NUMBER:
        fuzz_require(!value->is_integer || (double)value->integer == value->number,
                     "integer and double disagree");
        break;
    case GN_JSON_STRING:
        check_string(w, value->string, value->length);
        break;
    case GN_JSON_ARRAY:
    case GN_JSON_OBJECT:
        fuzz_require(depth < 64, "nesting deeper than the limit");
        for (size_t i = 0; i < value->length; i++) {
            if (value->type == GN_JSON_OBJECT) {
                check_string(w, value->keys[i], strlen(value->keys[i]));
                fuzz_require(gn_json_get(value, value->keys[i]) == &value->items[i],
                             "keys are not unique");
            }
            check_value(w, &value->items[i], depth + 1);
        }
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 0;
    gn_json *json = NULL;
    gn_status status = gn_json_parse(ctx, (const char *)data, size, "fuzz.json", &json);
    if (status == GN_OK) {
        walk w = {ctx, 0};
        check_value(&w, json, 0);
    } else {
        fuzz_require(json == NULL, "output set on failure");
        fuzz_require(strstr(gn_context_error(ctx), "fuzz.json") != NULL,
                     "error message does not name the document");
    }
    gn_json_free(ctx, json);
    gn_context_destroy(ctx);
    return 0;
}
