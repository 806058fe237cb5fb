/*
 * Test harness shared by the model unit tests (test_green.c,
 * test_eventloop.c, test_uring.c and test_sync.c): an empty options table
 * and no-op workload hooks, a non-blocking pipe, the "pipes" workload that
 * churns fds under read deadlines, "pingpong", and a small cell runner.
 * Header-only: every function is static and uses Criterion asserts, so
 * include it from test files only.
 *
 * The including file may set, before the #include, how the pipes workload
 * runs (the defaults are test_green.c's):
 *   HARNESS_PIPES_ROUNDS      rounds per task (40)
 *   HARNESS_PIPES_CYCLE       one letter per round, repeating ("rwt"):
 *                             r writes a byte and waits to read it; w waits
 *                             until the write end is writable (another fd
 *                             of the same task), then writes and waits to
 *                             read; t waits to read with a 2 ms deadline
 *                             and no writer, so the deadline must end the
 *                             wait, and not before it
 *   HARNESS_PIPES_EXTRA_FD    1: hold one more fd every third round, which
 *                             shifts the fd numbers other tasks get (0)
 *   HARNESS_PIPES_RETRY_EMPTY 1: a read wake without data waits again and
 *                             is counted in ops; 0: it fails the task (0)
 *   HARNESS_PINGPONG          defined: the "pingpong" workload too
 *                             (harness_pingpong), for the event loops
 */
#ifndef CONC_TESTS_UNIT_HARNESS_H
#define CONC_TESTS_UNIT_HARNESS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cmd/registry.h"
#include "lib/clock.h"
#include "lib/hist.h"
#include "models/model.h"

#ifndef HARNESS_PIPES_ROUNDS
#define HARNESS_PIPES_ROUNDS 40
#endif
#ifndef HARNESS_PIPES_CYCLE
#define HARNESS_PIPES_CYCLE "rwt"
#endif
#ifndef HARNESS_PIPES_EXTRA_FD
#define HARNESS_PIPES_EXTRA_FD 0
#endif
#ifndef HARNESS_PIPES_RETRY_EMPTY
#define HARNESS_PIPES_RETRY_EMPTY 0
#endif

static const struct conc_opt harness_no_opts[] = { { NULL } };

/* Workload hooks for workloads without options, shared state or a check. */
static int harness_nop_setup(void **shared, const struct conc_params *p,
                             unsigned tasks)
{
    (void)p;
    (void)tasks;
    *shared = NULL;
    return 0;
}

static void harness_nop_teardown(void *shared)
{
    (void)shared;
}

static int harness_nop_verify(void *shared, const struct conc_totals *tot,
                              char *why, size_t len)
{
    (void)shared;
    (void)tot;
    (void)why;
    (void)len;
    return 0;
}

/* A non-blocking pipe (pipe2 is not POSIX). 0 or -1 with errno. */
static int harness_pipe(int p[2])
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

/* ---- pipes: a new pipe every round, so fd numbers churn between tasks */

static const char harness_pipes_cycle[] = HARNESS_PIPES_CYCLE;
#define HARNESS_PIPES_CYCLE_LEN (sizeof(harness_pipes_cycle) - 1)

struct harness_pipes_task {
    int rfd, wfd, extra;
    unsigned round, phase;
    uint64_t deadline_ns;
    unsigned got, timeouts, early, empty;
};

static int harness_pipes_task_init(void *task, void *shared, unsigned index,
                                   unsigned tasks)
{
    struct harness_pipes_task *t = task;

    (void)shared;
    (void)tasks;
    memset(t, 0, sizeof(*t));
    t->rfd = t->wfd = t->extra = -1;
    /* Tasks start at different places in the cycle ... */
    t->round = index % HARNESS_PIPES_CYCLE_LEN;
    t->got = t->round; /* ... and get credit for the rounds skipped. */
    return 0;
}

static void harness_pipes_close(struct harness_pipes_task *t)
{
    if (t->rfd >= 0)
        close(t->rfd);
    if (t->wfd >= 0)
        close(t->wfd);
    t->rfd = t->wfd = -1;
}

