/*
 * The green model against workloads made to break it: FIFO order of
 * yields, yielders beside a sleeper, fds closed and reopened between waits (one-shot epoll
 * registrations and fd reuse), read waits ended by their deadline, an fd
 * epoll cannot watch, and a real SIGINT in the middle of a run.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/registry.h"
#include "lib/clock.h"
#include "models/model.h"

/* The harness's pipes workload in its default cycle, "rwt", 40 rounds. */
#define HARNESS_PIPES_ROUNDS 40
#include "tests/unit/harness.h"

/* ---- order: every step appends its task's index to one log */

#define ORDER_YIELDS 20
#define ORDER_MAX 4096

static atomic_uint order_len;
static unsigned order_log[ORDER_MAX];

struct order_task {
    unsigned index, steps;
};

static int order_task_init(void *task, void *shared, unsigned index,
                           unsigned tasks)
{
    struct order_task *t = task;

    (void)shared;
    (void)tasks;
    t->index = index;
    t->steps = 0;
    return 0;
}

static int order_step(void *task, struct conc_wait *w)
{
    struct order_task *t = task;
    unsigned at = atomic_fetch_add(&order_len, 1);

    if (at < ORDER_MAX)
        order_log[at] = t->index;
    w->want = t->steps++ == ORDER_YIELDS ? CONC_DONE : CONC_YIELD;
    return 0;
}

static int order_task_result(const void *task, struct conc_task_out *out)
{
    out->result = ((const struct order_task *)task)->steps;
    return 0;
}

static void order_task_fini(void *task)
{
    (void)task;
}

static const struct conc_workload test_order = {
    .name = "order",
    .summary = "logs the order of steps",
    .opts = harness_no_opts,
    .task_size = sizeof(struct order_task),
    .setup = harness_nop_setup,
    .task_init = order_task_init,
    .step = order_step,
    .task_result = order_task_result,
    .task_fini = order_task_fini,
    .verify = harness_nop_verify,
    .teardown = harness_nop_teardown,
};

/*
 * ---- starve: task 0 sleeps 2 ms, then raises a flag; the others yield
 * until they see it. Tasks that switch straight to each other must still
 * let the round's poll wake the sleeper: a yielder that passes
 * STARVE_MAX_YIELDS fails the run.
 */

#define STARVE_MAX_YIELDS 20000000u

static atomic_bool starve_flag;

/* Its tasks are order's: an index and a count of steps. */
static int starve_step(void *task, struct conc_wait *w)
{
    struct order_task *t = task;

    if (t->index == 0) {
        if (t->steps++ == 0) {
            w->want = CONC_WAIT_UNTIL;
            w->deadline_ns = conc_now_ns() + 2 * CONC_NS_PER_MS;
            return 0;
        }
        atomic_store(&starve_flag, true);
        w->want = CONC_DONE;
        return 0;
    }
    if (atomic_load(&starve_flag)) {
        w->want = CONC_DONE;
        return 0;
    }
    if (++t->steps > STARVE_MAX_YIELDS)
        return -ETIMEDOUT; /* the sleeper never woke */
    w->want = CONC_YIELD;
    return 0;
}

static int starve_task_result(const void *task, struct conc_task_out *out)
{
    out->result = ((const struct order_task *)task)->index == 0;
    return 0;
}

static const struct conc_workload test_starve = {
    .name = "starve",
    .summary = "yielders beside a sleeper",
    .opts = harness_no_opts,
    .task_size = sizeof(struct order_task),
    .setup = harness_nop_setup,
    .task_init = order_task_init,
    .step = starve_step,
    .task_result = starve_task_result,
    .task_fini = order_task_fini,
    .verify = harness_nop_verify,
    .teardown = harness_nop_teardown,
};

/* ---- file: waits to read a regular file, which epoll refuses */

struct file_task {
    int fd;
    unsigned steps;
};

static int file_task_init(void *task, void *shared, unsigned index,
                          unsigned tasks)
{
    struct file_task *t = task;
    char path[] = "/tmp/concbench-green-XXXXXX";

    (void)shared;
    (void)index;
    (void)tasks;
    t->steps = 0;
    t->fd = mkstemp(path);
    if (t->fd < 0)
        return -errno;
    unlink(path);
    return 0;
}

static int file_step(void *task, struct conc_wait *w)
{
    struct file_task *t = task;

    w->want = t->steps++ ? CONC_DONE : CONC_WAIT_READ;
    w->fd = t->fd;
    return 0;
}

static int file_task_result(const void *task, struct conc_task_out *out)
{
    out->result = ((const struct file_task *)task)->steps;
    return 0;
}

