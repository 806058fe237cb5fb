/*
 * eventloop: asyncio's (and Node's) model on libuv. Every task is a chain of
 * callbacks on one uv_loop_t, or on one loop per worker thread: a uv_poll_t
 * for fd waits, a uv_timer_t for deadlines, a ready queue run by one
 * uv_idle_t for yields and sync wakes (an eventfd brings those from other
 * threads), and with offload=on libuv's thread pool for CPU-bound steps. It
 * measures what one thread multiplexing many tasks costs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/proc.h"
#include "models/limits.h"
#include "models/model.h"

#define EVENTLOOP_WORKERS_MAX 1024
#define EVENTLOOP_POOL_MAX 1024 /* libuv's MAX_THREADPOOL_SIZE since 1.30 */

/* Declared even without libuv, so `list` and option parsing stay the same. */
static const struct conc_opt eventloop_opts[] = {
    { "workers", CONC_OPT_COUNT, "1", "event loops, each on its own OS "
      "thread; tasks are split between them (at most one loop per task)",
      NULL, 1, EVENTLOOP_WORKERS_MAX },
    { "offload", CONC_OPT_BOOL, "off", "run CPU-bound steps (those after a "
      "yield) on libuv's thread pool with uv_queue_work", NULL, 0, 0 },
    { "pool", CONC_OPT_COUNT, NULL, "threads in libuv's pool, with "
      "offload=on (default: UV_THREADPOOL_SIZE, else 4); fixed for the "
      "process once its pool started", NULL, 1, EVENTLOOP_POOL_MAX },
    { "slice", CONC_OPT_DURATION, "2ms", "with offload=on, how long a pool "
      "thread keeps running one task's CPU-bound steps before handing it "
      "back to its loop (0: one step per hand-off)", NULL, 0,
      CONC_NS_PER_S },
    { NULL },
};

#ifdef CONC_HAVE_UV
#include <uv.h>

#if defined(__SANITIZE_THREAD__)
#define EVENTLOOP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EVENTLOOP_TSAN 1
#endif
#endif
#ifdef EVENTLOOP_TSAN
/* ThreadSanitizer's dynamic annotations (no header declares them). */
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#endif

/*
 * How often each loop looks at conc_interrupted. libuv's epoll wait retries
 * on EINTR, so a signal alone never ends uv_run; a uv_signal_t would replace
 * the handler cmd/main.c installed. A 25 ms timer keeps the stop well within
 * 100 ms at the cost of 40 wake-ups a second.
 */
#define EVENTLOOP_WATCH_MS 25

enum eventloop_state {
    EVENTLOOP_NEW,   /* not started (or its task_init failed) */
    EVENTLOOP_READY, /* in the ready queue: it yielded */
    EVENTLOOP_WAIT,  /* its poll handle and/or timer is armed */
    EVENTLOOP_POOL,  /* its step is queued or running on the thread pool */
    EVENTLOOP_SYNC,  /* its waiter is in a sync queue (lib/sync.h) */
    EVENTLOOP_DONE,  /* finished; its handles are closed or closing */
};

struct eventloop_loop;

/*
 * One task. The workload's task memory follows it (eventloop_task_mem).
 * Handles live inside or beside it until the loop is closed, so a close
 * callback never sees freed memory.
 */
struct eventloop_task {
    struct eventloop_loop *lp;
    struct eventloop_task *next; /* the ready queue */
    unsigned index;              /* into r->out */
    unsigned char state;
    bool timer_init;             /* timer is initialized (closed at the end) */
    int poll_fd;                 /* the fd poll was initialized on */
    uv_poll_t *poll;             /* NULL, or a handle on poll_fd */
    uv_work_t *work;             /* NULL until the task is first offloaded */
    int work_err;                /* what an offloaded step returned */
    int sync_err;                /* nonzero: a sync park ended by an abort:
                                    the task ends with it when next run */
    struct conc_wait work_w;
    struct conc_waiter waiter;   /* in sync_q while EVENTLOOP_SYNC */
    struct conc_waitq *sync_q;
    struct eventloop_task *rnext; /* its loop's remote list, once woken
                                     from another thread */
    uv_timer_t timer;
};

/* One loop and the tasks [first, first + n) of the run that it drives. */
struct eventloop_loop {
    uv_loop_t loop;
    uv_idle_t idle;   /* runs the ready queue; active while it is not empty */
    uv_timer_t watch; /* looks at conc_interrupted and the sync abort */
    /*
     * Other threads' wakes: an eventfd of our own, not a uv_async_t, whose
     * receiver in libuv 1.44 spins (then sched_yield()s) until the sender
     * is back from its write: tens of microseconds a wake on two CPUs.
     * Referenced while nsync > 0. prep and check, active only then, tell
     * wakers whether the loop may block in epoll, the only time a wake
     * must write wakefd.
     */
    uv_poll_t wake;
    int wakefd;
    uv_prepare_t prep;
    uv_check_t check;
    const struct conc_run *r;
    struct eventloop_loop *all; /* every loop of the run, [nloops] */
    unsigned nloops;
    atomic_bool *alerted; /* the loops were told of a sync abort */
    char *tasks;      /* n tasks of stride bytes */
    size_t stride;
    unsigned id, first, n;
    unsigned live;    /* started and not finished, +1 while starting */
    unsigned nsync;   /* tasks in EVENTLOOP_SYNC */
    uint64_t dl_since, dl_unparks; /* conc_sync_deadlocked's tracking */
    struct eventloop_task *ready_head, *ready_tail;
    bool offload, stopping;
    bool abort_seen;  /* its parked tasks were ended for a task's failure */
    uint64_t slice_ns; /* offload: a pool thread's time on one task */
    atomic_bool *abort; /* set when the run cannot start all its loops */
    int err;          /* the loop's own failure, 0 or -errno */
    pthread_t thread;

