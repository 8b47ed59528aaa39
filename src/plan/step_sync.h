/* How the plan's threads share a forward pass. Each thread runs its own band of every step
 * (plan_run.c) and then reports the units it did plus one, so that a step is complete only
 * when every thread has reported it (each also zeroes part of the step's borders); a thread
 * moves on to step i + 1 once step i is complete (steps only read what earlier steps wrote). The static bands keep data in each
 * core's cache; the price is that a thread the machine deschedules mid-run (fewer free cores
 * than threads) holds the others up at the next step. Waiting threads spin briefly (steps take
 * microseconds; a condition variable's wake-up costs as much), then yield their core between
 * polls (the thread they wait for may need it), then sleep. */
#ifndef GN_STEP_SYNC_H
#define GN_STEP_SYNC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* One step's counters, on a cache line of their own (threads hammer them). */
typedef struct gn_step_counter {
    atomic_llong done;
    double finished_ms; /* when the step completed (profiling), set by the last thread in it */
    char pad[64 - sizeof(atomic_llong) - sizeof(double)];
} gn_step_counter;

typedef struct gn_step_sync {
    gn_step_counter *steps; /* caller's array, 64-byte aligned                             */
    int count;
    atomic_uint sleepers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} gn_step_sync;

/* Returns 0, or -1 if the mutex or condition variable could not be made. */
int gn_step_sync_init(gn_step_sync *s, gn_step_counter *steps, int count);
void gn_step_sync_destroy(gn_step_sync *s);
/* Before a run (no thread may be using s). */
void gn_step_sync_reset(gn_step_sync *s);
/* Reports count units of step i done (of units in all), waking waiters when it completes;
 * returns 1 for the call that completed the step. */
int gn_step_done(gn_step_sync *s, int i, int64_t count, int64_t units);
/* Returns once all units of step i are done. */
void gn_step_wait(gn_step_sync *s, int i, int64_t units);

#endif
