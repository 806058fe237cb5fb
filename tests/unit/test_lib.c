/*
 * The base layer's small pieces: the intrusive min-heap against a sorted
 * reference under random pushes and removals, and the /proc readers on
 * files written here with known contents.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/heap.h"
#include "lib/proc.h"

struct item {
    int payload;
    struct conc_heap_node node;
};

static struct item *item_of(struct conc_heap_node *n)
{
    return (struct item *)((char *)n - offsetof(struct item, node));
}

Test(heap, pops_in_key_order_and_removes_from_anywhere, .timeout = 20)
{
    enum { N = 5000 };
    static struct item it[N];
    struct conc_heap h;
    uint64_t last = 0;
    size_t in = 0, popped = 0;

    srand(7);
    /* Starts small, so pushes must grow it. */
    cr_assert_eq(conc_heap_init(&h, 4), 0);
    for (int i = 0; i < N; i++) {
        conc_heap_node_init(&it[i].node);
        it[i].payload = i;
        /* Few distinct keys: ties must not break the order. */
        it[i].node.key = (uint64_t)(rand() % 1000);
        cr_assert_eq(conc_heap_push(&h, &it[i].node), 0);
        cr_assert(conc_heap_node_in(&it[i].node));
    }
    in = N;
    /* Remove every third item from wherever it sits. */
    for (int i = 0; i < N; i += 3) {
        conc_heap_remove(&h, &it[i].node);
        cr_assert(!conc_heap_node_in(&it[i].node));
        in--;
    }
    cr_assert_eq(h.n, in);
    while (conc_heap_min(&h)) {
        struct item *x = item_of(conc_heap_min(&h));
        cr_assert(x->payload % 3 != 0, "removed item %d came out",
                  x->payload);
        cr_assert_geq(x->node.key, last, "key %llu after %llu",
                      (unsigned long long)x->node.key,
                      (unsigned long long)last);
        last = x->node.key;
        conc_heap_remove(&h, &x->node);
        popped++;
    }
    cr_assert_eq(popped, in);
    conc_heap_fini(&h);
}

/* A temporary file holding text; its path in buf. */
static void write_tmp(char *buf, size_t len, const char *text)
{
    int fd;

    snprintf(buf, len, "/tmp/concbench-test-lib.XXXXXX");
    fd = mkstemp(buf);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

Test(proc, reads_numbers_fields_and_lines, .timeout = 10)
{
    char path[64], buf[16];
    uint64_t v = 0;

    write_tmp(path, sizeof(path), "Name:\tx\nVmHWM:\t  1234 kB\n"
              "Threads:\t7\nnr_throttled 42\n");
    cr_assert_eq(conc_proc_field_u64(path, "VmHWM:", &v), 0);
    cr_assert_eq(v, 1234);
    cr_assert_eq(conc_proc_field_u64(path, "Threads:", &v), 0);
    cr_assert_eq(v, 7);
    cr_assert_eq(conc_proc_field_u64(path, "nr_throttled", &v), 0);
    cr_assert_eq(v, 42);
    /* A key must match whole: "Threads" without its colon is no key here. */
    cr_assert_eq(conc_proc_field_u64(path, "Thread", &v), -ENOENT);
    cr_assert_eq(conc_proc_field_u64(path, "Name:", &v), -EINVAL);
    cr_assert_eq(conc_proc_lines(path, &v), 0);
    cr_assert_eq(v, 4);
    /* Cut to the buffer, always terminated. */
    cr_assert_eq(conc_proc_read(path, buf, sizeof(buf)), 15);
    cr_assert_eq(buf[15], '\0');
    unlink(path);

    write_tmp(path, sizeof(path), "32768\n");
    cr_assert_eq(conc_proc_u64(path, &v), 0);
    cr_assert_eq(v, 32768);
    unlink(path);
    write_tmp(path, sizeof(path), "max 100000\n");
    cr_assert_eq(conc_proc_u64(path, &v), -EINVAL);
    unlink(path);
    cr_assert_eq(conc_proc_u64("/nonexistent/concbench", &v), -ENOENT);
}

/*
 * Ticks, calibrated, time an interval as the clock does: a 20 ms sleep,
 * read by both, agrees within 2% (the two reads of each pair are a few
 * tens of ns apart, and the calibration is over 2 ms).
 */
Test(clock, ticks_time_an_interval_as_the_clock_does, .timeout = 10)
{
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    uint64_t t0, t1, c0, c1, by_ticks, by_clock;

    conc_ticks_calibrate();
    cr_assert_gt(conc_ns_per_tick, 0);
    t0 = conc_now_ns();
    c0 = conc_ticks();
    nanosleep(&ts, NULL);
    c1 = conc_ticks();
    t1 = conc_now_ns();
    by_ticks = conc_ticks_ns(c1 - c0);
    by_clock = t1 - t0;
    cr_assert_geq(by_clock, 20 * CONC_NS_PER_MS);
    cr_assert(by_ticks > by_clock * 0.98 && by_ticks < by_clock * 1.02,
              "20 ms slept: %llu ns by ticks, %llu by the clock",
              (unsigned long long)by_ticks, (unsigned long long)by_clock);
    /* A negative difference (two CPUs' counters a tick apart) is 0. */
    cr_assert_eq(conc_ticks_ns(c0 - c1), 0);
}
