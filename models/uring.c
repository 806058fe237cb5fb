/*
 * uring: tasks as under eventloop, on one io_uring per worker thread: an fd
 * wait is a poll request, a deadline a timeout request (linked to the poll
 * when a wait has both), and the requests every task of a pass made go to
 * the kernel in one io_uring_enter, which also waits for the next
 * completions. It measures what a completion ring saves over epoll.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/proc.h"
#include "lib/sync.h"
#include "models/limits.h"
#include "models/model.h"
#include "models/uring.h"

#define URING_WORKERS_MAX 1024
#define URING_ENTRIES_MAX 32768 /* the kernel's IORING_MAX_ENTRIES */

/* Declared even without liburing, so `list` and option parsing stay put. */
static const struct conc_opt uring_opts[] = {
    { "workers", CONC_OPT_COUNT, "1", "rings, each on its own OS thread; "
      "tasks are split between them (at most one ring per task)", NULL, 1,
      URING_WORKERS_MAX },
    { "entries", CONC_OPT_COUNT, "256", "submission queue of each ring "
      "(rounded up to a power of 2; at least 2, a poll and its linked "
      "timeout): the requests one io_uring_enter hands over; the completion "
      "queue holds one completion per task", NULL, 2, URING_ENTRIES_MAX },
    { "sqpoll", CONC_OPT_BOOL, "off", "a kernel thread per ring takes "
      "requests off its submission queue (IORING_SETUP_SQPOLL): no syscall "
      "to submit, a thread that polls while requests come", NULL, 0, 0 },
    { NULL },
};

const char *uring_refusal(int err, int disabled, char *buf, size_t len)
{
    if (err == EPERM && disabled == 2)
        snprintf(buf, len, "the kernel refuses io_uring: it is disabled "
                 "(kernel.io_uring_disabled=2)");
    else if (err == EPERM && disabled == 1)
        snprintf(buf, len, "the kernel refuses io_uring: it is disabled for "
                 "processes outside the group kernel.io_uring_group "
                 "(kernel.io_uring_disabled=1)");
    else if (err == EPERM)
        snprintf(buf, len, "the kernel refuses io_uring: io_uring_setup "
                 "failed with EPERM (a seccomp filter or a security module "
                 "forbids it)");
    else if (err == ENOSYS)
        snprintf(buf, len, "the kernel refuses io_uring: io_uring_setup "
                 "failed with ENOSYS (a kernel without io_uring, or a "
                 "seccomp filter that hides it)");
    else
        snprintf(buf, len, "the kernel refuses io_uring: io_uring_setup "
                 "failed: %s", strerror(err));
    return buf;
}

#ifdef CONC_HAVE_URING
#include <liburing.h>

/*
 * How often each ring looks at conc_interrupted, a failed task's abort and
 * deadlock while it waits: the wait's own timeout (IORING_ENTER_EXT_ARG,
 * no request). A signal ends the wait of the thread it lands on at once;
 * the other rings see the flag within this period, as eventloop's do.
 */
#define URING_WATCH_NS (25 * CONC_NS_PER_MS)

/* Completions taken from the ring at a time. */
#define URING_CQE_BATCH 64

/* The completion queue's bounds: the kernel's IORING_MAX_CQ_ENTRIES, and
   room beyond the tasks for doorbells. */
#define URING_CQ_MAX 65536
#define URING_CQ_SPARE 64

/*
 * What a completion's user_data names: a task (its wait is over), or one
 * of these, below any task's address. LIBURING_UDATA_TIMEOUT is liburing's
 * own wait timeout on kernels without IORING_FEAT_EXT_ARG.
 */
#define URING_UD_IGNORE 1   /* a doorbell sent, a linked timeout */
#define URING_UD_DOORBELL 2 /* another ring woke one of our tasks */

enum uring_state {
    URING_NEW,    /* not started (or its task_init failed) */
    URING_READY,  /* in the ready queue */
    URING_WAIT,   /* its poll or timeout request is in the ring */
    URING_PARKED, /* its waiter is in a sync queue */
    URING_DONE,   /* finished */
};

struct uring_ring;

