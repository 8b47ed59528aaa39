#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void fuzz_write_input(const uint8_t *data, size_t size, const char *tag, char *path,
                      size_t path_size)
{
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, path_size, "%s/gn_fuzz_%s_%ld", dir, tag, (long)getpid());
    FILE *fp = fopen(path, "wb");
    fuzz_require(fp != NULL, "cannot create the input file");
    size_t written = fwrite(data, 1, size, fp);
    fuzz_require(fclose(fp) == 0 && written == size, "cannot write the input file");
}

void fuzz_require(int cond, const char *what)
{
    if (cond)
        return;
    fprintf(stderr, "fuzz invariant broken: %s\n", what);
    abort();
}
