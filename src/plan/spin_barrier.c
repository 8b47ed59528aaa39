/* Sense-by-phase spinning barrier (see spin_barrier.h). */
#include "plan/spin_barrier.h"

#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#define GN_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define GN_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define GN_CPU_RELAX() ((void)0)
#endif

/* Spins before each yield: long enough to cover a step's imbalance between threads. */
#define GN_SPINS_BEFORE_YIELD 20000

void gn_spin_barrier_init(gn_spin_barrier *b, unsigned threads)
{
    atomic_init(&b->arrived, 0);
    atomic_init(&b->phase, 0);
    b->threads = threads;
}

void gn_spin_barrier_wait(gn_spin_barrier *b)
{
    /* Read the phase before arriving: the last thread to arrive resets the count and then
     * advances the phase, so nobody can arrive at the next barrier before the reset. */
    unsigned phase = atomic_load_explicit(&b->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) + 1 == b->threads) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->phase, 1, memory_order_release);
        return;
    }
    for (unsigned spins = 0;
         atomic_load_explicit(&b->phase, memory_order_acquire) == phase; spins++) {
        GN_CPU_RELAX();
        if (spins == GN_SPINS_BEFORE_YIELD) {
            sched_yield();
            spins = 0;
        }
    }
}