/* Round r: a new non-blocking pipe, used as HARNESS_PIPES_CYCLE says. */
static int harness_pipes_step(void *task, struct conc_wait *w)
{
    struct harness_pipes_task *t = task;
    int p[2];
    char c = 'x';

    if (t->rfd >= 0 && t->phase == 1) { /* a 'w' round: writable */
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
            if (conc_now_ns() < t->deadline_ns)
                t->early++; /* ends the round; counted as an error */
            else
                t->timeouts++;
        } else if (n == 1) {
            t->got++;
        } else if (HARNESS_PIPES_RETRY_EMPTY && n < 0 && errno == EAGAIN) {
            t->empty++;
            w->want = CONC_WAIT_READ;
            w->fd = t->rfd;
            return 0;
        } else {
            return n < 0 ? -errno : -EPROTO; /* woken without data */
        }
        harness_pipes_close(t);
        t->round++;
    }
    if (t->round >= HARNESS_PIPES_ROUNDS) {
        w->want = CONC_DONE;
        return 0;
    }
    if (HARNESS_PIPES_EXTRA_FD && t->round % 3 == 0 && t->extra < 0) {
        t->extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
    } else if (HARNESS_PIPES_EXTRA_FD && t->round % 3 == 2 && t->extra >= 0) {
        close(t->extra);
        t->extra = -1;
    }
    if (harness_pipe(p))
        return -errno;
    t->rfd = p[0];
    t->wfd = p[1];
    t->deadline_ns = 0;
    t->phase = 0;
    switch (harness_pipes_cycle[t->round % HARNESS_PIPES_CYCLE_LEN]) {
    case 'w':
        t->phase = 1;
        w->want = CONC_WAIT_WRITE;
        w->fd = t->wfd;
        return 0;
    case 't':
        t->deadline_ns = conc_now_ns() + 2 * CONC_NS_PER_MS;
        w->deadline_ns = t->deadline_ns;
        break;
    default: /* 'r' */
        if (write(t->wfd, &c, 1) != 1)
            return -errno;
        break;
    }
    w->want = CONC_WAIT_READ;
    w->fd = t->rfd;
    return 0;
}

static int harness_pipes_task_result(const void *task,
                                     struct conc_task_out *out)
{
    const struct harness_pipes_task *t = task;

    out->result = t->got + t->timeouts;
    out->ops = t->empty;
    out->errors[CONC_ERR_OTHER] = t->early;
    return 0;
}

static void harness_pipes_task_fini(void *task)
{
    struct harness_pipes_task *t = task;

    harness_pipes_close(t);
    if (t->extra >= 0)
        close(t->extra);
    t->extra = -1;
}

static int harness_pipes_verify(void *shared, const struct conc_totals *tot,
                                char *why, size_t len)
{
    (void)shared;
    if (tot->result != (uint64_t)tot->tasks * HARNESS_PIPES_ROUNDS) {
        snprintf(why, len, "%llu rounds", (unsigned long long)tot->result);
        return -EINVAL;
    }
    return 0;
}

static const struct conc_workload harness_pipes = {
    .name = "pipes",
    .summary = "a new pipe every round",
    .opts = harness_no_opts,
    .task_size = sizeof(struct harness_pipes_task),
    .setup = harness_nop_setup,
    .task_init = harness_pipes_task_init,
    .step = harness_pipes_step,
    .task_result = harness_pipes_task_result,
    .task_fini = harness_pipes_task_fini,
    .verify = harness_pipes_verify,
    .teardown = harness_nop_teardown,
};

/* ---- a small cell runner: check, setup, run, collect, verify, teardown */

/*
 * pingpong (when the includer defines HARNESS_PINGPONG): task 0 yields
 * until task 1's read wait has run, so a model that never looks at its
 * fds while a task keeps yielding fails it (-ETIMEDOUT).
 */
#ifdef HARNESS_PINGPONG

#define HARNESS_PINGPONG_MAX 100000

struct harness_pingpong_task {
    atomic_int *flag;
    unsigned index, yields;
    int rfd, wfd;
};

static int harness_pingpong_setup(void **shared,
                                  const struct conc_params *p, unsigned tasks)
{
    (void)p;
    (void)tasks;
    *shared = calloc(1, sizeof(atomic_int));
    return *shared ? 0 : -ENOMEM;
}

static int harness_pingpong_task_init(void *task, void *shared,
                                      unsigned index, unsigned tasks)
{
    struct harness_pingpong_task *t = task;

    (void)tasks;
    t->flag = shared;
    t->index = index;
    t->yields = 0;
    t->rfd = t->wfd = -1;
    return 0;
}

