/*
 * The threads model, driven with a probe workload that records who runs
 * when: the GIL's mutual exclusion, its switch interval, waits that release
 * it, worker pools, interruption and a thread creation failing mid-run.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/clock.h"
#include "models/model.h"

extern const struct conc_model conc_model_threads;

#define PROBE_TASKS_MAX 256

struct probe_shared {
    unsigned steps;     /* CPU steps per task; 0: one wait instead */
    uint64_t spin_ns;   /* each CPU step busy-waits this long */
    uint64_t wait_ns;   /* the wait of a waiting task */
    atomic_int inside, max_inside;
    atomic_uint last;   /* 1 + the task of the latest step */
    atomic_uint switches;
    atomic_uint runs[PROBE_TASKS_MAX];
    atomic_long tid[PROBE_TASKS_MAX];
};

struct probe_task {
    struct probe_shared *sh;
    unsigned index, done;
    uint64_t deadline_ns;
};

static struct probe_shared probe;

static int probe_init(void *task, void *shared, unsigned index, unsigned n)
{
    struct probe_task *t = task;

    (void)n;
    t->sh = shared;
    t->index = index;
    atomic_fetch_add(&t->sh->runs[index], 1);
    atomic_store(&t->sh->tid[index], (long)syscall(SYS_gettid));
    return 0;
}

static int probe_step(void *task, struct conc_wait *w)
{
    struct probe_task *t = task;
    struct probe_shared *sh = t->sh;

    if (!sh->steps) {
        if (t->deadline_ns) {
            w->want = CONC_DONE;
            return 0;
        }
        t->deadline_ns = conc_now_ns() + sh->wait_ns;
        w->want = CONC_WAIT_UNTIL;
        w->deadline_ns = t->deadline_ns;
        return 0;
    }
    int in = atomic_fetch_add(&sh->inside, 1) + 1;
    int max = atomic_load(&sh->max_inside);
    while (in > max && !atomic_compare_exchange_weak(&sh->max_inside, &max, in))
        ;
    if (atomic_exchange(&sh->last, t->index + 1) != t->index + 1)
        atomic_fetch_add(&sh->switches, 1);
    uint64_t end = conc_now_ns() + sh->spin_ns;
    while (conc_now_ns() < end)
        ;
    atomic_fetch_sub(&sh->inside, 1);
    w->want = ++t->done == sh->steps ? CONC_DONE : CONC_YIELD;
    return 0;
}

static int probe_result(const void *task, struct conc_task_out *out)
{
    const struct probe_task *t = task;

    out->result = t->done;
    return 0;
}

static void probe_fini(void *task)
{
    (void)task;
}

static const struct conc_workload probe_workload = {
    .name = "probe",
    .task_size = sizeof(struct probe_task),
    .task_init = probe_init,
    .step = probe_step,
    .task_result = probe_result,
    .task_fini = probe_fini,
};

/* Runs tasks probe tasks under threads with options "k=v" (NULL-ended). */
static int probe_run(unsigned tasks, struct conc_task_out *out,
                     uint64_t *wall_ns, const char *const *kv)
{
    struct conc_params mp;
    struct conc_run r = {
        .w = &probe_workload, .shared = &probe, .tasks = tasks, .mp = &mp,
        .out = out,
    };
    char key[32];
    int err;

    cr_assert_eq(conc_params_init(&mp, conc_model_threads.opts), 0);
    for (; kv && *kv; kv++) {
        const char *eq = strchr(*kv, '=');
        snprintf(key, sizeof(key), "%.*s", (int)(eq - *kv), *kv);
        cr_assert_eq(conc_params_set(&mp, key, eq + 1), 0, "%s", *kv);
    }
    memset(out, 0, tasks * sizeof(*out));
    atomic_store(&probe.inside, 0);
    atomic_store(&probe.max_inside, 0);
    atomic_store(&probe.last, 0);
    atomic_store(&probe.switches, 0);
    for (unsigned i = 0; i < PROBE_TASKS_MAX; i++)
        atomic_store(&probe.runs[i], 0);
    uint64_t t0 = conc_now_ns();
    err = conc_model_threads.run(&r);
    *wall_ns = conc_now_ns() - t0;
    conc_params_fini(&mp);
    return err;
}

