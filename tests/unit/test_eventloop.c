/*
 * The eventloop model against workloads made to break it: fds closed and
 * reopened between steps (uv_poll_t and fd reuse), read waits that end at
 * their deadline, a CPU-bound task that must let ready I/O run between its
 * steps, SIGINT in the middle of a run, and the process-wide pool size.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cmd/registry.h"
#include "lib/clock.h"
#include "models/model.h"

#ifndef CONC_HAVE_UV
Test(eventloop, registered_as_unavailable, .timeout = 10)
{
    const struct conc_model *m = conc_model_find("eventloop");

    cr_assert_not_null(m);
    cr_assert_str_eq(m->unavailable, "built without libuv");
}
#else

/*
 * The harness is included here rather than at the top because without
 * libuv nothing would use its static functions (-Wunused-function).
 * Its pipes workload, made harder: 60 rounds of "rrwt", an extra fd
 * held every third round, and a read wake without data waits again (counted
 * in ops: libuv documents that uv_poll_t may report spurious readiness).
 */
#define HARNESS_PIPES_ROUNDS 60
#define HARNESS_PIPES_CYCLE "rrwt"
#define HARNESS_PIPES_EXTRA_FD 1
#define HARNESS_PIPES_RETRY_EMPTY 1
#define HARNESS_PINGPONG
#include "tests/unit/harness.h"

/*
 * Open descriptors of this process. The first check makes libuv open its
 * process-wide signal-lock pipe (kept until exit), as it does before the
 * cell runner counts; so do that first.
 */
static int test_count_fds(void)
{
    const struct conc_model *m = conc_model_find("eventloop");
    struct conc_params mp;

    cr_assert_eq(conc_params_init(&mp, m->opts), 0);
    cr_assert_eq(m->check(&mp, 1), 0);
    conc_params_fini(&mp);
    return harness_count_fds();
}

/* A cell under eventloop; release it with harness_result_fini(). */
static struct harness_result test_run(const struct conc_workload *w,
                                      const char *wopts, const char *mopts,
                                      unsigned tasks)
{
    return harness_run("eventloop", w, wopts, mopts, tasks);
}

static const char *const test_model_opts[] = {
    "workers=1", "workers=2", "workers=3 offload=on pool=2",
    "workers=1 offload=on pool=2 slice=0",
};

Test(eventloop, fd_reuse_between_steps, .timeout = 60)
{
    for (size_t k = 0; k < 4; k++) {
        int fds0 = test_count_fds();
        struct harness_result r = test_run(&harness_pipes, NULL,
                                           test_model_opts[k], 64);
        cr_assert_eq(r.check_err, 0);
        cr_assert_eq(r.run_err, 0, "%s: run %d", test_model_opts[k],
                     r.run_err);
        cr_assert_eq(r.task_failures, 0, "%s", test_model_opts[k]);
        cr_assert_eq(r.result, 64ull * HARNESS_PIPES_ROUNDS, "%s",
                     test_model_opts[k]);
        cr_assert_eq(r.errors, 0, "%s: a read deadline woke early",
                     test_model_opts[k]);
        cr_assert_eq(test_count_fds(), fds0, "%s: fds leaked",
                     test_model_opts[k]);
        harness_result_fini(&r);
    }
}

Test(eventloop, ready_io_runs_between_yields, .timeout = 30)
{
    struct harness_result r =
        test_run(&harness_pingpong, NULL, "workers=1", 2);

    cr_assert_eq(r.run_err, 0);
    cr_assert_eq(r.task_failures, 0, "the yielding task never saw the "
                 "other's read run");
    /* Pass 1 runs task 0 and polls, which runs task 1's read; pass 2 sees
       the flag. One more for slack. */
    cr_assert_leq(r.task_results[0], 3, "task 0 yielded %llu times",
                  (unsigned long long)r.task_results[0]);
    harness_result_fini(&r);
}

Test(eventloop, sleeps_never_wake_early, .timeout = 60)
{
    const struct conc_workload *sleep = conc_workload_find("sleep");

    for (size_t k = 0; k < 2; k++) {
        struct harness_result r = test_run(sleep, "ms=3ms jitter=2ms count=10",
                                        test_model_opts[k], 300);
        cr_assert_eq(r.run_err, 0);
        cr_assert_eq(r.task_failures, 0);
        cr_assert_eq(r.errors, 0, "%llu early wake-ups",
                     (unsigned long long)r.errors);
        cr_assert_eq(r.verify_err, 0);
        harness_result_fini(&r);
    }
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
 * Each case would take 20 s uninterrupted; stopped after 150 ms, the run
 * must return -EINTR well within a second, with every fd released.
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
    cr_assert_lt(r.wall_ns, 2 * CONC_NS_PER_S, "%s: stopped after %llu ms",
                 mopts, (unsigned long long)(r.wall_ns / CONC_NS_PER_MS));
    cr_assert_eq(test_count_fds(), fds0, "%s: fds leaked", mopts);
    harness_result_fini(&r);
}

Test(eventloop, interrupt_stops_sleeps, .timeout = 60)
{
    test_interrupt(conc_workload_find("sleep"), "ms=20s", "workers=2", 1000);
}

Test(eventloop, interrupt_stops_pool_steps, .timeout = 60)
{
    test_interrupt(conc_workload_find("yield"), "count=1e9",
                   "workers=1 offload=on pool=2", 8);
}

Test(eventloop, interrupt_stops_yields, .timeout = 60)
{
    test_interrupt(conc_workload_find("yield"), "count=1e9", "workers=2", 8);
}

Test(eventloop, pool_size_is_fixed_per_process, .timeout = 30)
{
    const struct conc_workload *y = conc_workload_find("yield");
    struct harness_result r;

    r = test_run(y, "count=100", "pool=2", 2);
    cr_assert_eq(r.check_err, -EINVAL, "pool without offload is refused");
    harness_result_fini(&r);
    r = test_run(y, "count=100", "offload=on pool=3", 2);
    cr_assert_eq(r.check_err, 0);
    cr_assert_eq(r.run_err, 0);
    cr_assert_eq(r.result, 200);
    harness_result_fini(&r);
    r = test_run(y, "count=100", "offload=on pool=2", 2);
    cr_assert_eq(r.check_err, -EINVAL, "a different pool size is refused");
    harness_result_fini(&r);
    r = test_run(y, "count=100", "offload=on pool=3", 2);
    cr_assert_eq(r.check_err, 0, "the same pool size is fine");
    harness_result_fini(&r);
    r = test_run(y, "count=100", "offload=on", 2);
    cr_assert_eq(r.check_err, 0, "an unset pool uses the one running");
    cr_assert_eq(r.result, 200);
    harness_result_fini(&r);
}

Test(eventloop, pool_size_from_environment, .timeout = 30)
{
    const struct conc_workload *y = conc_workload_find("yield");
    struct harness_result r;

    /* Criterion runs each test in a fresh process: the pool is not started. */
    setenv("UV_THREADPOOL_SIZE", "1", 1);
    r = test_run(y, "count=100", "offload=on", 2);
    cr_assert_eq(r.check_err, 0);
    cr_assert_eq(r.result, 200);
    harness_result_fini(&r);
    r = test_run(y, "count=100", "offload=on pool=1", 2);
    cr_assert_eq(r.check_err, 0, "the pool runs UV_THREADPOOL_SIZE threads");
    harness_result_fini(&r);
    r = test_run(y, "count=100", "offload=on pool=4", 2);
    cr_assert_eq(r.check_err, -EINVAL, "not libuv's default of 4");
    harness_result_fini(&r);
}

#endif
