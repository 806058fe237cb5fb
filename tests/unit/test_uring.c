/*
 * The uring model: right answers for primes, sleep, yield, http (against
 * the built-in server) and counter (tasks parked on a lock) with one ring
 * and two; fds closed and reopened between steps and read waits that end
 * at their deadline; SIGINT, a deadlock and a failed task's abort in the
 * middle of a run; the kernel's refusal, worded.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/registry.h"
#include "lib/clock.h"
#include "lib/sync.h"
#include "models/model.h"
#include "models/uring.h"
#include "workloads/httpd.h"

Test(uring, refusal_names_the_kernel_reason, .timeout = 10)
{
    char buf[200];

    cr_assert_str_eq(uring_refusal(EPERM, 2, buf, sizeof(buf)),
                     "the kernel refuses io_uring: it is disabled "
                     "(kernel.io_uring_disabled=2)");
    cr_assert_str_eq(uring_refusal(EPERM, 1, buf, sizeof(buf)),
                     "the kernel refuses io_uring: it is disabled for "
                     "processes outside the group kernel.io_uring_group "
                     "(kernel.io_uring_disabled=1)");
    cr_assert_str_eq(uring_refusal(EPERM, 0, buf, sizeof(buf)),
                     "the kernel refuses io_uring: io_uring_setup failed "
                     "with EPERM (a seccomp filter or a security module "
                     "forbids it)");
    cr_assert_str_eq(uring_refusal(EPERM, -1, buf, sizeof(buf)),
                     "the kernel refuses io_uring: io_uring_setup failed "
                     "with EPERM (a seccomp filter or a security module "
                     "forbids it)");
    cr_assert_str_eq(uring_refusal(ENOSYS, -1, buf, sizeof(buf)),
                     "the kernel refuses io_uring: io_uring_setup failed "
                     "with ENOSYS (a kernel without io_uring, or a seccomp "
                     "filter that hides it)");
    cr_assert_str_eq(uring_refusal(ENOMEM, -1, buf, sizeof(buf)),
                     "the kernel refuses io_uring: io_uring_setup failed: "
                     "Cannot allocate memory");
}

#ifndef CONC_HAVE_URING
Test(uring, registered_as_unavailable, .timeout = 10)
{
    const struct conc_model *m = conc_model_find("uring");

    cr_assert_not_null(m);
    cr_assert_str_eq(m->unavailable, "built without liburing");
}
#else

/*
 * The harness is included here rather than at the top because without
 * liburing nothing would use its static functions (-Wunused-function).
 * Its pipes workload as test_eventloop.c runs it: 60 rounds of "rrwt",
 * an extra fd held every third round, and a read wake without data waits
 * again (a poll request may complete for readiness a step then misses).
 */
#define HARNESS_PIPES_ROUNDS 60
#define HARNESS_PIPES_CYCLE "rrwt"
#define HARNESS_PIPES_EXTRA_FD 1
#define HARNESS_PIPES_RETRY_EMPTY 1
#define HARNESS_PINGPONG
#include "tests/unit/harness.h"

/* The kernel this runs on lets the model run (the probe said so). */
Test(uring, available_on_this_kernel, .timeout = 10)
{
    const struct conc_model *m = conc_model_find("uring");

    cr_assert_not_null(m);
    cr_assert_null(m->unavailable, "%s", m->unavailable);
}

/*
 * Open descriptors of this process. The model's check sets up and closes
 * its first ring outside any run, as the cell runner does before it
 * counts; so do that first.
 */
static int test_count_fds(void)
{
    const struct conc_model *m = conc_model_find("uring");
    struct conc_params mp;

    cr_assert_eq(conc_params_init(&mp, m->opts), 0);
    cr_assert_eq(m->check(&mp, 1), 0);
    conc_params_fini(&mp);
    return harness_count_fds();
}

/* A cell under uring; release it with harness_result_fini(). */
static struct harness_result test_run(const struct conc_workload *w,
                                      const char *wopts, const char *mopts,
                                      unsigned tasks)
{
    return harness_run("uring", w, wopts, mopts, tasks);
}

/* Runs a cell and checks it passed: no failed task, the answer verified,
   no error counted, every fd released. */
static struct harness_result test_good(const struct conc_workload *w,
                                       const char *wopts, const char *mopts,
                                       unsigned tasks)
{
    int fds0 = test_count_fds();
    struct harness_result r = test_run(w, wopts, mopts, tasks);

    cr_assert_eq(r.check_err, 0, "%s %s: check %d", w->name, mopts,
                 r.check_err);
    cr_assert_eq(r.run_err, 0, "%s %s: run %d", w->name, mopts, r.run_err);
    cr_assert_eq(r.task_failures, 0, "%s %s: %d tasks failed", w->name,
                 mopts, r.task_failures);
    cr_assert_eq(r.verify_err, 0, "%s %s: wrong answer", w->name, mopts);
    cr_assert_eq(r.errors, 0, "%s %s: %llu errors", w->name, mopts,
                 (unsigned long long)r.errors);
    cr_assert_eq(test_count_fds(), fds0, "%s %s: fds leaked", w->name,
                 mopts);
    return r;
}

