/* Completion counters of the plan's steps (see step_sync.h). */
#include "plan/step_sync.h"

#include "core/internal.h"

/* A waiting thread pauses for GN_STEP_PAUSE_NS (a few typical steps), then yields its core
 * between polls until GN_STEP_POLL_NS, then sleeps (gn_poll_until). The yields matter when
 * there are more threads than free cores (--threads above the core count, other processes):
 * the thread being waited for may be the one descheduled from this very core. Spinning 65536
 * pauses before sleeping, as this did before, made Ghost-ResNet-56 take 135 ms instead of 1 ms
 * with 3 threads on 2 cores (every step waited out a whole spin while its last thread sat
 * off-core). */
#define GN_STEP_PAUSE_NS 10000
#define GN_STEP_POLL_NS 1000000

/* What gn_poll_until checks: a step's counter reaching its units. */
typedef struct step_poll {
    atomic_llong *done;
    int64_t units;
} step_poll;

static int step_complete(const void *arg)
{
    const step_poll *q = arg;
    return atomic_load_explicit(q->done, memory_order_acquire) == q->units;
}

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
    step_poll q = {done, units};
    if (gn_poll_until(step_complete, &q, GN_STEP_PAUSE_NS, GN_STEP_POLL_NS))
        return;
    pthread_mutex_lock(&s->lock);
    atomic_fetch_add(&s->sleepers, 1);
    while (atomic_load(done) != units)
        pthread_cond_wait(&s->wake, &s->lock);
    atomic_fetch_sub(&s->sleepers, 1);
    pthread_mutex_unlock(&s->lock);
}