    /* Tasks woken by other threads (last in first), pushed lock-free, and
       whether the loop may be asleep; on cache lines of their own, away
       from the loop thread's fields. */
    char pad0[64];
    _Atomic(struct eventloop_task *) remote;
    atomic_bool sleeping;
    char pad1[64];
};

/* The loop running on this thread: a wake from it needs no handoff. */
static _Thread_local struct eventloop_loop *eventloop_self;

/* The workload's memory, after the header at the strictest alignment. */
#define EVENTLOOP_HDR                                                      \
    ((sizeof(struct eventloop_task) + _Alignof(max_align_t) - 1) &         \
     ~(_Alignof(max_align_t) - 1))

static void *eventloop_task_mem(struct eventloop_task *t)
{
    return (char *)t + EVENTLOOP_HDR;
}

static struct eventloop_task *eventloop_task_at(struct eventloop_loop *lp,
                                                unsigned i)
{
    return (struct eventloop_task *)(lp->tasks + (size_t)i * lp->stride);
}

static void eventloop_step(struct eventloop_task *t);
static void eventloop_on_idle(uv_idle_t *h);

/*
 * The thread pool is process-wide: libuv reads UV_THREADPOOL_SIZE once, when
 * the first request is queued, and keeps that many threads until exit. We
 * start it ourselves before the first offloaded run (untimed, from check),
 * and remember its size to refuse a later, different pool=N rather than
 * report a size that is not the one used.
 */
static pthread_mutex_t eventloop_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned eventloop_pool_threads; /* 0: not started by us yet */
static bool eventloop_uv_ready;

/* The size libuv 1.30+ derives from UV_THREADPOOL_SIZE (uv/threadpool.c). */
static unsigned eventloop_pool_from_env(void)
{
    const char *s = getenv("UV_THREADPOOL_SIZE");
    unsigned n = s ? (unsigned)atoi(s) : 4;

    if (n == 0)
        n = 1;
    return n > EVENTLOOP_POOL_MAX ? EVENTLOOP_POOL_MAX : n;
}

/* The descriptors one loop opens: its epoll, the eventfd of libuv's own
   async handles and our wakefd. */
#define EVENTLOOP_LOOP_FDS 3

static void eventloop_on_noop(uv_work_t *req)
{
    (void)req;
}

/*
 * Makes libuv create its process-wide state outside any timed run: the
 * signal-lock pipe the first uv_loop_init opens (two fds kept until exit,
 * which the cell runner would otherwise count as a leak of the first run)
 * and, when offload is wanted, the thread pool. 0 or -errno, reported.
 */
static int eventloop_prepare(const struct conc_params *mp)
{
    bool offload = conc_param_bool(mp, "offload");
    bool pool_set = conc_param_isset(mp, "pool");
    unsigned want = pool_set ? (unsigned)conc_param_u64(mp, "pool") : 0;
    uv_loop_t loop;
    uv_work_t req;
    char buf[16];
    int err = 0;

    if (pool_set && !offload)
        return conc_error_msg(-EINVAL, "option 'pool' of model 'eventloop' "
                              "needs offload=on (only offloaded steps use "
                              "the pool)");
    pthread_mutex_lock(&eventloop_pool_lock);
    if (eventloop_uv_ready && (!offload || eventloop_pool_threads))
        goto check_size;
    if (offload && pool_set) {
        snprintf(buf, sizeof(buf), "%u", want);
        setenv("UV_THREADPOOL_SIZE", buf, 1);
    }
    /* libuv's first loop opens its signal pipe, and aborts if it cannot. */
    err = conc_proc_fds_check(EVENTLOOP_LOOP_FDS + 2, "an event loop");
    if (!err && (err = uv_loop_init(&loop)))
        conc_error(err, "cannot start an event loop");
    if (err)
        goto out;
    if (offload) {
        err = uv_queue_work(&loop, &req, eventloop_on_noop, NULL);
        if (!err)
            eventloop_pool_threads = eventloop_pool_from_env();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) == 0)
        eventloop_uv_ready = true;
    if (err) {
        conc_error(err, "cannot start libuv's thread pool");
        goto out;
    }
check_size:
    if (pool_set && want != eventloop_pool_threads)
        err = conc_error_msg(-EINVAL, "libuv's thread pool already runs %u "
                             "thread%s in this process and cannot change to "
                             "pool=%u; run that cell in a process of its own",
                             eventloop_pool_threads,
                             eventloop_pool_threads == 1 ? "" : "s", want);
out:
    pthread_mutex_unlock(&eventloop_pool_lock);
    return err;
}

