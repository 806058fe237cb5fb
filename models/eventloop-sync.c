/*
 * eventloop's waits on sync queues (lib/sync.h): a task parks, and a wake
 * from its own loop readies it at once, while one from another thread
 * goes through the loop's lock-free remote list and, only when the loop
 * may be blocked in epoll, its eventfd; aborts and deadlocks end parks.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>

#include "models/eventloop.h"

#ifdef CONC_HAVE_UV
static void eventloop_on_prepare(uv_prepare_t *h);
static void eventloop_on_check(uv_check_t *h);

/* Wakes lp's thread out of epoll. */
static void eventloop_kick(struct eventloop_loop *lp)
{
    uint64_t one = 1;

    if (write(lp->wakefd, &one, sizeof(one)) < 0) {
        /* The counter is only full after 2^64-2 wakes. */
    }
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

/*
 * After a task failed, which set the run's sync abort: this loop's parked
 * tasks end now (once: later parks fail at once), the other loops are
 * alerted.
 */
void eventloop_sync_failed(struct eventloop_loop *lp)
{
    eventloop_sync_alert(lp);
    if (!lp->abort_seen && lp->nsync && !lp->stopping) {
        lp->abort_seen = true;
        eventloop_sync_check(lp, false);
    }
}

static struct eventloop_task *eventloop_of_waiter(struct conc_waiter *w)
{
    return (struct eventloop_task *)((char *)w -
                                     offsetof(struct eventloop_task, waiter));
}

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
void eventloop_nsync_down(struct eventloop_loop *lp)
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
void eventloop_on_sync_wake(struct conc_waiter *w)
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
void eventloop_sync_check(struct eventloop_loop *lp, bool deadlock)
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
void eventloop_on_wakefd(uv_poll_t *h, int status, int events)
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
int eventloop_sync_park(struct eventloop_task *t,
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

#endif
