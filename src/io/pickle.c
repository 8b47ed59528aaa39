/* The restricted unpickler: a stack machine over the opcodes of pickle protocols 2-5 that data
 * needs (see pickle.h for what it accepts). Opcodes are Python's (Lib/pickletools.py documents
 * each); anything that would create an arbitrary object (INST, OBJ, NEWOBJ, EXT*, an unknown
 * global) stops the reader with a message naming it. */
#include "io/pickle.h"

#include "io/json.h"

#include <inttypes.h>
#include <string.h>

enum opcode {
    OP_MARK = '(', OP_STOP = '.', OP_POP = '0', OP_POP_MARK = '1', OP_DUP = '2',
    OP_BININT = 'J', OP_BININT1 = 'K', OP_BININT2 = 'M', OP_NONE = 'N',
    OP_BINPERSID = 'Q', OP_REDUCE = 'R', OP_BINSTRING = 'T', OP_SHORT_BINSTRING = 'U',
    OP_BINUNICODE = 'X', OP_APPEND = 'a', OP_BUILD = 'b', OP_GLOBAL = 'c', OP_DICT = 'd',
    OP_EMPTY_DICT = '}', OP_APPENDS = 'e', OP_BINGET = 'h', OP_LONG_BINGET = 'j', OP_LIST = 'l',
    OP_EMPTY_LIST = ']', OP_BINPUT = 'q', OP_LONG_BINPUT = 'r', OP_SETITEM = 's', OP_TUPLE = 't',
    OP_EMPTY_TUPLE = ')', OP_SETITEMS = 'u', OP_BINFLOAT = 'G', OP_BINBYTES = 'B',
    OP_SHORT_BINBYTES = 'C',
    OP_PROTO = 0x80, OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87, OP_NEWTRUE = 0x88,
    OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a, OP_LONG4 = 0x8b, OP_SHORT_BINUNICODE = 0x8c,
    OP_BINUNICODE8 = 0x8d, OP_BINBYTES8 = 0x8e, OP_STACK_GLOBAL = 0x93, OP_MEMOIZE = 0x94,
    OP_FRAME = 0x95
};

#define HIGHEST_PROTOCOL 5
#define MAX_GLOBAL_NAME 256
#define POOL_BLOCK (64 * 1024)

/* ----------------------------------------------------------------------------------------------
 * Value pool: every value, string and item array of one result, freed together.
 * -------------------------------------------------------------------------------------------- */

typedef struct pool_block {
    struct pool_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} pool_block;

struct gn_pickle {
    pool_block *blocks;
    const gn_pickle_value *result;
    const gn_pickle_value **storages; /* every persistent id, in order of appearance */
    size_t num_storages, storages_capacity;
};

static void *pool_alloc(gn_context *ctx, gn_pickle *pool, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    pool_block *head = pool->blocks;
    if (!head || head->size - head->used < size) {
        /* Large requests get a block of their own so the shared block keeps its free space. */
        size_t capacity = size > POOL_BLOCK / 4 ? size : POOL_BLOCK;
        pool_block *block = gn_alloc(ctx, sizeof(pool_block) + capacity);
        if (!block)
            return NULL;
        block->used = 0;
        block->size = capacity;
        if (head && capacity != POOL_BLOCK) {
            block->next = head->next;
            head->next = block;
        } else {
            block->next = head;
            pool->blocks = block;
        }
        head = block;
    }
    void *p = head->data + head->used;
    head->used += size;
    return p;
}

void gn_pickle_free(gn_context *ctx, gn_pickle *pickle)
{
    if (!pickle)
        return;
    for (pool_block *b = pickle->blocks, *next; b; b = next) {
        next = b->next;
        gn_free(ctx, b);
    }
    gn_free(ctx, pickle->storages);
    gn_free(ctx, pickle);
}

const gn_pickle_value *gn_pickle_result(const gn_pickle *pickle)
{
    return pickle->result;
}

const gn_pickle_value *const *gn_pickle_storages(const gn_pickle *pickle, size_t *count)
{
    *count = pickle->num_storages;
    return pickle->storages;
}

/* ----------------------------------------------------------------------------------------------
 * The machine
 * -------------------------------------------------------------------------------------------- */

typedef struct unpickler {
    gn_context *ctx;
    const char *what;
    const unsigned char *start, *p, *end;
    gn_pickle *pool;
    gn_pickle_value **stack;
    size_t depth, stack_capacity;
    size_t *marks; /* stack depths at each MARK */
    size_t num_marks, marks_capacity;
    gn_pickle_value **memo;
    size_t memo_capacity, memo_count;
} unpickler;

