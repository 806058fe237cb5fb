/*
 * The green model against workloads made to break it: FIFO order of
 * yields, fds closed and reopened between waits (one-shot epoll
 * registrations and fd reuse), read waits ended by their deadline, an fd
 * epoll cannot watch, and a real SIGINT in the middle of a run.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

static const struct conc_opt test_no_opts[] = { { NULL } };

static int test_nop_setup(void **shared, const struct conc_params *p,
                          unsigned tasks)
{
    (void)p;
    (void)tasks;
    *shared = NULL;
    return 0;
}

static void test_nop_teardown(void *shared)
{
    (void)shared;
}

static int test_nop_verify(void *shared, const struct conc_totals *tot,
                           char *why, size_t len)
{
    (void)shared;
    (void)tot;
    (void)why;
    (void)len;
    return 0;
}

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
    .opts = test_no_opts,
    .task_size = sizeof(struct order_task),
    .setup = test_nop_setup,
    .task_init = order_task_init,
    .step = order_step,
    .task_result = order_task_result,
    .task_fini = order_task_fini,
    .verify = test_nop_verify,
    .teardown = test_nop_teardown,
};

/* ---- pipes: a new pipe every round, so fd numbers churn between tasks */

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

#define PIPES_ROUNDS 40

struct pipes_task {
    int rfd, wfd;
    unsigned round, phase;
    uint64_t deadline_ns;
    unsigned got, timeouts, early;
};

static int pipes_task_init(void *task, void *shared, unsigned index,
                           unsigned tasks)
{
    struct pipes_task *t = task;

    (void)shared;
    (void)tasks;
    memset(t, 0, sizeof(*t));
    t->rfd = t->wfd = -1;
    t->round = index % 3;
    t->got = t->round; /* credit for the rounds skipped */
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
 * Round r % 3: 0 writes a byte and waits to read it; 1 waits until the
 * write end is writable (another fd of the same task), then writes and
 * waits to read; 2 waits to read with a 2 ms deadline and no writer, so
 * the deadline must end the wait, and not before it.
 */
static int pipes_step(void *task, struct conc_wait *w)
{
    struct pipes_task *t = task;
    int p[2];
    char c = 'x';

    if (t->rfd >= 0 && t->phase == 1) {
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
                return -EPROTO;
            if (conc_now_ns() < t->deadline_ns)
                t->early++;
            else
                t->timeouts++;
        } else if (n == 1) {
            t->got++;
        } else {
            return n < 0 ? -errno : -EPROTO; /* woken without data */
        }
        pipes_close(t);
        t->round++;
    }
    if (t->round >= PIPES_ROUNDS) {
        w->want = CONC_DONE;
        return 0;
    }
    if (test_pipe(p))
        return -errno;
    t->rfd = p[0];
    t->wfd = p[1];
    t->deadline_ns = 0;
    t->phase = 0;
    w->want = CONC_WAIT_READ;
    w->fd = t->rfd;
    switch (t->round % 3) {
    case 1:
        t->phase = 1;
        w->want = CONC_WAIT_WRITE;
        w->fd = t->wfd;
        break;
    case 2:
        t->deadline_ns = conc_now_ns() + 2 * CONC_NS_PER_MS;
        w->deadline_ns = t->deadline_ns;
        break;
    default:
        if (write(t->wfd, &c, 1) != 1)
            return -errno;
    }
    return 0;
}

static int pipes_task_result(const void *task, struct conc_task_out *out)
{
    const struct pipes_task *t = task;

    out->result = t->got + t->timeouts;
    out->errors[CONC_ERR_OTHER] = t->early;
    return 0;
}

static void pipes_task_fini(void *task)
{
    pipes_close(task);
}

static const struct conc_workload test_pipes = {
    .name = "pipes",
    .summary = "a new pipe every round",
    .opts = test_no_opts,
    .task_size = sizeof(struct pipes_task),
    .setup = test_nop_setup,
    .task_init = pipes_task_init,
    .step = pipes_step,
    .task_result = pipes_task_result,
    .task_fini = pipes_task_fini,
    .verify = test_nop_verify,
    .teardown = test_nop_teardown,
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
    .opts = test_no_opts,
    .task_size = sizeof(struct file_task),
    .setup = test_nop_setup,
    .task_init = file_task_init,
    .step = file_step,
    .task_result = file_task_result,
    .task_fini = file_task_fini,
    .verify = test_nop_verify,
    .teardown = test_nop_teardown,
};

/* ---- a small cell runner: check, setup, run, collect, teardown */

struct test_result {
    int run_err, task_failures;
    uint64_t result, errors;
};

static int test_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

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
    const struct conc_model *m = conc_model_find("green");
    struct conc_params mp, wp;
    struct conc_hist *op_ns = calloc(1, sizeof(*op_ns));
    struct conc_task_out *out = calloc(tasks, sizeof(*out));
    struct test_result res = { 0 };
    void *shared = NULL;

    cr_assert_not_null(m);
    cr_assert_null(m->unavailable);
    cr_assert(op_ns && out);
    cr_assert_eq(conc_params_init(&mp, m->opts), 0);
    cr_assert_eq(conc_params_init(&wp, w->opts), 0);
    test_set(&mp, mopts);
    test_set(&wp, wopts);
    cr_assert_eq(m->check(&mp, tasks), 0);
    cr_assert_eq(w->setup(&shared, &wp, tasks), 0);
    for (unsigned i = 0; i < tasks; i++)
        out[i].op_ns = op_ns;
    struct conc_run r = { .w = w, .shared = shared, .tasks = tasks,
                          .mp = &mp, .out = out };
    res.run_err = m->run(&r);
    for (unsigned i = 0; i < tasks; i++) {
        if (out[i].status) {
            res.task_failures++;
            continue;
        }
        res.result += out[i].result;
        for (int k = 0; k < CONC_ERR_KINDS; k++)
            res.errors += out[i].errors[k];
    }
    w->teardown(shared);
    conc_params_fini(&mp);
    conc_params_fini(&wp);
    free(op_ns);
    free(out);
    return res;
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
        struct test_result r;

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

Test(green, fd_waits_deadlines_and_reuse, .timeout = 60)
{
    static const char *const opts[] = {
        "workers=1", "workers=2", "workers=3 switch=ucontext",
        "workers=1 guard=mprotect stack=16KiB",
    };

    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        int fds0 = test_count_fds();
        struct test_result r = test_run(&test_pipes, NULL, opts[k], 48);
        cr_assert_eq(r.run_err, 0, "%s: run %d", opts[k], r.run_err);
        cr_assert_eq(r.task_failures, 0, "%s", opts[k]);
        cr_assert_eq(r.result, 48ull * PIPES_ROUNDS, "%s", opts[k]);
        cr_assert_eq(r.errors, 0, "%s: a read deadline woke early", opts[k]);
        cr_assert_eq(test_count_fds(), fds0, "%s: fds leaked", opts[k]);
    }
}

Test(green, an_fd_epoll_refuses_counts_as_ready, .timeout = 30)
{
    struct test_result r = test_run(&test_file, NULL, "workers=1", 5);

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
            int fds0 = test_count_fds();
            pthread_t th;
            uint64_t t0 = conc_now_ns();
            struct test_result r;

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
            cr_assert_eq(test_count_fds(), fds0, "%s: fds leaked", opts[k]);
        }
    }
    conc_interrupted = 0;
    sigaction(SIGINT, &old, NULL);
}
