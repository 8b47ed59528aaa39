/* Spin-then-sleep barrier (see spin_barrier.h). */
#include "plan/spin_barrier.h"

#if defined(__x86_64__) || defined(__i386__)
#define GN_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define GN_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define GN_CPU_RELAX() ((void)0)
#endif

/* Pauses before sleeping: tens of microseconds, several times a typical step's imbalance. */
#define GN_SPINS_BEFORE_SLEEP 4096

int gn_spin_barrier_init(gn_spin_barrier *b, unsigned threads)
{
    atomic_init(&b->arrived, 0);
    atomic_init(&b->phase, 0);
    atomic_init(&b->sleepers, 0);
    b->threads = threads;
    if (pthread_mutex_init(&b->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&b->wake, NULL) != 0) {
        pthread_mutex_destroy(&b->lock);
        return -1;
    }
    return 0;
}

void gn_spin_barrier_destroy(gn_spin_barrier *b)
{
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->lock);
}

void gn_spin_barrier_wait(gn_spin_barrier *b)
{
    /* Read the phase before arriving: the last thread to arrive resets the count and then
     * advances the phase, so nobody can arrive at the next barrier before the reset. */
    unsigned phase = atomic_load(&b->phase);
    if (atomic_fetch_add(&b->arrived, 1) + 1 == b->threads) {
        atomic_store(&b->arrived, 0);
        atomic_fetch_add(&b->phase, 1);
        /* Sequentially consistent with the sleeper's count-then-check: either a sleeper sees
         * the new phase, or this sees the sleeper and wakes it under the lock. */
        if (atomic_load(&b->sleepers) > 0) {
            pthread_mutex_lock(&b->lock);
            pthread_cond_broadcast(&b->wake);
            pthread_mutex_unlock(&b->lock);
        }
        return;
    }
    for (int spins = 0; spins < GN_SPINS_BEFORE_SLEEP; spins++) {
        if (atomic_load_explicit(&b->phase, memory_order_acquire) != phase)
            return;
        GN_CPU_RELAX();
    }
    pthread_mutex_lock(&b->lock);
    atomic_fetch_add(&b->sleepers, 1);
    while (atomic_load(&b->phase) == phase)
        pthread_cond_wait(&b->wake, &b->lock);
    atomic_fetch_sub(&b->sleepers, 1);
    pthread_mutex_unlock(&b->lock);
}
