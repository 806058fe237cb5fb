/*
 * The eventloop model against workloads made to break it: fds closed and
 * reopened between steps (uv_poll_t and fd reuse), read waits that end at
 * their deadline, a CPU-bound task that must let ready I/O run between its
 * steps, SIGINT in the middle of a run, and the process-wide pool size.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/clock.h"
#include "cmd/hist.h"
#include "cmd/registry.h"
#include "models/model.h"

#ifndef CONC_HAVE_UV
Test(eventloop, registered_as_unavailable, .timeout = 10)
{
    const struct conc_model *m = conc_model_find("eventloop");

    cr_assert_not_null(m);
    cr_assert_str_eq(m->unavailable, "built without libuv");
}
#else

static const struct conc_opt test_no_opts[] = { { NULL } };

/* A non-blocking pipe (pipe2 is not POSIX). 0 or -1 with errno. */
static int test_pipe(int p[2])
{
    if (pipe(p))
        return -1;
    for (int i = 0; i < 2; i++)
        if (fcntl(p[i], F_SETFL, O_NONBLOCK) ||
            fcntl(p[i], F_SETFD, FD_CLOEXEC)) {
            close(p[0]);
            close(p[1]);
            return -1;
        }
    return 0;
}

/* ---- pipes: every round a new pipe, so fd numbers churn between tasks */

#define PIPES_ROUNDS 60

struct pipes_task {
    int rfd, wfd, extra;
    unsigned round, phase;
    uint64_t deadline_ns;
    unsigned got, timeouts, early, spurious;
};

static int pipes_setup(void **shared, const struct conc_params *p,
                       unsigned tasks)
{
    (void)p;
    (void)tasks;
    *shared = NULL;
    return 0;
}

static int pipes_task_init(void *task, void *shared, unsigned index,
                           unsigned tasks)
{
    struct pipes_task *t = task;

    (void)shared;
    (void)tasks;
    memset(t, 0, sizeof(*t));
    t->rfd = t->wfd = t->extra = -1;
    t->round = index % 4; /* tasks start in different phases of the cycle */
    t->got = t->round;    /* ... and get credit for the rounds skipped */
    return 0;
}

static void pipes_close(struct pipes_task *t)
{
    if (t->rfd >= 0)
        close(t->rfd);
    if (t->wfd >= 0)
        close(t->wfd);
    t->rfd = t->wfd = -1;
}

/*
 * Round r: a new non-blocking pipe, then by r % 4: 0, 1 write a byte and
 * wait to read it; 2 wait until the write end is writable (a second fd of
 * the same task), then write and wait to read; 3 wait to read with a 2 ms
 * deadline and no writer, so the deadline must end the wait. Every third
 * round an extra fd is held for a round, shifting the numbers others get.
 */
static int pipes_step(void *task, struct conc_wait *w)
{
    struct pipes_task *t = task;
    int p[2];
    char c = 'x';

    if (t->rfd >= 0 && t->phase == 1) { /* round 2: writable */
        if (write(t->wfd, &c, 1) != 1)
            return -errno;
        t->phase = 2;
        w->want = CONC_WAIT_READ;
        w->fd = t->rfd;
        return 0;
    }
    if (t->rfd >= 0) {
        ssize_t n = read(t->rfd, &c, 1);
        if (t->deadline_ns) {
            if (n == 1)
                return -EPROTO; /* nobody wrote to it */
            if (conc_now_ns() < t->deadline_ns) {
                t->early++;
                t->deadline_ns = 0; /* end the round; early counts as error */
            } else {
                t->timeouts++;
            }
        } else if (n == 1) {
            t->got++;
        } else if (n < 0 && errno == EAGAIN) {
            t->spurious++; /* a wake without data: wait again */
            w->want = CONC_WAIT_READ;
            w->fd = t->rfd;
            return 0;
        } else {
            return n < 0 ? -errno : -EPROTO;
        }
        pipes_close(t);
        t->round++;
    }
    if (t->round >= PIPES_ROUNDS) {
        w->want = CONC_DONE;
        return 0;
    }
    if (t->round % 3 == 0 && t->extra < 0)
        t->extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
    else if (t->round % 3 == 2 && t->extra >= 0) {
        close(t->extra);
        t->extra = -1;
    }
    if (test_pipe(p))
        return -errno;
    t->rfd = p[0];
    t->wfd = p[1];
    t->deadline_ns = 0;
    t->phase = 0;
    switch (t->round % 4) {
    case 2:
        t->phase = 1;
        w->want = CONC_WAIT_WRITE;
        w->fd = t->wfd;
        return 0;
    case 3:
        t->deadline_ns = conc_now_ns() + 2 * CONC_NS_PER_MS;
        w->deadline_ns = t->deadline_ns;
        break;
    default:
        if (write(t->wfd, &c, 1) != 1)
            return -errno;
        break;
    }
    w->want = CONC_WAIT_READ;
    w->fd = t->rfd;
    return 0;
}

