/* Writes small seed corpora for the fuzz targets, so none need be kept in the repository:
 *   fuzz_seeds DIR   creates DIR/json, DIR/safetensors, DIR/npy, DIR/pickle, DIR/pth and
 *                    DIR/image. */
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "seed_files.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Puts "dir/name" in path; returns -1 if it does not fit. */
static int seed_path(char *path, size_t size, const char *dir, const char *name)
{
    int n = snprintf(path, size, "%s/%s", dir, name);
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

static int write_file(const char *dir, const char *name, const void *data, size_t size)
{
    char path[1024];
    if (seed_path(path, sizeof(path), dir, name) != 0)
        return -1;
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t written = fwrite(data, 1, size, fp);
    return fclose(fp) == 0 && written == size ? 0 : -1;
}

static int json_seeds(const char *dir)
{
    static const char *docs[] = {
        "{\"a\":[1,-2.5e3,true,false,null],\"b\":{\"c\":\"\\u00e9\\ud83d\\ude00\\n\"}}",
        "[9223372036854775807,-9223372036854775808,9223372036854775808,0.1,1E-7]",
        "\"caf\xc3\xa9 \\\" \\\\ \\/ \\b\\f\\r\\t\"",
        "[[[[[[[[{}]]]]]]]]",
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "seed%zu.json", i);
        failed |= write_file(dir, name, docs[i], strlen(docs[i]));
    }
    return failed;
}

static int safetensors_seeds(gn_context *ctx, const char *dir)
{
    static const float f32[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
    static const unsigned short half[4] = {0x3c00, 0xc000, 0x7c00, 0x0001};
    static const long long i64 = 42;
    static const unsigned char flags[3] = {1, 0, 1};
    static const int64_t s23[2] = {2, 3}, s4[1] = {4}, s3[1] = {3};
    const gn_st_entry entries[] = {
        {"conv.weight", GN_DTYPE_F32, 2, s23, f32}, {"h", GN_DTYPE_F16, 1, s4, half},
        {"b", GN_DTYPE_BF16, 1, s4, half},          {"n", GN_DTYPE_I64, 0, NULL, &i64},
        {"flags", GN_DTYPE_BOOL, 1, s3, flags},
    };
    const char *keys[] = {"format", "arch"}, *values[] = {"pt", "ghostnet"};
    char path[1024];
    int failed = 0;
    failed |= seed_path(path, sizeof(path), dir, "model.safetensors") != 0 ||
              gn_st_write(ctx, path, entries, 5, keys, values, 2) != GN_OK;
    failed |= seed_path(path, sizeof(path), dir, "empty.safetensors") != 0 ||
              gn_st_write(ctx, path, NULL, 0, NULL, NULL, 0) != GN_OK;
    failed |= seed_path(path, sizeof(path), dir, "one.safetensors") != 0 ||
              gn_st_write(ctx, path, entries, 1, NULL, NULL, 0) != GN_OK;
    return failed;
}

/* An .npy file of the given version as NumPy writes it: preamble, header, data. */
static int write_npy_seed(const char *dir, const char *name, int major, const char *header,
                          const void *data, size_t data_size)
{
    unsigned char bytes[512];
    size_t header_size = strlen(header);
    size_t preamble = major == 1 ? 10 : 12;
    if (preamble + header_size + data_size > sizeof(bytes))
        return -1;
    memcpy(bytes, "\x93NUMPY", 6);
    bytes[6] = (unsigned char)major;
    bytes[7] = 0;
    for (size_t i = 8; i < preamble; i++)
        bytes[i] = (unsigned char)(header_size >> (8 * (i - 8)));
    memcpy(bytes + preamble, header, header_size);
    memcpy(bytes + preamble + header_size, data, data_size);
    return write_file(dir, name, bytes, preamble + header_size + data_size);
}

static int npy_seeds(gn_context *ctx, const char *dir)
{
    static const float data[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
    static const int64_t s23[2] = {2, 3}, s6[1] = {6};
    static const unsigned char f16[4] = {0x00, 0x3c, 0x00, 0xc0};
    static const unsigned char f64[8] = {0, 0, 0, 0, 0, 0, 0xf8, 0x3f};
    char path[1024];
    int failed = 0;
    failed |= seed_path(path, sizeof(path), dir, "matrix.npy") != 0 ||
              gn_npy_write(ctx, path, data, 2, s23) != GN_OK;
    failed |= seed_path(path, sizeof(path), dir, "vector.npy") != 0 ||
              gn_npy_write(ctx, path, data, 1, s6) != GN_OK;
    failed |= seed_path(path, sizeof(path), dir, "scalar.npy") != 0 ||
              gn_npy_write(ctx, path, data, 0, NULL) != GN_OK;
    failed |= write_npy_seed(dir, "half_v2.npy", 2,
                             "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }\n", f16,
                             sizeof(f16));
    failed |= write_npy_seed(dir, "double_v3.npy", 3,
                             "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": ()}\n",
                             f64, sizeof(f64));
    return failed;
}

/* The pickle, checkpoint and image seeds: small files PyTorch and PIL wrote (seed_files.h). */
static int file_seeds(const char *root)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof(seed_files) / sizeof(seed_files[0]); i++) {
        char dir[1024];
        if (seed_path(dir, sizeof(dir), root, seed_files[i].dir) != 0)
            return -1;
        mkdir(dir, 0777);
        failed |= write_file(dir, seed_files[i].name, seed_files[i].data, seed_files[i].size);
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    char json_dir[1024], st_dir[1024], npy_dir[1024];
    if (seed_path(json_dir, sizeof(json_dir), argv[1], "json") != 0 ||
        seed_path(st_dir, sizeof(st_dir), argv[1], "safetensors") != 0 ||
        seed_path(npy_dir, sizeof(npy_dir), argv[1], "npy") != 0) {
        fprintf(stderr, "fuzz_seeds: directory name too long\n");
        return 2;
    }
    mkdir(argv[1], 0777);
    mkdir(json_dir, 0777);
    mkdir(st_dir, 0777);
    mkdir(npy_dir, 0777);
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 1;
    int failed = json_seeds(json_dir) | safetensors_seeds(ctx, st_dir) | npy_seeds(ctx, npy_dir) |
                 file_seeds(argv[1]);
    if (failed)
        fprintf(stderr, "fuzz_seeds: %s\n", gn_context_error(ctx));
    gn_context_destroy(ctx);
    return failed ? 1 : 0;
}
