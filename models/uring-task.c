/*
 * A uring task's life on its ring: the ready queue, parks on sync queues
 * and wakes from other rings (a doorbell request), the poll and timeout
 * requests a wait becomes, a step and what follows it, the completions
 * reaped, and stopping.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/sync.h"
#include "models/uring.h"

#ifdef CONC_HAVE_URING
/* ---- the ready queue, parking and waking */

static void uring_ready_push(struct uring_task *t)
{
    struct uring_ring *rg = t->rg;

    t->state = URING_READY;
    t->next = NULL;
    if (rg->ready_tail)
        rg->ready_tail->next = t;
    else
        rg->ready_head = t;
    rg->ready_tail = t;
}

static void uring_parked_add(struct uring_ring *rg, struct uring_task *t)
{
    t->pprev = NULL;
    t->pnext = rg->parked_head;
    if (t->pnext)
        t->pnext->pprev = t;
    rg->parked_head = t;
    rg->parked++;
}

/* Takes a parked task off its ring's list (the queue's is another). */
static void uring_parked_del(struct uring_ring *rg, struct uring_task *t)
{
    if (t->pprev)
        t->pprev->pnext = t->pnext;
    else
        rg->parked_head = t->pnext;
    if (t->pnext)
        t->pnext->pprev = t->pprev;
    t->pprev = t->pnext = NULL;
    rg->parked--;
}

/*
 * Rings another ring's doorbell: a message (IORING_OP_MSG_RING) queued on
 * this thread's own ring, so it rides that ring's next io_uring_enter with
 * everything else instead of costing a syscall now; the target's wait
 * ends when the message lands in its completion queue. From a thread
 * without a ring (none in a uring run) or when the message cannot be
 * queued, the target still sees its remote list within URING_WATCH_NS.
 */
static void uring_doorbell(struct uring_ring *to)
{
    struct uring_ring *from = uring_cur;
    struct io_uring_sqe *sqe;

    if (!from || from == to)
        return;
    if (io_uring_sq_space_left(&from->ring) == 0 &&
        io_uring_submit(&from->ring) < 0)
        return;
    sqe = io_uring_get_sqe(&from->ring);
    if (!sqe)
        return;
    io_uring_prep_msg_ring(sqe, to->ring.ring_fd, 0, URING_UD_DOORBELL, 0);
    io_uring_sqe_set_data64(sqe, URING_UD_IGNORE);
}

/*
 * conc_waiter's wake: the sync queue released the task, on any thread. On
 * its own ring's thread (a task of the same ring unlocked) it goes straight
 * to the ready queue; from another ring it goes on the remote list, whose
 * release/acquire pair orders the waker's writes before the task's next
 * step, and a sleeping ring gets a doorbell.
 */
void uring_on_wake(struct conc_waiter *w)
{
    struct uring_task *t =
        (struct uring_task *)((char *)w - offsetof(struct uring_task, waiter));
    struct uring_ring *rg = t->rg;
    struct conc_runsync *s = rg->r->sync;
    struct uring_task *head;

    if (!atomic_exchange(&t->linked, false))
        return; /* its ring took it back (a stop) */
    if (s) {
        atomic_fetch_sub(&s->parked, 1);
        atomic_fetch_add(&s->unparks, 1);
    }
    if (uring_cur == rg) {
        uring_parked_del(rg, t);
        uring_ready_push(t);
        return;
    }
    head = atomic_load_explicit(&rg->remote, memory_order_relaxed);
    do
        t->rnext = head;
    while (!atomic_compare_exchange_weak_explicit(&rg->remote, &head, t,
                                                  memory_order_seq_cst,
                                                  memory_order_relaxed));
    if (atomic_load(&rg->sleeping) && atomic_exchange(&rg->sleeping, false))
        uring_doorbell(rg);
}

/* Moves what other rings woke to the ready queue, oldest first. */
void uring_take_remote(struct uring_ring *rg)
{
    struct uring_task *t, *fifo = NULL;

    if (!atomic_load_explicit(&rg->remote, memory_order_relaxed))
        return;
    t = atomic_exchange_explicit(&rg->remote, NULL, memory_order_acquire);
    while (t) {
        struct uring_task *next = t->rnext;
        t->rnext = fifo;
        fifo = t;
        t = next;
    }
    for (t = fifo; t; t = t->rnext)
        if (t->state == URING_PARKED) { /* not ended by a stop meanwhile */
            uring_parked_del(rg, t);
            uring_ready_push(t);
        }
}

/* Ends a task: records its result and frees what task_init made; its end
   stamped end_ns (0: the clock now). */