/* One task; the workload's task memory follows it (uring_task_mem). */
struct uring_task {
    struct uring_ring *rg;
    struct uring_task *next;  /* the ready queue */
    struct uring_task *rnext; /* the remote list (woken from another ring) */
    struct conc_waiter waiter;
    struct conc_waitq *q;     /* the queue it is parked on ... */
    uint32_t seq;             /* ... and the number it saw there */
    atomic_bool linked;       /* parked, and no wake has claimed it yet */
    struct uring_task *pprev, *pnext; /* the ring's parked tasks */
    unsigned char state;
    unsigned index;           /* into r->out */
    /* A timeout's deadline, read by the kernel when the request is
       submitted, which may be after the step that asked for it. */
    struct __kernel_timespec ts;
};

/* One ring and the tasks [first, first + n) of the run that it drives. */
struct uring_ring {
    struct io_uring ring;
    unsigned char skip;  /* IOSQE_CQE_SKIP_SUCCESS, when the kernel has it */
    const struct conc_run *r;
    char *tasks;         /* n tasks of stride bytes */
    size_t stride;
    unsigned id, first, n, started;
    unsigned live;       /* started and not finished */
    unsigned inflight;   /* tasks whose request is in the ring */
    unsigned parked;     /* tasks parked on a sync queue */
    struct uring_task *ready_head, *ready_tail;
    struct uring_task *parked_head;
    uint64_t scan_ns;    /* when the parked tasks are next looked at */
    uint64_t since_ns, unparks; /* deadlock detection's state */
    atomic_bool *abort;  /* set when the run cannot start all its rings */
    int err;             /* the ring's own failure, 0 or -errno */
    pthread_t thread;
    /* Tasks other rings woke, pushed by their threads, and whether this
       ring's thread is in (or about to enter) its wait and needs a
       doorbell to see them. */
    _Atomic(struct uring_task *) remote;
    atomic_bool sleeping;
};

/* The ring whose thread this is, for a wake to tell local from remote. */
static _Thread_local struct uring_ring *uring_cur;

/* The workload's memory, after the header at the strictest alignment. */
#define URING_HDR                                                          \
    ((sizeof(struct uring_task) + _Alignof(max_align_t) - 1) &             \
     ~(_Alignof(max_align_t) - 1))

static void *uring_task_mem(struct uring_task *t)
{
    return (char *)t + URING_HDR;
}

static struct uring_task *uring_task_at(struct uring_ring *rg, unsigned i)
{
    return (struct uring_task *)(rg->tasks + (size_t)i * rg->stride);
}

/* ---- whether the kernel allows io_uring: asked once, at process start */

/*
 * Set at start-up, before main, when the kernel refuses io_uring: then the
 * model is listed and refused like one compiled out (exit 3), with the
 * kernel's reason. The model object is writable for this alone.
 */
static char uring_why[200];

/* kernel.io_uring_disabled (Linux 6.6+), or -1. */
static int uring_disabled_sysctl(void)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    int v = -1;

    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/*
 * io_uring_setup with no entries: a kernel that lets this process use
 * io_uring looks at the request and answers EINVAL, having made nothing; a
 * kernel without it, or a seccomp filter, answers ENOSYS; one that forbids
 * it (kernel.io_uring_disabled, a filter, a security module) EPERM. About
 * a microsecond, once per process.
 */
static const char *uring_refused; /* NULL: io_uring is allowed */

static void uring_probe_once(void)
{
    struct io_uring_params p;
    int saved = errno, err;
    long fd;

    memset(&p, 0, sizeof(p));
    fd = syscall(__NR_io_uring_setup, 0u, &p);
    err = fd < 0 ? errno : 0;
    if (fd >= 0)
        close((int)fd); /* no kernel accepts 0 entries; had one, it works */
    else if (err != EINVAL)
        uring_refused = uring_refusal(err, err == EPERM
                                               ? uring_disabled_sysctl() : -1,
                                      uring_why, sizeof(uring_why));
    errno = saved;
}

/* The model's refusal hook: asked the first time, kept after. */
static const char *uring_probe(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, uring_probe_once);
    return uring_refused;
}

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
static void uring_on_wake(struct conc_waiter *w)
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
static void uring_take_remote(struct uring_ring *rg)
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

