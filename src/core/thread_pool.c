/* A persistent pool: workers are created once with the context, so a parallel loop never
 * creates threads. The calling thread runs chunk 0 itself.
 *
 * Hand-over: after a job a worker polls the job counter for a while (GN_POOL_SPIN_NS) before
 * it sleeps on a condition variable, and the caller polls the same way for the workers to
 * finish. Back-to-back jobs (the dozens of layers of a training step, a loop of inference runs)
 * then start on every thread at once instead of waiting for a sleeping worker to wake. Alone
 * it did not make inference on 2 threads faster (GhostNet 1.0x, `ghostnet bench --runs 300`:
 * 3.3 ms on 1 thread and on 2; a run is one job); its share of the training gain of the same
 * session (docs/RESULTS.md) was not measured separately. */
#include "core/internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* How long an idle thread polls before it sleeps: a few inference runs' worth, so a loop of
 * runs never sleeps, while an idle process stops burning a core within a millisecond. */
#define GN_POOL_SPIN_NS 1000000
#define GN_POOL_PAUSE_NS 50000

struct gn_thread_pool {
    pthread_t *workers;
    int count;           /* worker threads (threads - 1)                     */
    pthread_mutex_t lock;
    pthread_cond_t start;
    pthread_cond_t done;
    atomic_uint_fast64_t generation; /* bumped per job; workers run when it changes */
    atomic_int pending;  /* workers still running the current job            */
    atomic_int quit;
    /* the current job, written before generation is bumped */
    gn_range_fn fn;
    void *arg;
    int64_t n;
    int chunks;
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int gn_poll_until(int (*done)(const void *arg), const void *arg, int64_t pause_ns,
                  int64_t give_up_ns)
{
    int64_t deadline = 0, calm = 0;
    int yielding = 0;
    for (int i = 0;; i++) {
        if (done(arg))
            return 1;
        if ((i & 63) == 0) {
            int64_t t = now_ns();
            if (deadline == 0) {
                deadline = t + give_up_ns;
                calm = t + pause_ns;
            } else if (t > deadline) {
                return 0;
            }
            yielding = t > calm;
        }
        if (yielding)
            sched_yield();
        else
            GN_CPU_RELAX();
    }
}

/* What gn_poll_until checks for the pool: a predicate and its value. */
typedef struct pool_poll {
    gn_thread_pool *pool;
    int (*pred)(gn_thread_pool *, uint64_t);
    uint64_t value;
} pool_poll;

static int pool_poll_done(const void *arg)
{
    const pool_poll *q = arg;
    return q->pred(q->pool, q->value);
}

/* Polls pred(pool, value) as gn_poll_until does, for GN_POOL_SPIN_NS. */
static int spin_until(gn_thread_pool *pool, int (*pred)(gn_thread_pool *, uint64_t),
                      uint64_t value)
{
    pool_poll q = {pool, pred, value};
    return gn_poll_until(pool_poll_done, &q, GN_POOL_PAUSE_NS, GN_POOL_SPIN_NS);
}

static int job_posted(gn_thread_pool *pool, uint64_t seen)
{
    return atomic_load_explicit(&pool->generation, memory_order_acquire) != seen ||
           atomic_load_explicit(&pool->quit, memory_order_acquire);
}

static int job_finished(gn_thread_pool *pool, uint64_t unused)
{
    (void)unused;
    return atomic_load_explicit(&pool->pending, memory_order_acquire) == 0;
}

static void run_chunk(gn_thread_pool *pool, int chunk)
{
    int64_t begin = pool->n * chunk / pool->chunks;
    int64_t end = pool->n * (chunk + 1) / pool->chunks;
    if (begin < end)
        pool->fn(pool->arg, begin, end);
}

typedef struct worker_arg {
    gn_thread_pool *pool;
    int index;
} worker_arg;

static void *worker_main(void *p)
{
    gn_thread_pool *pool = ((worker_arg *)p)[0].pool;
    int index = ((worker_arg *)p)[0].index;
    uint64_t seen = 0;
    for (;;) {
        if (!spin_until(pool, job_posted, seen)) {
            pthread_mutex_lock(&pool->lock);
            while (!job_posted(pool, seen))
                pthread_cond_wait(&pool->start, &pool->lock);
            pthread_mutex_unlock(&pool->lock);
        }
        if (atomic_load(&pool->quit))
            return NULL;
        seen = atomic_load(&pool->generation);

        run_chunk(pool, index + 1);

        /* the caller may be asleep on done: decrement and signal under the lock it checks
         * pending under, so the wake-up cannot fall between its check and its wait */
        pthread_mutex_lock(&pool->lock);
        if (atomic_fetch_sub(&pool->pending, 1) == 1)
            pthread_cond_signal(&pool->done);
        pthread_mutex_unlock(&pool->lock);
    }
}

/* Worker arguments live after the pool struct in the same allocation. */
gn_status gn_thread_pool_create(gn_context *ctx, int threads, gn_thread_pool **out)
{
    int count = threads - 1;
    size_t size = sizeof(gn_thread_pool) + (size_t)count * (sizeof(pthread_t) + sizeof(worker_arg));
    gn_thread_pool *pool = gn_alloc_zero(ctx, size);
    if (!pool)
        return gn_fail(ctx, GN_ERR_NOMEM, "out of memory creating a pool of %d threads", threads);
    pool->workers = (pthread_t *)(pool + 1);
    worker_arg *args = (worker_arg *)(pool->workers + count);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->quit, 0);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
    for (int i = 0; i < count; i++) {
        args[i].pool = pool;
        args[i].index = i;
        if (pthread_create(&pool->workers[i], NULL, worker_main, &args[i]) != 0) {
            pool->count = i;
            gn_thread_pool_destroy(ctx, pool);
            return gn_fail(ctx, GN_ERR_ARGUMENT, "cannot start worker thread %d of %d", i + 1,
                           threads);
        }
    }
    pool->count = count;
    *out = pool;
    return GN_OK;
}

void gn_thread_pool_destroy(gn_context *ctx, gn_thread_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->quit, 1);
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->count; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    gn_free(ctx, pool);
}

void gn_parallel_for(gn_context *ctx, int64_t n, gn_range_fn fn, void *arg)
{
    if (n <= 0)
        return;
    gn_thread_pool *pool = ctx->pool;
    if (!pool || n == 1) {
        fn(arg, 0, n);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->fn = fn;
    pool->arg = arg;
    pool->n = n;
    pool->chunks = pool->count + 1;
    atomic_store(&pool->pending, pool->count);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->start); /* no system call when no worker sleeps */
    pthread_mutex_unlock(&pool->lock);

    run_chunk(pool, 0);

    if (!spin_until(pool, job_finished, 0)) {
        pthread_mutex_lock(&pool->lock);
        while (!job_finished(pool, 0))
            pthread_cond_wait(&pool->done, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
    }
}