static void uring_task_end_at(struct uring_task *t, int err, uint64_t end_ns)
{
    struct uring_ring *rg = t->rg;

    if (t->state == URING_PARKED) {
        /* A stop: no wake came, or one is on its way and will find the
           task ended (uring_take_remote). */
        if (atomic_exchange(&t->linked, false)) {
            conc_waitq_unlink(t->q, &t->waiter);
            if (rg->r->sync)
                atomic_fetch_sub(&rg->r->sync->parked, 1);
        }
        uring_parked_del(rg, t);
    } else if (t->state == URING_WAIT) {
        rg->inflight--; /* its request is cancelled when the ring closes */
    }
    t->state = URING_DONE;
    conc_task_finish_at(rg->r, t->index, uring_task_mem(t), err, end_ns);
    rg->live--;
}

static void uring_task_end(struct uring_task *t, int err)
{
    uring_task_end_at(t, err, 0);
}

/*
 * Parks the task on w's sync queue, or makes it ready at once when the
 * queue's number moved since the step saw it. A run that a task's failure
 * or a deadlock stopped, or SIGINT, refuses new parks. 0 or -errno.
 */
static int uring_park(struct uring_task *t, const struct conc_wait *w)
{
    struct uring_ring *rg = t->rg;
    struct conc_runsync *s = rg->r->sync;
    int err;

    if (conc_interrupted)
        return -EINTR;
    if (s && (err = atomic_load(&s->abort)) != 0)
        return err;
    /* Counted before the link, so a wake's decrement never comes first. */
    if (s)
        atomic_fetch_add(&s->parked, 1);
    t->q = w->q;
    t->seq = w->seq;
    t->state = URING_PARKED;
    uring_parked_add(rg, t);
    atomic_store(&t->linked, true);
    if (!conc_waitq_link(w->q, w->seq, &t->waiter)) {
        atomic_store(&t->linked, false);
        if (s)
            atomic_fetch_sub(&s->parked, 1);
        uring_parked_del(rg, t);
        uring_ready_push(t);
    }
    return 0;
}

/* ---- requests */

/*
 * n free submission entries, the first returned: when fewer are left the
 * queued ones are submitted first (a pass that arms more requests than the
 * ring holds costs one more io_uring_enter). NULL with *err on failure.
 */
struct io_uring_sqe *uring_get_sqe(struct uring_ring *rg, unsigned n,
                                   int *err)
{
    int ret;

    if (io_uring_sq_space_left(&rg->ring) < n) {
        ret = io_uring_submit(&rg->ring);
        /* Under SQPOLL the kernel thread frees entries as it takes them. */
        while (ret >= 0 && io_uring_sq_space_left(&rg->ring) < n)
            ret = (rg->ring.flags & IORING_SETUP_SQPOLL)
                      ? io_uring_sqring_wait(&rg->ring) : -EBUSY;
        if (ret < 0) {
            *err = ret;
            return NULL;
        }
    }
    return io_uring_get_sqe(&rg->ring);
}

/*
 * A timeout request on the absolute CLOCK_MONOTONIC deadline, the clock
 * conc_now_ns() reads: the kernel's hrtimer fires at or after it, never
 * before, with no rounding to a millisecond.
 */
