/* Completion counters of the plan's steps (see step_sync.h). */
#include "plan/step_sync.h"

#include "core/internal.h"

/* Pauses before sleeping: tens of microseconds, several times a typical step. */
#define GN_SPINS_BEFORE_SLEEP 65536

int gn_step_sync_init(gn_step_sync *s, gn_step_counter *steps, int count)
{
    s->steps = steps;
    s->count = count;
    atomic_init(&s->sleepers, 0);
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&s->wake, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        return -1;
    }
    gn_step_sync_reset(s);
    return 0;
}

void gn_step_sync_destroy(gn_step_sync *s)
{
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
}

void gn_step_sync_reset(gn_step_sync *s)
{
    for (int i = 0; i < s->count; i++)
        atomic_init(&s->steps[i].done, 0);
}

int gn_step_done(gn_step_sync *s, int i, int64_t count, int64_t units)
{
    /* Sequentially consistent with the sleeper's count-then-check: either a sleeper sees the
     * step complete, or this sees the sleeper and wakes it under the lock. */
    if (atomic_fetch_add(&s->steps[i].done, count) + count != units)
        return 0;
    if (atomic_load(&s->sleepers) > 0) {
        pthread_mutex_lock(&s->lock);
        pthread_cond_broadcast(&s->wake);
        pthread_mutex_unlock(&s->lock);
    }
    return 1;
}

void gn_step_wait(gn_step_sync *s, int i, int64_t units)
{
    atomic_llong *done = &s->steps[i].done;
    for (int spins = 0; spins < GN_SPINS_BEFORE_SLEEP; spins++) {
        if (atomic_load_explicit(done, memory_order_acquire) == units)
            return;
        GN_CPU_RELAX();
    }
    pthread_mutex_lock(&s->lock);
    atomic_fetch_add(&s->sleepers, 1);
    while (atomic_load(done) != units)
        pthread_cond_wait(&s->wake, &s->lock);
    atomic_fetch_sub(&s->sleepers, 1);
    pthread_mutex_unlock(&s->lock);
}
