/* Internal declarations shared by the library's parts: context, errors, allocation. */
#ifndef GN_INTERNAL_H
#define GN_INTERNAL_H

#include "ghostnet.h"
#include "kernels/cpu.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GN_ERROR_MAX 512

#if defined(__GNUC__)
#define GN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GN_PRINTF(a, b)
#endif

typedef struct gn_thread_pool gn_thread_pool;

struct gn_context {
    gn_allocator allocator;
    int threads;
    gn_isa isa;           /* kernels chosen at creation                  */
    gn_thread_pool *pool; /* NULL when threads == 1 */
    gn_status last_status;
    char message[GN_ERROR_MAX];
};

/* Records a failure in ctx and returns status, so error paths read `return gn_fail(...)`. */
gn_status gn_fail(gn_context *ctx, gn_status status, const char *fmt, ...) GN_PRINTF(3, 4);
/* Prepends "what: " to the message already in ctx (adds context on the way up). */
gn_status gn_fail_prefix(gn_context *ctx, gn_status status, const char *fmt, ...)
    GN_PRINTF(3, 4);
void gn_clear_error(gn_context *ctx);

/* Allocation through the context's allocator; 64-byte aligned. gn_alloc_zero zeroes. */
void *gn_alloc(gn_context *ctx, size_t size);
void *gn_alloc_zero(gn_context *ctx, size_t size);
void gn_free(gn_context *ctx, void *ptr);
/* Overflow-checked a * b; returns false on overflow. */
bool gn_mul_size(size_t a, size_t b, size_t *out);
/* Allocates and records GN_ERR_NOMEM naming what on failure. */
void *gn_alloc_named(gn_context *ctx, size_t size, const char *what);
char *gn_strdup(gn_context *ctx, const char *s);

/* Parallel loop over [0, n): fn(arg, begin, end) runs on the context's threads, each range a
 * contiguous chunk. Serial when the context has one thread. */
typedef void (*gn_range_fn)(void *arg, int64_t begin, int64_t end);
void gn_parallel_for(gn_context *ctx, int64_t n, gn_range_fn fn, void *arg);

/* One pause in a polling loop (the thread pool, the plan's step waits). */
#if defined(__x86_64__) || defined(__i386__)
#define GN_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define GN_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define GN_CPU_RELAX() ((void)0)
#endif

/* Polls done(arg) until it holds or give_up_ns pass, and returns whether it held: pausing
 * between polls for the first pause_ns, then yielding the core (with more threads than free
 * cores, the thread being waited for may need this very one). The clock is read once per 64
 * polls. The thread pool and the plan's step waits use it before sleeping on a condition. */
int gn_poll_until(int (*done)(const void *arg), const void *arg, int64_t pause_ns,
                  int64_t give_up_ns);

gn_status gn_thread_pool_create(gn_context *ctx, int threads, gn_thread_pool **out);
void gn_thread_pool_destroy(gn_context *ctx, gn_thread_pool *pool);

/* Deterministic random numbers (splitmix64 seeding xoshiro256**), no global state. */
typedef struct gn_rng {
    uint64_t s[4];
} gn_rng;
void gn_rng_seed(gn_rng *rng, uint64_t seed);
uint64_t gn_rng_next(gn_rng *rng);
/* Uniform in [0, 1) with 24 bits of precision. */
float gn_rng_uniform(gn_rng *rng);
/* Uniform integer in [0, n). */
uint64_t gn_rng_below(gn_rng *rng, uint64_t n);

/* IEEE half and bfloat16 to float. */
float gn_f16_to_f32(uint16_t h);
float gn_bf16_to_f32(uint16_t b);
uint16_t gn_f32_to_f16(float f);

#endif
