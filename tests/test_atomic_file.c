/* Atomic file replacement: the target appears complete or not at all, temporary files live
 * beside it and never outlive a commit or an abort, and a failure anywhere leaves an existing
 * target exactly as it was. */
#include "harness.h"
#include "io/atomic_file.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory for one test, so temporary files can be counted. */
static const char *test_dir(const char *name)
{
    const char *dir = gn_test_path(name);
    mkdir(dir, 0777);
    return dir;
}

static void join(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

/* Number of entries in dir other than "." and "..". */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int count = 0;
    if (!d)
        return -1;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            count++;
    closedir(d);
    return count;
}

/* Whether path holds exactly text. */
static int has_content(const char *path, const char *text)
{
    char buf[256];
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    return n == strlen(text) && memcmp(buf, text, n) == 0;
}

static void test_commit(gn_context *ctx)
{
    const char *dir = test_dir("af_commit");
    char path[1100];
    join(path, sizeof(path), dir, "out.bin");
    unlink(path);

    gn_atomic_file af;
    CHECK(gn_atomic_open(ctx, path, &af) == GN_OK);
    CHECK(af.fp && strcmp(af.path, path) == 0);
    /* The temporary file is a hidden sibling of the target. */
    char prefix[1100];
    join(prefix, sizeof(prefix), dir, ".out.bin.tmp.");
    CHECK_MSG(strncmp(af.temp_path, prefix, strlen(prefix)) == 0, "temp is %s", af.temp_path);
    CHECK(access(af.temp_path, F_OK) == 0);
    CHECK(access(path, F_OK) != 0); /* nothing at the target before the commit */
    CHECK(gn_atomic_write(ctx, &af, "hello ", 6) == GN_OK);
    fprintf(af.fp, "world");
    CHECK(gn_atomic_check(ctx, &af) == GN_OK);
    CHECK(gn_atomic_commit(ctx, &af) == GN_OK);
    CHECK(af.fp == NULL && af.path == NULL && af.temp_path == NULL);
    CHECK(has_content(path, "hello world"));
    CHECK(count_entries(dir) == 1);

    /* Replacing an existing file. */
    CHECK(gn_atomic_open(ctx, path, &af) == GN_OK);
    CHECK(gn_atomic_write(ctx, &af, "second", 6) == GN_OK);
    CHECK(has_content(path, "hello world")); /* still the old file until the commit */
    CHECK(gn_atomic_commit(ctx, &af) == GN_OK);
    CHECK(has_content(path, "second"));
    CHECK(count_entries(dir) == 1);
    gn_atomic_abort(ctx, &af); /* after a commit: nothing to do */
    CHECK(has_content(path, "second"));
    CHECK(gn_atomic_commit(ctx, &af) == GN_ERR_ARGUMENT);
}

static void test_abort(gn_context *ctx)
{
    const char *dir = test_dir("af_abort");
    char path[1100];
    join(path, sizeof(path), dir, "keep.bin");
    CHECK(gn_test_write_file(path, "original", 8) == 0);

    gn_atomic_file af;
    CHECK(gn_atomic_open(ctx, path, &af) == GN_OK);
    CHECK(gn_atomic_write(ctx, &af, "replacement", 11) == GN_OK);
    CHECK(count_entries(dir) == 2);
    gn_atomic_abort(ctx, &af);
    CHECK(af.fp == NULL && af.temp_path == NULL);
    CHECK(has_content(path, "original"));
    CHECK(count_entries(dir) == 1);
    gn_atomic_abort(ctx, &af); /* twice is harmless */
    CHECK(count_entries(dir) == 1);
}

/* Two writers of one target at once get different temporary files; the last commit wins. */
static void test_concurrent_writers(gn_context *ctx)
{
    const char *dir = test_dir("af_two");
    char path[1100];
    join(path, sizeof(path), dir, "shared.bin");
    gn_atomic_file a, b;
    CHECK(gn_atomic_open(ctx, path, &a) == GN_OK);
    CHECK(gn_atomic_open(ctx, path, &b) == GN_OK);
    CHECK(strcmp(a.temp_path, b.temp_path) != 0);
    CHECK(gn_atomic_write(ctx, &a, "from a", 6) == GN_OK);
    CHECK(gn_atomic_write(ctx, &b, "from b", 6) == GN_OK);
    CHECK(gn_atomic_commit(ctx, &a) == GN_OK);
    CHECK(gn_atomic_commit(ctx, &b) == GN_OK);
    CHECK(has_content(path, "from b"));
    CHECK(count_entries(dir) == 1);
}

