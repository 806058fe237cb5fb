/*
 * The eventloop model's internals, shared by its files: eventloop.c (the
 * model and its loops), eventloop-task.c (a task's steps and waits),
 * eventloop-sync.c (parks on sync queues, wakes from other threads) and
 * eventloop-pool.c (libuv's thread pool).
 */
#ifndef CONC_MODELS_EVENTLOOP_H
#define CONC_MODELS_EVENTLOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/model.h"

#define EVENTLOOP_POOL_MAX 1024 /* libuv's MAX_THREADPOOL_SIZE since 1.30 */

#ifdef CONC_HAVE_UV
#include <uv.h>

/* The descriptors one loop opens: its epoll, the eventfd of libuv's own
   async handles and our wakefd. */
#define EVENTLOOP_LOOP_FDS 3

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
    int poll_events;             /* what it was last started with */
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
extern _Thread_local struct eventloop_loop *eventloop_self;

/* The workload's memory, after the header at the strictest alignment. */
#define EVENTLOOP_HDR                                                      \
    ((sizeof(struct eventloop_task) + _Alignof(max_align_t) - 1) &         \
     ~(_Alignof(max_align_t) - 1))

static inline void *eventloop_task_mem(struct eventloop_task *t)
{
    return (char *)t + EVENTLOOP_HDR;
}

static inline struct eventloop_task *
eventloop_task_at(struct eventloop_loop *lp, unsigned i)
{
    return (struct eventloop_task *)(lp->tasks + (size_t)i * lp->stride);
}

/* ---- eventloop-task.c ---- */

/* One step of t on its loop thread, and what it asked for armed. */
void eventloop_step(struct eventloop_task *t);

/*
 * Arms what w asks for after a step that returned err, or ends the task.
 * false when the step must run again at once (its sync queue moved).
 */
bool eventloop_after_step(struct eventloop_task *t, int err,
                          const struct conc_wait *w);

/* Ends t with err: closes its handles, records its result. */
void eventloop_task_end(struct eventloop_task *t, int err);
void eventloop_task_end_at(struct eventloop_task *t, int err, uint64_t end_ns);

/* Puts t at the tail of its loop's ready queue. */
void eventloop_ready_push(struct eventloop_task *t);

/* Drops a hold on lp; the last closes its loop handles. */
void eventloop_live_put(struct eventloop_loop *lp);

/* ---- eventloop-sync.c ---- */

/* Parks t on w's queue: 0 parked, 1 step again now, or -errno (an abort). */
int eventloop_sync_park(struct eventloop_task *t, const struct conc_wait *w);

/* After a task of lp failed: ends lp's parks and alerts the other loops. */
void eventloop_sync_failed(struct eventloop_loop *lp);

/* Ends lp's parks on an abort, or (deadlock set) on a deadlock found. */
void eventloop_sync_check(struct eventloop_loop *lp, bool deadlock);

/* A park of lp is over (a stop ended it). */
void eventloop_nsync_down(struct eventloop_loop *lp);

/* A task's waiter's wake() (struct conc_waiter), on any thread. */
void eventloop_on_sync_wake(struct conc_waiter *w);

/* lp's wakefd was written: drains the remote list, looks at aborts. */
void eventloop_on_wakefd(uv_poll_t *h, int status, int events);

/* ---- eventloop-pool.c ---- */

/*
 * Starts libuv's process-wide state, and its pool when mp says offload=on,
 * outside any timed run; refuses a pool size other than the running one.
 * 0 or -errno, reported.
 */
int eventloop_prepare(const struct conc_params *mp);

/* The loops' threads, and with offload=on the pool's (conc_model's
   os_threads). */
unsigned eventloop_os_threads(const struct conc_params *mp, unsigned tasks);

/* Runs t's next steps on the pool (offload=on). */
void eventloop_offload(struct eventloop_task *t);

#endif /* CONC_HAVE_UV */
#endif