static int eventloop_check(const struct conc_params *mp, unsigned tasks)
{
    uint64_t workers = conc_param_u64(mp, "workers");
    int err;

    if (workers > tasks)
        workers = tasks;
    if (workers > 1 &&
        (err = conc_limits_check_tasks((unsigned long)workers - 1,
                                       "threads")) != 0)
        return err;
    return eventloop_prepare(mp);
}

/*
 * The idle, watch, prepare and check handles go: uv_run returns once they
 * are closed. The wakefd and its handle stay until eventloop_loop_close,
 * after every thread of the run has ended: a waker on another thread may
 * still write to it.
 */
static void eventloop_quiesce(struct eventloop_loop *lp)
{
    if (uv_is_closing((uv_handle_t *)&lp->idle))
        return;
    uv_close((uv_handle_t *)&lp->idle, NULL);
    uv_close((uv_handle_t *)&lp->watch, NULL);
    uv_close((uv_handle_t *)&lp->prep, NULL);
    uv_close((uv_handle_t *)&lp->check, NULL);
}

/* Wakes lp's thread out of epoll. */
static void eventloop_kick(struct eventloop_loop *lp)
{
    uint64_t one = 1;

    if (write(lp->wakefd, &one, sizeof(one)) < 0) {
        /* The counter is only full after 2^64-2 wakes. */
    }
}

static void eventloop_live_put(struct eventloop_loop *lp)
{
    if (--lp->live == 0)
        eventloop_quiesce(lp);
}

static void eventloop_on_poll_closed(uv_handle_t *h)
{
    free(h);
}

/*
 * Closes the task's poll handle. Closing (like stopping) makes libuv drop
 * the handle's fd number from epoll, which would silently unregister
 * another task's watch if that number had been reused by it. It is safe
 * here because a task's handle is only ever stopped, then closed, around
 * that task's own step on this thread: no other task of this loop ran in
 * between, so the number is still this task's or free in this loop.
 * Offloaded steps never hold a poll handle (they follow a yield, which
 * closed it).
 */
static void eventloop_poll_close(struct eventloop_task *t)
{
    if (!t->poll)
        return;
#ifdef EVENTLOOP_TSAN
    /*
     * The step may have closed the fd, and another loop's thread may have
     * got its number back. libuv's EPOLL_CTL_DEL of that number in this
     * loop's epoll then fails harmlessly with ENOENT, but ThreadSanitizer
     * counts it as a read of the other thread's new fd: a race report with
     * no shared memory behind it. Only the fd bookkeeping of this call is
     * left unchecked; it touches nothing but this loop's own state.
     */
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
#endif
    uv_close((uv_handle_t *)t->poll, eventloop_on_poll_closed);
#ifdef EVENTLOOP_TSAN
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
#endif
    t->poll = NULL;
}

/*
 * Tells every other loop, once per run, to look at the run's sync abort
 * now rather than at its next watch: a task failed (and may hold what
 * others wait for), or a deadlock was found.
 */
static void eventloop_sync_alert(struct eventloop_loop *lp)
{
    if (lp->nloops < 2 || atomic_exchange(lp->alerted, true))
        return;
    for (unsigned k = 0; k < lp->nloops; k++)
        if (&lp->all[k] != lp)
            eventloop_kick(&lp->all[k]);
}

static void eventloop_sync_check(struct eventloop_loop *lp, bool deadlock);

/*
 * After a task failed, which set the run's sync abort: this loop's parked
 * tasks end now (once: later parks fail at once), the other loops are
 * alerted.
 */
static void eventloop_sync_failed(struct eventloop_loop *lp)
{
    eventloop_sync_alert(lp);
    if (!lp->abort_seen && lp->nsync && !lp->stopping) {
        lp->abort_seen = true;
        eventloop_sync_check(lp, false);
    }
}

/* Ends the task: closes its handles, records its result, frees its work. */
static void eventloop_task_end(struct eventloop_task *t, int err)
{
    struct eventloop_loop *lp = t->lp;

    eventloop_poll_close(t);
    if (t->timer_init)
        uv_close((uv_handle_t *)&t->timer, NULL);
    free(t->work); /* never in flight here: see eventloop_loop_stop */
    t->work = NULL;
    t->state = EVENTLOOP_DONE;
    conc_task_finish(lp->r, t->index, eventloop_task_mem(t), err);
    /* A failure sets the run's sync abort: others may wait on it. */
    if (err && err != -EINTR && lp->r->sync)
        eventloop_sync_failed(lp);
    eventloop_live_put(lp);
}

static void eventloop_on_timer(uv_timer_t *h)
{
    struct eventloop_task *t = h->data;

    /* A read/write wait whose deadline came first: stop watching the fd. */
    if (t->poll)
        uv_poll_stop(t->poll);
    eventloop_step(t);
}

/*
 * Arms the task's timer for an absolute CLOCK_MONOTONIC deadline. libuv
 * timers count whole milliseconds of loop time (uv_now, cached at the start
 * of each iteration, on the same clock or its coarse variant, which lags
 * it). Rounding the deadline up to a whole millisecond of that clock and
 * asking for the difference from uv_now makes the timer fire only once the
 * loop clock, and therefore the real clock, has passed the deadline,
 * however stale uv_now is. The cost is up to 1 ms of lateness from the
 * rounding, up to 1 ms more because libuv computes its poll timeout from
 * the floored clock (and the coarse clock's lag where libuv uses it),
 * which the workload records as it is.
 */
