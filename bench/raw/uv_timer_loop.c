/*
 * The floor under the eventloop model: N libuv timers on one loop, each
 * initialized, started for `ms`, fired and closed, with nothing else. It
 * prints the wall time, the time per timer, how late (or early) the
 * timers fired and the peak RSS, for bench/eventloop.sh to set beside
 * concbench's own figures.
 *
 * usage: uv_timer_loop N MS [ROUNDS]   (prints one line of key=value
 *        pairs about the last of ROUNDS rounds, default 2)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/resource.h>

#include <uv.h>

struct raw_timer {
    uv_timer_t timer;
    uint64_t deadline_ns;
};

static uint64_t *raw_late_ns;
static size_t raw_fired, raw_early;

static uint64_t raw_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void raw_on_timer(uv_timer_t *h)
{
    struct raw_timer *t = (struct raw_timer *)h;
    uint64_t now = raw_now_ns();

    /* Plain libuv counts from a cached, floored millisecond clock, so it
       may fire before the deadline; concbench's model rounds so it never
       does. Counted, and recorded as 0 lateness. */
    raw_early += now < t->deadline_ns;
    raw_late_ns[raw_fired++] = now > t->deadline_ns ? now - t->deadline_ns : 0;
    uv_close((uv_handle_t *)h, NULL);
}

static int raw_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * One round, timed like a concbench run of the eventloop model: from the
 * allocation of the timers and uv_loop_init to uv_loop_close and free.
 * Returns the wall time in ns, or 0 on a failure (reported).
 */
static uint64_t raw_round(size_t n, uint64_t ms)
{
    uint64_t t0 = raw_now_ns(), t1;
    struct raw_timer *timers = calloc(n, sizeof(*timers));
    uv_loop_t loop;

    raw_fired = raw_early = 0;
    if (!timers || uv_loop_init(&loop)) {
        fprintf(stderr, "uv_timer_loop: cannot start %zu timers\n", n);
        free(timers);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        timers[i].deadline_ns = raw_now_ns() + ms * 1000000u;
        uv_timer_init(&loop, &timers[i].timer);
        uv_timer_start(&timers[i].timer, raw_on_timer, ms, 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) || raw_fired != n) {
        fprintf(stderr, "uv_timer_loop: %zu of %zu timers fired\n", raw_fired,
                n);
        free(timers);
        return 0;
    }
    free(timers);
    t1 = raw_now_ns();
    return t1 - t0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    uint64_t ms = argc > 2 ? strtoull(argv[2], NULL, 10) : 100;
    unsigned rounds = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 2;
    struct rusage ru;
    uint64_t wall = 0;

    if (n == 0 || rounds == 0) {
        fputs("usage: uv_timer_loop N MS [ROUNDS]\n", stderr);
        return 2;
    }
    raw_late_ns = calloc(n, sizeof(*raw_late_ns));
    if (!raw_late_ns)
        return 1;
    /* Like concbench's --warmup 1: the last round is reported, so both run
       with warm caches and an allocator that has seen the size before. */
    for (unsigned r = 0; r < rounds; r++)
        if ((wall = raw_round(n, ms)) == 0)
            return 1;
    getrusage(RUSAGE_SELF, &ru);
    qsort(raw_late_ns, n, sizeof(*raw_late_ns), raw_cmp);
    printf("timers=%zu ms=%llu wall_ns=%llu per_timer_ns=%.1f "
           "late_p50_ns=%llu late_p99_ns=%llu late_max_ns=%llu early=%zu "
           "max_rss_kib=%ld\n",
           n, (unsigned long long)ms, (unsigned long long)wall,
           (double)wall / (double)n,
           (unsigned long long)raw_late_ns[n / 2],
           (unsigned long long)raw_late_ns[n * 99 / 100],
           (unsigned long long)raw_late_ns[n - 1], raw_early, ru.ru_maxrss);
    free(raw_late_ns);
    return 0;
}