static int uring_arm_timeout(struct uring_task *t, uint64_t deadline_ns)
{
    struct io_uring_sqe *sqe;
    int err = 0;

    if (!(sqe = uring_get_sqe(t->rg, 1, &err)))
        return err;
    t->ts = uring_timespec(deadline_ns);
    io_uring_prep_timeout(sqe, &t->ts, 0, IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data(sqe, t);
    return 0;
}

/*
 * A one-shot poll request on the fd, and for a wait with a deadline a
 * timeout linked to it, which cancels the poll when it fires first (the
 * poll then completes with -ECANCELED) and is itself cancelled when the
 * poll completes: one request pair, and with IOSQE_CQE_SKIP_SUCCESS one
 * completion, the poll's. The request holds the file, not its number, so
 * a step that closes the fd and gets the number back later is no concern.
 *
 * Not multishot: the workload contract is level-triggered (call step when
 * the fd is ready) and a multishot poll reports edges, so a step that left
 * data unread would wait forever; re-arming costs one entry in a submit
 * that happens anyway, no syscall.
 */
static int uring_arm_poll(struct uring_task *t, const struct conc_wait *w)
{
    struct io_uring_sqe *sqe;
    int err = 0;

    if (!(sqe = uring_get_sqe(t->rg, w->deadline_ns ? 2 : 1, &err)))
        return err;
    io_uring_prep_poll_add(sqe, w->fd,
                           w->want == CONC_WAIT_READ ? POLLIN : POLLOUT);
    io_uring_sqe_set_data(sqe, t);
    if (!w->deadline_ns)
        return 0;
    sqe->flags |= IOSQE_IO_LINK;
    sqe = io_uring_get_sqe(&t->rg->ring);
    t->ts = uring_timespec(w->deadline_ns);
    io_uring_prep_link_timeout(sqe, &t->ts, IORING_TIMEOUT_ABS);
    sqe->flags |= t->rg->skip;
    io_uring_sqe_set_data64(sqe, URING_UD_IGNORE);
    return 0;
}

/* ---- steps */

/* Arms whatever the task asked for in w, or ends it. */
static void uring_after_step(struct uring_task *t, int err,
                             const struct conc_wait *w)
{
    if (err || w->want == CONC_DONE) {
        uring_task_end_at(t, err, err ? 0 : w->end_ns);
        return;
    }
    switch (w->want) {
    case CONC_YIELD:
        uring_ready_push(t);
        return;
    case CONC_WAIT_SYNC:
        conc_wait_wake(w); /* as the step's last act would have */
        err = uring_park(t, w);
        break;
    case CONC_WAIT_UNTIL:
        /* A deadline already past needs no request. (The loop's clock
           is behind, never ahead: a deadline it misses, its request
           completes at once.) */
        if (w->deadline_ns <= t->rg->now_ns) {
            uring_ready_push(t);
            return;
        }
        err = t->rg->slack_ns ? uring_timer_add(t, w->deadline_ns)
                              : uring_arm_timeout(t, w->deadline_ns);
        goto armed;
    case CONC_WAIT_READ:
    case CONC_WAIT_WRITE:
        if (w->deadline_ns && w->deadline_ns <= t->rg->now_ns) {
            uring_ready_push(t);
            return;
        }
        err = uring_arm_poll(t, w);
        goto armed;
    default:
        err = -EINVAL;
        break;
    }
    if (err)
        uring_task_end(t, err);
    return;
armed:
    if (err) {
        uring_task_end(t, err);
        return;
    }
    t->state = URING_WAIT;
    t->rg->inflight++;
}

void uring_step(struct uring_task *t)
{
    struct conc_wait w;
    int err;

    memset(&w, 0, sizeof(w));
    /* The first step shares the reading the start was stamped with. */
    if (t->state == URING_NEW)
        w.start_ns = t->rg->r->out[t->index].start_ns;
    err = t->rg->r->w->step(uring_task_mem(t), &w);
    uring_after_step(t, err, &w);
}

/*
 * One pass over the tasks that were ready when it began, each stepped
 * once; the ones they make ready wait for the next pass, after a look at
 * the completions, so I/O is never starved by yielders.
 */
void uring_pass(struct uring_ring *rg)
{
    struct uring_task *last = rg->ready_tail, *t;

    while ((t = rg->ready_head) != NULL && !conc_interrupted) {
        rg->ready_head = t->next;
        if (!rg->ready_head)
            rg->ready_tail = NULL;
        uring_step(t);
        if (t == last)
            break;
    }
}

void uring_wait_over(struct uring_task *t, int res)
{
    t->state = URING_READY; /* off the inflight count, not queued */
    t->rg->inflight--;
    /*
     * A poll's mask or a timeout's -ETIME; a poll whose linked deadline
     * came first is -ECANCELED. Either way step looks for itself. Any
     * other error is the ring's refusal of the request (a bad fd): it
     * ends the task rather than be asked again.
     */
    if (res < 0 && res != -ETIME && res != -ECANCELED)
        uring_task_end(t, res);
    else
        uring_step(t);
}

/* A completion: the end of a task's wait (or of a shared timeout's
   tasks'), or one to pass over. */
static void uring_complete(struct uring_ring *rg, uint64_t ud, int res)
{
    struct uring_task *t = (struct uring_task *)(uintptr_t)ud;

    if (ud == URING_UD_IGNORE || ud == URING_UD_DOORBELL ||
        ud == LIBURING_UDATA_TIMEOUT)
        return; /* a doorbell's tasks are on the remote list */
    if (ud & URING_UD_TIMER) {
        uring_timer_fire(rg, ud, res);
        return;
    }
    if (t->state != URING_WAIT)
        return; /* ended by a stop while its request was in the ring */
    uring_wait_over(t, res);
}

/* Takes every completion there is, and steps the tasks they end. */
void uring_reap(struct uring_ring *rg)
{
    struct io_uring_cqe *cqes[URING_CQE_BATCH];
    uint64_t ud[URING_CQE_BATCH];
    int res[URING_CQE_BATCH];
    unsigned n;

    do {
        n = io_uring_peek_batch_cqe(&rg->ring, cqes, URING_CQE_BATCH);
        for (unsigned i = 0; i < n; i++) {
            ud[i] = cqes[i]->user_data;
            res[i] = cqes[i]->res;
        }
        /* Freed before the steps, which may submit and complete more. */
        io_uring_cq_advance(&rg->ring, n);
        for (unsigned i = 0; i < n; i++)
            uring_complete(rg, ud[i], res[i]);
    } while (n == URING_CQE_BATCH);
}

/*
 * Submits what the pass queued and, with nothing ready to run, waits for
 * at least one completion or URING_WATCH_NS: one io_uring_enter for both.
 * 0 or -errno.
 */
int uring_wait(struct uring_ring *rg)
{
    struct __kernel_timespec ts = { 0, URING_WATCH_NS };
    struct io_uring_cqe *cqe;
    int ret;

    if (!rg->ready_head) {
        /* Announced before the last look at the remote list: a waker
           either pushed before it, or sees the flag and rings. */
        atomic_store(&rg->sleeping, true);
        if (!atomic_load(&rg->remote)) {
            ret = io_uring_submit_and_wait_timeout(&rg->ring, &cqe, 1, &ts,
                                                   NULL);
            atomic_store_explicit(&rg->sleeping, false, memory_order_relaxed);
            goto out;
        }
        atomic_store_explicit(&rg->sleeping, false, memory_order_relaxed);
    }
    /* Runnable tasks: hand over the requests, and do not wait. */
    ret = io_uring_sq_ready(&rg->ring) ? io_uring_submit(&rg->ring) : 0;
out:
    /* Waits that ended without a completion: the loop looks again. */
    if (ret == -ETIME || ret == -EINTR || ret == -EAGAIN || ret == -EBUSY)
        return 0;
    return ret < 0 ? ret : 0;
}

/* ---- stopping */

/* Ends every started task that is not done with err. O(tasks), once. */
void uring_stop(struct uring_ring *rg, int err)
{
    for (unsigned i = 0; i < rg->started; i++) {
        struct uring_task *t = uring_task_at(rg, i);
        if (t->state != URING_NEW && t->state != URING_DONE)
            uring_task_end(t, err);
    }
    rg->ready_head = rg->ready_tail = NULL;
}

/*
 * Resumes the parked tasks whose queue's number moved though no wake
 * picked them: a wake takes n waiters off the list, and were a task it
 * resumed to go on without passing the wake on, the others would have
 * nobody to wake them (the lock's woken waiter takes it marked awaited,
 * so its release wakes the next; this look is the net under that). The
 * blocking driver finds the same moved number when its futex wait times
 * out; this is that look. O(parked).
 */
static void uring_sync_scan(struct uring_ring *rg)
{
    struct conc_runsync *s = rg->r->sync;
    struct uring_task *t = rg->parked_head, *next;

    for (; t; t = next) {
        next = t->pnext;
        if (conc_waitq_seq(t->q) == t->seq ||
            !atomic_exchange(&t->linked, false))
            continue; /* still waiting, or a wake is on its way */
        conc_waitq_unlink(t->q, &t->waiter);
        if (s) {
            atomic_fetch_sub(&s->parked, 1);
            atomic_fetch_add(&s->unparks, 1);
        }
        uring_parked_del(rg, t);
        uring_ready_push(t);
    }
}

/*
 * With tasks parked, every CONC_SYNC_POLL_NS and whenever the ring has
 * nothing else to do: the scan above, then a failed task's abort or a
 * deadlock (every running task of the run parked: a single ring knows at
 * once, several after CONC_DEADLOCK_NS without a wake) ends the parked
 * tasks with its error; the others go on and meet the abort when they
 * next park. The abort alone is looked at every pass.
 */
void uring_sync_check(struct uring_ring *rg)
{
    const struct conc_run *r = rg->r;
    bool idle = !rg->ready_head && !rg->inflight;
    int err = 0;

    if (!rg->parked)
        return;
    if (r->sync)
        err = atomic_load_explicit(&r->sync->abort, memory_order_relaxed);
    if (!err) {
        uint64_t now = conc_now_ns();
        if (!idle && now < rg->scan_ns)
            return;
        rg->scan_ns = now + CONC_SYNC_POLL_NS;
        uring_sync_scan(rg);
        if (r->sync && rg->parked && !rg->ready_head &&
            conc_sync_deadlocked(r, &rg->since_ns, &rg->unparks))
            err = -EDEADLK;
    }
    while (err && rg->parked_head)
        uring_task_end(rg->parked_head, err);
}

#endif
