/* A small test harness: CHECK records a failure and goes on; the process exit code says whether
 * any check failed. */
#ifndef GN_TEST_HARNESS_H
#define GN_TEST_HARNESS_H

#include "ghostnet.h"

#include <stddef.h>
#include <stdio.h>

extern int gn_test_failures;
extern int gn_test_checks;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        gn_test_checks++;                                                                    \
        if (!(cond)) {                                                                       \
            gn_test_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
        }                                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                 \
    do {                                                                                     \
        gn_test_checks++;                                                                    \
        if (!(cond)) {                                                                       \
            gn_test_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
        }                                                                                    \
    } while (0)

/* Path of a scratch file named name in the test's temporary directory (static buffer ring). */
const char *gn_test_path(const char *name);
/* Writes size bytes to path; returns 0 on success. */
int gn_test_write_file(const char *path, const void *data, size_t size);
/* An allocator (gn_allocator's alloc / free, user = a gn_test_faults) whose request number
 * `remaining` fails: after that many successes, one NULL, then successes again only once the
 * caller resets remaining (-1 = never fail). requests counts every call. */
typedef struct gn_test_faults {
    long remaining;
    long requests;
} gn_test_faults;
void *gn_test_fault_alloc(void *user, size_t size, size_t alignment);
void gn_test_fault_free(void *user, void *ptr);
/* A context of `threads` threads allocating through *fault (reset to never fail), or NULL
 * (a failed check) if it cannot be made. */
gn_context *gn_test_fault_context(gn_test_faults *fault, int threads);

/* Summary line and exit code (0 when every check passed and at least one ran). */
int gn_test_finish(const char *name);

#endif
