/* PyTorch checkpoint reading: the container (zip or legacy) gives a pickle and the bytes of each
 * storage; the pickle gives the state dict, whose tensors are views (offset, shape, strides) of
 * those storages. Every view is checked to lie inside its storage before it is copied out. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, beyond what _POSIX_C_SOURCE exposes */
#include "io/pth.h"

#include "io/file_map.h"
#include "io/json.h"
#include "io/pickle.h"
#include "io/zip.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Larger files are not checkpoints of models this library runs. */
#define MAX_CHECKPOINT_BYTES (64ull << 30)
/* The state dict's tensors may add up to at most this many times the file (views of one storage
 * are copied apart), so a small hostile file cannot ask for a huge allocation. */
#define MAX_EXPANSION 4
#define LEGACY_PROTOCOL_VERSION 1001
#define MAX_WRAPPING 4

/* torch.serialization's MAGIC_NUMBER 0x1950a86a20f9469cfc6c, as the bytes of a pickled long. */
static const unsigned char legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                               0x20, 0x6a, 0xa8, 0x50, 0x19};

static const char *const wrapper_keys[] = {"state_dict", "model", "model_state_dict",
                                           "state_dict_ema", "model_ema"};

/* One distinct storage key and where its bytes are. */
typedef struct storage {
    const char *key;
    gn_dtype dtype;
    int64_t numel;
    const unsigned char *data; /* NULL until the container supplies it */
    uint64_t nbytes;
} storage;

typedef struct storage_table {
    storage *items; /* sorted by key */
    size_t count;
} storage_table;

bool gn_pth_is_checkpoint(const unsigned char *data, size_t size)
{
    return gn_zip_is_archive(data, size) || (size >= 2 && data[0] == 0x80 && data[1] >= 2 &&
                                             data[1] <= 5);
}

/* ----------------------------------------------------------------------------------------------
 * Storage table: one row per distinct key named by the pickle's persistent ids.
 * -------------------------------------------------------------------------------------------- */

static int compare_storages(const void *a, const void *b)
{
    return strcmp(((const storage *)a)->key, ((const storage *)b)->key);
}

static storage *find_storage(const storage_table *table, const char *key)
{
    storage probe = {.key = key};
    return bsearch(&probe, table->items, table->count, sizeof(storage), compare_storages);
}

static gn_status build_table(gn_context *ctx, const char *path, const gn_pickle *pickle,
                             storage_table *table)
{
    size_t count;
    const gn_pickle_value *const *ids = gn_pickle_storages(pickle, &count);
    table->items = gn_alloc_zero(ctx, (count ? count : 1) * sizeof(storage));
    if (!table->items)
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory for %zu storages", path, count);
    for (size_t i = 0; i < count; i++)
        table->items[i] = (storage){ids[i]->as.storage.key, ids[i]->as.storage.dtype,
                                    ids[i]->as.storage.numel, NULL, 0};
    qsort(table->items, count, sizeof(storage), compare_storages);
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        storage *s = &table->items[i];
        if (kept && strcmp(table->items[kept - 1].key, s->key) == 0) {
            const storage *first = &table->items[kept - 1];
            if (first->dtype != s->dtype || first->numel != s->numel)
                return gn_fail(ctx, GN_ERR_FORMAT,
                               "%s: storage '%s' is named with two different types or sizes",
                               path, s->key);
            continue;
        }
        table->items[kept++] = *s;
    }
    table->count = kept;
    return GN_OK;
}

/* Gives a storage its bytes, which must hold its numel elements. */
static gn_status supply(gn_context *ctx, const char *path, storage *s, const unsigned char *data,
                        uint64_t nbytes)
{
    uint64_t need = (uint64_t)s->numel;
    size_t elem = gn_dtype_size(s->dtype);
    if (need > UINT64_MAX / elem || need * elem > nbytes)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: storage '%s' should hold %" PRId64 " %s elements but has %" PRIu64
                       " bytes",
                       path, s->key, s->numel, gn_dtype_name(s->dtype), nbytes);
    s->data = data;
    s->nbytes = need * elem;
    return GN_OK;
}

