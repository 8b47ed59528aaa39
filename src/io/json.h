/* A strict, small JSON reader (RFC 8259) for file headers: a DOM of values, a depth limit, and
 * errors that say where parsing stopped. Writing is done with plain fprintf by callers, through
 * gn_json_write_string for escaping. */
#ifndef GN_JSON_H
#define GN_JSON_H

#include "core/internal.h"

#include <stdio.h>

typedef enum gn_json_type {
    GN_JSON_NULL,
    GN_JSON_FALSE,
    GN_JSON_TRUE,
    GN_JSON_NUMBER,
    GN_JSON_STRING,
    GN_JSON_ARRAY,
    GN_JSON_OBJECT
} gn_json_type;

typedef struct gn_json gn_json;
struct gn_json {
    gn_json_type type;
    double number;        /* GN_JSON_NUMBER                                               */
    int is_integer;       /* number had no fraction/exponent and fits in int64            */
    int64_t integer;      /* valid when is_integer                                         */
    char *string;         /* GN_JSON_STRING: NUL-terminated UTF-8 (embedded NUL rejected) */
    size_t length;        /* string length, or number of items / members                  */
    gn_json *items;       /* GN_JSON_ARRAY: length items; GN_JSON_OBJECT: length values    */
    char **keys;          /* GN_JSON_OBJECT: length keys, in file order                    */
};

/* Parses exactly text[0..size) (trailing spaces allowed, nothing else). Max nesting 64.
 * what names the source in error messages ("model.safetensors header"). */
gn_status gn_json_parse(gn_context *ctx, const char *text, size_t size, const char *what,
                        gn_json **out);
void gn_json_free(gn_context *ctx, gn_json *json);
/* Member of an object by key, or NULL. */
const gn_json *gn_json_get(const gn_json *object, const char *key);
/* Writes s as a JSON string literal with escapes. s must be UTF-8 (gn_json_is_utf8) for the
 * result to be JSON; write errors are left for the caller to find with ferror. */
void gn_json_write_string(FILE *fp, const char *s);

/* Whether s[0..length) is well-formed UTF-8 (no overlong forms, surrogates or values above
 * U+10FFFF), as every JSON string must be. Writers check names with it before writing. */
bool gn_json_is_utf8(const char *s, size_t length);
/* Sets *duplicate to a string that occurs more than once in names[0..count), or to NULL when
 * all differ. O(n log n); fails only for lack of memory. */
gn_status gn_json_find_duplicate(gn_context *ctx, const char *const *names, size_t count,
                                 const char **duplicate);

#endif