/* Ends a task: records its result and frees what task_init made. */
static void uring_task_end(struct uring_task *t, int err)
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
    conc_task_finish(rg->r, t->index, uring_task_mem(t), err);
    rg->live--;
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
static struct io_uring_sqe *uring_sqe(struct uring_ring *rg, unsigned n,
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

static void uring_ts(struct uring_task *t, uint64_t deadline_ns)
{
    t->ts.tv_sec = (long long)(deadline_ns / CONC_NS_PER_S);
    t->ts.tv_nsec = (long long)(deadline_ns % CONC_NS_PER_S);
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

    if (!(sqe = uring_sqe(t->rg, 1, &err)))
        return err;
    uring_ts(t, deadline_ns);
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

    if (!(sqe = uring_sqe(t->rg, w->deadline_ns ? 2 : 1, &err)))
        return err;
    io_uring_prep_poll_add(sqe, w->fd,
                           w->want == CONC_WAIT_READ ? POLLIN : POLLOUT);
    io_uring_sqe_set_data(sqe, t);
    if (!w->deadline_ns)
        return 0;
    sqe->flags |= IOSQE_IO_LINK;
    sqe = io_uring_get_sqe(&t->rg->ring);
    uring_ts(t, w->deadline_ns);
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
        uring_task_end(t, err);
        return;
    }
    switch (w->want) {
    case CONC_YIELD:
        uring_ready_push(t);
        return;
    case CONC_WAIT_SYNC:
        err = uring_park(t, w);
        break;
    case CONC_WAIT_UNTIL:
        /* A deadline already past needs no request. */
        if (w->deadline_ns <= conc_now_ns()) {
            uring_ready_push(t);
            return;
        }
        err = uring_arm_timeout(t, w->deadline_ns);
        goto armed;
    case CONC_WAIT_READ:
    case CONC_WAIT_WRITE:
        if (w->deadline_ns && w->deadline_ns <= conc_now_ns()) {
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

static void uring_step(struct uring_task *t)
{
    struct conc_wait w;
    int err;

    memset(&w, 0, sizeof(w));
    err = t->rg->r->w->step(uring_task_mem(t), &w);
    uring_after_step(t, err, &w);
}

/*
 * One pass over the tasks that were ready when it began, each stepped
 * once; the ones they make ready wait for the next pass, after a look at
 * the completions, so I/O is never starved by yielders.
 */
static void uring_pass(struct uring_ring *rg)
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

/* A completion: the end of a task's wait, or one to pass over. */
static void uring_complete(struct uring_ring *rg, uint64_t ud, int res)
{
    struct uring_task *t = (struct uring_task *)(uintptr_t)ud;

    if (ud == URING_UD_IGNORE || ud == URING_UD_DOORBELL ||
        ud == LIBURING_UDATA_TIMEOUT)
        return; /* a doorbell's tasks are on the remote list */
    if (t->state != URING_WAIT)
        return; /* ended by a stop while its request was in the ring */
    t->state = URING_READY; /* off the inflight count, not queued */
    rg->inflight--;
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

/* Takes every completion there is, and steps the tasks they end. */
static void uring_reap(struct uring_ring *rg)
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
static int uring_wait(struct uring_ring *rg)
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
static void uring_stop(struct uring_ring *rg, int err)
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
 * picked them: a wake takes n waiters off the list, and a task resumed by
 * one may take the lock without marking it awaited, leaving the others
 * with nobody to wake them. The blocking driver finds the same moved
 * number when its futex wait times out; this is that look. O(parked).
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
static void uring_sync_check(struct uring_ring *rg)
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

/* ---- one ring */

/* Runs one opened ring over its tasks, until every task has ended. */
static void uring_ring_run(struct uring_ring *rg)
{
    const struct conc_run *r = rg->r;
    int err;

    uring_cur = rg;
    rg->tasks = conc_xcalloc(rg->n ? rg->n : 1, rg->stride);
    for (unsigned i = 0; i < rg->n; i++) {
        struct uring_task *t = uring_task_at(rg, i);
        t->rg = rg;
        t->index = rg->first + i;
        t->waiter.wake = uring_on_wake;
        atomic_init(&t->linked, false);
    }
    /* Every task's first step, their requests queued for one submit. */
    for (; rg->started < rg->n && !conc_interrupted; rg->started++) {
        struct uring_task *t = uring_task_at(rg, rg->started);
        if (conc_task_start(r, t->index, uring_task_mem(t)))
            continue; /* recorded in out[]; nothing to release */
        rg->live++;
        uring_step(t);
    }
    while (rg->live) {
        if (conc_interrupted) {
            uring_stop(rg, -EINTR);
            break;
        }
        if (atomic_load_explicit(rg->abort, memory_order_relaxed)) {
            uring_stop(rg, -ECANCELED);
            break;
        }
        uring_pass(rg);
        uring_take_remote(rg);
        /* After the pass: a ring it left with only parked tasks looks at
           them before it would wait. */
        uring_sync_check(rg);
        if (!rg->live)
            break;
        if (!rg->ready_head && !rg->inflight && !rg->parked &&
            !io_uring_sq_ready(&rg->ring) &&
            !atomic_load(&rg->remote)) {
            /* Only a model bug gets here: tasks with nothing armed. */
            rg->err = conc_error_msg(-EIO, "io_uring ring %u ran out of "
                                     "requests with %u tasks unfinished",
                                     rg->id, rg->live);
            uring_stop(rg, -EIO);
            break;
        }
        err = uring_wait(rg);
        if (err) {
            rg->err = conc_error(err, "cannot wait on io_uring ring %u",
                                 rg->id);
            uring_stop(rg, err);
            break;
        }
        uring_reap(rg);
        uring_take_remote(rg);
    }
    /* Doorbells the last steps queued for other rings. */
    if (io_uring_sq_ready(&rg->ring))
        io_uring_submit(&rg->ring);
    uring_cur = NULL;
}

static void *uring_thread(void *arg)
{
    struct uring_ring *rg = arg;

    uring_ring_run(rg);
    conc_worker_end(rg->r);
    return NULL;
}

/*
 * The next power of two from n, within the completion queue's bounds: a
 * queue with room for every task's completion never overflows into the
 * kernel's (slower, allocating) overflow list.
 */
static unsigned uring_cq_size(uint64_t n)
{
    unsigned p = 1;

    while (p < n && p < URING_CQ_MAX)
        p <<= 1;
    return p;
}

/*
 * Sets up one ring. SUBMIT_ALL keeps submitting past a request the kernel
 * refuses; COOP_TASKRUN lets completions wait for the ring's next syscall
 * rather than interrupt a running step (TASKRUN_FLAG tells liburing when
 * to enter for them); kernels before 5.19 lack them, so they are dropped
 * on EINVAL. Under SQPOLL (which refuses COOP_TASKRUN) each ring has a
 * kernel thread of its own: rings sharing one (IORING_SETUP_ATTACH_WQ),
 * each driven from its own thread, lost the completions of polls whose
 * linked timeout fired (Linux 6.18), and the run hung. 0 or -errno,
 * reported.
 */
static int uring_ring_open(struct uring_ring *rg, unsigned entries,
                           bool sqpoll, unsigned workers)
{
    unsigned extra = IORING_SETUP_SUBMIT_ALL;
    unsigned cq = uring_cq_size((uint64_t)rg->n + URING_CQ_SPARE);
    struct io_uring_params p;
    int err;

    if (!sqpoll)
        extra |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    if (cq < 2 * uring_cq_size(entries))
        cq = 2 * uring_cq_size(entries);
    for (int tries = 0; tries < 2; tries++) {
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE | (tries ? 0 : extra);
        p.cq_entries = cq;
        if (sqpoll)
            p.flags |= IORING_SETUP_SQPOLL;
        err = io_uring_queue_init_params(entries, &rg->ring, &p);
        if (err != -EINVAL)
            break;
    }
    if (err)
        return conc_error(err, "cannot set up io_uring ring %u of %u "
                          "(entries=%u%s)", rg->id, workers, entries,
                          sqpoll ? ", sqpoll=on" : "");
    rg->skip = (p.features & IORING_FEAT_CQE_SKIP) ? IOSQE_CQE_SKIP_SUCCESS
                                                   : 0;
    return 0;
}

/*
 * The first ring a process sets up costs more than the next ones (the
 * kernel's first io_uring objects, liburing's pages): paid once, from
 * check, outside any timed run, as eventloop starts libuv's process-wide
 * state there. 0 or -errno, reported.
 */
static int uring_prepare(void)
{
    static atomic_bool done;
    struct io_uring ring;
    struct io_uring_cqe *cqe;
    int err;

    if (atomic_load(&done))
        return 0;
    err = conc_proc_fds_check(1, "an io_uring ring");
    if (err)
        return err;
    err = io_uring_queue_init(8, &ring, 0);
    if (err)
        return conc_error(err, "cannot set up an io_uring ring");
    io_uring_prep_nop(io_uring_get_sqe(&ring));
    if (io_uring_submit_and_wait(&ring, 1) == 1 &&
        io_uring_peek_cqe(&ring, &cqe) == 0)
        io_uring_cqe_seen(&ring, cqe);
    io_uring_queue_exit(&ring);
    atomic_store(&done, true);
    return 0;
}

static int uring_check(const struct conc_params *mp, unsigned tasks)
{
    uint64_t workers = conc_param_u64(mp, "workers");
    int err;

    if (workers > tasks)
        workers = tasks;
    if (workers > 1 &&
        (err = conc_limits_check_tasks((unsigned long)workers - 1,
                                       "threads")) != 0)
        return err;
    return uring_prepare();
}

static int uring_run(struct conc_run *r)
{
    unsigned workers = conc_model_workers(r->mp, r->tasks);
    unsigned entries = (unsigned)conc_param_u64(r->mp, "entries");
    bool sqpoll = conc_param_bool(r->mp, "sqpoll");
    size_t stride = URING_HDR + ((r->w->task_size + _Alignof(max_align_t) -
                                  1) & ~(_Alignof(max_align_t) - 1));
    struct uring_ring *rgs;
    atomic_bool abort = false;
    unsigned started = 1, opened = 0;
    int err;

    rgs = conc_xcalloc(workers, sizeof(*rgs));
    for (unsigned k = 0; k < workers; k++) {
        rgs[k].r = r;
        rgs[k].id = k;
        rgs[k].first = (unsigned)((uint64_t)r->tasks * k / workers);
        rgs[k].n = (unsigned)((uint64_t)r->tasks * (k + 1) / workers) -
                   rgs[k].first;
        rgs[k].stride = stride;
        rgs[k].abort = &abort;
        atomic_init(&rgs[k].remote, NULL);
        atomic_init(&rgs[k].sleeping, false);
    }
    /*
     * Every ring is set up here and closed here after the joins, not on
     * its own thread: liburing closes the ring with a raw syscall that
     * ThreadSanitizer cannot see (as libuv's loops, in eventloop). Inside
     * the timed run: a ring is the model's own per-run cost.
     */
    err = conc_proc_fds_check((long)workers, "the io_uring rings");
    while (!err && opened < workers) {
        err = uring_ring_open(&rgs[opened], entries, sqpoll, workers);
        if (err) {
            started = 0; /* no thread to join */
            break;
        }
        opened++;
    }
    /* Ring 0 runs on this thread, the others on theirs. */
    for (; !err && started < workers; started++) {
        err = -pthread_create(&rgs[started].thread, NULL, uring_thread,
                              &rgs[started]);
        if (err) {
            /* The rings already running stop within a watch period. */
            conc_error(err, "cannot start the thread of io_uring ring %u "
                       "of %u", started, workers);
            atomic_store(&abort, true);
            break;
        }
    }
    if (!err)
        uring_ring_run(&rgs[0]);
    for (unsigned k = 1; k < started; k++)
        pthread_join(rgs[k].thread, NULL);
    /* Closing a ring cancels what is left in it; only then may the task
       memory its requests name go. */
    for (unsigned k = 0; k < opened; k++)
        io_uring_queue_exit(&rgs[k].ring);
    for (unsigned k = 0; k < workers; k++) {
        if (!err)
            err = rgs[k].err;
        free(rgs[k].tasks);
    }
    free(rgs);
    if (conc_interrupted)
        return -EINTR;
    return err;
}

/*
 * Ring 0 runs on the main thread, the others on new threads: a task may
 * get either stack, so the smaller counts (0, unlimited, is no bound).
 */
static uint64_t uring_stack_size(const struct conc_params *mp)
{
    uint64_t main = conc_main_stack(), thread = conc_thread_stack();

    if (conc_param_present(mp, "workers") && conc_param_u64(mp, "workers") > 1
        && thread && (!main || thread < main))
        return thread;
    return main;
}

/* Writable: uring_probe marks it unavailable when the kernel refuses. */
const struct conc_model conc_model_uring = {
    .name = "uring",
    .summary = "tasks on one io_uring per worker thread: poll and timeout "
               "requests, submitted in batches",
    .opts = uring_opts,
    .refusal = uring_probe,
    .check = uring_check,
    .run = uring_run,
    .stack_size = uring_stack_size,
};

#else /* !CONC_HAVE_URING */

const struct conc_model conc_model_uring = {
    .name = "uring",
    .summary = "tasks on one io_uring per worker thread",
    .opts = uring_opts,
    .unavailable = "built without liburing",
};

#endif