/* ----------------------------------------------------------------------------------------------
 * Zip format
 * -------------------------------------------------------------------------------------------- */

/* The archive's one "<dir>/data.pkl"; *prefix_length gets the length of "<dir>/". */
static gn_status find_data_pkl(gn_context *ctx, const gn_zip *zip, const gn_zip_entry **out,
                               size_t *prefix_length)
{
    static const char suffix[] = "data.pkl";
    *out = NULL;
    for (size_t i = 0; i < zip->count; i++) {
        const char *name = zip->entries[i].name;
        size_t length = strlen(name);
        if (length < sizeof(suffix) - 1)
            continue;
        size_t base = length - (sizeof(suffix) - 1);
        if (strcmp(name + base, suffix) != 0)
            continue;
        const char *slash = strchr(name, '/');
        if (base != 0 && (!slash || (size_t)(slash - name) + 1 != base))
            continue; /* only "data.pkl" or "<dir>/data.pkl" */
        if (*out)
            return gn_fail(ctx, GN_ERR_FORMAT, "%s: more than one data.pkl in the archive",
                           zip->what);
        *out = &zip->entries[i];
        *prefix_length = base;
    }
    if (!*out)
        return gn_fail(ctx, GN_ERR_FORMAT,
                       "%s: a ZIP archive without data.pkl (not a PyTorch checkpoint)", zip->what);
    return GN_OK;
}

/* PyTorch >= 2.1 records the byte order; older archives are little-endian. */
static gn_status check_byteorder(gn_context *ctx, const gn_zip *zip, const char *prefix,
                                 size_t prefix_length)
{
    char name[512];
    snprintf(name, sizeof(name), "%.*sbyteorder", (int)prefix_length, prefix);
    const gn_zip_entry *entry = gn_zip_find(zip, name);
    if (!entry)
        return GN_OK;
    const unsigned char *bytes = NULL;
    gn_status st = gn_zip_entry_data(ctx, zip, entry, &bytes);
    if (st == GN_OK && !(entry->size == 6 && memcmp(bytes, "little", 6) == 0))
        st = gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: big-endian checkpoints are not supported",
                     zip->what);
    return st;
}

/* Storage bytes are the entries "<dir>/data/<key>". */
static gn_status supply_from_zip(gn_context *ctx, const gn_zip *zip, const char *prefix,
                                 size_t prefix_length, storage_table *table)
{
    for (size_t i = 0; i < zip->count; i++) {
        const gn_zip_entry *entry = &zip->entries[i];
        if (strncmp(entry->name, prefix, prefix_length) != 0 ||
            strncmp(entry->name + prefix_length, "data/", 5) != 0)
            continue;
        storage *s = find_storage(table, entry->name + prefix_length + 5);
        if (!s)
            continue; /* a storage no pickle value names */
        const unsigned char *bytes = NULL;
        gn_status st = gn_zip_entry_data(ctx, zip, entry, &bytes);
        if (st == GN_OK)
            st = supply(ctx, zip->what, s, bytes, entry->size);
        if (st != GN_OK)
            return st;
    }
    return GN_OK;
}

static gn_status read_zip(gn_context *ctx, const char *path, const gn_file_map *map,
                          gn_pickle **pickle, storage_table *table)
{
    gn_zip zip;
    gn_status st = gn_zip_open(ctx, map->data, map->size, path, &zip);
    if (st != GN_OK)
        return st;
    const gn_zip_entry *pkl = NULL;
    size_t prefix_length = 0, used = 0;
    const unsigned char *bytes = NULL;
    st = find_data_pkl(ctx, &zip, &pkl, &prefix_length);
    if (st == GN_OK)
        st = check_byteorder(ctx, &zip, pkl->name, prefix_length);
    if (st == GN_OK)
        st = gn_zip_entry_data(ctx, &zip, pkl, &bytes);
    if (st == GN_OK)
        st = gn_pickle_load(ctx, bytes, (size_t)pkl->size, path, pickle, &used);
    if (st == GN_OK)
        st = build_table(ctx, path, *pickle, table);
    if (st == GN_OK)
        st = supply_from_zip(ctx, &zip, pkl->name, prefix_length, table);
    gn_zip_close(ctx, &zip);
    return st;
}

