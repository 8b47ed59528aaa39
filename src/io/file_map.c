/* Read-only file mappings. */
#include "io/file_map.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

gn_status gn_file_map_open(gn_context *ctx, const char *path, uint64_t max_size,
                           const char *what, gn_file_map *out)
{
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gn_fail(ctx, GN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    gn_status status = GN_OK;
    if (fstat(fd, &st) != 0) {
        status = gn_fail(ctx, GN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        status = gn_fail(ctx, GN_ERR_IO, "%s: not a regular file", path);
    } else if ((uint64_t)st.st_size > max_size || (uintmax_t)st.st_size > SIZE_MAX) {
        status = gn_fail(ctx, GN_ERR_UNSUPPORTED,
                         "%s: %lld bytes is more than the %llu allowed for %s", path,
                         (long long)st.st_size, (unsigned long long)max_size, what);
    } else if (st.st_size > 0) {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            status = gn_fail(ctx, GN_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        } else {
            out->data = map;
            out->size = (size_t)st.st_size;
        }
    }
    close(fd);
    return status;
}

void gn_file_map_close(gn_file_map *map)
{
    if (map->data)
        munmap((void *)map->data, map->size);
    map->data = NULL;
    map->size = 0;
}
