/* A restricted reader for Python pickles, enough for PyTorch state dicts and nothing more.
 *
 * It understands plain data (None, bools, integers, floats, strings, bytes, tuples, lists,
 * dicts), collections.OrderedDict, tensors rebuilt by torch._utils._rebuild_tensor_v2 (and
 * _rebuild_tensor, _rebuild_parameter) and storages named by persistent ids of the form
 * ('storage', torch.<Type>Storage, key, location, numel[, None]). Any other global (os.system,
 * builtins.eval, a model class, numpy scalars, ...) is refused by name: the reader is a data
 * parser, it never imports, looks up or calls anything named in the file. Every length is
 * checked against the bytes that remain, memo indices are bounded by the input size, and all
 * values live in one pool freed with the result. */
#ifndef GN_PICKLE_H
#define GN_PICKLE_H

#include "core/internal.h"
#include "io/dtype.h"

#define GN_PICKLE_MAX_DIMS 8

typedef enum gn_pickle_kind {
    GN_PICKLE_NONE,
    GN_PICKLE_BOOL,
    GN_PICKLE_INT,     /* fits in int64                                                      */
    GN_PICKLE_BIGINT,  /* longer integer: its little-endian two's-complement bytes in string  */
    GN_PICKLE_FLOAT,
    GN_PICKLE_STRING,  /* UTF-8 text                                                          */
    GN_PICKLE_BYTES,
    GN_PICKLE_TUPLE,
    GN_PICKLE_LIST,
    GN_PICKLE_DICT,    /* dict or OrderedDict: keys and values alternate in seq.items         */
    GN_PICKLE_GLOBAL,  /* one of the names the reader knows: a tag, never called               */
    GN_PICKLE_STORAGE, /* a tensor storage named by a persistent id                           */
    GN_PICKLE_TENSOR
} gn_pickle_kind;

typedef enum gn_pickle_global {
    GN_GLOBAL_ORDERED_DICT,
    GN_GLOBAL_REBUILD_TENSOR,     /* torch._utils._rebuild_tensor(storage, offset, size, stride) */
    GN_GLOBAL_REBUILD_TENSOR_V2,  /* ... plus requires_grad, backward_hooks[, metadata]          */
    GN_GLOBAL_REBUILD_PARAMETER,  /* torch._utils._rebuild_parameter[_with_state](tensor, ...)   */
    GN_GLOBAL_STORAGE_TYPE        /* torch.FloatStorage, torch.HalfStorage, ...                  */
} gn_pickle_global;

typedef struct gn_pickle_value gn_pickle_value;

typedef struct gn_pickle_tensor {
    const gn_pickle_value *storage; /* a GN_PICKLE_STORAGE                                    */
    int64_t offset;                 /* in elements                                             */
    int ndim;
    int64_t shape[GN_PICKLE_MAX_DIMS];
    int64_t stride[GN_PICKLE_MAX_DIMS]; /* in elements, each >= 0                             */
} gn_pickle_tensor;

struct gn_pickle_value {
    gn_pickle_kind kind;
    union {
        int64_t integer; /* BOOL (0/1), INT */
        double number;   /* FLOAT */
        struct {
            const char *data; /* NUL-terminated (the text itself may hold NULs) */
            size_t length;
        } string;        /* STRING, BYTES, BIGINT */
        struct {
            gn_pickle_value **items;
            size_t count, capacity; /* DICT: count counts items, so pairs = count / 2 */
        } seq;           /* TUPLE, LIST, DICT */
        struct {
            gn_pickle_global which;
            gn_dtype dtype; /* STORAGE_TYPE */
        } global;
        struct {
            const char *key;      /* names the storage's bytes in the checkpoint */
            gn_dtype dtype;
            int64_t numel;
        } storage;
        gn_pickle_tensor tensor;
    } as;
};

typedef struct gn_pickle gn_pickle;

/* Unpickles the object that starts at data[0]; *used gets the bytes up to and including STOP
 * (legacy checkpoints hold several pickles back to back). what names the source in messages. */
gn_status gn_pickle_load(gn_context *ctx, const unsigned char *data, size_t size, const char *what,
                         gn_pickle **out, size_t *used);
const gn_pickle_value *gn_pickle_result(const gn_pickle *pickle);
void gn_pickle_free(gn_context *ctx, gn_pickle *pickle);
/* Every storage the pickle named by persistent id, in order of appearance (also those that no
 * value in the result refers to any more). */
const gn_pickle_value *const *gn_pickle_storages(const gn_pickle *pickle, size_t *count);

/* The value for a string key in a dict (the last one, as Python's dict keeps), or NULL. */
const gn_pickle_value *gn_pickle_dict_get(const gn_pickle_value *dict, const char *key);
/* "dict", "tensor", ... for messages. */
const char *gn_pickle_kind_name(gn_pickle_kind kind);

#endif