/* ----------------------------------------------------------------------------------------------
 * Legacy format
 * -------------------------------------------------------------------------------------------- */

typedef struct cursor {
    const char *path;
    const unsigned char *data;
    size_t size, at;
} cursor;

/* Unpickles the next object of a legacy file. */
static gn_status next_pickle(gn_context *ctx, cursor *c, gn_pickle **out)
{
    size_t used;
    gn_status st = gn_pickle_load(ctx, c->data + c->at, c->size - c->at, c->path, out, &used);
    if (st == GN_OK)
        c->at += used;
    return st;
}

/* The magic number, protocol version and system information that open a legacy file. */
static gn_status read_legacy_header(gn_context *ctx, cursor *c)
{
    gn_pickle *magic = NULL, *version = NULL, *info = NULL;
    gn_status st = next_pickle(ctx, c, &magic);
    if (st == GN_OK) {
        const gn_pickle_value *m = gn_pickle_result(magic);
        if (m->kind != GN_PICKLE_BIGINT || m->as.string.length != sizeof(legacy_magic) ||
            memcmp(m->as.string.data, legacy_magic, sizeof(legacy_magic)) != 0)
            st = gn_fail(ctx, GN_ERR_FORMAT,
                         "%s: a pickle, but not a PyTorch checkpoint (no magic number)", c->path);
    }
    if (st == GN_OK)
        st = next_pickle(ctx, c, &version);
    if (st == GN_OK) {
        const gn_pickle_value *v = gn_pickle_result(version);
        if (v->kind != GN_PICKLE_INT || v->as.integer != LEGACY_PROTOCOL_VERSION)
            st = gn_fail(ctx, GN_ERR_UNSUPPORTED,
                         "%s: legacy checkpoint protocol version is not %d", c->path,
                         LEGACY_PROTOCOL_VERSION);
    }
    if (st == GN_OK)
        st = next_pickle(ctx, c, &info);
    if (st == GN_OK) {
        const gn_pickle_value *little = gn_pickle_dict_get(gn_pickle_result(info), "little_endian");
        if (little && !(little->kind == GN_PICKLE_BOOL && little->as.integer == 1))
            st = gn_fail(ctx, GN_ERR_UNSUPPORTED, "%s: big-endian checkpoints are not supported",
                         c->path);
    }
    gn_pickle_free(ctx, magic);
    gn_pickle_free(ctx, version);
    gn_pickle_free(ctx, info);
    return st;
}

/* After the object: the list of storage keys, then per key an 8-byte little-endian element
 * count and the elements. */
static gn_status read_legacy_storages(gn_context *ctx, cursor *c, storage_table *table)
{
    gn_pickle *keys_pickle = NULL;
    gn_status st = next_pickle(ctx, c, &keys_pickle);
    if (st != GN_OK)
        return st;
    const gn_pickle_value *keys = gn_pickle_result(keys_pickle);
    if (keys->kind != GN_PICKLE_LIST)
        st = gn_fail(ctx, GN_ERR_FORMAT, "%s: the storage key list is a %s", c->path,
                     gn_pickle_kind_name(keys->kind));
    for (size_t i = 0; st == GN_OK && i < keys->as.seq.count; i++) {
        const gn_pickle_value *key = keys->as.seq.items[i];
        storage *s =
            key->kind == GN_PICKLE_STRING ? find_storage(table, key->as.string.data) : NULL;
        if (!s || s->data) {
            st = gn_fail(ctx, GN_ERR_FORMAT, "%s: storage key %zu is unknown or repeated", c->path,
                         i);
            break;
        }
        if (c->size - c->at < 8) {
            st = gn_fail(ctx, GN_ERR_FORMAT, "%s: truncated before storage '%s'", c->path, s->key);
            break;
        }
        uint64_t numel = gn_load_le64(c->data + c->at), elem = gn_dtype_size(s->dtype);
        uint64_t left = c->size - c->at - 8;
        c->at += 8;
        if (numel != (uint64_t)s->numel || numel > left / elem) {
            st = gn_fail(ctx, GN_ERR_FORMAT,
                         "%s: storage '%s' claims %" PRIu64 " elements (%" PRId64
                         " expected) and %" PRIu64 " bytes remain",
                         c->path, s->key, numel, s->numel, left);
            break;
        }
        st = supply(ctx, c->path, s, c->data + c->at, numel * elem);
        c->at += (size_t)(numel * elem);
    }
    if (st == GN_OK && c->at != c->size)
        st = gn_fail(ctx, GN_ERR_FORMAT, "%s: %zu unexpected bytes after the last storage", c->path,
                     c->size - c->at);
    gn_pickle_free(ctx, keys_pickle);
    return st;
}

