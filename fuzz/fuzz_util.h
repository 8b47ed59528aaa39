/* Shared by the libFuzzer targets: the entry point's prototype and a way to hand an input to
 * readers that take a path. */
#ifndef GN_FUZZ_UTIL_H
#define GN_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data to a file private to this process (in /dev/shm when it exists, so no disk I/O)
 * and puts its name, built from tag and the pid, in path. Aborts if the file cannot be
 * written: a broken harness must not look like a clean run. */
void fuzz_write_input(const uint8_t *data, size_t size, const char *tag, char *path,
                      size_t path_size);

/* Aborts with a message when cond is false: an invariant of the readers was broken. */
void fuzz_require(int cond, const char *what);

#endif
