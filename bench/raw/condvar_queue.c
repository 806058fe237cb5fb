/*
 * The raw primitive behind the queue workload under threads, for
 * bench/coord.sh: one producer and one consumer thread pass N items through
 * a ring of Q slots guarded by a pthread mutex and two condition variables
 * (not full, not empty), as queue.Queue is built. Each item carries its id
 * and its put time, read back at the get, as the workload's do. Prints the
 * wall time per item in ns, and checks the ids. Usage: condvar_queue Q N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct cq_item {
    unsigned long long id, put_ns;
};

static pthread_mutex_t cq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cq_not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t cq_not_empty = PTHREAD_COND_INITIALIZER;
static struct cq_item *cq_ring;
static unsigned long long cq_cap, cq_n, cq_head, cq_tail, cq_sum, cq_lat;

static unsigned long long cq_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull +
           (unsigned long long)ts.tv_nsec;
}

static void *cq_producer(void *arg)
{
    for (unsigned long long id = 0; id < cq_n; id++) {
        pthread_mutex_lock(&cq_lock);
        while (cq_tail - cq_head == cq_cap)
            pthread_cond_wait(&cq_not_full, &cq_lock);
        cq_ring[cq_tail % cq_cap] = (struct cq_item){ id, cq_now_ns() };
        cq_tail++;
        pthread_cond_signal(&cq_not_empty);
        pthread_mutex_unlock(&cq_lock);
    }
    return arg;
}

static void *cq_consumer(void *arg)
{
    for (unsigned long long k = 0; k < cq_n; k++) {
        struct cq_item it;
        pthread_mutex_lock(&cq_lock);
        while (cq_tail == cq_head)
            pthread_cond_wait(&cq_not_empty, &cq_lock);
        it = cq_ring[cq_head % cq_cap];
        cq_head++;
        pthread_cond_signal(&cq_not_full);
        pthread_mutex_unlock(&cq_lock);
        cq_lat += cq_now_ns() - it.put_ns;
        cq_sum += it.id;
    }
    return arg;
}

int main(int argc, char **argv)
{
    pthread_t p, c;
    unsigned long long t0, t1;

    if (argc != 3 || (cq_cap = strtoull(argv[1], NULL, 0)) == 0 ||
        (cq_n = strtoull(argv[2], NULL, 0)) == 0) {
        fprintf(stderr, "usage: condvar_queue Q N\n");
        return 2;
    }
    cq_ring = calloc(cq_cap, sizeof(*cq_ring));
    if (!cq_ring)
        return 1;
    t0 = cq_now_ns();
    if (pthread_create(&p, NULL, cq_producer, NULL) ||
        pthread_create(&c, NULL, cq_consumer, NULL))
        return 1;
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    t1 = cq_now_ns();
    if (cq_sum != cq_n * (cq_n - 1) / 2) {
        fprintf(stderr, "condvar_queue: lost or doubled items\n");
        return 1;
    }
    printf("%.2f\n", (double)(t1 - t0) / (double)cq_n);
    free(cq_ring);
    return 0;
}
