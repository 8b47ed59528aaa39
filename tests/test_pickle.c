/* The restricted pickle reader and the ZIP reader: pickles exactly as CPython writes them
 * (protocols 3 and 5, byte strings produced by pickle.dumps) decode to the right values; every
 * truncation of them fails cleanly; hostile opcodes, globals, lengths and memo indices are
 * refused with the right status and a message saying why. ZIP archives built here (stored,
 * with CRCs from zlib) open, and damaged ones (bad CRC, compressed, data past the end,
 * truncated) are refused. gn_checkpoint_load reads a safetensors file without metadata whose
 * keys carry "module.", taking the class and channel counts from the tensors. */
#include "harness.h"
#include "io/pickle.h"
#include "io/safetensors.h"
#include "io/zip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define BYTES(s) (const unsigned char *)(s), sizeof(s) - 1

/* pickle.dumps({'a': [1, -2, 3.5, None, True, 'é'], 'b': (b'xy', 70000, -(2**40), 2**70)},
 *              protocol=3) */
static const unsigned char protocol3[] = {
    0x80, 0x03, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x01, 0x00, 0x00, 0x00, 0x61, 0x71, 0x01, 0x5d,
    0x71, 0x02, 0x28, 0x4b, 0x01, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x47, 0x40, 0x0c, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x4e, 0x88, 0x58, 0x02, 0x00, 0x00, 0x00, 0xc3, 0xa9, 0x71, 0x03,
    0x65, 0x58, 0x01, 0x00, 0x00, 0x00, 0x62, 0x71, 0x04, 0x28, 0x43, 0x02, 0x78, 0x79, 0x71,
    0x05, 0x4a, 0x70, 0x11, 0x01, 0x00, 0x8a, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x8a,
    0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x74, 0x71, 0x06, 0x75, 0x2e,
};

/* pickle.dumps(collections.OrderedDict([('k', [1, 2]), ('k2', 'v')]), protocol=5): FRAME,
 * SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL. */
static const unsigned char protocol5[] = {
    0x80, 0x05, 0x95, 0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8c, 0x0b, 0x63, 0x6f,
    0x6c, 0x6c, 0x65, 0x63, 0x74, 0x69, 0x6f, 0x6e, 0x73, 0x94, 0x8c, 0x0b, 0x4f, 0x72, 0x64,
    0x65, 0x72, 0x65, 0x64, 0x44, 0x69, 0x63, 0x74, 0x94, 0x93, 0x94, 0x29, 0x52, 0x94, 0x28,
    0x8c, 0x01, 0x6b, 0x94, 0x5d, 0x94, 0x28, 0x4b, 0x01, 0x4b, 0x02, 0x65, 0x8c, 0x02, 0x6b,
    0x32, 0x94, 0x8c, 0x01, 0x76, 0x94, 0x75, 0x2e,
};

static const gn_pickle_value *item(const gn_pickle_value *v, size_t i)
{
    return v->as.seq.items[i];
}

static void test_protocol3(gn_context *ctx)
{
    gn_pickle *p = NULL;
    size_t used = 0;
    gn_status st = gn_pickle_load(ctx, protocol3, sizeof(protocol3), "protocol3", &p, &used);
    CHECK_MSG(st == GN_OK, "%s", gn_context_error(ctx));
    if (st != GN_OK)
        return;
    CHECK(used == sizeof(protocol3));
    const gn_pickle_value *root = gn_pickle_result(p);
    CHECK(root->kind == GN_PICKLE_DICT && root->as.seq.count == 4);
    const gn_pickle_value *a = gn_pickle_dict_get(root, "a"), *b = gn_pickle_dict_get(root, "b");
    CHECK(a && a->kind == GN_PICKLE_LIST && a->as.seq.count == 6);
    CHECK(b && b->kind == GN_PICKLE_TUPLE && b->as.seq.count == 4);
    if (!a || !b || a->as.seq.count != 6 || b->as.seq.count != 4)
        goto done;
    CHECK(item(a, 0)->kind == GN_PICKLE_INT && item(a, 0)->as.integer == 1);
    CHECK(item(a, 1)->kind == GN_PICKLE_INT && item(a, 1)->as.integer == -2);
    CHECK(item(a, 2)->kind == GN_PICKLE_FLOAT && item(a, 2)->as.number == 3.5);
    CHECK(item(a, 3)->kind == GN_PICKLE_NONE);
    CHECK(item(a, 4)->kind == GN_PICKLE_BOOL && item(a, 4)->as.integer == 1);
    CHECK(item(a, 5)->kind == GN_PICKLE_STRING &&
          strcmp(item(a, 5)->as.string.data, "\xc3\xa9") == 0);
    CHECK(item(b, 0)->kind == GN_PICKLE_BYTES && item(b, 0)->as.string.length == 2 &&
          memcmp(item(b, 0)->as.string.data, "xy", 2) == 0);
    CHECK(item(b, 1)->kind == GN_PICKLE_INT && item(b, 1)->as.integer == 70000);
    CHECK(item(b, 2)->kind == GN_PICKLE_INT && item(b, 2)->as.integer == -(INT64_C(1) << 40));
    CHECK(item(b, 3)->kind == GN_PICKLE_BIGINT && item(b, 3)->as.string.length == 9);
    CHECK(gn_pickle_dict_get(root, "missing") == NULL);
done:
    gn_pickle_free(ctx, p);
}

