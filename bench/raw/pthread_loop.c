/*
 * The raw primitive behind the threads model, for bench/overhead.sh: create
 * N threads that return at once, then join them all; prints the wall time
 * per thread in ns. With "gate", the threads first wait on a futex until
 * all N exist, as the model's start gate makes them. Usage:
 * pthread_loop N [gate]
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_int pthread_loop_gate = 1;

static void *pthread_loop_body(void *arg)
{
    while (atomic_load(&pthread_loop_gate))
        syscall(SYS_futex, (void *)&pthread_loop_gate, FUTEX_WAIT_PRIVATE, 1,
                NULL, NULL, 0);
    return arg;
}

static unsigned long long pthread_loop_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull +
           (unsigned long long)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    pthread_t *t = calloc(n ? n : 1, sizeof(*t));
    int gate = argc > 2 && strcmp(argv[2], "gate") == 0;
    unsigned long long t0, t1;

    if (!t || !n)
        return 2;
    atomic_store(&pthread_loop_gate, gate);
    t0 = pthread_loop_now_ns();
    for (unsigned long i = 0; i < n; i++) {
        int err = pthread_create(&t[i], NULL, pthread_loop_body, NULL);
        if (err) {
            fprintf(stderr, "pthread_loop: thread %lu: %s\n", i, strerror(err));
            return 1;
        }
    }
    if (gate) {
        atomic_store(&pthread_loop_gate, 0);
        syscall(SYS_futex, (void *)&pthread_loop_gate, FUTEX_WAKE_PRIVATE,
                INT_MAX, NULL, NULL, 0);
    }
    for (unsigned long i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    t1 = pthread_loop_now_ns();
    printf("%llu\n", (t1 - t0) / n);
    free(t);
    return 0;
}