static gn_status read_legacy(gn_context *ctx, const char *path, const gn_file_map *map,
                             gn_pickle **pickle, storage_table *table)
{
    cursor c = {path, map->data, map->size, 0};
    gn_status st = read_legacy_header(ctx, &c);
    if (st == GN_OK)
        st = next_pickle(ctx, &c, pickle);
    if (st == GN_OK)
        st = build_table(ctx, path, *pickle, table);
    if (st == GN_OK)
        st = read_legacy_storages(ctx, &c, table);
    return st;
}

/* ----------------------------------------------------------------------------------------------
 * The state dict
 * -------------------------------------------------------------------------------------------- */

/* The first entry of a dict whose value is not a tensor, or NULL. */
static const gn_pickle_value *first_non_tensor(const gn_pickle_value *dict, const char **key)
{
    for (size_t i = 0; i + 1 < dict->as.seq.count; i += 2) {
        const gn_pickle_value *k = dict->as.seq.items[i], *v = dict->as.seq.items[i + 1];
        if (v->kind != GN_PICKLE_TENSOR || k->kind != GN_PICKLE_STRING) {
            *key = k->kind == GN_PICKLE_STRING ? k->as.string.data : "(not a string)";
            return v;
        }
    }
    return NULL;
}

static const gn_pickle_value *wrapped_dict(const gn_pickle_value *dict)
{
    for (size_t i = 0; i < sizeof(wrapper_keys) / sizeof(wrapper_keys[0]); i++) {
        const gn_pickle_value *inner = gn_pickle_dict_get(dict, wrapper_keys[i]);
        if (inner && inner->kind == GN_PICKLE_DICT)
            return inner;
    }
    return NULL;
}

/* A dict whose values are all tensors, found directly or under a wrapper key. */
static gn_status find_state_dict(gn_context *ctx, const char *path, const gn_pickle_value *v,
                                 const gn_pickle_value **out)
{
    for (int level = 0; level < MAX_WRAPPING; level++) {
        if (v->kind != GN_PICKLE_DICT)
            return gn_fail(ctx, GN_ERR_FORMAT,
                           "%s: the checkpoint holds a %s, not a dict of tensors", path,
                           gn_pickle_kind_name(v->kind));
        const char *key = NULL;
        const gn_pickle_value *odd = first_non_tensor(v, &key);
        if (!odd && v->as.seq.count > 0) {
            *out = v;
            return GN_OK;
        }
        const gn_pickle_value *inner = wrapped_dict(v);
        if (!inner) {
            if (!odd)
                return gn_fail(ctx, GN_ERR_FORMAT, "%s: the state dict is empty", path);
            return gn_fail(ctx, GN_ERR_FORMAT,
                           "%s: entry '%s' is a %s, not a tensor (and no 'state_dict' or "
                           "'model' entry holds the tensors)",
                           path, key, gn_pickle_kind_name(odd->kind));
        }
        v = inner;
    }
    return gn_fail(ctx, GN_ERR_FORMAT, "%s: state dict wrapped more than %d levels deep", path,
                   MAX_WRAPPING);
}