static int eventloop_timer_arm(struct eventloop_task *t, uint64_t deadline_ns)
{
    struct eventloop_loop *lp = t->lp;
    uint64_t due_ms = (deadline_ns + CONC_NS_PER_MS - 1) / CONC_NS_PER_MS;
    uint64_t now_ms = uv_now(&lp->loop);

    if (!t->timer_init) {
        uv_timer_init(&lp->loop, &t->timer);
        t->timer.data = t;
        t->timer_init = true;
    }
    return uv_timer_start(&t->timer, eventloop_on_timer,
                          due_ms > now_ms ? due_ms - now_ms : 0, 0);
}

static void eventloop_on_poll(uv_poll_t *h, int status, int events)
{
    struct eventloop_task *t = h->data;

    /*
     * Ready, or an error on the fd (status < 0): either way step finds out
     * with its own syscalls. The handle is stopped before step, which may
     * close the fd.
     */
    (void)status;
    (void)events;
    uv_poll_stop(h);
    if (t->timer_init)
        uv_timer_stop(&t->timer);
    eventloop_step(t);
}

/*
 * Watches w->fd. A handle already on that fd number is restarted (uv_poll_t
 * keeps no state of the file, so this is right even if step closed the fd
 * and got the same number back); a handle on another fd was closed by the
 * caller, and a new one is made: uv_poll_init refuses an fd number another
 * active handle of the loop still watches.
 */
static int eventloop_poll_arm(struct eventloop_task *t,
                              const struct conc_wait *w)
{
    int events = w->want == CONC_WAIT_READ ? UV_READABLE : UV_WRITABLE;
    int err;

    if (!t->poll) {
        uv_poll_t *p = conc_xmalloc(sizeof(*p));
        err = uv_poll_init(&t->lp->loop, p, w->fd);
        if (err) {
            free(p); /* uv_poll_init registers nothing when it fails */
            return err;
        }
        p->data = t;
        t->poll = p;
        t->poll_fd = w->fd;
    }
    return uv_poll_start(t->poll, events, eventloop_on_poll);
}

static void eventloop_ready_push(struct eventloop_task *t)
{
    struct eventloop_loop *lp = t->lp;

    t->state = EVENTLOOP_READY;
    t->next = NULL;
    if (lp->ready_tail) {
        lp->ready_tail->next = t;
    } else {
        lp->ready_head = t;
        uv_idle_start(&lp->idle, eventloop_on_idle);
    }
    lp->ready_tail = t;
}

/* ---- waits on sync queues (lib/sync.h) ---- */

static struct eventloop_task *eventloop_of_waiter(struct conc_waiter *w)
{
    return (struct eventloop_task *)((char *)w -
                                     offsetof(struct eventloop_task, waiter));
}

static void eventloop_on_prepare(uv_prepare_t *h);
static void eventloop_on_check(uv_check_t *h);

/*
 * A task of lp parks on a sync queue: the first makes wakefd keep the
 * loop alive and starts the handles that tell wakers when to write it.
 */
static void eventloop_nsync_up(struct eventloop_loop *lp)
{
    if (lp->nsync++)
        return;
    uv_ref((uv_handle_t *)&lp->wake);
    uv_prepare_start(&lp->prep, eventloop_on_prepare);
    uv_check_start(&lp->check, eventloop_on_check);
}

/* A park is over; after the last one no wake can come for the loop. */
static void eventloop_nsync_down(struct eventloop_loop *lp)
{
    if (--lp->nsync)
        return;
    uv_unref((uv_handle_t *)&lp->wake);
    uv_prepare_stop(&lp->prep);
    uv_check_stop(&lp->check);
    atomic_store_explicit(&lp->sleeping, false, memory_order_relaxed);
}

/*
 * On t's loop thread: its sync park is over. It goes onto the ready queue,
 * to step again, or with err to end there.
 */
static void eventloop_sync_ready(struct eventloop_task *t, int err)
{
    t->sync_err = err;
    eventloop_nsync_down(t->lp);
    eventloop_ready_push(t);
}

/*
 * A waiter's wake(), on the waker's thread: another loop's, a pool
 * thread's, or this task's own loop's. Only the loop's own thread may
 * touch its ready queue; any other pushes the task onto the loop's remote
 * list and, if the loop may be blocked in epoll, writes its wakefd. The
 * push is the last touch of t (its loop may run it at once); the loop and
 * its wakefd outlive every waker.
 */
static void eventloop_on_sync_wake(struct conc_waiter *w)
{
    struct eventloop_task *t = eventloop_of_waiter(w);
    struct eventloop_loop *lp = t->lp;
    struct conc_runsync *sync = lp->r->sync;
    struct eventloop_task *head;

    atomic_fetch_sub(&sync->parked, 1);
    atomic_fetch_add(&sync->unparks, 1);
    if (eventloop_self == lp) {
        eventloop_sync_ready(t, 0);
        return;
    }
    head = atomic_load_explicit(&lp->remote, memory_order_relaxed);
    do
        t->rnext = head;
    while (!atomic_compare_exchange_weak_explicit(&lp->remote, &head, t,
                                                  memory_order_seq_cst,
                                                  memory_order_relaxed));
    /* Against eventloop_on_prepare's store of sleeping, then load of
       remote: one of the two sees the other's write (both seq_cst). */
    if (atomic_load_explicit(&lp->sleeping, memory_order_seq_cst))
        eventloop_kick(lp);
}

