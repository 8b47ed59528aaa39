/* cross_core: the round trip of one cache line between two threads, the price of every
 * hand-over in a multi-threaded forward pass (a step's completion, the halo rows one thread
 * reads from the other's band). On a VM the two vCPUs may share an L3 or sit on different core
 * complexes, and the hypervisor moves them: on the 2-vCPU machine of docs/PERFORMANCE.md this
 * measured 100-250 ns at some times and 420-680 ns at others, minutes apart, and Ghost-ResNet-56
 * on 2 threads took 0.63-0.66 ms and 0.83-0.89 ms respectively. bench/compare runs it before
 * and after its measurements.
 *
 * Two threads pass a counter back and forth through one atomic (each waits for the other's
 * value, then writes its own); the median of several trials of many round trips is reported.
 *
 *   cc -O2 -std=c11 -pthread bench/cross_core.c -o cross_core && ./cross_core [--json]
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUND_TRIPS 100000
#define TRIALS 7

static _Alignas(64) atomic_long ball;

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The other side: answers each odd value v with v + 1. */
static void *partner(void *arg)
{
    long trips = *(const long *)arg;
    for (long i = 0; i < trips; i++) {
        long want = 2 * i + 1;
        while (atomic_load_explicit(&ball, memory_order_acquire) != want)
            ;
        atomic_store_explicit(&ball, want + 1, memory_order_release);
    }
    return NULL;
}

/* Nanoseconds per round trip over one trial, or a negative value if no thread started. */
static double trial(void)
{
    long trips = ROUND_TRIPS;
    atomic_store(&ball, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, partner, &trips) != 0)
        return -1.0;
    double start = now_ns();
    for (long i = 0; i < trips; i++) {
        atomic_store_explicit(&ball, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 2)
            ;
    }
    double ns = (now_ns() - start) / (double)trips;
    pthread_join(t, NULL);
    return ns;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int json = argc > 1 && strcmp(argv[1], "--json") == 0;
    if (argc > 2 || (argc == 2 && !json)) {
        fprintf(stderr, "usage: cross_core [--json]\n");
        return 2;
    }
    double ns[TRIALS];
    for (int i = 0; i < TRIALS; i++) {
        ns[i] = trial();
        if (ns[i] < 0) {
            fprintf(stderr, "cross_core: cannot start a thread\n");
            return 1;
        }
    }
    qsort(ns, TRIALS, sizeof(ns[0]), compare_doubles);
    if (json)
        printf("{\"round_trip_ns\": %.1f, \"min_ns\": %.1f, \"max_ns\": %.1f}\n", ns[TRIALS / 2],
               ns[0], ns[TRIALS - 1]);
    else
        printf("cross-core round trip: median %.0f ns (min %.0f, max %.0f) over %d trials of %d\n",
               ns[TRIALS / 2], ns[0], ns[TRIALS - 1], TRIALS, ROUND_TRIPS);
    return 0;
}