/* Elements of a view, and checks that every element it reaches lies inside its storage. */
static gn_status check_view(gn_context *ctx, const char *path, const char *name,
                            const gn_pickle_tensor *t, const storage *s, uint64_t *numel)
{
    uint64_t count = 1, last = (uint64_t)t->offset;
    int overflow = 0;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t size = (uint64_t)t->shape[d], stride = (uint64_t)t->stride[d];
        overflow |= size != 0 && count > UINT64_MAX / size;
        count *= size;
        if (size > 0) {
            overflow |= stride != 0 && size - 1 > (UINT64_MAX - last) / stride;
            last += (size - 1) * stride;
        }
    }
    uint64_t available = s->nbytes / gn_dtype_size(s->dtype);
    if (!overflow && (count == 0 || (last < available && count <= available))) {
        *numel = count;
        return GN_OK;
    }
    return gn_fail(ctx, GN_ERR_FORMAT,
                   "%s: tensor '%s' (offset %" PRId64 ", %d dims) reaches outside its storage '%s' "
                   "of %" PRIu64 " elements",
                   path, name, t->offset, t->ndim, s->key, available);
}

/* Copies a strided view into contiguous memory, element by element in row-major order. */
static void copy_view(const gn_pickle_tensor *t, const unsigned char *base, size_t elem,
                      uint64_t numel, unsigned char *out)
{
    int64_t index[GN_PICKLE_MAX_DIMS] = {0};
    uint64_t at = (uint64_t)t->offset;
    for (uint64_t i = 0; i < numel; i++) {
        memcpy(out + i * elem, base + at * elem, elem);
        for (int d = t->ndim - 1; d >= 0; d--) { /* odometer step */
            at += (uint64_t)t->stride[d];
            if (++index[d] < t->shape[d])
                break;
            at -= (uint64_t)t->stride[d] * (uint64_t)t->shape[d];
            index[d] = 0;
        }
    }
}

typedef struct planned {
    const char *name;
    const gn_pickle_tensor *view;
    const storage *source;
    uint64_t numel, offset; /* offset in the output mapping */
} planned;

/* Checks every tensor and lays them out one after another (64-byte aligned). */
static gn_status plan_tensors(gn_context *ctx, const char *path, const gn_pickle_value *dict,
                              const storage_table *table, uint64_t limit, planned *plan,
                              uint64_t *total)
{
    size_t count = dict->as.seq.count / 2;
    uint64_t at = 0;
    for (size_t i = 0; i < count; i++) {
        const gn_pickle_value *key = dict->as.seq.items[2 * i];
        const gn_pickle_tensor *t = &dict->as.seq.items[2 * i + 1]->as.tensor;
        planned *p = &plan[i];
        p->name = key->as.string.data;
        p->view = t;
        if (strlen(p->name) != key->as.string.length || !*p->name)
            return gn_fail(ctx, GN_ERR_FORMAT, "%s: tensor %zu has an empty name or one with a NUL",
                           path, i);
        p->source = find_storage(table, t->storage->as.storage.key);
        if (!p->source || !p->source->data)
            return gn_fail(ctx, GN_ERR_FORMAT, "%s: tensor '%s': storage '%s' is not in the file",
                           path, p->name, t->storage->as.storage.key);
        gn_status st = check_view(ctx, path, p->name, t, p->source, &p->numel);
        if (st != GN_OK)
            return st;
        p->offset = at;
        at += (p->numel * gn_dtype_size(p->source->dtype) + 63) & ~(uint64_t)63;
        if (at > limit)
            return gn_fail(ctx, GN_ERR_FORMAT,
                           "%s: the tensors add up to more than %d times the file size (views of "
                           "shared storages?)",
                           path, MAX_EXPANSION);
    }
    *total = at;
    return GN_OK;
}