/*
 * With tasks parked on sync queues: when the run was aborted (a task
 * failed) or, if deadlock is set, is deadlocked, their parks end with the
 * abort's error (-ECANCELED, -EDEADLK), through the ready queue. A task a
 * waker already took out of its queue is left to that wake: it steps
 * again, and fails at its next park.
 */
static void eventloop_sync_check(struct eventloop_loop *lp, bool deadlock)
{
    const struct conc_run *r = lp->r;
    int err = atomic_load(&r->sync->abort);

    if (!err) {
        if (!deadlock ||
            !conc_sync_deadlocked(r, &lp->dl_since, &lp->dl_unparks))
            return;
        err = atomic_load(&r->sync->abort);
        eventloop_sync_alert(lp);
    }
    for (unsigned i = 0; i < lp->n && lp->nsync; i++) {
        struct eventloop_task *t = eventloop_task_at(lp, i);
        if (t->state != EVENTLOOP_SYNC ||
            !conc_waitq_unlink(t->sync_q, &t->waiter))
            continue;
        atomic_fetch_sub(&r->sync->parked, 1);
        eventloop_sync_ready(t, err);
    }
}

/* Moves the tasks other threads woke to the ready queue, in wake order. */
static void eventloop_drain(struct eventloop_loop *lp)
{
    struct eventloop_task *t, *next, *fifo = NULL;

    if (!atomic_load_explicit(&lp->remote, memory_order_relaxed))
        return;
    t = atomic_exchange_explicit(&lp->remote, NULL, memory_order_acquire);
    for (; t; t = next) {
        next = t->rnext;
        t->rnext = fifo;
        fifo = t;
    }
    for (t = fifo; t; t = next) {
        next = t->rnext;
        t->rnext = NULL;
        /* Not parked any more only if a stop ended it before the wake. */
        if (t->state == EVENTLOOP_SYNC)
            eventloop_sync_ready(t, 0);
    }
}

/* wakefd was written: a wake from another thread, or an alert. */
static void eventloop_on_wakefd(uv_poll_t *h, int status, int events)
{
    struct eventloop_loop *lp = h->data;
    uint64_t v;

    (void)status;
    (void)events;
    if (read(lp->wakefd, &v, sizeof(v)) < 0) {
        /* Already read: nothing to do. */
    }
    eventloop_drain(lp);
    if (lp->nsync && !lp->stopping)
        eventloop_sync_check(lp, false);
}

/*
 * Right before libuv polls (blocking unless the ready queue or a due
 * timer says otherwise), while tasks are parked: from here on a waker
 * writes wakefd, and a wake that came before is drained now, which starts
 * the idle handle and so keeps the poll from blocking. (A task parks in a
 * callback of an earlier phase, so this runs before the loop can block
 * with it parked.)
 */
static void eventloop_on_prepare(uv_prepare_t *h)
{
    struct eventloop_loop *lp = h->data;

    atomic_store_explicit(&lp->sleeping, true, memory_order_seq_cst);
    if (atomic_load_explicit(&lp->remote, memory_order_seq_cst))
        eventloop_drain(lp);
}

/* Right after the poll: the loop runs callbacks, and drains before the
   next poll. */
static void eventloop_on_check(uv_check_t *h)
{
    struct eventloop_loop *lp = h->data;

    if (atomic_load_explicit(&lp->sleeping, memory_order_relaxed))
        atomic_store_explicit(&lp->sleeping, false, memory_order_relaxed);
}

/*
 * Parks t on w's sync queue (the step ran on this thread or the pool's):
 * 0 when parked, 1 when the queue's number moved since the step saw it
 * (the step must run again now), or the run's abort, which ends the task.
 * When every task of the loop is then parked, it looks for a deadlock at
 * once: with one loop, nothing else could wake them.
 */
static int eventloop_sync_park(struct eventloop_task *t,
                               const struct conc_wait *w)
{
    struct eventloop_loop *lp = t->lp;
    struct conc_runsync *sync = lp->r->sync;
    int err = atomic_load_explicit(&sync->abort, memory_order_relaxed);

    if (err)
        return conc_waitq_seq(w->q) != w->seq ? 1 : err;
    /* Counted before it can be woken, so the count never goes below the
       truth. */
    atomic_fetch_add(&sync->parked, 1);
    if (!conc_waitq_link(w->q, w->seq, &t->waiter)) {
        atomic_fetch_sub(&sync->parked, 1);
        return 1;
    }
    t->sync_q = w->q;
    t->state = EVENTLOOP_SYNC;
    eventloop_nsync_up(lp);
    if (lp->nsync == lp->live)
        eventloop_sync_check(lp, true);
    return 0;
}