static int pipes_task_result(const void *task, struct conc_task_out *out)
{
    const struct pipes_task *t = task;

    out->result = t->got + t->timeouts;
    out->ops = t->spurious;
    out->errors[CONC_ERR_OTHER] = t->early;
    return 0;
}

static void pipes_task_fini(void *task)
{
    struct pipes_task *t = task;

    pipes_close(t);
    if (t->extra >= 0)
        close(t->extra);
    t->extra = -1;
}

static int pipes_verify(void *shared, const struct conc_totals *tot,
                        char *why, size_t len)
{
    (void)shared;
    if (tot->result != (uint64_t)tot->tasks * PIPES_ROUNDS) {
        snprintf(why, len, "%llu rounds", (unsigned long long)tot->result);
        return -EINVAL;
    }
    return 0;
}

static void pipes_teardown(void *shared)
{
    (void)shared;
}

static const struct conc_workload test_pipes = {
    .name = "pipes",
    .summary = "a new pipe every round",
    .opts = test_no_opts,
    .task_size = sizeof(struct pipes_task),
    .setup = pipes_setup,
    .task_init = pipes_task_init,
    .step = pipes_step,
    .task_result = pipes_task_result,
    .task_fini = pipes_task_fini,
    .verify = pipes_verify,
    .teardown = pipes_teardown,
};

/* ---- pingpong: task 0 yields until task 1's read wait has run */

#define PINGPONG_MAX 100000

struct pingpong_shared {
    atomic_int flag;
};

struct pingpong_task {
    struct pingpong_shared *sh;
    unsigned index, yields;
    int rfd, wfd;
};

static int pingpong_setup(void **shared, const struct conc_params *p,
                          unsigned tasks)
{
    struct pingpong_shared *sh = calloc(1, sizeof(*sh));

    (void)p;
    (void)tasks;
    *shared = sh;
    return sh ? 0 : -ENOMEM;
}

static int pingpong_task_init(void *task, void *shared, unsigned index,
                              unsigned tasks)
{
    struct pingpong_task *t = task;

    (void)tasks;
    t->sh = shared;
    t->index = index;
    t->yields = 0;
    t->rfd = t->wfd = -1;
    return 0;
}

static int pingpong_step(void *task, struct conc_wait *w)
{
    struct pingpong_task *t = task;
    int p[2];
    char c = 'x';

    if (t->index == 0) {
        if (atomic_load(&t->sh->flag)) {
            w->want = CONC_DONE;
            return 0;
        }
        if (++t->yields > PINGPONG_MAX)
            return -ETIMEDOUT; /* the model never ran the other task's I/O */
        w->want = CONC_YIELD;
        return 0;
    }
    if (t->rfd < 0) {
        if (test_pipe(p))
            return -errno;
        t->rfd = p[0];
        t->wfd = p[1];
        if (write(t->wfd, &c, 1) != 1)
            return -errno;
        w->want = CONC_WAIT_READ;
        w->fd = t->rfd;
        return 0;
    }
    if (read(t->rfd, &c, 1) != 1)
        return -EPROTO;
    atomic_store(&t->sh->flag, 1);
    w->want = CONC_DONE;
    return 0;
}

static int pingpong_task_result(const void *task, struct conc_task_out *out)
{
    const struct pingpong_task *t = task;

    out->result = t->yields;
    return 0;
}

static void pingpong_task_fini(void *task)
{
    struct pingpong_task *t = task;

    if (t->rfd >= 0)
        close(t->rfd);
    if (t->wfd >= 0)
        close(t->wfd);
    t->rfd = t->wfd = -1;
}

static int pingpong_verify(void *shared, const struct conc_totals *tot,
                           char *why, size_t len)
{
    (void)shared;
    (void)tot;
    (void)why;
    (void)len;
    return 0;
}