static const char *const test_rings[] = { "workers=1", "workers=2" };

Test(uring, primes_sleep_yield_right_with_one_ring_and_two, .timeout = 120)
{
    for (size_t k = 0; k < 2; k++) {
        struct harness_result r;

        r = test_good(conc_workload_find("primes"), "n=1e6 segment=4KiB",
                      test_rings[k], 3);
        cr_assert_eq(r.result, 78498);
        harness_result_fini(&r);
        r = test_good(conc_workload_find("sleep"),
                      "ms=5ms count=3 jitter=2ms", test_rings[k], 50);
        cr_assert_eq(r.result, 150);
        harness_result_fini(&r);
        r = test_good(conc_workload_find("yield"), "count=500",
                      test_rings[k], 6);
        cr_assert_eq(r.result, 3000);
        harness_result_fini(&r);
    }
}

/*
 * The built-in server in a child process (the http workload would start
 * `concbench serve` from its own binary, which a test binary is not):
 * 1 ms delay, 1 KiB bodies, keep-alive allowed. Its port in *port.
 */
static pid_t test_server(unsigned *port)
{
    struct conc_httpd_config cfg = { .delay_ns = CONC_NS_PER_MS,
                                     .size = 1024, .keepalive = true };
    int p[2];
    pid_t pid;

    cr_assert_eq(pipe(p), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct conc_httpd_addr a;
        struct conc_httpd *srv;
        unsigned got = 0;
        close(p[0]);
        if (conc_httpd_addr_parse("127.0.0.1", 0, &a) == 0 &&
            conc_httpd_start(&srv, &a, &cfg) == 0)
            got = conc_httpd_port(srv);
        if (write(p[1], &got, sizeof(got)) != sizeof(got) || !got)
            _exit(1);
        close(p[1]);
        conc_httpd_run(srv);
        _exit(0);
    }
    close(p[1]);
    cr_assert_eq(read(p[0], port, sizeof(*port)), (ssize_t)sizeof(*port));
    close(p[0]);
    cr_assert_neq(*port, 0, "the built-in server did not start");
    return pid;
}

Test(uring, http_right_with_one_ring_and_two, .timeout = 120)
{
    const struct conc_workload *http = conc_workload_find("http");
    char wopts[128];
    unsigned port;
    pid_t srv;

    if (http->unavailable || conc_httpd_unavailable)
        cr_skip_test("http is not in this build");
    srv = test_server(&port);
    for (size_t k = 0; k < 2; k++)
        for (int ka = 0; ka < 2; ka++) {
            struct harness_result r;
            snprintf(wopts, sizeof(wopts),
                     "url=http://127.0.0.1:%u/ requests=3 keepalive=%s",
                     port, ka ? "on" : "off");
            r = test_good(http, wopts, test_rings[k], 12);
            cr_assert_eq(r.ops, 36);
            cr_assert_eq(r.result, 36);
            harness_result_fini(&r);
        }
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
}

/* Tasks really wait: the lock is held across a yield, so others park. */
Test(uring, counter_with_parked_tasks_loses_nothing, .timeout = 120)
{
    const struct conc_workload *counter = conc_workload_find("counter");

    for (size_t k = 0; k < 2; k++) {
        struct harness_result r =
            test_good(counter, "lock=mutex yield_inside=on increments=3000",
                      test_rings[k], 8);
        harness_result_fini(&r);
    }
}

Test(uring, fd_reuse_between_steps_and_read_deadlines, .timeout = 120)
{
    static const char *const opts[] = {
        "workers=2 sqpoll=on",
    };

    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        struct harness_result r = test_good(&harness_pipes, NULL, opts[k],
                                            64);
        cr_assert_eq(r.result, 64ull * HARNESS_PIPES_ROUNDS, "%s", opts[k]);
        harness_result_fini(&r);
    }
}

Test(uring, sleeps_never_wake_early, .timeout = 60)
{
    const struct conc_workload *sleep = conc_workload_find("sleep");

    for (size_t k = 0; k < 2; k++) {
        struct harness_result r = test_good(sleep, "ms=3ms jitter=2ms "
                                            "count=10", test_rings[k], 300);
        harness_result_fini(&r);
    }
}

/*
 * Completions are looked at between passes even while a task keeps
 * yielding (no wait then: the ring's task work is run by a non-blocking
 * enter when the kernel flags it), so the yielder sees the read run
 * within a few of its steps. (Not under SQPOLL, where the kernel thread
 * submits the poll whenever it gets a CPU.)
 */