/*
 * On a pool thread: the task's steps for up to one slice, as long as they
 * keep yielding, with nothing of the loop touched. A hand-off to the pool
 * and back costs tens of microseconds (a mutex, a condition variable, an
 * eventfd write and a loop wake-up), as much as a sieve segment, so one
 * step per hand-off would mostly measure that; asyncio code likewise
 * passes run_in_executor a chunk of work, not a single iteration. Handing
 * back after each slice keeps the pool fair between tasks and lets the
 * loop see an interrupt.
 */
static void eventloop_on_work(uv_work_t *req)
{
    struct eventloop_task *t = req->data;
    uint64_t until = conc_now_ns() + t->lp->slice_ns;

    do {
        memset(&t->work_w, 0, sizeof(t->work_w));
        t->work_err = t->lp->r->w->step(eventloop_task_mem(t), &t->work_w);
    } while (!t->work_err && t->work_w.want == CONC_YIELD &&
             !conc_interrupted && conc_now_ns() < until);
}

static bool eventloop_after_step(struct eventloop_task *t, int err,
                                 const struct conc_wait *w);

/*
 * Back on the loop thread once the pool ran (or cancelled) the step. A
 * sync wait parks here; when its queue moved meanwhile, the step runs
 * again on this thread.
 */
static void eventloop_on_work_done(uv_work_t *req, int status)
{
    struct eventloop_task *t = req->data;

    if (status == UV_ECANCELED) {
        eventloop_task_end(t, -EINTR);
        return;
    }
    if (!eventloop_after_step(t, t->work_err, &t->work_w))
        eventloop_step(t);
}

static void eventloop_offload(struct eventloop_task *t)
{
    int err;

    if (!t->work) {
        t->work = conc_xmalloc(sizeof(*t->work));
        t->work->data = t;
    }
    t->state = EVENTLOOP_POOL;
    err = uv_queue_work(&t->lp->loop, t->work, eventloop_on_work,
                        eventloop_on_work_done);
    if (err)
        eventloop_task_end(t, err);
}

/*
 * Arms whatever the task asked for in w, or ends it. false when the step
 * must run again at once: the sync queue it would wait on already moved.
 */
static bool eventloop_after_step(struct eventloop_task *t, int err,
                                 const struct conc_wait *w)
{
    bool io = w->want == CONC_WAIT_READ || w->want == CONC_WAIT_WRITE;

    if (!err && w->want != CONC_DONE && t->lp->stopping)
        err = -EINTR;
    if (err || w->want == CONC_DONE) {
        eventloop_task_end(t, err);
        return true;
    }
    if (t->poll && (!io || t->poll_fd != w->fd))
        eventloop_poll_close(t);
    switch (w->want) {
    case CONC_YIELD:
        if (t->lp->offload)
            eventloop_offload(t);
        else
            eventloop_ready_push(t);
        return true;
    case CONC_WAIT_SYNC:
        err = eventloop_sync_park(t, w);
        if (err > 0)
            return false;
        if (err)
            eventloop_task_end(t, err);
        return true;
    case CONC_WAIT_UNTIL:
        err = eventloop_timer_arm(t, w->deadline_ns);
        break;
    case CONC_WAIT_READ:
    case CONC_WAIT_WRITE:
        err = eventloop_poll_arm(t, w);
        if (!err && w->deadline_ns)
            err = eventloop_timer_arm(t, w->deadline_ns);
        break;
    default:
        err = -EINVAL;
        break;
    }
    if (err)
        eventloop_task_end(t, err);
    else
        t->state = EVENTLOOP_WAIT;
    return true;
}

/*
 * One step on the loop thread (more when a sync wait found its queue
 * already moved), or the end of a task whose sync park an abort ended.
 */
static void eventloop_step(struct eventloop_task *t)
{
    struct conc_wait w;
    int err;

    if (t->sync_err) {
        err = t->sync_err;
        t->sync_err = 0;
        eventloop_task_end(t, err);
        return;
    }
    do {
        memset(&w, 0, sizeof(w));
        err = t->lp->r->w->step(eventloop_task_mem(t), &w);
    } while (!eventloop_after_step(t, err, &w));
}

/*
 * Yielding tasks wait in a FIFO ready queue (asyncio's _ready deque) that
 * one uv_idle_t per loop runs, each task once per pass. An active idle
 * handle makes libuv poll for I/O with a zero timeout, so every pass over
 * the ready tasks is followed by a non-blocking look at the fds and timers
 * of the others: ready I/O runs between the steps of a CPU-bound task, and
 * the CPU-bound tasks never wait for it. A uv_check_t alone would not do:
 * the poll before it could block while tasks are runnable. One idle handle
 * for the queue, rather than one per task, keeps a yield at O(1) with no
 * handle to start and stop.
 */
static void eventloop_on_idle(uv_idle_t *h)
{
    struct eventloop_loop *lp = h->data;
    struct eventloop_task *last = lp->ready_tail, *t;

    /* Only the tasks that were ready when the pass began: the rest wait for
       the next poll. */
    while ((t = lp->ready_head) != NULL) {
        lp->ready_head = t->next;
        if (!lp->ready_head)
            lp->ready_tail = NULL;
        eventloop_step(t);
        if (t == last)
            break;
    }
    if (!lp->ready_head && uv_is_active((uv_handle_t *)h))
        uv_idle_stop(h);
}