static gn_status check_unique(gn_context *ctx, const char *path, const gn_st_file *file)
{
    const char **names = gn_alloc_named(ctx, (file->count ? file->count : 1) * sizeof(*names),
                                        "tensor names");
    if (!names)
        return GN_ERR_NOMEM;
    for (size_t i = 0; i < file->count; i++)
        names[i] = file->tensors[i].name;
    const char *duplicate = NULL;
    gn_status st = gn_json_find_duplicate(ctx, names, file->count, &duplicate);
    gn_free(ctx, names);
    if (st == GN_OK && duplicate)
        st = gn_fail(ctx, GN_ERR_FORMAT, "%s: tensor '%s' appears twice", path, duplicate);
    return st;
}

/* Fills file with the planned tensors, copied into one anonymous mapping. */
static gn_status materialize(gn_context *ctx, const planned *plan, size_t count, uint64_t total,
                             gn_st_file *file)
{
    size_t bytes = total ? (size_t)total : 1;
    void *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: cannot map %zu bytes for the tensors", file->path,
                       bytes);
    file->map = map;
    file->map_size = bytes;
    file->tensors = gn_alloc_zero(ctx, (count ? count : 1) * sizeof(gn_st_tensor));
    if (!file->tensors)
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory for %zu tensors", file->path, count);
    for (size_t i = 0; i < count; i++) {
        const planned *p = &plan[i];
        gn_st_tensor *t = &file->tensors[file->count];
        t->name = gn_strdup(ctx, p->name);
        if (!t->name)
            return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory", file->path);
        file->count++;
        t->dtype = p->source->dtype;
        t->ndim = p->view->ndim;
        memcpy(t->shape, p->view->shape, sizeof(int64_t) * (size_t)t->ndim);
        t->numel = (int64_t)p->numel;
        t->nbytes = (size_t)p->numel * gn_dtype_size(t->dtype);
        t->data = (unsigned char *)map + p->offset;
        copy_view(p->view, p->source->data, gn_dtype_size(t->dtype), p->numel,
                  (unsigned char *)map + p->offset);
    }
    return check_unique(ctx, file->path, file);
}

static gn_status extract(gn_context *ctx, const char *path, uint64_t file_size,
                         const gn_pickle *pickle, const storage_table *table, gn_st_file *file)
{
    const gn_pickle_value *dict = NULL;
    gn_status st = find_state_dict(ctx, path, gn_pickle_result(pickle), &dict);
    if (st != GN_OK)
        return st;
    size_t count = dict->as.seq.count / 2;
    planned *plan = gn_alloc_zero(ctx, count * sizeof(*plan));
    if (!plan)
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory for %zu tensors", path, count);
    uint64_t total = 0;
    st = plan_tensors(ctx, path, dict, table, MAX_EXPANSION * file_size + (1u << 20), plan, &total);
    if (st == GN_OK)
        st = materialize(ctx, plan, count, total, file);
    gn_free(ctx, plan);
    return st;
}

gn_status gn_pth_read(gn_context *ctx, const char *path, gn_st_file **out)
{
    *out = NULL;
    gn_file_map map;
    gn_status st = gn_file_map_open(ctx, path, MAX_CHECKPOINT_BYTES, "a checkpoint", &map);
    if (st != GN_OK)
        return st;
    gn_pickle *pickle = NULL;
    storage_table table = {0};
    gn_st_file *file = gn_alloc_zero(ctx, sizeof(*file));
    if (!file || !(file->path = gn_strdup(ctx, path)))
        st = gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory", path);
    else if (!gn_pth_is_checkpoint(map.data, map.size))
        st = gn_fail(ctx, GN_ERR_FORMAT,
                     "%s: not a PyTorch checkpoint (neither a ZIP archive nor a pickle)", path);
    else if (gn_zip_is_archive(map.data, map.size))
        st = read_zip(ctx, path, &map, &pickle, &table);
    else
        st = read_legacy(ctx, path, &map, &pickle, &table);
    if (st == GN_OK)
        st = extract(ctx, path, map.size, pickle, &table, file);
    gn_free(ctx, table.items);
    gn_pickle_free(ctx, pickle);
    gn_file_map_close(&map);
    if (st != GN_OK) {
        gn_st_close(ctx, file);
        return st;
    }
    *out = file;
    return GN_OK;
}