static gn_status fail(unpickler *u, const char *fmt, ...) GN_PRINTF(2, 3);

/* "<what>: pickle offset N: <message>" */
static gn_status fail(unpickler *u, const char *fmt, ...)
{
    char message[GN_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    return gn_fail(u->ctx, GN_ERR_FORMAT, "%s: pickle offset %td: %s", u->what,
                   u->p - u->start, message);
}

static gn_status out_of_memory(unpickler *u)
{
    return gn_fail(u->ctx, GN_ERR_NOMEM, "%s: out of memory reading the pickle", u->what);
}

/* Grows *array (of elem-byte items, capacity *capacity) to hold need items. */
static int grow(gn_context *ctx, void **array, size_t *capacity, size_t need, size_t elem)
{
    if (need <= *capacity)
        return 1;
    size_t target = *capacity ? *capacity : 16, bytes;
    while (target < need)
        target *= 2;
    if (!gn_mul_size(target, elem, &bytes))
        return 0;
    void *bigger = gn_alloc(ctx, bytes);
    if (!bigger)
        return 0;
    if (*capacity)
        memcpy(bigger, *array, *capacity * elem);
    gn_free(ctx, *array);
    *array = bigger;
    *capacity = target;
    return 1;
}

static gn_pickle_value *new_value(unpickler *u, gn_pickle_kind kind)
{
    gn_pickle_value *v = pool_alloc(u->ctx, u->pool, sizeof(*v));
    if (v) {
        memset(v, 0, sizeof(*v));
        v->kind = kind;
    }
    return v;
}

static gn_status push(unpickler *u, gn_pickle_value *v)
{
    if (!v || !grow(u->ctx, (void **)&u->stack, &u->stack_capacity, u->depth + 1,
                    sizeof(*u->stack)))
        return out_of_memory(u);
    u->stack[u->depth++] = v;
    return GN_OK;
}

/* Depth of the stack above which a value may be popped (the last mark, or 0). */
static size_t floor_depth(const unpickler *u)
{
    return u->num_marks ? u->marks[u->num_marks - 1] : 0;
}

static gn_status pop(unpickler *u, gn_pickle_value **out)
{
    if (u->depth <= floor_depth(u))
        return fail(u, "stack underflow");
    *out = u->stack[--u->depth];
    return GN_OK;
}

static gn_status top(unpickler *u, gn_pickle_value **out)
{
    if (u->depth <= floor_depth(u))
        return fail(u, "stack underflow");
    *out = u->stack[u->depth - 1];
    return GN_OK;
}

/* Removes the topmost mark; *begin gets the stack depth where the marked items start. */
static gn_status pop_mark(unpickler *u, size_t *begin)
{
    if (!u->num_marks)
        return fail(u, "no MARK on the stack");
    *begin = u->marks[--u->num_marks];
    return GN_OK;
}

/* Reading operands: every read is checked against the end of the input first. */
static gn_status take(unpickler *u, size_t n, const unsigned char **out)
{
    if ((size_t)(u->end - u->p) < n)
        return fail(u, "truncated: an operand of %zu bytes runs past the end", n);
    *out = u->p;
    u->p += n;
    return GN_OK;
}

static gn_status take_uint(unpickler *u, size_t n, uint64_t *out)
{
    const unsigned char *b = NULL;
    gn_status st = take(u, n, &b);
    if (st == GN_OK)
        *out = n == 1   ? b[0]
               : n == 2 ? gn_load_le16(b)
               : n == 4 ? gn_load_le32(b)
                        : gn_load_le64(b);
    return st;
}

static gn_status push_int(unpickler *u, int64_t value)
{
    gn_pickle_value *v = new_value(u, GN_PICKLE_INT);
    if (v)
        v->as.integer = value;
    return push(u, v);
}

static gn_status push_bool(unpickler *u, int value)
{
    gn_pickle_value *v = new_value(u, GN_PICKLE_BOOL);
    if (v)
        v->as.integer = value;
    return push(u, v);
}

/* A copy of bytes in the pool, NUL-terminated. */
static gn_pickle_value *new_string(unpickler *u, gn_pickle_kind kind, const unsigned char *bytes,
                                   size_t length)
{
    gn_pickle_value *v = new_value(u, kind);
    char *copy = length < SIZE_MAX ? pool_alloc(u->ctx, u->pool, length + 1) : NULL;
    if (!v || !copy)
        return NULL;
    memcpy(copy, bytes, length);
    copy[length] = '\0';
    v->as.string.data = copy;
    v->as.string.length = length;
    return v;
}

/* Strings and bytes with an n-byte length prefix. Text must be UTF-8; Python 2 byte strings
 * (BINSTRING) are taken as text when they are, as old checkpoints store keys that way. */
static gn_status push_counted(unpickler *u, size_t prefix, gn_pickle_kind kind)
{
    uint64_t length = 0;
    const unsigned char *bytes = NULL;
    gn_status st = take_uint(u, prefix, &length);
    if (st != GN_OK)
        return st;
    if (length > (uint64_t)(u->end - u->p))
        return fail(u, "truncated: a string of %" PRIu64 " bytes runs past the end", length);
    take(u, (size_t)length, &bytes);
    if (kind == GN_PICKLE_STRING && !gn_json_is_utf8((const char *)bytes, (size_t)length))
        return fail(u, "a string is not valid UTF-8");
    gn_pickle_value *v = new_string(u, kind, bytes, (size_t)length);
    return v ? push(u, v) : out_of_memory(u);
}

/* LONG1 / LONG4: little-endian two's complement of n bytes. */
static gn_status push_long(unpickler *u, size_t prefix)
{
    uint64_t length = 0;
    const unsigned char *bytes = NULL;
    gn_status st = take_uint(u, prefix, &length);
    if (st != GN_OK)
        return st;
    if (length > (uint64_t)(u->end - u->p))
        return fail(u, "truncated: an integer of %" PRIu64 " bytes runs past the end", length);
    take(u, (size_t)length, &bytes);
    if (length > 8) {
        gn_pickle_value *v = new_string(u, GN_PICKLE_BIGINT, bytes, (size_t)length);
        return v ? push(u, v) : out_of_memory(u);
    }
    uint64_t value = 0;
    for (size_t i = 0; i < length; i++)
        value |= (uint64_t)bytes[i] << (8 * i);
    if (length > 0 && length < 8 && (bytes[length - 1] & 0x80))
        value |= ~(uint64_t)0 << (8 * length); /* sign-extend */
    int64_t signed_value;
    memcpy(&signed_value, &value, sizeof(signed_value));
    return push_int(u, signed_value);
}

static gn_status push_binfloat(unpickler *u)
{
    const unsigned char *b = NULL;
    gn_status st = take(u, 8, &b);
    if (st != GN_OK)
        return st;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | b[i]; /* big-endian */
    gn_pickle_value *v = new_value(u, GN_PICKLE_FLOAT);
    if (v)
        memcpy(&v->as.number, &bits, sizeof(bits));
    return push(u, v);
}

/* A tuple, list or dict of the items stack[begin..depth), which are removed. */
static gn_status collapse(unpickler *u, gn_pickle_kind kind, size_t begin)
{
    size_t count = u->depth - begin;
    if (kind == GN_PICKLE_DICT && count % 2)
        return fail(u, "DICT with an odd number of items");
    gn_pickle_value *v = new_value(u, kind);
    gn_pickle_value **items = pool_alloc(u->ctx, u->pool, (count ? count : 1) * sizeof(*items));
    if (!v || !items)
        return out_of_memory(u);
    if (count) /* the stack may still be unallocated */
        memcpy(items, u->stack + begin, count * sizeof(*items));
    v->as.seq.items = items;
    v->as.seq.count = v->as.seq.capacity = count;
    u->depth = begin;
    return push(u, v);
}

static gn_status collapse_last(unpickler *u, gn_pickle_kind kind, size_t count)
{
    if (u->depth - floor_depth(u) < count)
        return fail(u, "stack underflow");
    return collapse(u, kind, u->depth - count);
}

static gn_status collapse_mark(unpickler *u, gn_pickle_kind kind)
{
    size_t begin = 0;
    gn_status st = pop_mark(u, &begin);
    return st == GN_OK ? collapse(u, kind, begin) : st;
}

/* Appends items to a list or dict (a pool array that doubles when full). */
static gn_status extend(unpickler *u, gn_pickle_value *target, gn_pickle_value *const *items,
                        size_t count)
{
    size_t need = target->as.seq.count + count;
    if (need > target->as.seq.capacity) {
        size_t capacity = target->as.seq.capacity ? target->as.seq.capacity : 8;
        while (capacity < need)
            capacity *= 2;
        gn_pickle_value **bigger = pool_alloc(u->ctx, u->pool, capacity * sizeof(*bigger));
        if (!bigger)
            return out_of_memory(u);
        if (target->as.seq.count)
            memcpy(bigger, target->as.seq.items, target->as.seq.count * sizeof(*bigger));
        target->as.seq.items = bigger;
        target->as.seq.capacity = capacity;
    }
    if (count)
        memcpy(target->as.seq.items + target->as.seq.count, items, count * sizeof(*items));
    target->as.seq.count = need;
    return GN_OK;
}

/* APPEND(S) / SETITEM(S): the items above begin go into the container just below them. */
static gn_status add_items(unpickler *u, gn_pickle_kind kind, size_t begin)
{
    const char *op = kind == GN_PICKLE_LIST ? "APPEND" : "SETITEM";
    if (begin == 0 || begin <= floor_depth(u))
        return fail(u, "%s with no container below its items", op);
    gn_pickle_value *target = u->stack[begin - 1];
    if (target->kind != kind)
        return fail(u, "%s on a %s", op, gn_pickle_kind_name(target->kind));
    size_t count = u->depth - begin;
    if (kind == GN_PICKLE_DICT && count % 2)
        return fail(u, "SETITEMS with an odd number of items");
    gn_status st = extend(u, target, u->stack + begin, count);
    u->depth = begin;
    return st;
}

static gn_status add_last(unpickler *u, gn_pickle_kind kind, size_t count)
{
    if (u->depth - floor_depth(u) < count)
        return fail(u, "stack underflow");
    return add_items(u, kind, u->depth - count);
}

static gn_status add_marked(unpickler *u, gn_pickle_kind kind)
{
    size_t begin = 0;
    gn_status st = pop_mark(u, &begin);
    return st == GN_OK ? add_items(u, kind, begin) : st;
}

/* ----------------------------------------------------------------------------------------------
 * Memo
 * -------------------------------------------------------------------------------------------- */

static gn_status memo_put(unpickler *u, uint64_t index)
{
    gn_pickle_value *v = NULL;
    gn_status st = top(u, &v);
    if (st != GN_OK)
        return st;
    /* Python numbers memo entries 0, 1, 2, ...; each PUT takes at least two bytes, so a
     * larger index than the input size is hostile and must not size an allocation. */
    if (index >= (uint64_t)(u->end - u->start))
        return fail(u, "memo index %" PRIu64 " is larger than the pickle", index);
    size_t old = u->memo_capacity;
    if (!grow(u->ctx, (void **)&u->memo, &u->memo_capacity, (size_t)index + 1, sizeof(*u->memo)))
        return out_of_memory(u);
    if (u->memo_capacity > old)
        memset(u->memo + old, 0, (u->memo_capacity - old) * sizeof(*u->memo));
    u->memo_count += u->memo[index] == NULL;
    u->memo[index] = v;
    return GN_OK;
}

static gn_status memo_get(unpickler *u, uint64_t index)
{
    if (index >= u->memo_capacity || !u->memo[index])
        return fail(u, "memo index %" PRIu64 " was never stored", index);
    return push(u, u->memo[index]);
}

static gn_status memo_op(unpickler *u, size_t width, int put)
{
    uint64_t index = 0;
    gn_status st = take_uint(u, width, &index);
    if (st != GN_OK)
        return st;
    return put ? memo_put(u, index) : memo_get(u, index);
}

/* ----------------------------------------------------------------------------------------------
 * Globals: looked up in a fixed table, never imported.
 * -------------------------------------------------------------------------------------------- */

typedef struct known_global {
    const char *module, *name;
    gn_pickle_global which;
    gn_dtype dtype;
} known_global;

static const known_global known_globals[] = {
    {"collections", "OrderedDict", GN_GLOBAL_ORDERED_DICT, GN_DTYPE_F32},
    {"torch._utils", "_rebuild_tensor", GN_GLOBAL_REBUILD_TENSOR, GN_DTYPE_F32},
    {"torch._utils", "_rebuild_tensor_v2", GN_GLOBAL_REBUILD_TENSOR_V2, GN_DTYPE_F32},
    {"torch._utils", "_rebuild_parameter", GN_GLOBAL_REBUILD_PARAMETER, GN_DTYPE_F32},
    {"torch._utils", "_rebuild_parameter_with_state", GN_GLOBAL_REBUILD_PARAMETER, GN_DTYPE_F32},
    {"torch", "FloatStorage", GN_GLOBAL_STORAGE_TYPE, GN_DTYPE_F32},
    {"torch", "HalfStorage", GN_GLOBAL_STORAGE_TYPE, GN_DTYPE_F16},
    {"torch", "BFloat16Storage", GN_GLOBAL_STORAGE_TYPE, GN_DTYPE_BF16},
    {"torch", "DoubleStorage", GN_GLOBAL_STORAGE_TYPE, GN_DTYPE_F64},
    {"torch", "LongStorage", GN_GLOBAL_STORAGE_TYPE, GN_DTYPE_I64},
    {"torch", "IntStorage", GN_GLOBAL_STORAGE_TYPE, GN_DTYPE_I32},
    {"torch", "ShortStorage", GN_GLOBAL_STORAGE_TYPE, GN_DTYPE_I16},
    {"torch", "CharStorage", GN_GLOBAL_STORAGE_TYPE, GN_DTYPE_I8},
    {"torch", "ByteStorage", GN_GLOBAL_STORAGE_TYPE, GN_DTYPE_U8},
    {"torch", "BoolStorage", GN_GLOBAL_STORAGE_TYPE, GN_DTYPE_BOOL},
};

static gn_status push_global(unpickler *u, const char *module, size_t module_length,
                             const char *name, size_t name_length)
{
    for (size_t i = 0; i < sizeof(known_globals) / sizeof(known_globals[0]); i++) {
        const known_global *g = &known_globals[i];
        if (strlen(g->module) == module_length && strlen(g->name) == name_length &&
            memcmp(g->module, module, module_length) == 0 &&
            memcmp(g->name, name, name_length) == 0) {
            gn_pickle_value *v = new_value(u, GN_PICKLE_GLOBAL);
            if (v) {
                v->as.global.which = g->which;
                v->as.global.dtype = g->dtype;
            }
            return push(u, v);
        }
    }
    int shown_module = (int)(module_length < MAX_GLOBAL_NAME ? module_length : MAX_GLOBAL_NAME);
    int shown_name = (int)(name_length < MAX_GLOBAL_NAME ? name_length : MAX_GLOBAL_NAME);
    return gn_fail(u->ctx, GN_ERR_UNSUPPORTED,
                   "%s: refusing global '%.*s.%.*s': a checkpoint may only name "
                   "collections.OrderedDict, torch._utils._rebuild_tensor_v2 / "
                   "_rebuild_parameter and torch.*Storage (nothing in the file is imported or run; "
                   "save model.state_dict() instead of other objects)",
                   u->what, shown_module, module, shown_name, name);
}

/* Reads one "...\n" line of the GLOBAL opcode. */
static gn_status take_line(unpickler *u, const char **line, size_t *length)
{
    const unsigned char *newline = memchr(u->p, '\n', (size_t)(u->end - u->p));
    if (!newline)
        return fail(u, "truncated: a GLOBAL name has no end of line");
    *line = (const char *)u->p;
    *length = (size_t)(newline - u->p);
    u->p = newline + 1;
    return GN_OK;
}

static gn_status op_global(unpickler *u)
{
    const char *module = NULL, *name = NULL;
    size_t module_length = 0, name_length = 0;
    gn_status st = take_line(u, &module, &module_length);
    if (st == GN_OK)
        st = take_line(u, &name, &name_length);
    return st == GN_OK ? push_global(u, module, module_length, name, name_length) : st;
}

static gn_status op_stack_global(unpickler *u)
{
    gn_pickle_value *module = NULL, *name = NULL;
    gn_status st = pop(u, &name);
    if (st == GN_OK)
        st = pop(u, &module);
    if (st != GN_OK)
        return st;
    if (module->kind != GN_PICKLE_STRING || name->kind != GN_PICKLE_STRING)
        return fail(u, "STACK_GLOBAL needs two strings");
    return push_global(u, module->as.string.data, module->as.string.length, name->as.string.data,
                       name->as.string.length);
}

/* ----------------------------------------------------------------------------------------------
 * Persistent ids and REDUCE: the only places objects are made, each from a known recipe.
 * -------------------------------------------------------------------------------------------- */

static int is_string(const gn_pickle_value *v, const char *text)
{
    return v->kind == GN_PICKLE_STRING && strcmp(v->as.string.data, text) == 0;
}

static int is_int(const gn_pickle_value *v)
{
    return v->kind == GN_PICKLE_INT;
}

/* ('storage', torch.<T>Storage, key, location, numel) with a trailing None in legacy files. */
static gn_status op_persid(unpickler *u)
{
    gn_pickle_value *pid = NULL;
    gn_status st = pop(u, &pid);
    if (st != GN_OK)
        return st;
    if (pid->kind != GN_PICKLE_TUPLE)
        return fail(u, "persistent id is a %s, not a tuple", gn_pickle_kind_name(pid->kind));
    gn_pickle_value **f = pid->as.seq.items;
    size_t n = pid->as.seq.count;
    if ((n != 5 && n != 6) || !is_string(f[0], "storage") ||
        f[1]->kind != GN_PICKLE_GLOBAL || f[1]->as.global.which != GN_GLOBAL_STORAGE_TYPE ||
        f[2]->kind != GN_PICKLE_STRING || f[3]->kind != GN_PICKLE_STRING || !is_int(f[4]) ||
        f[4]->as.integer < 0 || (n == 6 && f[5]->kind != GN_PICKLE_NONE))
        return fail(u, "persistent id is not ('storage', torch.<Type>Storage, key, location, "
                       "numel)");
    gn_pickle_value *v = new_value(u, GN_PICKLE_STORAGE);
    if (!v || !grow(u->ctx, (void **)&u->pool->storages, &u->pool->storages_capacity,
                    u->pool->num_storages + 1, sizeof(*u->pool->storages)))
        return out_of_memory(u);
    v->as.storage.key = f[2]->as.string.data;
    v->as.storage.dtype = f[1]->as.global.dtype;
    v->as.storage.numel = f[4]->as.integer;
    u->pool->storages[u->pool->num_storages++] = v;
    return push(u, v);
}

/* A tuple of non-negative integers, at most GN_PICKLE_MAX_DIMS long. */
static int read_dims(const gn_pickle_value *v, int64_t *out, int *ndim)
{
    if (v->kind != GN_PICKLE_TUPLE || v->as.seq.count > GN_PICKLE_MAX_DIMS)
        return 0;
    for (size_t i = 0; i < v->as.seq.count; i++) {
        const gn_pickle_value *d = v->as.seq.items[i];
        if (!is_int(d) || d->as.integer < 0)
            return 0;
        out[i] = d->as.integer;
    }
    *ndim = (int)v->as.seq.count;
    return 1;
}

static gn_status rebuild_tensor(unpickler *u, const gn_pickle_value *args, int v2)
{
    gn_pickle_value **a = args->as.seq.items;
    size_t n = args->as.seq.count;
    int ndim = 0, stride_ndim = -1;
    gn_pickle_value *v = new_value(u, GN_PICKLE_TENSOR);
    if (!v)
        return out_of_memory(u);
    gn_pickle_tensor *t = &v->as.tensor;
    int ok = v2 ? (n == 6 || n == 7) : n == 4;
    ok = ok && a[0]->kind == GN_PICKLE_STORAGE && is_int(a[1]) && a[1]->as.integer >= 0 &&
         read_dims(a[2], t->shape, &ndim) && read_dims(a[3], t->stride, &stride_ndim) &&
         ndim == stride_ndim;
    if (ok && v2)
        ok = a[4]->kind == GN_PICKLE_BOOL && a[5]->kind == GN_PICKLE_DICT &&
             a[5]->as.seq.count == 0;
    if (!ok)
        return fail(u, "torch._utils._rebuild_tensor%s called with arguments that are not "
                       "(storage, offset, size, stride%s)",
                    v2 ? "_v2" : "", v2 ? ", requires_grad, no hooks" : "");
    t->storage = a[0];
    t->offset = a[1]->as.integer;
    t->ndim = ndim;
    return push(u, v);
}

static gn_status op_reduce(unpickler *u)
{
    gn_pickle_value *callable = NULL, *args = NULL;
    gn_status st = pop(u, &args);
    if (st == GN_OK)
        st = pop(u, &callable);
    if (st != GN_OK)
        return st;
    if (callable->kind != GN_PICKLE_GLOBAL || args->kind != GN_PICKLE_TUPLE)
        return fail(u, "REDUCE of a %s", gn_pickle_kind_name(callable->kind));
    size_t n = args->as.seq.count;
    switch (callable->as.global.which) {
    case GN_GLOBAL_ORDERED_DICT:
        if (n != 0)
            return fail(u, "collections.OrderedDict called with arguments");
        return push(u, new_value(u, GN_PICKLE_DICT));
    case GN_GLOBAL_REBUILD_TENSOR:
        return rebuild_tensor(u, args, 0);
    case GN_GLOBAL_REBUILD_TENSOR_V2:
        return rebuild_tensor(u, args, 1);
    case GN_GLOBAL_REBUILD_PARAMETER:
        if (n < 1 || args->as.seq.items[0]->kind != GN_PICKLE_TENSOR)
            return fail(u, "torch._utils._rebuild_parameter called without a tensor");
        return push(u, args->as.seq.items[0]);
    default:
        return fail(u, "a storage type called as a function");
    }
}

/* BUILD sets an object's state. The only object that legitimately gets one here is a
 * state_dict's OrderedDict (its _metadata of module versions), which we do not need. */
static gn_status op_build(unpickler *u)
{
    gn_pickle_value *state = NULL, *object = NULL;
    gn_status st = pop(u, &state);
    if (st == GN_OK)
        st = top(u, &object);
    if (st == GN_OK && object->kind != GN_PICKLE_DICT)
        st = fail(u, "BUILD on a %s", gn_pickle_kind_name(object->kind));
    return st;
}

static gn_status op_pop(unpickler *u)
{
    if (u->depth > floor_depth(u)) {
        u->depth--;
        return GN_OK;
    }
    size_t begin = 0; /* Python's POP removes a mark when one is on top */
    return pop_mark(u, &begin);
}

static gn_status op_pop_mark(unpickler *u)
{
    size_t begin = 0;
    gn_status st = pop_mark(u, &begin);
    if (st == GN_OK)
        u->depth = begin;
    return st;
}

static gn_status op_mark(unpickler *u)
{
    if (!grow(u->ctx, (void **)&u->marks, &u->marks_capacity, u->num_marks + 1, sizeof(*u->marks)))
        return out_of_memory(u);
    u->marks[u->num_marks++] = u->depth;
    return GN_OK;
}

static gn_status op_dup(unpickler *u)
{
    gn_pickle_value *v = NULL;
    gn_status st = top(u, &v);
    return st == GN_OK ? push(u, v) : st;
}

static gn_status op_proto(unpickler *u)
{
    uint64_t version = 0;
    gn_status st = take_uint(u, 1, &version);
    if (st == GN_OK && version > HIGHEST_PROTOCOL)
        st = fail(u, "pickle protocol %" PRIu64 " is newer than %d", version, HIGHEST_PROTOCOL);
    return st;
}

static gn_status op_frame(unpickler *u)
{
    uint64_t length = 0; /* frames only group opcodes for buffering: the content reads on */
    gn_status st = take_uint(u, 8, &length);
    if (st == GN_OK && length > (uint64_t)(u->end - u->p))
        st = fail(u, "truncated: a frame of %" PRIu64 " bytes runs past the end", length);
    return st;
}

static gn_status op_memoize(unpickler *u)
{
    return memo_put(u, u->memo_count);
}

/* Runs one opcode other than STOP. */
static gn_status step(unpickler *u, int op)
{
    switch (op) {
    case OP_MARK: return op_mark(u);
    case OP_POP: return op_pop(u);
    case OP_POP_MARK: return op_pop_mark(u);
    case OP_DUP: return op_dup(u);
    case OP_PROTO: return op_proto(u);
    case OP_FRAME: return op_frame(u);
    case OP_NONE: return push(u, new_value(u, GN_PICKLE_NONE));
    case OP_NEWTRUE: return push_bool(u, 1);
    case OP_NEWFALSE: return push_bool(u, 0);
    case OP_BININT1: case OP_BININT2: {
        uint64_t value = 0;
        gn_status st = take_uint(u, op == OP_BININT1 ? 1 : 2, &value);
        return st == GN_OK ? push_int(u, (int64_t)value) : st;
    }
    case OP_BININT: {
        uint64_t value = 0;
        gn_status st = take_uint(u, 4, &value);
        return st == GN_OK ? push_int(u, (int32_t)(uint32_t)value) : st;
    }
    case OP_LONG1: return push_long(u, 1);
    case OP_LONG4: return push_long(u, 4);
    case OP_BINFLOAT: return push_binfloat(u);
    case OP_SHORT_BINUNICODE: return push_counted(u, 1, GN_PICKLE_STRING);
    case OP_BINUNICODE: return push_counted(u, 4, GN_PICKLE_STRING);
    case OP_BINUNICODE8: return push_counted(u, 8, GN_PICKLE_STRING);
    case OP_SHORT_BINSTRING: return push_counted(u, 1, GN_PICKLE_STRING);
    case OP_BINSTRING: return push_counted(u, 4, GN_PICKLE_STRING);
    case OP_SHORT_BINBYTES: return push_counted(u, 1, GN_PICKLE_BYTES);
    case OP_BINBYTES: return push_counted(u, 4, GN_PICKLE_BYTES);
    case OP_BINBYTES8: return push_counted(u, 8, GN_PICKLE_BYTES);
    case OP_EMPTY_TUPLE: return collapse_last(u, GN_PICKLE_TUPLE, 0);
    case OP_TUPLE1: return collapse_last(u, GN_PICKLE_TUPLE, 1);
    case OP_TUPLE2: return collapse_last(u, GN_PICKLE_TUPLE, 2);
    case OP_TUPLE3: return collapse_last(u, GN_PICKLE_TUPLE, 3);
    case OP_TUPLE: return collapse_mark(u, GN_PICKLE_TUPLE);
    case OP_EMPTY_LIST: return collapse_last(u, GN_PICKLE_LIST, 0);
    case OP_LIST: return collapse_mark(u, GN_PICKLE_LIST);
    case OP_EMPTY_DICT: return collapse_last(u, GN_PICKLE_DICT, 0);
    case OP_DICT: return collapse_mark(u, GN_PICKLE_DICT);
    case OP_APPEND: return add_last(u, GN_PICKLE_LIST, 1);
    case OP_APPENDS: return add_marked(u, GN_PICKLE_LIST);
    case OP_SETITEM: return add_last(u, GN_PICKLE_DICT, 2);
    case OP_SETITEMS: return add_marked(u, GN_PICKLE_DICT);
    case OP_BINPUT: return memo_op(u, 1, 1);
    case OP_LONG_BINPUT: return memo_op(u, 4, 1);
    case OP_BINGET: return memo_op(u, 1, 0);
    case OP_LONG_BINGET: return memo_op(u, 4, 0);
    case OP_MEMOIZE: return op_memoize(u);
    case OP_GLOBAL: return op_global(u);
    case OP_STACK_GLOBAL: return op_stack_global(u);
    case OP_BINPERSID: return op_persid(u);
    case OP_REDUCE: return op_reduce(u);
    case OP_BUILD: return op_build(u);
    default:
        return gn_fail(u->ctx, GN_ERR_UNSUPPORTED,
                       "%s: pickle offset %td: opcode 0x%02x is not supported (a state dict "
                       "never needs it)",
                       u->what, u->p - 1 - u->start, op);
    }
}

static gn_status run(unpickler *u, const gn_pickle_value **result)
{
    while (u->p < u->end) {
        int op = *u->p++;
        if (op == OP_STOP) {
            gn_pickle_value *v = NULL;
            gn_status st = pop(u, &v);
            if (st == GN_OK && (u->depth || u->num_marks))
                st = fail(u, "STOP with %zu values and %zu marks left on the stack", u->depth,
                          u->num_marks);
            *result = v;
            return st;
        }
        gn_status st = step(u, op);
        if (st != GN_OK)
            return st;
    }
    return fail(u, "truncated: the pickle ends without STOP");
}

gn_status gn_pickle_load(gn_context *ctx, const unsigned char *data, size_t size, const char *what,
                         gn_pickle **out, size_t *used)
{
    *out = NULL;
    unpickler u = {.ctx = ctx, .what = what, .start = data, .p = data, .end = data + size};
    u.pool = gn_alloc_zero(ctx, sizeof(*u.pool));
    if (!u.pool)
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory reading the pickle", what);
    const gn_pickle_value *result = NULL;
    gn_status st = run(&u, &result);
    gn_free(ctx, u.stack);
    gn_free(ctx, u.marks);
    gn_free(ctx, u.memo);
    if (st != GN_OK) {
        gn_pickle_free(ctx, u.pool);
        return st;
    }
    u.pool->result = result;
    *out = u.pool;
    *used = (size_t)(u.p - data);
    return GN_OK;
}

const gn_pickle_value *gn_pickle_dict_get(const gn_pickle_value *dict, const char *key)
{
    if (dict->kind != GN_PICKLE_DICT)
        return NULL;
    for (size_t i = dict->as.seq.count; i >= 2; i -= 2) {
        const gn_pickle_value *k = dict->as.seq.items[i - 2];
        if (k->kind == GN_PICKLE_STRING && strcmp(k->as.string.data, key) == 0)
            return dict->as.seq.items[i - 1];
    }
    return NULL;
}

const char *gn_pickle_kind_name(gn_pickle_kind kind)
{
    static const char *const names[] = {"None",  "bool",  "int",  "int",    "float",
                                        "str",   "bytes", "tuple", "list",  "dict",
                                        "global", "storage", "tensor"};
    return (size_t)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}