Test(uring, ready_io_runs_between_yields, .timeout = 30)
{
    struct harness_result r =
        test_run(&harness_pingpong, NULL, "workers=1", 2);

    cr_assert_eq(r.run_err, 0);
    cr_assert_eq(r.task_failures, 0, "the yielding task never saw the "
                 "other's read run");
    /* Pass 1 runs task 0 and submits task 1's poll, which completes at
       once; pass 2 sees the flag. One more for slack. */
    cr_assert_leq(r.task_results[0], 3, "task 0 yielded %llu times",
                  (unsigned long long)r.task_results[0]);
    harness_result_fini(&r);
}

static void *test_interrupter(void *arg)
{
    struct timespec ts = { 0, 150 * 1000 * 1000 };

    (void)arg;
    nanosleep(&ts, NULL);
    conc_interrupted = SIGINT;
    return NULL;
}

/*
 * Each case would take 20 s or more uninterrupted; stopped after 150 ms
 * (the flag alone, no signal: the rings find it within their watch), the
 * run must return -EINTR well within a second, with every fd released.
 */
static void test_interrupt(const struct conc_workload *w, const char *wopts,
                           const char *mopts, unsigned tasks)
{
    pthread_t th;
    int fds0 = test_count_fds();

    conc_interrupted = 0;
    cr_assert_eq(pthread_create(&th, NULL, test_interrupter, NULL), 0);
    struct harness_result r = test_run(w, wopts, mopts, tasks);
    pthread_join(th, NULL);
    conc_interrupted = 0;
    cr_assert_eq(r.run_err, -EINTR, "%s: run returned %d", mopts, r.run_err);
    cr_assert_lt(r.wall_ns, CONC_NS_PER_S, "%s: stopped after %llu ms",
                 mopts, (unsigned long long)(r.wall_ns / CONC_NS_PER_MS));
    cr_assert_eq(test_count_fds(), fds0, "%s: fds leaked", mopts);
    harness_result_fini(&r);
}

Test(uring, interrupt_stops_sleeps, .timeout = 60)
{
    test_interrupt(conc_workload_find("sleep"), "ms=20s", "workers=2", 1000);
}

Test(uring, interrupt_stops_yields, .timeout = 60)
{
    test_interrupt(conc_workload_find("yield"), "count=1e9", "workers=2", 8);
}

Test(uring, interrupt_stops_parked_tasks, .timeout = 60)
{
    test_interrupt(conc_workload_find("counter"),
                   "increments=1e9 hold=1us yield_inside=on", "workers=2",
                   8);
}

Test(uring, interrupt_stops_sqpoll_rings, .timeout = 60)
{
    test_interrupt(conc_workload_find("sleep"), "ms=20s",
                   "workers=2 sqpoll=on", 100);
}

/* ---- a run with the cell's coordination state: deadlock and abort */

/*
 * stuck: task 0 takes the lock, then waits on an event nobody sets; the
 * others wait on the lock. Every task ends parked: a deadlock.
 */
struct stuck_shared {
    struct conc_lock lock;
    struct conc_event never;
};

struct stuck_task {
    struct stuck_shared *sh;
    unsigned index;
    bool holding, waited;
};

static int stuck_setup(void **shared, const struct conc_params *p,
                       unsigned tasks)
{
    struct stuck_shared *sh = calloc(1, sizeof(*sh));

    (void)p;
    (void)tasks;
    cr_assert_not_null(sh);
    conc_lock_init(&sh->lock);
    conc_event_init(&sh->never);
    *shared = sh;
    return 0;
}

static int stuck_task_init(void *task, void *shared, unsigned index,
                           unsigned tasks)
{
    struct stuck_task *t = task;

    (void)tasks;
    t->sh = shared;
    t->index = index;
    t->holding = false;
    return 0;
}

static int stuck_step(void *task, struct conc_wait *w)
{
    struct stuck_task *t = task;
    uint32_t seq;

    if (t->holding || conc_lock_try(&t->sh->lock, &t->waited, &seq)) {
        t->holding = true;
        if (conc_event_is_set(&t->sh->never, &seq))
            return -EPROTO; /* nobody sets it */
        w->want = CONC_WAIT_SYNC;
        w->q = &t->sh->never.q;
        w->seq = seq;
        return 0;
    }
    w->want = CONC_WAIT_SYNC;
    w->q = &t->sh->lock.q;
    w->seq = seq;
    return 0;
}

static int stuck_task_result(const void *task, struct conc_task_out *out)
{
    (void)task;
    (void)out;
    return 0;
}

static void stuck_task_fini(void *task)
{
    (void)task;
}

