/*
 * The raw primitives behind the counter workload's lock=mutex, for
 * bench/locks.sh. "uncontended N": one thread takes and releases a
 * pthread mutex around an increment N times; "contended N": two threads
 * each do N such updates of one shared counter. Prints the wall time per
 * update in ns, and checks the count. Usage: mutex_loop uncontended|contended N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mutex_loop_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long mutex_loop_count, mutex_loop_n;

static unsigned long long mutex_loop_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull +
           (unsigned long long)ts.tv_nsec;
}

static void *mutex_loop_body(void *arg)
{
    for (unsigned long long i = 0; i < mutex_loop_n; i++) {
        pthread_mutex_lock(&mutex_loop_lock);
        /* The same read and write the counter workload does. */
        __atomic_store_n(&mutex_loop_count,
                         __atomic_load_n(&mutex_loop_count, __ATOMIC_RELAXED) +
                             1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&mutex_loop_lock);
    }
    return arg;
}

int main(int argc, char **argv)
{
    pthread_t t[2];
    unsigned long long t0, t1, want;
    int threads;

    if (argc != 3 || (strcmp(argv[1], "uncontended") != 0 &&
                      strcmp(argv[1], "contended") != 0)) {
        fprintf(stderr, "usage: mutex_loop uncontended|contended N\n");
        return 2;
    }
    threads = strcmp(argv[1], "contended") == 0 ? 2 : 1;
    mutex_loop_n = strtoull(argv[2], NULL, 10);
    t0 = mutex_loop_now_ns();
    for (int k = 0; k < threads; k++)
        pthread_create(&t[k], NULL, mutex_loop_body, NULL);
    for (int k = 0; k < threads; k++)
        pthread_join(t[k], NULL);
    t1 = mutex_loop_now_ns();
    want = mutex_loop_n * (unsigned long long)threads;
    if (mutex_loop_count != want) {
        fprintf(stderr, "mutex_loop: %llu updates, expected %llu\n",
                mutex_loop_count, want);
        return 1;
    }
    printf("%.2f\n", (double)(t1 - t0) / (double)want);
    return 0;
}