static int harness_pingpong_step(void *task, struct conc_wait *w)
{
    struct harness_pingpong_task *t = task;
    int p[2];
    char c = 'x';

    if (t->index == 0) {
        if (atomic_load(t->flag)) {
            w->want = CONC_DONE;
            return 0;
        }
        if (++t->yields > HARNESS_PINGPONG_MAX)
            return -ETIMEDOUT; /* the model never ran the other task's I/O */
        w->want = CONC_YIELD;
        return 0;
    }
    if (t->rfd < 0) {
        if (harness_pipe(p))
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
    atomic_store(t->flag, 1);
    w->want = CONC_DONE;
    return 0;
}

static int harness_pingpong_task_result(const void *task,
                                        struct conc_task_out *out)
{
    const struct harness_pingpong_task *t = task;

    out->result = t->yields;
    return 0;
}

static void harness_pingpong_task_fini(void *task)
{
    struct harness_pingpong_task *t = task;

    if (t->rfd >= 0)
        close(t->rfd);
    if (t->wfd >= 0)
        close(t->wfd);
    t->rfd = t->wfd = -1;
}

static const struct conc_workload harness_pingpong = {
    .name = "pingpong",
    .summary = "a yielding task waits for another's read",
    .opts = harness_no_opts,
    .task_size = sizeof(struct harness_pingpong_task),
    .setup = harness_pingpong_setup,
    .task_init = harness_pingpong_task_init,
    .step = harness_pingpong_step,
    .task_result = harness_pingpong_task_result,
    .task_fini = harness_pingpong_task_fini,
    .verify = harness_nop_verify,
    .teardown = free,
};
#endif

struct harness_result {
    int check_err, run_err, task_failures, verify_err;
    uint64_t result, ops, errors; /* sums over the tasks that succeeded */
    uint64_t *task_results;       /* [tasks], owned: harness_result_fini */
    int *task_status;             /* [tasks], owned: each task's status */
    uint64_t wall_ns;             /* around model->run only */
};

/* Frees what r owns; r may be passed again. */
static void harness_result_fini(struct harness_result *r)
{
    free(r->task_results);
    free(r->task_status);
    r->task_results = NULL;
    r->task_status = NULL;
}

/* Zeroed memory forked children share, as cmd/ maps a run's results. */
static void *harness_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    cr_assert_neq(p, MAP_FAILED);
    return p;
}

/* Open descriptors of this process, as /proc/self/fd lists them. */
static int harness_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    cr_assert_not_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Sets each "key=value" of space-separated kvs (NULL: none) in p. */
static void harness_set(struct conc_params *p, const char *kvs)
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

/*
 * Runs one cell of model with workload w and tasks tasks, options given as
 * "k=v k=v" (NULL: defaults). A model check that refuses the options is
 * returned in check_err, and nothing runs; any other failure to set up the
 * cell fails the test. The results, the histogram and the run's sync
 * counters are in shared memory, and the run's workers are counted, as
 * cmd/cell.c does. Release the result with harness_result_fini().
 */
static struct harness_result harness_run(const char *model,
                                         const struct conc_workload *w,
                                         const char *wopts, const char *mopts,
                                         unsigned tasks)
{
    const struct conc_model *m = conc_model_find(model);
    struct conc_params mp, wp;
    struct conc_hist *op_ns = harness_shared(sizeof(*op_ns));
    size_t out_bytes = (tasks ? tasks : 1) * sizeof(struct conc_task_out);
    struct conc_task_out *out = harness_shared(out_bytes);
    struct conc_runsync *sync = harness_shared(sizeof(*sync));
    struct harness_result res = { 0 };
    struct conc_totals tot = { .tasks = tasks };
    void *shared = NULL;
    char why[160];
    uint64_t t0;

    cr_assert_not_null(m, "no model '%s'", model);
    cr_assert_null(m->unavailable);
    cr_assert(op_ns && out);
    cr_assert_eq(conc_params_init(&mp, m->opts), 0);
    cr_assert_eq(conc_params_init(&wp, w->opts), 0);
    harness_set(&mp, mopts);
    harness_set(&wp, wopts);
    res.task_results = calloc(tasks, sizeof(*res.task_results));
    res.task_status = calloc(tasks, sizeof(*res.task_status));
    cr_assert_not_null(res.task_results);
    cr_assert_not_null(res.task_status);
    res.check_err = m->check ? m->check(&mp, tasks) : 0;
    if (res.check_err)
        goto out;
    cr_assert_eq(w->setup(&shared, &wp, tasks), 0);
    for (unsigned i = 0; i < tasks; i++)
        out[i].op_ns = op_ns;
    struct conc_run r = {
        .w = w, .shared = shared, .tasks = tasks, .mp = &mp, .out = out,
        .sync = sync,
        .workers = conc_params_find(&mp, "workers") < 0
                       ? 1 : conc_model_workers(&mp, tasks),
    };
    if (w->run_start)
        w->run_start(shared);
    t0 = conc_now_ns();
    res.run_err = m->run(&r);
    res.wall_ns = conc_now_ns() - t0;
    for (unsigned i = 0; i < tasks; i++) {
        res.task_status[i] = out[i].status;
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
    munmap(op_ns, sizeof(*op_ns));
    munmap(out, out_bytes);
    munmap(sync, sizeof(*sync));
    return res;
}

#endif
