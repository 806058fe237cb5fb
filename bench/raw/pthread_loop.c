/*
 * The raw primitive behind the threads model, for bench/overhead.sh: create
 * N threads that return at once, then join them all; prints the wall time
 * per thread in ns. Usage: pthread_loop N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *pthread_loop_body(void *arg)
{
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
    unsigned long long t0, t1;

    if (!t || !n)
        return 2;
    t0 = pthread_loop_now_ns();
    for (unsigned long i = 0; i < n; i++) {
        int err = pthread_create(&t[i], NULL, pthread_loop_body, NULL);
        if (err) {
            fprintf(stderr, "pthread_loop: thread %lu: %s\n", i, strerror(err));
            return 1;
        }
    }
    for (unsigned long i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    t1 = pthread_loop_now_ns();
    printf("%llu\n", (t1 - t0) / n);
    free(t);
    return 0;
}