static long threads_now(void)
{
    char line[128];
    long n = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "Threads: %ld", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

Test(gil, one_step_at_a_time, .timeout = 30)
{
    struct conc_task_out out[4];
    uint64_t wall;
    const char *on[] = { "gil=on", "interval=1ms", NULL };

    probe.steps = 200;
    probe.spin_ns = 20 * CONC_NS_PER_US;
    cr_assert_eq(probe_run(4, out, &wall, on), 0);
    cr_assert_eq(atomic_load(&probe.max_inside), 1,
                 "%d steps ran at once under the GIL",
                 atomic_load(&probe.max_inside));
    for (unsigned i = 0; i < 4; i++) {
        cr_assert_eq(out[i].status, 0);
        cr_assert_eq(out[i].result, 200);
    }
}

/*
 * The lock changes hands at step boundaries, but only after a waiter has
 * waited a whole interval: at least once per task (neither task runs to
 * its end first), at most once per interval of wall time, and far less
 * often than every step.
 */
Test(gil, switches_once_per_interval, .timeout = 60)
{
    struct conc_task_out out[2];
    uint64_t wall, interval = 2 * CONC_NS_PER_MS;
    const char *on[] = { "gil=on", "interval=2ms", NULL };

    probe.steps = 400;
    probe.spin_ns = 100 * CONC_NS_PER_US; /* 40 ms = 20 intervals a task */
    cr_assert_eq(probe_run(2, out, &wall, on), 0);
    unsigned sw = atomic_load(&probe.switches);
    cr_assert_geq(sw, 3, "only %u switches in %llu ns", sw,
                  (unsigned long long)wall);
    cr_assert_leq(sw, wall / interval + 3, "%u switches in %llu ns", sw,
                  (unsigned long long)wall);
    cr_assert_lt(sw, 800 / 4, "%u switches: the lock moves at every step", sw);
    cr_assert_eq(atomic_load(&probe.max_inside), 1);
}

/* A thread waiting in clock_nanosleep does not hold the GIL. */
Test(gil, waits_overlap, .timeout = 60)
{
    struct conc_task_out out[100];
    uint64_t one, many;
    const char *on[] = { "gil=on", NULL };

    probe.steps = 0;
    probe.wait_ns = 100 * CONC_NS_PER_MS;
    cr_assert_eq(probe_run(1, out, &one, on), 0);
    cr_assert_eq(probe_run(100, out, &many, on), 0);
    cr_assert_lt(many, 3 * one, "100 waits took %llu ns, one %llu ns",
                 (unsigned long long)many, (unsigned long long)one);
    for (unsigned i = 0; i < 100; i++)
        cr_assert_eq(out[i].status, 0);
}

/* workers=3: every task runs exactly once, on at most 3 threads. */
Test(threads, pool_runs_each_task_once, .timeout = 30)
{
    struct conc_task_out out[50];
    uint64_t wall;
    const char *pool[] = { "workers=3", NULL };
    long tids[50], before = threads_now();
    unsigned distinct = 0;

    probe.steps = 5;
    probe.spin_ns = 10 * CONC_NS_PER_US;
    cr_assert_eq(probe_run(50, out, &wall, pool), 0);
    for (unsigned i = 0; i < 50; i++) {
        cr_assert_eq(atomic_load(&probe.runs[i]), 1, "task %u ran %u times",
                     i, atomic_load(&probe.runs[i]));
        cr_assert_eq(out[i].result, 5);
        long tid = atomic_load(&probe.tid[i]);
        unsigned k = 0;
        while (k < distinct && tids[k] != tid)
            k++;
        if (k == distinct)
            tids[distinct++] = tid;
    }
    cr_assert_leq(distinct, 3, "50 tasks ran on %u threads", distinct);
    cr_assert_eq(threads_now(), before, "threads left behind");
}

static void *probe_interrupt(void *arg)
{
    (void)arg;
    usleep(100 * 1000);
    conc_interrupted = SIGINT;
    return NULL;
}

/*
 * Interrupted while every worker sleeps for 20 s: the run ends long before
 * (the workers are woken by a signal), with -EINTR and no thread left.
 */
Test(threads, interrupt_wakes_sleepers, .timeout = 30)
{
    struct conc_task_out out[8];
    uint64_t wall;
    pthread_t killer;
    const char *on[] = { "gil=on", NULL };
    long before = threads_now();

    probe.steps = 0;
    probe.wait_ns = 20 * CONC_NS_PER_S;
    pthread_create(&killer, NULL, probe_interrupt, NULL);
    cr_assert_eq(probe_run(8, out, &wall, on), -EINTR);
    pthread_join(killer, NULL);
    cr_assert_lt(wall, 2 * CONC_NS_PER_S, "stopped after %llu ns",
                 (unsigned long long)wall);
    cr_assert_eq(threads_now(), before, "threads left behind");
    for (unsigned i = 0; i < 8; i++)
        cr_assert_eq(out[i].status, -EINTR);
    conc_interrupted = 0;
}

/*
 * pthread_create failing half-way (stacks that do not fit RLIMIT_AS): the
 * run returns -EAGAIN having joined every thread it made, and no task ran
 * (they all wait behind the start gate).
 */
Test(threads, create_failure_joins_the_started, .timeout = 30)
{
    struct conc_task_out out[200];
    uint64_t wall;
    struct rlimit rl;
    const char *big[] = { "stack=64MiB", NULL };
    long before = threads_now();

    probe.steps = 1;
    probe.spin_ns = 0;
    /* Room for about 8 stacks of 64 MiB over what is mapped now. */
    cr_assert_eq(getrlimit(RLIMIT_AS, &rl), 0);
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    unsigned long long vm_kib = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmSize: %llu kB", &vm_kib) == 1)
            break;
    fclose(f);
    rl.rlim_cur = (vm_kib + 512 * 1024) * 1024;
    cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);

    cr_assert_eq(probe_run(200, out, &wall, big), -EAGAIN);
    cr_assert_eq(threads_now(), before, "threads left behind");
    for (unsigned i = 0; i < 200; i++)
        cr_assert_eq(out[i].start_ns, 0, "task %u ran", i);
}
