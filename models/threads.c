/*
 * threads: one pthread per task, or a pool of W threads that take task
 * indices from an atomic counter (ThreadPoolExecutor's shape), each running
 * the blocking driver. gil=on runs every step under one process-wide lock
 * handed over the way CPython 3's GIL is, to reproduce the Python curve.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "models/limits.h"
#include "models/model.h"

#define THREADS_MAX 1000000

/*
 * The signal the main thread sends a worker to break it out of
 * clock_nanosleep or poll when the run is interrupted: a signal sent to the
 * process lands on one thread only. SIGURG is ignored by default, so a stray
 * one after the run does nothing.
 */
#define THREADS_WAKE_SIGNAL SIGURG

/* How often the main thread re-sends it until every worker has ended. */
#define THREADS_KICK_NS (10 * CONC_NS_PER_MS)

static const struct conc_opt threads_opts[] = {
    { "workers", CONC_OPT_COUNT, NULL, "threads that run the tasks, at most "
      "one per task (default: one per task)", NULL, 1, THREADS_MAX },
    /* 16 KiB is glibc's PTHREAD_STACK_MIN on x86-64 and arm64. */
    { "stack", CONC_OPT_SIZE, NULL, "stack size of each thread (default: "
      "the system's, ulimit -s)", NULL, 16384, 1ull << 30 },
    { "gil", CONC_OPT_BOOL, "off", "run every step under one global lock, "
      "handed over like CPython's GIL", NULL, 0, 0 },
    { "interval", CONC_OPT_DURATION, "5ms", "GIL switch interval: how long a "
      "waiting thread lets the holder run before asking for the lock", NULL,
      CONC_NS_PER_US, 10 * CONC_NS_PER_S },
    { NULL },
};

enum threads_gate { THREADS_GATE_WAIT, THREADS_GATE_GO, THREADS_GATE_STOP };

/*
 * The GIL, after CPython 3.2+'s Python/ceval_gil.h. A thread that wants the
 * lock waits on cond for `interval`; if no switch happened meanwhile it sets
 * drop_request, which the holder checks at its next step boundary (where
 * CPython checks its eval breaker). A holder that drops on request waits
 * until another thread has taken the lock (FORCE_SWITCHING), so it cannot
 * grab it straight back.
 */
struct threads_gil {
    pthread_mutex_t mu;
    pthread_cond_t cond;        /* signaled when the lock is dropped */
    pthread_cond_t switch_cond; /* broadcast when a thread takes it */
    uint64_t interval_ns;
    const void *holder;         /* the last thread that took it */
    unsigned long switches;     /* how many times it was taken */
    bool locked;
    atomic_bool drop_request;
};

struct threads_run;

struct threads_worker {
    _Alignas(64) pthread_t tid; /* one cache line each: no false sharing */
    struct threads_run *tr;
    unsigned id;
    void *task;
    bool gil_held;
    atomic_bool done;
};

struct threads_run {
    const struct conc_run *r;
    struct threads_gil *gil; /* NULL when gil=off */
    bool pool;               /* fewer workers than tasks: take indices */
    _Alignas(64) atomic_int gate;
    _Alignas(64) atomic_uint next; /* the next task index (pool) */
    _Alignas(64) atomic_uint live; /* workers not yet ended */
};

static long threads_futex(void *addr, int op, unsigned val, uint64_t timeout_ns)
{
    struct timespec ts = conc_ns_to_timespec(timeout_ns);

    return syscall(SYS_futex, addr, op, val, timeout_ns ? &ts : NULL, NULL,
                   0);
}

static int threads_gil_init(struct threads_gil *g, uint64_t interval_ns)
{
    pthread_condattr_t ca;
    int err;

    memset(g, 0, sizeof(*g));
    g->interval_ns = interval_ns;
    atomic_init(&g->drop_request, false);
    if ((err = pthread_condattr_init(&ca)))
        return -err;
    err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!err)
        err = pthread_mutex_init(&g->mu, NULL);
    if (!err && (err = pthread_cond_init(&g->cond, &ca)))
        pthread_mutex_destroy(&g->mu);
    if (!err && (err = pthread_cond_init(&g->switch_cond, &ca))) {
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->mu);
    }
    pthread_condattr_destroy(&ca);
    return -err;
}

static void threads_gil_fini(struct threads_gil *g)
{
    pthread_cond_destroy(&g->switch_cond);
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->mu);
}

