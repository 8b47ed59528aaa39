/* Write-to-temp-then-rename. rename() within one directory replaces the target in a single
 * step, so readers see either the old file or the complete new one; the fsync calls make sure
 * that after a crash the new name never points at data that did not reach the disk. */
#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* O_EXCL makes a clash with another writer's name an error, not a shared file; retrying with a
 * fresh suffix makes a clash harmless. */
#define TEMP_ATTEMPTS 16

/* Length of the directory part of path including its final '/', or 0 when there is none. */
static size_t directory_length(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

/* A suffix that differs between processes, threads and calls without any shared state: the
 * clock, the address of the caller's gn_atomic_file (distinct for writers alive at the same
 * time) and the attempt number, mixed so that nearby inputs give unrelated outputs. */
static uint64_t temp_suffix(const void *address, unsigned attempt)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t x = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    x ^= (uint64_t)(uintptr_t)address * 0x9e3779b97f4a7c15u;
    x += (uint64_t)attempt * 0xd1b54a32d192ed03u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Frees the names and forgets the file; does not touch the disk. */
static void release(gn_context *ctx, gn_atomic_file *af)
{
    gn_free(ctx, af->path);
    gn_free(ctx, af->temp_path);
    af->path = NULL;
    af->temp_path = NULL;
    af->fp = NULL;
}

/* Creates "<dir>/.<name>.tmp.<pid>.<suffix>" exclusively; returns its descriptor or -1. */
static int create_temp(gn_atomic_file *af, size_t capacity)
{
    const char *path = af->path;
    size_t dir_length = directory_length(path);
    int fd = -1;
    for (unsigned attempt = 0; attempt < TEMP_ATTEMPTS && fd < 0; attempt++) {
        memcpy(af->temp_path, path, dir_length);
        snprintf(af->temp_path + dir_length, capacity - dir_length, ".%s.tmp.%ld.%016" PRIx64,
                 path + dir_length, (long)getpid(), temp_suffix(af, attempt));
        fd = open(af->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    return fd;
}

gn_status gn_atomic_open(gn_context *ctx, const char *path, gn_atomic_file *af)
{
    memset(af, 0, sizeof(*af));
    if (!path || path[directory_length(path)] == '\0')
        return gn_fail(ctx, GN_ERR_ARGUMENT, "'%s' does not name a file", path ? path : "(null)");
    size_t capacity = strlen(path) + 64; /* room for ".", ".tmp.", a pid and 16 hex digits */
    af->path = gn_strdup(ctx, path);
    af->temp_path = gn_alloc(ctx, capacity);
    if (!af->path || !af->temp_path) {
        release(ctx, af);
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory naming a temporary file", path);
    }
    int fd = create_temp(af, capacity);
    if (fd < 0) {
        int err = errno;
        /* The name may be another writer's file (EEXIST every time): never unlink it. */
        gn_status status = gn_fail(ctx, GN_ERR_IO, "%s: cannot create temporary file '%s': %s",
                                   path, af->temp_path, strerror(err));
        release(ctx, af);
        return status;
    }
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        int err = errno;
        close(fd);
        gn_status status = gn_fail(ctx, GN_ERR_IO, "%s: cannot open temporary file '%s': %s",
                                   path, af->temp_path, strerror(err));
        gn_atomic_abort(ctx, af);
        return status;
    }
    return GN_OK;
}

static gn_status write_failed(gn_context *ctx, const gn_atomic_file *af, int err)
{
    return gn_fail(ctx, GN_ERR_IO, "%s: cannot write temporary file '%s': %s", af->path,
                   af->temp_path, strerror(err ? err : EIO));
}

gn_status gn_atomic_write(gn_context *ctx, gn_atomic_file *af, const void *data, size_t size)
{
    if (size > 0 && fwrite(data, 1, size, af->fp) != size)
        return write_failed(ctx, af, errno);
    return GN_OK;
}

gn_status gn_atomic_check(gn_context *ctx, gn_atomic_file *af)
{
    return ferror(af->fp) ? write_failed(ctx, af, errno) : GN_OK;
}

/* Pushes the temporary file's data to the disk and closes it. */
static gn_status finish_temp(gn_context *ctx, gn_atomic_file *af)
{
    FILE *fp = af->fp;
    int err = 0;
    af->fp = NULL;
    if (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) != 0)
        err = errno ? errno : EIO;
    if (fclose(fp) != 0 && err == 0)
        err = errno ? errno : EIO;
    return err ? write_failed(ctx, af, err) : GN_OK;
}

/* The rename is durable only once the directory itself is on disk. Some file systems cannot
 * fsync a directory and say EINVAL; there is nothing more to do on those. */
static gn_status sync_directory(gn_context *ctx, const gn_atomic_file *af)
{
    size_t length = directory_length(af->path);
    char *dir = gn_alloc(ctx, length + 2);
    if (!dir)
        return gn_fail(ctx, GN_ERR_NOMEM, "%s: out of memory syncing its directory", af->path);
    if (length == 0) {
        strcpy(dir, ".");
    } else {
        memcpy(dir, af->path, length);
        dir[length] = '\0';
    }
    int err = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        err = errno;
    else if (fsync(fd) != 0 && errno != EINVAL)
        err = errno;
    if (fd >= 0)
        close(fd);
    gn_status status = GN_OK;
    if (err)
        status = gn_fail(ctx, GN_ERR_IO, "%s: written, but syncing directory '%s' failed: %s",
                         af->path, dir, strerror(err));
    gn_free(ctx, dir);
    return status;
}

gn_status gn_atomic_commit(gn_context *ctx, gn_atomic_file *af)
{
    if (!af->fp)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "atomic file commit without an open file");
    gn_status status = finish_temp(ctx, af);
    if (status == GN_OK && rename(af->temp_path, af->path) != 0)
        status = gn_fail(ctx, GN_ERR_IO, "%s: cannot rename temporary file '%s' over it: %s",
                         af->path, af->temp_path, strerror(errno));
    if (status != GN_OK) {
        gn_atomic_abort(ctx, af);
        return status;
    }
    status = sync_directory(ctx, af);
    release(ctx, af);
    return status;
}

void gn_atomic_abort(gn_context *ctx, gn_atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    if (af->temp_path)
        unlink(af->temp_path);
    release(ctx, af);
}