static void test_protocol5(gn_context *ctx)
{
    gn_pickle *p = NULL;
    size_t used = 0;
    gn_status st = gn_pickle_load(ctx, protocol5, sizeof(protocol5), "protocol5", &p, &used);
    CHECK_MSG(st == GN_OK, "%s", gn_context_error(ctx));
    if (st != GN_OK)
        return;
    const gn_pickle_value *root = gn_pickle_result(p);
    const gn_pickle_value *k = gn_pickle_dict_get(root, "k"), *k2 = gn_pickle_dict_get(root, "k2");
    CHECK(root->kind == GN_PICKLE_DICT);
    CHECK(k && k->kind == GN_PICKLE_LIST && k->as.seq.count == 2 && item(k, 1)->as.integer == 2);
    CHECK(k2 && k2->kind == GN_PICKLE_STRING && strcmp(k2->as.string.data, "v") == 0);
    gn_pickle_free(ctx, p);
}

/* Every proper prefix of a valid pickle is refused as FORMAT, never read past. */
static void test_truncations(gn_context *ctx, const unsigned char *data, size_t size)
{
    for (size_t n = 0; n < size; n++) {
        unsigned char *copy = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
        memcpy(copy, data, n);
        gn_pickle *p = NULL;
        size_t used;
        gn_status st = gn_pickle_load(ctx, copy, n, "cut", &p, &used);
        CHECK_MSG(st == GN_ERR_FORMAT && p == NULL, "prefix %zu: %s", n, gn_status_name(st));
        free(copy);
    }
}

static void expect_refused(gn_context *ctx, const char *data, size_t size, gn_status want,
                           const char *needle)
{
    gn_pickle *p = NULL;
    size_t used;
    gn_status st = gn_pickle_load(ctx, (const unsigned char *)data, size, "hostile.pkl", &p, &used);
    const char *message = gn_context_error(ctx);
    CHECK_MSG(st == want && p == NULL, "got %s, want %s (%s)", gn_status_name(st),
              gn_status_name(want), message);
    CHECK_MSG(strstr(message, "hostile.pkl") && strstr(message, needle),
              "message \"%s\" lacks \"%s\"", message, needle);
    gn_pickle_free(ctx, p);
}

#define REFUSED(ctx, s, want, needle) expect_refused(ctx, s, sizeof(s) - 1, want, needle)

