/* A barrier for the plan's threads between steps. Steps take microseconds, so a waiting thread
 * first spins (with a pause hint): a condition variable's wake-up costs about as much as a
 * whole step. If the others are late, say because the machine has fewer free cores than
 * threads, it then sleeps instead of burning the core they need. */
#ifndef GN_SPIN_BARRIER_H
#define GN_SPIN_BARRIER_H

#include <pthread.h>
#include <stdatomic.h>

typedef struct gn_spin_barrier {
    atomic_uint arrived;
    atomic_uint phase;
    atomic_uint sleepers;
    unsigned threads;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} gn_spin_barrier;

/* Returns 0, or -1 if the mutex or condition variable could not be made. */
int gn_spin_barrier_init(gn_spin_barrier *b, unsigned threads);
void gn_spin_barrier_destroy(gn_spin_barrier *b);
/* Returns once all `threads` threads have called it (for this phase). */
void gn_spin_barrier_wait(gn_spin_barrier *b);

#endif