static const struct conc_workload test_pingpong = {
    .name = "pingpong",
    .summary = "a yielding task waits for another's read",
    .opts = test_no_opts,
    .task_size = sizeof(struct pingpong_task),
    .setup = pingpong_setup,
    .task_init = pingpong_task_init,
    .step = pingpong_step,
    .task_result = pingpong_task_result,
    .task_fini = pingpong_task_fini,
    .verify = pingpong_verify,
    .teardown = free,
};

/* ---- a small cell runner: check, setup, run, collect, teardown */

struct test_result {
    int check_err, run_err, task_failures, verify_err;
    uint64_t result, ops, errors;
    uint64_t *task_results; /* [tasks], owned */
    uint64_t wall_ns;
};

/*
 * Open descriptors of this process. The first check makes libuv open its
 * process-wide signal-lock pipe (kept until exit), as it does before the
 * cell runner counts; so do that first.
 */
static int test_count_fds(void)
{
    const struct conc_model *m = conc_model_find("eventloop");
    struct conc_params mp;
    DIR *d;
    int n = 0;

    cr_assert_eq(conc_params_init(&mp, m->opts), 0);
    cr_assert_eq(m->check(&mp, 1), 0);
    conc_params_fini(&mp);
    d = opendir("/proc/self/fd");

    cr_assert_not_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void test_set(struct conc_params *p, const char *kvs)
{
    char buf[256], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", kvs ? kvs : "");
    for (char *kv = strtok_r(buf, " ", &save); kv;
         kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');
        cr_assert_not_null(eq);
        *eq = '\0';
        cr_assert_eq(conc_params_set(p, kv, eq + 1), 0, "%s", kv);
    }
}

static struct test_result test_run(const struct conc_workload *w,
                                   const char *wopts, const char *mopts,
                                   unsigned tasks)
{
    const struct conc_model *m = conc_model_find("eventloop");
    struct conc_params mp, wp;
    struct conc_hist *op_ns = calloc(1, sizeof(*op_ns));
    struct conc_task_out *out = calloc(tasks, sizeof(*out));
    struct test_result res = { 0 };
    struct conc_totals tot = { .tasks = tasks };
    void *shared = NULL;
    char why[160];
    uint64_t t0;

    cr_assert_not_null(m);
    cr_assert_null(m->unavailable);
    cr_assert(op_ns && out);
    cr_assert_eq(conc_params_init(&mp, m->opts), 0);
    cr_assert_eq(conc_params_init(&wp, w->opts), 0);
    test_set(&mp, mopts);
    test_set(&wp, wopts);
    res.task_results = calloc(tasks, sizeof(*res.task_results));
    res.check_err = m->check ? m->check(&mp, tasks) : 0;
    if (res.check_err)
        goto out;
    cr_assert_eq(w->setup(&shared, &wp, tasks), 0);
    for (unsigned i = 0; i < tasks; i++)
        out[i].op_ns = op_ns;
    struct conc_run r = { .w = w, .shared = shared, .tasks = tasks,
                          .mp = &mp, .out = out };
    t0 = conc_now_ns();
    res.run_err = m->run(&r);
    res.wall_ns = conc_now_ns() - t0;
    for (unsigned i = 0; i < tasks; i++) {
        if (out[i].status) {
            res.task_failures++;
            continue;
        }
        res.task_results[i] = out[i].result;
        tot.result += out[i].result;
        tot.ops += out[i].ops;
        for (int k = 0; k < CONC_ERR_KINDS; k++)
            tot.errors += out[i].errors[k];
    }
    res.result = tot.result;
    res.ops = tot.ops;
    res.errors = tot.errors;
    res.verify_err = w->verify(shared, &tot, why, sizeof(why));
    w->teardown(shared);
out:
    conc_params_fini(&mp);
    conc_params_fini(&wp);
    free(op_ns);
    free(out);
    return res;
}

static const char *const test_model_opts[] = {
    "workers=1", "workers=2", "workers=3 offload=on pool=2",
    "workers=1 offload=on pool=2 slice=0",
};

Test(eventloop, fd_reuse_between_steps, .timeout = 60)
{
    for (size_t k = 0; k < 4; k++) {
        int fds0 = test_count_fds();
        struct test_result r = test_run(&test_pipes, NULL,
                                        test_model_opts[k], 64);
        cr_assert_eq(r.check_err, 0);
        cr_assert_eq(r.run_err, 0, "%s: run %d", test_model_opts[k],
                     r.run_err);
        cr_assert_eq(r.task_failures, 0, "%s", test_model_opts[k]);
        cr_assert_eq(r.result, 64ull * PIPES_ROUNDS, "%s",
                     test_model_opts[k]);
        cr_assert_eq(r.errors, 0, "%s: a read deadline woke early",
                     test_model_opts[k]);
        cr_assert_eq(test_count_fds(), fds0, "%s: fds leaked",
                     test_model_opts[k]);
        free(r.task_results);
    }
}

Test(eventloop, ready_io_runs_between_yields, .timeout = 30)
{
    struct test_result r = test_run(&test_pingpong, NULL, "workers=1", 2);

    cr_assert_eq(r.run_err, 0);
    cr_assert_eq(r.task_failures, 0, "the yielding task never saw the "
                 "other's read run");
    /* Pass 1 runs task 0 and polls, which runs task 1's read; pass 2 sees
       the flag. One more for slack. */
    cr_assert_leq(r.task_results[0], 3, "task 0 yielded %llu times",
                  (unsigned long long)r.task_results[0]);
    free(r.task_results);
}

Test(eventloop, sleeps_never_wake_early, .timeout = 60)
{
    const struct conc_workload *sleep = conc_workload_find("sleep");

    for (size_t k = 0; k < 2; k++) {
        struct test_result r = test_run(sleep, "ms=3ms jitter=2ms count=10",
                                        test_model_opts[k], 300);
        cr_assert_eq(r.run_err, 0);
        cr_assert_eq(r.task_failures, 0);
        cr_assert_eq(r.errors, 0, "%llu early wake-ups",
                     (unsigned long long)r.errors);
        cr_assert_eq(r.verify_err, 0);
        free(r.task_results);
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
    struct test_result r = test_run(w, wopts, mopts, tasks);
    pthread_join(th, NULL);
    conc_interrupted = 0;
    cr_assert_eq(r.run_err, -EINTR, "%s: run returned %d", mopts, r.run_err);
    cr_assert_lt(r.wall_ns, 2 * CONC_NS_PER_S, "%s: stopped after %llu ms",
                 mopts, (unsigned long long)(r.wall_ns / CONC_NS_PER_MS));
    cr_assert_eq(test_count_fds(), fds0, "%s: fds leaked", mopts);
    free(r.task_results);
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
    struct test_result r;

    r = test_run(y, "count=100", "pool=2", 2);
    cr_assert_eq(r.check_err, -EINVAL, "pool without offload is refused");
    free(r.task_results);
    r = test_run(y, "count=100", "offload=on pool=3", 2);
    cr_assert_eq(r.check_err, 0);
    cr_assert_eq(r.run_err, 0);
    cr_assert_eq(r.result, 200);
    free(r.task_results);
    r = test_run(y, "count=100", "offload=on pool=2", 2);
    cr_assert_eq(r.check_err, -EINVAL, "a different pool size is refused");
    free(r.task_results);
    r = test_run(y, "count=100", "offload=on pool=3", 2);
    cr_assert_eq(r.check_err, 0, "the same pool size is fine");
    free(r.task_results);
    r = test_run(y, "count=100", "offload=on", 2);
    cr_assert_eq(r.check_err, 0, "an unset pool uses the one running");
    cr_assert_eq(r.result, 200);
    free(r.task_results);
}

Test(eventloop, pool_size_from_environment, .timeout = 30)
{
    const struct conc_workload *y = conc_workload_find("yield");
    struct test_result r;

    /* Criterion runs each test in a fresh process: the pool is not started. */
    setenv("UV_THREADPOOL_SIZE", "1", 1);
    r = test_run(y, "count=100", "offload=on", 2);
    cr_assert_eq(r.check_err, 0);
    cr_assert_eq(r.result, 200);
    free(r.task_results);
    r = test_run(y, "count=100", "offload=on pool=1", 2);
    cr_assert_eq(r.check_err, 0, "the pool runs UV_THREADPOOL_SIZE threads");
    free(r.task_results);
    r = test_run(y, "count=100", "offload=on pool=4", 2);
    cr_assert_eq(r.check_err, -EINVAL, "not libuv's default of 4");
    free(r.task_results);
}

#endif
