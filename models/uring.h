/*
 * The uring model's internal header: what its files share (uring.c, the
 * model and its rings; uring-task.c, a task's requests, steps and wakes),
 * and what its unit test reaches beyond the model object.
 */
#ifndef CONC_MODELS_URING_H
#define CONC_MODELS_URING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/model.h"

/*
 * Why this kernel refuses io_uring, for `list` and the exit-3 refusal:
 * from io_uring_setup's errno err (ENOSYS, EPERM, ...) and the value of
 * kernel.io_uring_disabled (-1: unreadable, as on kernels before 6.6),
 * written into buf (len bytes) and returned.
 */
const char *uring_refusal(int err, int disabled, char *buf, size_t len);

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
/* A shared timeout (uring-timer.c): its timer's address with this bit set. */
#define URING_UD_TIMER 1

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
    /* The clock as the loop last read it, at most a pass old: a deadline
       at or before it is past, with no clock read a step. */
    uint64_t now_ns;
    uint64_t since_ns, unparks; /* deadlock detection's state */
    atomic_bool *abort;  /* set when the run cannot start all its rings */
    int err;             /* the ring's own failure, 0 or -errno */
    pthread_t thread;
    /* Tasks other rings woke, pushed by their threads, and whether this
       ring's thread is in (or about to enter) its wait and needs a
       doorbell to see them. */
    _Atomic(struct uring_task *) remote;
    atomic_bool sleeping;
    /* Shared timeouts (uring-timer.c): the slot length (0: a request per
       sleep), and the slots in flight by number. */
    uint64_t slack_ns;
    struct uring_timer **ttbl;
    size_t tmask, ntimers;
};

/* The ring whose thread this is, for a wake to tell local from remote. */
extern _Thread_local struct uring_ring *uring_cur;

/* An absolute CLOCK_MONOTONIC time as a timeout request reads it. */
static inline struct __kernel_timespec uring_timespec(uint64_t ns)
{
    struct __kernel_timespec ts = { (long long)(ns / CONC_NS_PER_S),
                                    (long long)(ns % CONC_NS_PER_S) };
    return ts;
}

/* The workload's memory, after the header at the strictest alignment. */
#define URING_HDR                                                          \
    ((sizeof(struct uring_task) + _Alignof(max_align_t) - 1) &             \
     ~(_Alignof(max_align_t) - 1))

static inline void *uring_task_mem(struct uring_task *t)
{
    return (char *)t + URING_HDR;
}

static inline struct uring_task *uring_task_at(struct uring_ring *rg,
                                               unsigned i)
{
    return (struct uring_task *)(rg->tasks + (size_t)i * rg->stride);
}

/* ---- uring-task.c, for the ring's loop (uring.c) ---- */

/* n free submission entries, submitting the queued ones first when the
   queue lacks room; the first of them, or NULL with *err set. */
struct io_uring_sqe *uring_get_sqe(struct uring_ring *rg, unsigned n,
                                   int *err);

/* The end of t's wait (a completion's res): t steps, or ends on an error. */
void uring_wait_over(struct uring_task *t, int res);

/* A task's waiter's wake() (struct conc_waiter), on any thread. */
void uring_on_wake(struct conc_waiter *w);

/* One step of t, and its wait queued as a request (or t ended). */
void uring_step(struct uring_task *t);

/* Runs the tasks that were ready when the pass began, once each. */
void uring_pass(struct uring_ring *rg);

/* Moves the tasks other rings woke onto the ready queue. */
void uring_take_remote(struct uring_ring *rg);

/* Submits what is queued and waits for a completion or the watch period;
   0 or -errno. */
int uring_wait(struct uring_ring *rg);

/* Takes every completion from the ring and acts on it. */
void uring_reap(struct uring_ring *rg);

/* With tasks parked: ends them on an abort or a deadlock found. */
void uring_sync_check(struct uring_ring *rg);

/* Ends every unfinished task of rg with err. */
void uring_stop(struct uring_ring *rg, int err);

/* ---- uring-timer.c: sleeps that share a timeout request ---- */

/* Queues t (about to be URING_WAIT) on the slot of deadline_ns, arming the
   slot's request when it is new. 0 or -errno. */
int uring_timer_add(struct uring_task *t, uint64_t deadline_ns);

/* A shared timeout's completion (its user_data ud): every task on it. */
void uring_timer_fire(struct uring_ring *rg, uint64_t ud, int res);

/* Frees the timers, once the ring is closed. */
void uring_timers_free(struct uring_ring *rg);

#endif /* CONC_HAVE_URING */

#endif
