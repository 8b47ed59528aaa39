/* A small test harness: CHECK records a failure and goes on; the process exit code says whether
 * any check failed. */
#ifndef GN_TEST_HARNESS_H
#define GN_TEST_HARNESS_H

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
/* Summary line and exit code (0 when every check passed and at least one ran). */
int gn_test_finish(const char *name);

#endif
