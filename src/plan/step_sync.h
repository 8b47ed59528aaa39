/* How the plan's threads share a forward pass. Each thread runs its own band of every step
 * (plan_run.c) and then publishes how far it has got: a count of steps it has completed, on a
 * cache line only it writes. A thread moves on to step i + 1 once every other thread has
 * published step i (steps only read what earlier steps wrote; each thread also zeroes part of
 * the step's borders). The counts grow across runs (a run's first step is `base + 1`), so
 * nothing is reset between runs.
 *
 * Why one line per thread and not one counter per step that every thread adds to: an atomic
 * add stalls its thread until the counter's line has come over from the core that last wrote
 * it, and the waiting thread then pulls it back, two cross-core transfers on every step's
 * critical path. A thread's own progress line stays in its cache; its release store drains in
 * the background, and the waiter's next poll pulls the new value: one transfer.
 *
 * The static bands keep data in each core's cache; the price is that a thread the machine
 * deschedules mid-run (fewer free cores than threads) holds the others up at the next step.
 * Waiting threads spin briefly (steps take microseconds; a condition variable's wake-up costs
 * as much), then yield their core between polls (the thread they wait for may need it), then
 * sleep. */
#ifndef GN_STEP_SYNC_H
#define GN_STEP_SYNC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* One thread's progress, on a cache line of its own. */
typedef struct gn_step_progress {
    atomic_llong steps;
    char pad[64 - sizeof(atomic_llong)];
} gn_step_progress;

typedef struct gn_step_sync {
    gn_step_progress *progress; /* caller's array, one per thread, 64-byte aligned */
    int threads;
    atomic_uint sleepers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} gn_step_sync;

/* Returns 0, or -1 if the mutex or condition variable could not be made. */
int gn_step_sync_init(gn_step_sync *s, gn_step_progress *progress, int threads);
void gn_step_sync_destroy(gn_step_sync *s);
/* Thread t has completed `steps` steps (counted across runs). */
void gn_step_publish(gn_step_sync *s, int t, int64_t steps);
/* Returns once every thread other than t has completed `steps` steps. */
void gn_step_wait(gn_step_sync *s, int t, int64_t steps);

#endif