static void threads_gil_take(struct threads_gil *g, const void *me)
{
    pthread_mutex_lock(&g->mu);
    while (g->locked) {
        unsigned long seen = g->switches;
        struct timespec ts = conc_ns_to_timespec(conc_now_ns() +
                                                 g->interval_ns);
        int err = pthread_cond_timedwait(&g->cond, &g->mu, &ts);
        /* A whole interval without a switch: ask the holder to let go. */
        if (err == ETIMEDOUT && g->locked && g->switches == seen)
            atomic_store(&g->drop_request, true);
    }
    g->locked = true;
    g->holder = me;
    g->switches++;
    atomic_store(&g->drop_request, false);
    pthread_cond_broadcast(&g->switch_cond);
    pthread_mutex_unlock(&g->mu);
}

/*
 * Drops the lock. When another thread asked for it, waits until one has
 * taken it. That wait cannot hang: drop_request is set only by a thread
 * still waiting in threads_gil_take, and cleared by every take.
 */
static void threads_gil_drop(struct threads_gil *g, const void *me)
{
    bool forced = atomic_load(&g->drop_request);

    pthread_mutex_lock(&g->mu);
    g->locked = false;
    pthread_cond_signal(&g->cond);
    if (forced)
        while (g->holder == me)
            pthread_cond_wait(&g->switch_cond, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void threads_on_before_step(void *arg)
{
    struct threads_worker *me = arg;

    if (!me->gil_held) {
        threads_gil_take(me->tr->gil, me);
        me->gil_held = true;
    }
}

/*
 * A thread keeps the lock across CONC_YIELD unless someone asked for it,
 * and always drops it before it waits or ends.
 */
static void threads_on_after_step(void *arg, const struct conc_wait *w)
{
    struct threads_worker *me = arg;
    struct threads_gil *g = me->tr->gil;

    if (w->want == CONC_YIELD && !atomic_load(&g->drop_request))
        return;
    threads_gil_drop(g, me);
    me->gil_held = false;
}

static void threads_on_wake(int sig)
{
    (void)sig;
}

static void *threads_main(void *arg)
{
    struct threads_worker *me = arg;
    struct threads_run *tr = me->tr;
    const struct conc_run *r = tr->r;
    struct conc_drive_hooks hooks = {
        threads_on_before_step, threads_on_after_step, me,
    };
    sigset_t set;
    int gate;

    /* SIGINT and SIGTERM go to the main thread, which wakes the workers. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    /* Under the GIL, a long step gives way after the switch interval too,
       as CPython's eval loop does, at the workload's next safe point. */
    if (tr->gil)
        conc_preempt_flag = &tr->gil->drop_request;
    while ((gate = atomic_load(&tr->gate)) == THREADS_GATE_WAIT)
        threads_futex(&tr->gate, FUTEX_WAIT_PRIVATE, THREADS_GATE_WAIT, 0);
    while (gate == THREADS_GATE_GO && !conc_interrupted) {
        unsigned i = tr->pool ? atomic_fetch_add(&tr->next, 1) : me->id;
        if (i >= r->tasks)
            break;
        memset(me->task, 0, r->w->task_size);
        conc_drive_task(r, i, me->task, tr->gil ? &hooks : NULL);
        /* Interrupted between steps: the lock is still ours. */
        if (me->gil_held) {
            threads_gil_drop(tr->gil, me);
            me->gil_held = false;
        }
        if (!tr->pool)
            break;
    }
    conc_worker_end(r);
    atomic_store(&me->done, true);
    if (atomic_fetch_sub(&tr->live, 1) == 1)
        threads_futex(&tr->live, FUTEX_WAKE_PRIVATE, 1, 0);
    return NULL;
}

/*
 * Waits until every started worker has ended. Once the run is interrupted,
 * sends each worker still running the wake signal every THREADS_KICK_NS:
 * more than once, because a worker that checked conc_interrupted just
 * before the signal came would otherwise sleep through it.
 */
static void threads_wait_all(struct threads_run *tr, struct threads_worker *w,
                             unsigned n)
{
    uint64_t next_kick_ns = 0;
    unsigned live;

    while ((live = atomic_load(&tr->live)) > 0) {
        uint64_t slice_ns = 50 * CONC_NS_PER_MS;
        if (conc_interrupted) {
            uint64_t now = conc_now_ns();
            if (now >= next_kick_ns) {
                for (unsigned k = 0; k < n; k++)
                    if (!atomic_load(&w[k].done))
                        pthread_kill(w[k].tid, THREADS_WAKE_SIGNAL);
                next_kick_ns = now + THREADS_KICK_NS;
            }
            slice_ns = THREADS_KICK_NS;
        }
        /* Woken by the last worker, a signal, or the slice's end. */
        threads_futex(&tr->live, FUTEX_WAIT_PRIVATE, live, slice_ns);
    }
}

static int threads_check(const struct conc_params *mp, unsigned tasks)
{
    return conc_limits_check_tasks(conc_model_workers(mp, tasks), "threads");
}

static int threads_run(struct conc_run *r)
{
    struct threads_run tr = { .r = r };
    struct threads_gil gil;
    struct threads_worker *w;
    struct sigaction sa, old_sa;
    pthread_attr_t attr;
    unsigned nw = conc_model_workers(r->mp, r->tasks), started = 0;
    size_t slot = (r->w->task_size + 63) & ~(size_t)63;
    char *tasks;
    int err = 0, create_err = 0;

    if (nw == 0)
        return 0;
    if ((err = pthread_attr_init(&attr)))
        return conc_error(-err, "cannot make thread attributes");
    if (conc_param_present(r->mp, "stack") &&
        (err = pthread_attr_setstacksize(
             &attr, (size_t)conc_param_u64(r->mp, "stack")))) {
        err = conc_error(-err, "cannot set a thread stack of %llu bytes",
                         (unsigned long long)conc_param_u64(r->mp, "stack"));
        goto fail_attr;
    }
    if (conc_param_bool(r->mp, "gil")) {
        if ((err = threads_gil_init(&gil, conc_param_u64(r->mp, "interval")))) {
            conc_error(err, "cannot make the GIL");
            goto fail_attr;
        }
        tr.gil = &gil;
    }
    w = aligned_alloc(64, (size_t)nw * sizeof(*w));
    tasks = aligned_alloc(64, (size_t)nw * (slot ? slot : 64));
    if (!w || !tasks) {
        err = conc_error(-ENOMEM, "cannot allocate %u workers", nw);
        goto fail_alloc;
    }
    memset(w, 0, (size_t)nw * sizeof(*w));
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = threads_on_wake; /* no SA_RESTART: waits return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(THREADS_WAKE_SIGNAL, &sa, &old_sa);

    tr.pool = nw < r->tasks;
    atomic_init(&tr.gate, THREADS_GATE_WAIT);
    atomic_init(&tr.next, 0);
    atomic_init(&tr.live, nw);
    for (unsigned k = 0; k < nw && !conc_interrupted; k++) {
        w[k].tr = &tr;
        w[k].id = k;
        w[k].task = tasks + (size_t)k * slot;
        atomic_init(&w[k].done, false);
        if ((create_err = pthread_create(&w[k].tid, &attr, threads_main,
                                         &w[k])))
            break;
        started++;
    }
    /* The workers never started count as ended. */
    atomic_fetch_sub(&tr.live, nw - started);
    atomic_store(&tr.gate, started == nw && !conc_interrupted
                               ? THREADS_GATE_GO : THREADS_GATE_STOP);
    threads_futex(&tr.gate, FUTEX_WAKE_PRIVATE, INT_MAX, 0);
    threads_wait_all(&tr, w, started);
    for (unsigned k = 0; k < started; k++)
        pthread_join(w[k].tid, NULL);
    sigaction(THREADS_WAKE_SIGNAL, &old_sa, NULL);

    if (create_err)
        err = conc_error_msg(-create_err, "cannot create thread %u of %u: %s "
                             "(%u were started, then stopped and joined); "
                             "raise 'ulimit -u', kernel.threads-max or the "
                             "memory limit, lower -o stack, or run fewer with "
                             "-o workers=N", started + 1, nw,
                             strerror(create_err), started);
    else if (conc_interrupted)
        err = -EINTR;
fail_alloc:
    free(tasks);
    free(w);
    if (tr.gil)
        threads_gil_fini(tr.gil);
fail_attr:
    pthread_attr_destroy(&attr);
    return err;
}

/* A worker's stack: -o stack, or the default for a new thread. */
static uint64_t threads_stack_size(const struct conc_params *mp)
{
    return conc_param_present(mp, "stack") ? conc_param_u64(mp, "stack")
                                           : conc_thread_stack();
}

/* Preempted OS threads, unless the GIL makes a spinning step hold them. */
static bool threads_preemptive(const struct conc_params *mp)
{
    return !conc_param_bool(mp, "gil");
}

const struct conc_model conc_model_threads = {
    .name = "threads",
    .summary = "one pthread per task, or a pool of W; gil=on serializes "
               "steps like CPython",
    .like = "threading, ThreadPoolExecutor",
    .opts = threads_opts,
    .check = threads_check,
    .run = threads_run,
    .stack_size = threads_stack_size,
    .preemptive = threads_preemptive,
};
