/* Progress counts of the plan's threads (see step_sync.h). */
#include "plan/step_sync.h"

#include "core/internal.h"

#include <time.h>

/* A waiting thread pauses for GN_STEP_PAUSE_NS (a few typical steps), then yields its core
 * between polls until GN_STEP_POLL_NS, then sleeps (gn_poll_until). The yields matter when
 * there are more threads than free cores (--threads above the core count, other processes):
 * the thread being waited for may be the one descheduled from this very core. Spinning 65536
 * pauses before sleeping, as this did before, made Ghost-ResNet-56 take 135 ms instead of 1 ms
 * with 3 threads on 2 cores (every step waited out a whole spin while its last thread sat
 * off-core). */
#define GN_STEP_PAUSE_NS 10000
#define GN_STEP_POLL_NS 1000000
/* A sleeper wakes at least this often to look again. The publisher checks for sleepers
 * without a full fence (a fence would stall it until its store has reached the other core,
 * the very transfer this scheme keeps off the critical path), so in a rare interleaving it
 * misses a sleeper that has just gone to bed; the sleeper then finds the step done on its own
 * at the next wake. Threads only sleep after GN_STEP_POLL_NS of polling. */
#define GN_STEP_NAP_NS 200000

/* What gn_poll_until checks: thread u's progress reaching a count. */
typedef struct step_poll {
    const atomic_llong *steps;
    int64_t target;
} step_poll;

static int reached(const void *arg)
{
    const step_poll *q = arg;
    return atomic_load_explicit(q->steps, memory_order_acquire) >= q->target;
}

int gn_step_sync_init(gn_step_sync *s, gn_step_progress *progress, int threads)
{
    s->progress = progress;
    s->threads = threads;
    for (int t = 0; t < threads; t++)
        atomic_init(&progress[t].steps, 0);
    atomic_init(&s->sleepers, 0);
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&s->wake, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        return -1;
    }
    return 0;
}

void gn_step_sync_destroy(gn_step_sync *s)
{
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
}

void gn_step_publish(gn_step_sync *s, int t, int64_t steps)
{
    atomic_store_explicit(&s->progress[t].steps, steps, memory_order_release);
    if (atomic_load_explicit(&s->sleepers, memory_order_relaxed) > 0) {
        pthread_mutex_lock(&s->lock);
        pthread_cond_broadcast(&s->wake);
        pthread_mutex_unlock(&s->lock);
    }
}

/* Sleeps until thread u's progress reaches target, waking every GN_STEP_NAP_NS to look. */
static void sleep_until(gn_step_sync *s, const step_poll *q)
{
    pthread_mutex_lock(&s->lock);
    atomic_fetch_add(&s->sleepers, 1);
    while (!reached(q)) {
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_nsec += GN_STEP_NAP_NS;
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec += 1;
            at.tv_nsec -= 1000000000L;
        }
        int rc = pthread_cond_timedwait(&s->wake, &s->lock, &at);
        (void)rc; /* woken, timed out or interrupted: look again either way */
    }
    atomic_fetch_sub(&s->sleepers, 1);
    pthread_mutex_unlock(&s->lock);
}

void gn_step_wait(gn_step_sync *s, int t, int64_t steps)
{
    for (int u = 0; u < s->threads; u++) {
        if (u == t)
            continue;
        step_poll q = {&s->progress[u].steps, steps};
        if (!gn_poll_until(reached, &q, GN_STEP_PAUSE_NS, GN_STEP_POLL_NS))
            sleep_until(s, &q);
    }
}
