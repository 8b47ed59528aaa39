#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int gn_test_failures;
int gn_test_checks;

const char *gn_test_path(const char *name)
{
    static char ring[8][1024];
    static int next;
    const char *dir = getenv("GN_TEST_TMP");
    if (!dir || !*dir)
        dir = "/tmp";
    mkdir(dir, 0777);
    char *buf = ring[next++ % 8];
    snprintf(buf, sizeof(ring[0]), "%s/%s", dir, name);
    return buf;
}

int gn_test_write_file(const char *path, const void *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t written = fwrite(data, 1, size, fp);
    return (fclose(fp) == 0 && written == size) ? 0 : -1;
}

void *gn_test_fault_alloc(void *user, size_t size, size_t alignment)
{
    gn_test_faults *f = user;
    f->requests++;
    if (f->remaining == 0)
        return NULL;
    if (f->remaining > 0)
        f->remaining--;
    void *ptr = NULL;
    return posix_memalign(&ptr, alignment, size ? size : alignment) == 0 ? ptr : NULL;
}

void gn_test_fault_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

gn_context *gn_test_fault_context(gn_test_faults *fault, int threads)
{
    fault->remaining = -1;
    fault->requests = 0;
    gn_allocator allocator = {gn_test_fault_alloc, gn_test_fault_free, fault};
    gn_context_options options = {.threads = threads, .allocator = &allocator};
    gn_context *ctx = NULL;
    CHECK(gn_context_create(&options, &ctx) == GN_OK);
    return ctx;
}

int gn_test_finish(const char *name)
{
    if (gn_test_checks == 0) {
        fprintf(stderr, "%s: no checks ran\n", name);
        return 1;
    }
    fprintf(stderr, "%s: %d checks, %d failed\n", name, gn_test_checks, gn_test_failures);
    return gn_test_failures ? 1 : 0;
}