static void test_hostile(gn_context *ctx)
{
    /* globals that would run code: by GLOBAL and by STACK_GLOBAL */
    REFUSED(ctx, "\x80\x02" "cposix\nsystem\n\x58\x02\x00\x00\x00ls\x85R.", GN_ERR_UNSUPPORTED,
            "posix.system");
    REFUSED(ctx, "\x80\x04\x8c\x02os\x8c\x06system\x93.", GN_ERR_UNSUPPORTED, "os.system");
    REFUSED(ctx, "\x80\x02" "ctorch.nn.modules.conv\nConv2d\n.", GN_ERR_UNSUPPORTED, "Conv2d");
    /* opcodes that build arbitrary objects */
    REFUSED(ctx, "(i__main__\nX\n.", GN_ERR_UNSUPPORTED, "0x69");
    REFUSED(ctx, "\x80\x02\x82\x01.", GN_ERR_UNSUPPORTED, "0x82");
    /* lengths and indices past the data */
    REFUSED(ctx, "\x80\x02X\xff\xff\xff\xff" "abc.", GN_ERR_FORMAT, "runs past the end");
    REFUSED(ctx, "\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.", GN_ERR_FORMAT, "runs past");
    REFUSED(ctx, "\x80\x02\x8b\xff\xff\xff\x7f\x00.", GN_ERR_FORMAT, "runs past the end");
    REFUSED(ctx, "\x80\x02N\x72\xff\xff\xff\xff.", GN_ERR_FORMAT, "larger than the pickle");
    REFUSED(ctx, "\x80\x02j\xff\xff\xff\xff.", GN_ERR_FORMAT, "never stored");
    REFUSED(ctx, "\x80\x02h\x05.", GN_ERR_FORMAT, "never stored");
    REFUSED(ctx, "\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00N.", GN_ERR_FORMAT, "frame");
    /* stack misuse */
    REFUSED(ctx, "\x80\x02\x86.", GN_ERR_FORMAT, "underflow");
    REFUSED(ctx, "\x80\x02.", GN_ERR_FORMAT, "underflow");
    REFUSED(ctx, "\x80\x02NN.", GN_ERR_FORMAT, "left on the stack");
    REFUSED(ctx, "\x80\x02t.", GN_ERR_FORMAT, "no MARK");
    REFUSED(ctx, "\x80\x02NNa.", GN_ERR_FORMAT, "APPEND on a None");
    REFUSED(ctx, "\x80\x02}(N.", GN_ERR_FORMAT, "left on the stack");
    REFUSED(ctx, "\x80\x02}(Nu.", GN_ERR_FORMAT, "odd number");
    REFUSED(ctx, "\x80\x02N)R.", GN_ERR_FORMAT, "REDUCE of a None");
    REFUSED(ctx, "\x80\x02K\x01K\x02" "b.", GN_ERR_FORMAT, "BUILD on a int");
    REFUSED(ctx, "\x80\x06N.", GN_ERR_FORMAT, "protocol 6");
    REFUSED(ctx, "\x80\x02X\x02\x00\x00\x00\xc3\x28.", GN_ERR_FORMAT, "UTF-8");
    /* persistent ids and tensors that are not what torch writes */
    REFUSED(ctx, "\x80\x02K\x01Q.", GN_ERR_FORMAT, "not a tuple");
    REFUSED(ctx, "\x80\x02(X\x07\x00\x00\x00storageK\x01tQ.", GN_ERR_FORMAT, "persistent id");
    REFUSED(ctx, "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x02K\x03tR.", GN_ERR_FORMAT,
            "_rebuild_tensor_v2");
    REFUSED(ctx, "\x80\x02" "ctorch\nFloatStorage\n)R.", GN_ERR_FORMAT, "storage type");
    REFUSED(ctx, "\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.", GN_ERR_FORMAT, "arguments");
}

/* A tensor as torch 1.13 writes it, with strides, offset and storage recovered. */
static void test_tensor(gn_context *ctx)
{
    static const char data[] =
        "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
        "ctorch\nHalfStorage\nX\x02\x00\x00\x00\x31\x32X\x03\x00\x00\x00" "cpuK\x0ctQ"
        "K\x02K\x02K\x03\x86K\x01K\x02\x86\x89" "ccollections\nOrderedDict\n)RtR.";
    gn_pickle *p = NULL;
    size_t used;
    gn_status st = gn_pickle_load(ctx, BYTES(data), "tensor", &p, &used);
    CHECK_MSG(st == GN_OK, "%s", gn_context_error(ctx));
    if (st != GN_OK)
        return;
    const gn_pickle_value *t = gn_pickle_result(p);
    CHECK(t->kind == GN_PICKLE_TENSOR);
    if (t->kind == GN_PICKLE_TENSOR) {
        const gn_pickle_tensor *v = &t->as.tensor;
        CHECK(v->offset == 2 && v->ndim == 2 && v->shape[0] == 2 && v->shape[1] == 3);
        CHECK(v->stride[0] == 1 && v->stride[1] == 2);
        CHECK(v->storage->as.storage.dtype == GN_DTYPE_F16);
        CHECK(v->storage->as.storage.numel == 12);
        CHECK(strcmp(v->storage->as.storage.key, "12") == 0);
    }
    size_t count = 0;
    gn_pickle_storages(p, &count);
    CHECK(count == 1);
    gn_pickle_free(ctx, p);
}