static void test_open_failures(gn_context *ctx)
{
    gn_atomic_file af;
    const char *missing = gn_test_path("no-such-dir/file.bin");
    CHECK(gn_atomic_open(ctx, missing, &af) == GN_ERR_IO);
    CHECK(strstr(gn_context_error(ctx), missing) != NULL);
    CHECK(strstr(gn_context_error(ctx), "cannot create temporary file") != NULL);
    CHECK(af.fp == NULL && af.path == NULL && af.temp_path == NULL);
    gn_atomic_abort(ctx, &af); /* safe after a failed open */

    const char *dir_path = gn_test_path("af_dir/");
    CHECK(gn_atomic_open(ctx, dir_path, &af) == GN_ERR_ARGUMENT);
    CHECK(strstr(gn_context_error(ctx), "does not name a file") != NULL);
    CHECK(gn_atomic_open(ctx, "", &af) == GN_ERR_ARGUMENT);
}

/* The rename fails when the target is a directory: the commit reports it, removes the
 * temporary file and leaves the directory alone. */
static void test_commit_failure(gn_context *ctx)
{
    const char *dir = test_dir("af_rename");
    char target[1100], inside[1200];
    join(target, sizeof(target), dir, "target");
    mkdir(target, 0777);
    join(inside, sizeof(inside), target, "child");
    CHECK(gn_test_write_file(inside, "child", 5) == 0);

    gn_atomic_file af;
    CHECK(gn_atomic_open(ctx, target, &af) == GN_OK);
    CHECK(gn_atomic_write(ctx, &af, "data", 4) == GN_OK);
    CHECK(gn_atomic_commit(ctx, &af) == GN_ERR_IO);
    const char *message = gn_context_error(ctx);
    CHECK_MSG(strstr(message, target) && strstr(message, "cannot rename"), "%s", message);
    CHECK(af.fp == NULL && af.temp_path == NULL);
    CHECK(count_entries(dir) == 1);
    CHECK(has_content(inside, "child"));
    gn_atomic_abort(ctx, &af);
}

/* Writes that fail (file size limit) are reported, and the abort that follows leaves the old
 * target and no temporary file. A commit of a file whose buffered data cannot be written fails
 * the same way. */
static void test_write_failure(gn_context *ctx)
{
    const char *dir = test_dir("af_full");
    char path[1100];
    join(path, sizeof(path), dir, "big.bin");
    CHECK(gn_test_write_file(path, "old", 3) == 0);
    enum { BIG = 1 << 16 };
    char *big = calloc(BIG, 1);

    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 1024;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);

    gn_atomic_file af;
    CHECK(gn_atomic_open(ctx, path, &af) == GN_OK);
    CHECK(gn_atomic_write(ctx, &af, big, BIG) == GN_ERR_IO);
    CHECK(strstr(gn_context_error(ctx), path) != NULL);
    CHECK(gn_atomic_check(ctx, &af) == GN_ERR_IO);
    gn_atomic_abort(ctx, &af);
    CHECK(has_content(path, "old"));
    CHECK(count_entries(dir) == 1);

    /* Small enough to sit in the stdio buffer: the failure shows at the commit. */
    CHECK(gn_atomic_open(ctx, path, &af) == GN_OK);
    CHECK(af.fp && setvbuf(af.fp, NULL, _IOFBF, 8192) == 0);
    CHECK(gn_atomic_write(ctx, &af, big, 2000) == GN_OK);
    CHECK(gn_atomic_commit(ctx, &af) == GN_ERR_IO);
    CHECK(has_content(path, "old"));
    CHECK(count_entries(dir) == 1);

    setrlimit(RLIMIT_FSIZE, &old);
    free(big);
}

/* A bare file name goes to the current directory. */
static void test_relative_path(gn_context *ctx)
{
    const char *dir = test_dir("af_relative");
    char cwd[1100];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK(chdir(dir) == 0);
    gn_atomic_file af;
    CHECK(gn_atomic_open(ctx, "plain.bin", &af) == GN_OK);
    CHECK(af.temp_path && strncmp(af.temp_path, ".plain.bin.tmp.", 15) == 0);
    CHECK(gn_atomic_write(ctx, &af, "x", 1) == GN_OK);
    CHECK(gn_atomic_commit(ctx, &af) == GN_OK);
    CHECK(has_content("plain.bin", "x"));
    CHECK(count_entries(".") == 1);
    CHECK(chdir(cwd) == 0);
}

int main(void)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 1;
    test_commit(ctx);
    test_abort(ctx);
    test_concurrent_writers(ctx);
    test_open_failures(ctx);
    test_commit_failure(ctx);
    test_write_failure(ctx);
    test_relative_path(ctx);
    gn_context_destroy(ctx);
    return gn_test_finish("test_atomic_file");
}
