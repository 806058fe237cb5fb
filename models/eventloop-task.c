/*
 * An eventloop task's life on its loop: a step, then what it asked for
 * armed (a uv_poll_t, a uv_timer_t, the ready queue that one uv_idle_t
 * runs, a sync park, the pool), until it ends.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif

#include "lib/clock.h"
#include "lib/err.h"
#include "models/eventloop.h"

#ifdef CONC_HAVE_UV
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

static void eventloop_on_idle(uv_idle_t *h);

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

void eventloop_live_put(struct eventloop_loop *lp)
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
 * here because a task's handle is only ever restarted, stopped or closed
 * right after that task's own step on this thread: no other task of this
 * loop ran in between, so the number is still this task's or free in this
 * loop.
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

/* Ends the task: closes its handles, records its result, frees its work. */
void eventloop_task_end(struct eventloop_task *t, int err)
{
    eventloop_task_end_at(t, err, 0);
}

/* The same, the task's end stamped end_ns (0: the clock now). */
void eventloop_task_end_at(struct eventloop_task *t, int err, uint64_t end_ns)
{
    struct eventloop_loop *lp = t->lp;

    eventloop_poll_close(t);
    if (t->timer_init)
        uv_close((uv_handle_t *)&t->timer, NULL);
    free(t->work); /* never in flight here: see eventloop_loop_stop */
    t->work = NULL;
    t->state = EVENTLOOP_DONE;
    conc_task_finish_at(lp->r, t->index, eventloop_task_mem(t), err, end_ns);
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
     * with its own syscalls. The handle stays started through the step:
     * after it, eventloop_after_step keeps it for a wait on the same fd
     * (eventloop_poll_still), restarts it for another or closes it,
     * before this loop runs another task or polls. Stopped here, it cost
     * a third epoll_ctl a wait: the restart's delete, of an fd the stop
     * had deleted, failing with ENOENT.
     */
    (void)status;
    (void)events;
    if (t->timer_init)
        uv_timer_stop(&t->timer);
    eventloop_step(t);
}

/*
 * Whether the task's handle, still started from its last wait, already
 * watches the fd for events: the common wait of a keep-alive connection,
 * the same fd read again. The step may have closed the fd and got the
 * same number back for a new file, which epoll no longer watches while
 * libuv thinks it does, so the registration is checked where it lives:
 * an EPOLL_CTL_MOD to what libuv registered (its events, the fd as data)
 * succeeds only if epoll still holds the fd's file, and changes nothing
 * then. One epoll_ctl, where uv_poll_start makes two (a delete and an
 * add). ENOENT: a new file; the caller starts the handle afresh.
 */
static bool eventloop_poll_still(struct eventloop_task *t, int events)
{
#ifdef __linux__
    uv_poll_t *p = t->poll;
    struct epoll_event ev;

    if (!uv_is_active((uv_handle_t *)p) || t->poll_events != events ||
        p->io_watcher.events != p->io_watcher.pevents)
        return false;
    memset(&ev, 0, sizeof(ev));
    ev.events = p->io_watcher.pevents;
    ev.data.fd = p->io_watcher.fd;
    return epoll_ctl(uv_backend_fd(&t->lp->loop), EPOLL_CTL_MOD,
                     p->io_watcher.fd, &ev) == 0;
#else
    (void)t;
    (void)events;
    return false;
#endif
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
    } else if (eventloop_poll_still(t, events)) {
        return 0;
    }
    t->poll_events = events;
    return uv_poll_start(t->poll, events, eventloop_on_poll);
}

void eventloop_ready_push(struct eventloop_task *t)
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

/*
 * Arms whatever the task asked for in w, or ends it. false when the step
 * must run again at once: the sync queue it would wait on already moved.
 */
bool eventloop_after_step(struct eventloop_task *t, int err,
                          const struct conc_wait *w)
{
    bool io = w->want == CONC_WAIT_READ || w->want == CONC_WAIT_WRITE;

    if (!err && w->want != CONC_DONE && t->lp->stopping)
        err = -EINTR;
    if (err || w->want == CONC_DONE) {
        eventloop_task_end_at(t, err, err ? 0 : w->end_ns);
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
        conc_wait_wake(w); /* as the step's last act would have */
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
void eventloop_step(struct eventloop_task *t)
{
    struct conc_wait w;
    uint64_t start_ns;
    int err;

    if (t->sync_err) {
        err = t->sync_err;
        t->sync_err = 0;
        eventloop_task_end(t, err);
        return;
    }
    /* The first step shares the reading the start was stamped with. */
    start_ns = t->state == EVENTLOOP_NEW ? t->lp->r->out[t->index].start_ns
                                         : 0;
    do {
        memset(&w, 0, sizeof(w));
        w.start_ns = start_ns;
        start_ns = 0;
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

#endif