static const struct conc_workload test_stuck = {
    .name = "stuck",
    .summary = "every task ends up waiting on another",
    .opts = harness_no_opts,
    .task_size = sizeof(struct stuck_task),
    .setup = stuck_setup,
    .task_init = stuck_task_init,
    .step = stuck_step,
    .task_result = stuck_task_result,
    .task_fini = stuck_task_fini,
    .verify = harness_nop_verify,
    .teardown = free,
};

struct test_sync_result {
    int run_err, abort;
    unsigned failed, failed_with;
    uint64_t wall_ns;
};

/*
 * A run as the cell runner makes it, with r.sync and r.workers set; counts
 * the tasks that failed, and of them those that failed with want.
 */
static struct test_sync_result test_run_sync(const struct conc_workload *w,
                                             const char *wopts,
                                             const char *mopts,
                                             unsigned tasks, int want)
{
    const struct conc_model *m = conc_model_find("uring");
    struct conc_task_out *out = calloc(tasks, sizeof(*out));
    struct conc_hist *op_ns = calloc(1, sizeof(*op_ns));
    struct conc_runsync sync;
    struct test_sync_result res = { 0 };
    struct conc_params mp, wp;
    void *shared = NULL;
    uint64_t t0;

    cr_assert(out && op_ns);
    memset(&sync, 0, sizeof(sync));
    cr_assert_eq(conc_params_init(&mp, m->opts), 0);
    cr_assert_eq(conc_params_init(&wp, w->opts), 0);
    harness_set(&mp, mopts);
    harness_set(&wp, wopts);
    cr_assert_eq(m->check(&mp, tasks), 0);
    cr_assert_eq(w->setup(&shared, &wp, tasks), 0);
    for (unsigned i = 0; i < tasks; i++)
        out[i].op_ns = op_ns;
    struct conc_run r = { .w = w, .shared = shared, .tasks = tasks,
                          .mp = &mp, .out = out, .sync = &sync,
                          .workers = conc_model_workers(&mp, tasks) };
    t0 = conc_now_ns();
    res.run_err = m->run(&r);
    res.wall_ns = conc_now_ns() - t0;
    for (unsigned i = 0; i < tasks; i++)
        if (out[i].status) {
            res.failed++;
            res.failed_with += out[i].status == want;
        }
    res.abort = atomic_load(&sync.abort);
    cr_assert_eq(atomic_load(&sync.parked), 0, "parked count left at %u",
                 atomic_load(&sync.parked));
    cr_assert_eq(atomic_load(&sync.running), 0);
    w->teardown(shared);
    conc_params_fini(&mp);
    conc_params_fini(&wp);
    free(op_ns);
    free(out);
    return res;
}

Test(uring, deadlock_ends_every_parked_task, .timeout = 60)
{
    int fds0 = test_count_fds();
    struct test_sync_result r;

    /* One ring: nobody else can wake them, so at once. */
    r = test_run_sync(&test_stuck, NULL, "workers=1", 5, -EDEADLK);
    cr_assert_eq(r.run_err, 0);
    cr_assert_eq(r.abort, -EDEADLK);
    cr_assert_eq(r.failed_with, 5, "%u of 5 tasks failed with EDEADLK",
                 r.failed_with);
    cr_assert_lt(r.wall_ns, 200 * CONC_NS_PER_MS, "took %llu ms",
                 (unsigned long long)(r.wall_ns / CONC_NS_PER_MS));
    /* Two rings: after CONC_DEADLOCK_NS with no wake. */
    r = test_run_sync(&test_stuck, NULL, "workers=2", 6, -EDEADLK);
    cr_assert_eq(r.run_err, 0);
    cr_assert_eq(r.failed_with, 6);
    cr_assert_geq(r.wall_ns, CONC_DEADLOCK_NS);
    cr_assert_lt(r.wall_ns, CONC_DEADLOCK_NS + 2 * CONC_SYNC_POLL_NS +
                                500 * CONC_NS_PER_MS,
                 "took %llu ms",
                 (unsigned long long)(r.wall_ns / CONC_NS_PER_MS));
    cr_assert_eq(test_count_fds(), fds0, "fds leaked");
}

/* A task that fails holding the lock stops the tasks parked on it. */
Test(uring, failed_holder_aborts_the_parked, .timeout = 60)
{
    for (size_t k = 0; k < 2; k++) {
        struct test_sync_result r = test_run_sync(
            conc_workload_find("counter"),
            "increments=1000000 fail_at=100 yield_inside=on", test_rings[k],
            6, -ECANCELED);
        cr_assert_eq(r.run_err, 0);
        cr_assert_eq(r.abort, -ECANCELED);
        cr_assert_eq(r.failed, 6, "%s: %u of 6 failed", test_rings[k],
                     r.failed);
        cr_assert_eq(r.failed_with, 5, "%s", test_rings[k]);
        cr_assert_lt(r.wall_ns, 3 * CONC_NS_PER_S);
    }
}

#endif