static void file_task_fini(void *task)
{
    struct file_task *t = task;

    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

static const struct conc_workload test_file = {
    .name = "file",
    .summary = "waits on a regular file",
    .opts = harness_no_opts,
    .task_size = sizeof(struct file_task),
    .setup = harness_nop_setup,
    .task_init = file_task_init,
    .step = file_step,
    .task_result = file_task_result,
    .task_fini = file_task_fini,
    .verify = harness_nop_verify,
    .teardown = harness_nop_teardown,
};

/* A cell under green, whose check must accept the options. */
static struct harness_result test_run(const struct conc_workload *w,
                                      const char *wopts, const char *mopts,
                                      unsigned tasks)
{
    struct harness_result r = harness_run("green", w, wopts, mopts, tasks);

    cr_assert_eq(r.check_err, 0);
    harness_result_fini(&r); /* these tests read only the sums */
    return r;
}

static const char *const test_switches[] = {
#ifdef CONC_HAVE_BOOST_CONTEXT
    "switch=fcontext",
#endif
    "switch=ucontext",
};
#define TEST_NSWITCHES (sizeof(test_switches) / sizeof(test_switches[0]))

Test(green, yields_run_in_fifo_rounds, .timeout = 30)
{
    for (size_t k = 0; k < TEST_NSWITCHES; k++) {
        const unsigned tasks = 37;
        struct harness_result r;

        atomic_store(&order_len, 0);
        r = test_run(&test_order, NULL, test_switches[k], tasks);
        cr_assert_eq(r.run_err, 0);
        cr_assert_eq(r.result, tasks * (ORDER_YIELDS + 1ull));
        cr_assert_eq(atomic_load(&order_len), tasks * (ORDER_YIELDS + 1));
        for (unsigned j = 0; j < tasks * (ORDER_YIELDS + 1); j++)
            cr_assert_eq(order_log[j], j % tasks, "%s: step %u ran task %u",
                         test_switches[k], j, order_log[j]);
    }
}

Test(green, yielders_never_starve_a_sleeper, .timeout = 60)
{
    /* One yielder (alone in the run queue while the sleeper sleeps), and
       several (switching straight to each other). */
    static const unsigned counts[] = { 2, 5 };

    for (size_t k = 0; k < TEST_NSWITCHES; k++)
        for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
            struct harness_result r;

            atomic_store(&starve_flag, false);
            r = test_run(&test_starve, NULL, test_switches[k], counts[c]);
            cr_assert_eq(r.run_err, 0, "%s, %u tasks: run %d",
                         test_switches[k], counts[c], r.run_err);
            cr_assert_eq(r.task_failures, 0, "%s, %u tasks: a yielder ran "
                         "past %u yields: the sleeper was starved",
                         test_switches[k], counts[c], STARVE_MAX_YIELDS);
            cr_assert_eq(r.result, 1);
        }
}

Test(green, fd_waits_deadlines_and_reuse, .timeout = 60)
{
    static const char *const opts[] = {
        "workers=1", "workers=2", "workers=3 switch=ucontext",
        "workers=1 guard=mprotect stack=16KiB",
    };

    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        int fds0 = harness_count_fds();
        struct harness_result r = test_run(&harness_pipes, NULL, opts[k], 48);
        cr_assert_eq(r.run_err, 0, "%s: run %d", opts[k], r.run_err);
        cr_assert_eq(r.task_failures, 0, "%s", opts[k]);
        cr_assert_eq(r.result, 48ull * HARNESS_PIPES_ROUNDS, "%s", opts[k]);
        cr_assert_eq(r.errors, 0, "%s: a read deadline woke early", opts[k]);
        cr_assert_eq(harness_count_fds(), fds0, "%s: fds leaked", opts[k]);
    }
}

Test(green, an_fd_epoll_refuses_counts_as_ready, .timeout = 30)
{
    struct harness_result r = test_run(&test_file, NULL, "workers=1", 5);

    cr_assert_eq(r.run_err, 0);
    cr_assert_eq(r.task_failures, 0);
    cr_assert_eq(r.result, 10);
}

static void test_on_signal(int sig)
{
    conc_interrupted = sig;
}

struct test_killer {
    pthread_t target;
    unsigned delay_ms;
};

static void *test_killer_main(void *arg)
{
    const struct test_killer *k = arg;
    struct timespec ts = { 0, (long)k->delay_ms * 1000000L };

    nanosleep(&ts, NULL);
    pthread_kill(k->target, SIGINT);
    return NULL;
}

/*
 * Each case would run for 20 s; a real SIGINT after 150 ms (no SA_RESTART,
 * as cmd/ installs it) must make the run return -EINTR in a tenth of that,
 * every fd released.
 */
Test(green, sigint_stops_every_scheduler, .timeout = 60)
{
    static const char *const opts[] = { "workers=1", "workers=3",
                                        "workers=2 switch=ucontext" };
    const struct conc_workload *sleep = conc_workload_find("sleep");
    const struct conc_workload *yield = conc_workload_find("yield");
    struct sigaction sa, old;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = test_on_signal;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGINT, &sa, &old), 0);
    for (size_t k = 0; k < 3; k++) {
        for (int wl = 0; wl < 2; wl++) {
            struct test_killer killer = { pthread_self(), 150 };
            int fds0 = harness_count_fds();
            pthread_t th;
            uint64_t t0 = conc_now_ns();
            struct harness_result r;

            conc_interrupted = 0;
            cr_assert_eq(pthread_create(&th, NULL, test_killer_main,
                                        &killer), 0);
            r = wl ? test_run(yield, "count=1e9", opts[k], 8)
                   : test_run(sleep, "ms=20s", opts[k], 500);
            pthread_join(th, NULL);
            cr_assert_eq(r.run_err, -EINTR, "%s: run %d", opts[k],
                         r.run_err);
            cr_assert_lt(conc_now_ns() - t0, 2 * CONC_NS_PER_S, "%s",
                         opts[k]);
            cr_assert_eq(harness_count_fds(), fds0, "%s: fds leaked", opts[k]);
        }
    }
    conc_interrupted = 0;
    sigaction(SIGINT, &old, NULL);
}
