/* A barrier for the plan's threads between steps. Steps take microseconds, so waiting threads
 * spin (with a pause hint) instead of sleeping on a condition variable, whose wake-up costs
 * about as much as a whole step; after a long spin they yield, in case the machine has fewer
 * free cores than threads. */
#ifndef GN_SPIN_BARRIER_H
#define GN_SPIN_BARRIER_H

#include <stdatomic.h>

typedef struct gn_spin_barrier {
    atomic_uint arrived;
    atomic_uint phase;
    unsigned threads;
} gn_spin_barrier;

void gn_spin_barrier_init(gn_spin_barrier *b, unsigned threads);
/* Returns once all `threads` threads have called it (for this phase). */
void gn_spin_barrier_wait(gn_spin_barrier *b);

#endif
