/*
 * eventloop's use of libuv's thread pool: starting it (and libuv's
 * process-wide state) outside any timed run, and offloaded steps
 * (offload=on), which run there for up to a slice and come back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/interrupt.h"
#include "lib/proc.h"
#include "models/eventloop.h"

#ifdef CONC_HAVE_UV
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

static void eventloop_on_noop(uv_work_t *req)
{
    (void)req;
}

unsigned eventloop_os_threads(const struct conc_params *mp, unsigned tasks)
{
    unsigned n = conc_model_workers(mp, tasks), pool;

    if (!conc_param_bool(mp, "offload"))
        return n;
    /* The pool's size: as started, as asked, or as libuv will make it. */
    pthread_mutex_lock(&eventloop_pool_lock);
    pool = eventloop_pool_threads;
    pthread_mutex_unlock(&eventloop_pool_lock);
    if (!pool)
        pool = conc_param_isset(mp, "pool")
                   ? (unsigned)conc_param_u64(mp, "pool")
                   : eventloop_pool_from_env();
    return n + pool;
}

/*
 * Makes libuv create its process-wide state outside any timed run: the
 * signal-lock pipe the first uv_loop_init opens (two fds kept until exit,
 * which the cell runner would otherwise count as a leak of the first run)
 * and, when offload is wanted, the thread pool. 0 or -errno, reported.
 */
int eventloop_prepare(const struct conc_params *mp)
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

void eventloop_offload(struct eventloop_task *t)
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

#endif