/*
 * Ends every task that is still running with err: on SIGINT/SIGTERM, or
 * when uv_run returned with tasks that armed nothing. A step running on the
 * pool cannot be stopped: a queued one is cancelled, a running one ends
 * when it returns (eventloop_after_step sees stopping). O(tasks), once.
 */
static void eventloop_loop_stop(struct eventloop_loop *lp, int err)
{
    lp->stopping = true;
    lp->ready_head = lp->ready_tail = NULL;
    if (!uv_is_closing((uv_handle_t *)&lp->idle))
        uv_idle_stop(&lp->idle);
    lp->live++; /* keep the loop open until the pass is over */
    for (unsigned i = 0; i < lp->n; i++) {
        struct eventloop_task *t = eventloop_task_at(lp, i);
        switch (t->state) {
        case EVENTLOOP_READY:
        case EVENTLOOP_WAIT:
            eventloop_task_end(t, err);
            break;
        case EVENTLOOP_POOL:
            uv_cancel((uv_req_t *)t->work);
            break;
        case EVENTLOOP_SYNC:
            /* The queue outlives the run. A wake already under way lands
               on the remote list, and eventloop_drain skips it. */
            if (conc_waitq_unlink(t->sync_q, &t->waiter))
                atomic_fetch_sub(&lp->r->sync->parked, 1);
            eventloop_nsync_down(lp);
            eventloop_task_end(t, err);
            break;
        default:
            break;
        }
    }
    eventloop_live_put(lp);
}

static void eventloop_on_watch(uv_timer_t *h)
{
    struct eventloop_loop *lp = h->data;

    if (lp->stopping)
        return;
    if (conc_interrupted)
        eventloop_loop_stop(lp, -EINTR);
    else if (atomic_load_explicit(lp->abort, memory_order_relaxed))
        eventloop_loop_stop(lp, -ECANCELED);
    else if (lp->nsync)
        eventloop_sync_check(lp, true);
}

static void eventloop_on_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/*
 * Closes a loop eventloop_run opened, once every thread of the run has
 * ended (none can write its wakefd any more). Reports a handle left open,
 * but still releases the loop's fds and memory.
 */
static void eventloop_loop_close(struct eventloop_loop *lp)
{
    int err;

    uv_close((uv_handle_t *)&lp->wake, NULL);
    uv_run(&lp->loop, UV_RUN_NOWAIT);
    err = uv_loop_close(&lp->loop);

    if (err) {
        if (!lp->err)
            lp->err = conc_error(err, "event loop %u still had handles or "
                                 "requests open after its run", lp->id);
        uv_walk(&lp->loop, eventloop_on_walk_close, NULL);
        uv_run(&lp->loop, UV_RUN_DEFAULT);
        uv_loop_close(&lp->loop);
    }
    close(lp->wakefd);
    lp->wakefd = -1;
    /* Only now: a wake under way when a stop ended its task wrote it. */
    free(lp->tasks);
    lp->tasks = NULL;
}

/* Runs one opened loop over its tasks, until every task has ended. */
static void eventloop_loop_run(struct eventloop_loop *lp)
{
    const struct conc_run *r = lp->r;
    unsigned i;

    eventloop_self = lp;
    lp->loop.data = lp;
    uv_idle_init(&lp->loop, &lp->idle);
    lp->idle.data = lp;
    uv_timer_init(&lp->loop, &lp->watch);
    lp->watch.data = lp;
    uv_timer_start(&lp->watch, eventloop_on_watch, EVENTLOOP_WATCH_MS,
                   EVENTLOOP_WATCH_MS);
    /* Only tasks keep the loop alive: if none is armed while some are
       unfinished, uv_run returns and the check below reports it. */
    uv_unref((uv_handle_t *)&lp->watch);
    uv_prepare_init(&lp->loop, &lp->prep);
    lp->prep.data = lp;
    uv_unref((uv_handle_t *)&lp->prep);
    uv_check_init(&lp->loop, &lp->check);
    lp->check.data = lp;
    uv_unref((uv_handle_t *)&lp->check);

    lp->tasks = conc_xcalloc(lp->n ? lp->n : 1, lp->stride);
    lp->live = 1; /* the starter's hold: no quiesce before all started */
    for (i = 0; i < lp->n && !conc_interrupted; i++) {
        struct eventloop_task *t = eventloop_task_at(lp, i);
        t->lp = lp;
        t->index = lp->first + i;
        t->poll_fd = -1;
        t->waiter.wake = eventloop_on_sync_wake;
        if (conc_task_start(r, t->index, eventloop_task_mem(t)))
            continue; /* recorded in out[]; nothing to release */
        lp->live++;
        eventloop_step(t);
    }
    if (conc_interrupted)
        eventloop_loop_stop(lp, -EINTR);
    eventloop_live_put(lp);
    /* Every task parked while starting: the check a park makes counted
       the starter's hold. */
    if (lp->nsync && lp->nsync == lp->live)
        eventloop_sync_check(lp, true);

    uv_run(&lp->loop, UV_RUN_DEFAULT);
    if (lp->live) {
        /* Only a model bug gets here: tasks left with nothing armed. */
        lp->err = conc_error_msg(-EIO, "event loop %u ran out of events with "
                                 "%u tasks unfinished", lp->id, lp->live);
        eventloop_loop_stop(lp, -EIO);
        uv_run(&lp->loop, UV_RUN_DEFAULT);
    }
    eventloop_self = NULL;
}

