/* A persistent pool: workers are created once with the context and sleep between jobs, so a
 * parallel loop costs two condition-variable round trips, not thread creation. The calling
 * thread runs chunk 0 itself. */
#include "core/internal.h"

#include <pthread.h>
#include <string.h>

struct gn_thread_pool {
    pthread_t *workers;
    int count;           /* worker threads (threads - 1)                    */
    pthread_mutex_t lock;
    pthread_cond_t start;
    pthread_cond_t done;
    uint64_t generation; /* bumped per job; workers run when it changes      */
    int pending;         /* workers still running the current job           */
    int quit;
    /* the current job */
    gn_range_fn fn;
    void *arg;
    int64_t n;
    int chunks;
};

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
        pthread_mutex_lock(&pool->lock);
        while (!pool->quit && pool->generation == seen)
            pthread_cond_wait(&pool->start, &pool->lock);
        if (pool->quit) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        seen = pool->generation;
        pthread_mutex_unlock(&pool->lock);

        run_chunk(pool, index + 1);

        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0)
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
    pool->quit = 1;
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
    pool->pending = pool->count;
    pool->generation++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);

    run_chunk(pool, 0);

    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}
