/*
 * eventloop: asyncio's (and Node's) model on libuv. Every task is a chain of
 * callbacks on one uv_loop_t, or on one loop per worker thread: a uv_poll_t
 * for fd waits, a uv_timer_t for deadlines, a ready queue run by one
 * uv_idle_t for yields and sync wakes (an eventfd brings those from other
 * threads), and with offload=on libuv's thread pool for CPU-bound steps. It
 * measures what one thread multiplexing many tasks costs. This file holds
 * the model and its loops; a task's steps are in eventloop-task.c, sync
 * waits in eventloop-sync.c, the pool in eventloop-pool.c.
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
#include "lib/sync.h"
#include "models/eventloop.h"
#include "models/limits.h"
#include "models/model.h"

#define EVENTLOOP_WORKERS_MAX 1024

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
/*
 * How often each loop looks at conc_interrupted. libuv's epoll wait retries
 * on EINTR, so a signal alone never ends uv_run; a uv_signal_t would replace
 * the handler cmd/main.c installed. A 25 ms timer keeps the stop well within
 * 100 ms at the cost of 40 wake-ups a second.
 */
#define EVENTLOOP_WATCH_MS 25

_Thread_local struct eventloop_loop *eventloop_self;

static int eventloop_check(const struct conc_params *mp, unsigned tasks)
{
    int err = conc_limits_check_workers(mp, tasks);

    return err ? err : eventloop_prepare(mp);
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
    /* One loop and no pool: every step on this thread, sync with no
       locked instruction. */
    conc_sync_set_local(workers == 1 && !offload);
    if (!err)
        eventloop_loop_run(&lps[0]);
    conc_sync_set_local(false);
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

const struct conc_model conc_model_eventloop = {
    .name = "eventloop",
    .summary = "callbacks on one libuv loop per worker thread (uv_poll_t, "
               "uv_timer_t, uv_idle_t)",
    .like = "asyncio",
    .opts = eventloop_opts,
    .check = eventloop_check,
    .run = eventloop_run,
    .stack_size = conc_workers_stack,
    .os_threads = eventloop_os_threads,
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