static void *eventloop_thread(void *arg)
{
    struct eventloop_loop *lp = arg;

    eventloop_loop_run(lp);
    conc_worker_end(lp->r);
    return NULL;
}

static int eventloop_run(struct conc_run *r)
{
    unsigned workers = conc_model_workers(r->mp, r->tasks);
    bool offload = conc_param_bool(r->mp, "offload");
    size_t stride = EVENTLOOP_HDR + ((r->w->task_size + _Alignof(max_align_t) -
                                      1) & ~(_Alignof(max_align_t) - 1));
    struct eventloop_loop *lps;
    atomic_bool abort = false, alerted = false;
    unsigned started = 1, opened = 0;
    int err = eventloop_prepare(r->mp);

    if (err)
        return err;
    lps = conc_xcalloc(workers, sizeof(*lps));
    for (unsigned k = 0; k < workers; k++) {
        lps[k].r = r;
        lps[k].id = k;
        lps[k].first = (unsigned)((uint64_t)r->tasks * k / workers);
        lps[k].n = (unsigned)((uint64_t)r->tasks * (k + 1) / workers) -
                   lps[k].first;
        lps[k].stride = stride;
        lps[k].offload = offload;
        lps[k].slice_ns = conc_param_u64(r->mp, "slice");
        lps[k].abort = &abort;
        lps[k].all = lps;
        lps[k].nloops = workers;
        lps[k].alerted = &alerted;
    }
    /*
     * Every loop is opened here and closed here after the joins, not on its
     * own thread: libuv closes its fds with a raw close syscall, which
     * ThreadSanitizer cannot see, so a loop's epoll fd closed on one thread
     * and its number reused by another thread's socket was reported as a
     * race. The cost stays inside the timed run.
     */
    err = conc_proc_fds_check((long)workers * EVENTLOOP_LOOP_FDS,
                               "the event loops");
    while (!err && opened < workers) {
        struct eventloop_loop *lp = &lps[opened];
        lp->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (lp->wakefd < 0) {
            err = conc_error(-errno, "cannot create an eventfd");
            started = 0;
            break;
        }
        err = uv_loop_init(&lp->loop);
        /* A failed poll init registers nothing; the loop has no handle. */
        if (!err && (err = uv_poll_init(&lp->loop, &lp->wake,
                                        lp->wakefd)) != 0)
            uv_loop_close(&lp->loop);
        if (err) {
            conc_error(err, "cannot start event loop %u", opened);
            close(lp->wakefd);
            started = 0; /* no thread to join */
            break;
        }
        lp->wake.data = lp;
        uv_poll_start(&lp->wake, UV_READABLE, eventloop_on_wakefd);
        /* Only parked tasks keep a loop alive through it (nsync > 0). */
        uv_unref((uv_handle_t *)&lp->wake);
        opened++;
    }
    /* Loop 0 runs on this thread, as asyncio's does; the others on theirs. */
    for (; !err && started < workers; started++) {
        err = -pthread_create(&lps[started].thread, NULL, eventloop_thread,
                              &lps[started]);
        if (err) {
            /* The loops already running stop within a watch period. */
            conc_error(err, "cannot start the thread of event loop %u of %u",
                       started, workers);
            atomic_store(&abort, true);
            break;
        }
    }
    if (!err)
        eventloop_loop_run(&lps[0]);
    for (unsigned k = 1; k < started; k++)
        pthread_join(lps[k].thread, NULL);
    for (unsigned k = 0; k < opened; k++)
        eventloop_loop_close(&lps[k]);
    for (unsigned k = 0; k < started && !err; k++)
        err = lps[k].err;
    free(lps);
    if (conc_interrupted)
        return -EINTR;
    return err;
}

/*
 * Loop 0 runs on the main thread, the others on new threads: a task may
 * get either stack, so the smaller counts (0, unlimited, is no bound).
 */
static uint64_t eventloop_stack_size(const struct conc_params *mp)
{
    uint64_t main = conc_main_stack(), thread = conc_thread_stack();

    if (conc_param_present(mp, "workers") && conc_param_u64(mp, "workers") > 1
        && thread && (!main || thread < main))
        return thread;
    return main;
}

const struct conc_model conc_model_eventloop = {
    .name = "eventloop",
    .summary = "callbacks on one libuv loop per worker thread (uv_poll_t, "
               "uv_timer_t, uv_idle_t)",
    .like = "asyncio",
    .opts = eventloop_opts,
    .check = eventloop_check,
    .run = eventloop_run,
    .stack_size = eventloop_stack_size,
};

#else /* !CONC_HAVE_UV */

const struct conc_model conc_model_eventloop = {
    .name = "eventloop",
    .summary = "callbacks on one libuv loop per worker thread",
    .like = "asyncio",
    .opts = eventloop_opts,
    .unavailable = "built without libuv",
};

#endif