/* ---- ZIP ---- */

typedef struct zip_builder {
    unsigned char data[4096];
    size_t size;
    unsigned char central[1024];
    size_t central_size;
    int count;
} zip_builder;

static void put(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void add_entry(zip_builder *z, const char *name, const char *content, int method)
{
    size_t n = strlen(name), len = strlen(content);
    uint32_t crc = (uint32_t)crc32(0L, (const unsigned char *)content, (uInt)len);
    unsigned char *l = z->data + z->size, *c = z->central + z->central_size;
    memset(l, 0, 30);
    put(l, 0x04034b50, 4);
    put(l + 8, (uint64_t)method, 2);
    put(l + 14, crc, 4);
    put(l + 18, len, 4);
    put(l + 22, len, 4);
    put(l + 26, n, 2);
    memcpy(l + 30, name, n);
    memcpy(l + 30 + n, content, len);
    memset(c, 0, 46);
    put(c, 0x02014b50, 4);
    put(c + 10, (uint64_t)method, 2);
    put(c + 16, crc, 4);
    put(c + 20, len, 4);
    put(c + 24, len, 4);
    put(c + 28, n, 2);
    put(c + 42, z->size, 4);
    memcpy(c + 46, name, n);
    z->size += 30 + n + len;
    z->central_size += 46 + n;
    z->count++;
}

static size_t finish_zip(zip_builder *z)
{
    size_t at = z->size;
    memcpy(z->data + at, z->central, z->central_size);
    unsigned char *e = z->data + at + z->central_size;
    memset(e, 0, 22);
    put(e, 0x06054b50, 4);
    put(e + 8, (uint64_t)z->count, 2);
    put(e + 10, (uint64_t)z->count, 2);
    put(e + 12, z->central_size, 4);
    put(e + 16, at, 4);
    return at + z->central_size + 22;
}

static gn_status open_zip(gn_context *ctx, const unsigned char *data, size_t size, gn_zip *zip)
{
    unsigned char *copy = malloc(size); /* exact size for ASan */
    memcpy(copy, data, size);
    gn_status st = gn_zip_open(ctx, copy, size, "test.zip", zip);
    const gn_zip_entry *e = st == GN_OK ? gn_zip_find(zip, "a/data/0") : NULL;
    const unsigned char *bytes;
    if (e)
        st = gn_zip_entry_data(ctx, zip, e, &bytes);
    if (e && st == GN_OK)
        CHECK(e->size == 5 && memcmp(bytes, "hello", 5) == 0);
    gn_zip_close(ctx, zip);
    free(copy);
    return st;
}

static void test_zip(gn_context *ctx)
{
    zip_builder z = {0};
    add_entry(&z, "a/data.pkl", "\x80\x02N.", 0);
    add_entry(&z, "a/data/0", "hello", 0);
    size_t size = finish_zip(&z);
    gn_zip zip;
    CHECK_MSG(open_zip(ctx, z.data, size, &zip) == GN_OK, "%s", gn_context_error(ctx));
    for (size_t cut = 0; cut < size; cut++) /* any truncation loses the end record */
        CHECK_MSG(open_zip(ctx, z.data, cut, &zip) == GN_ERR_FORMAT, "cut %zu", cut);

    unsigned char bad[4096];
    memcpy(bad, z.data, size);
    bad[30 + 10 + 4 + 30 + 8 + 1] ^= 1; /* a byte of "hello" */
    CHECK(open_zip(ctx, bad, size, &zip) == GN_ERR_FORMAT && strstr(gn_context_error(ctx), "CRC"));

    memcpy(bad, z.data, size);
    size_t central = z.size + 46 + 10; /* the second directory entry */
    put(bad + central + 20, 1u << 30, 4); /* sizes of a/data/0 in the directory */
    put(bad + central + 24, 1u << 30, 4);
    CHECK(open_zip(ctx, bad, size, &zip) == GN_ERR_FORMAT &&
          strstr(gn_context_error(ctx), "past the end"));

    zip_builder d = {0};
    add_entry(&d, "a/data/0", "hello", 8);
    size = finish_zip(&d);
    CHECK(open_zip(ctx, d.data, size, &zip) == GN_ERR_UNSUPPORTED &&
          strstr(gn_context_error(ctx), "compressed"));
}

/* Copies a model file's tensors, renamed "module.<name>", into a file without metadata (as a
 * DataParallel state dict saved by timm's tools would be). */
static int write_without_metadata(gn_context *ctx, const char *from, const char *to)
{
    gn_st_file *f;
    if (gn_st_open(ctx, from, &f) != GN_OK)
        return -1;
    gn_st_entry *entries = calloc(f->count, sizeof(*entries));
    char (*names)[200] = calloc(f->count, sizeof(*names));
    for (size_t i = 0; entries && names && i < f->count; i++) {
        const gn_st_tensor *t = &f->tensors[i];
        snprintf(names[i], sizeof(names[i]), "module.%s", t->name);
        entries[i] = (gn_st_entry){names[i], t->dtype, t->ndim, t->shape, t->data};
    }
    gn_status st = entries && names ? gn_st_write(ctx, to, entries, f->count, NULL, NULL, 0)
                                    : GN_ERR_NOMEM;
    free(entries);
    free(names);
    gn_st_close(ctx, f);
    return st == GN_OK ? 0 : -1;
}

static void test_checkpoint_load(gn_context *ctx)
{
    gn_model_config config;
    gn_model_config_default(&config, GN_ARCH_GHOSTNET);
    config.width = 0.5;
    config.num_classes = 7;
    config.in_channels = 1;
    gn_model *original = NULL, *loaded = NULL;
    const char *model_path = gn_test_path("ckpt_model.safetensors");
    const char *bare_path = gn_test_path("ckpt_bare.safetensors");
    CHECK(gn_model_create(ctx, &config, 5, &original) == GN_OK);
    CHECK(original && gn_model_save(original, model_path) == GN_OK);
    CHECK(write_without_metadata(ctx, model_path, bare_path) == 0);

    config.num_classes = 0; /* read from classifier.weight */
    config.in_channels = 0; /* read from conv_stem.weight */
    gn_status st = gn_checkpoint_load(ctx, bare_path, &config, &loaded);
    CHECK_MSG(st == GN_OK, "%s", gn_context_error(ctx));
    if (st == GN_OK && original) {
        CHECK(gn_model_num_classes(loaded) == 7 && gn_model_in_channels(loaded) == 1);
        static float input[2 * 1 * 64 * 64], a[2 * 7], b[2 * 7];
        for (size_t i = 0; i < sizeof(input) / sizeof(input[0]); i++)
            input[i] = (float)((i * 7919) % 255) / 255.0f - 0.5f;
        CHECK(gn_model_forward(original, input, 2, 64, 64, a) == GN_OK);
        CHECK(gn_model_forward(loaded, input, 2, 64, 64, b) == GN_OK);
        CHECK(memcmp(a, b, sizeof(a)) == 0);
    }
    gn_model_free(loaded);
    loaded = NULL;
    config.width = 1.0; /* the wrong architecture is named by its first mismatching tensor */
    CHECK(gn_checkpoint_load(ctx, bare_path, &config, &loaded) == GN_ERR_SHAPE);
    CHECK(strstr(gn_context_error(ctx), "conv_stem.weight") != NULL);
    CHECK(gn_checkpoint_load(ctx, gn_test_path("no_such_file.pth"), NULL, &loaded) == GN_ERR_IO);
    gn_model_free(original);
}

int main(void)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 1;
    test_protocol3(ctx);
    test_protocol5(ctx);
    test_truncations(ctx, protocol3, sizeof(protocol3));
    test_truncations(ctx, protocol5, sizeof(protocol5));
    test_hostile(ctx);
    test_tensor(ctx);
    test_zip(ctx);
    test_checkpoint_load(ctx);
    gn_context_destroy(ctx);
    return gn_test_finish("test_pickle");
}
