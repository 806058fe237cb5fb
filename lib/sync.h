/*
 * Coordination between tasks, the same under every model: a wait queue in
 * the shape of a futex, and the lock, semaphore and event built on it. A
 * task never blocks in step(): when it cannot go on it returns
 * CONC_WAIT_SYNC with the queue and the queue's sequence number it saw
 * (conc_waitq_prepare), and its model parks it in its own way until a
 * waker bumps the number (conc_waitq_wake):
 *   threads, fork      a futex on the sequence word (process-shared, so
 *                      fork's children wait on memory they share)
 *   green, eventloop   the task's waiter node in the queue's list, woken
 *                      onto its scheduler's run queue, across threads too
 *   sequential         nothing else can run: a wait that nothing woke is a
 *                      deadlock, and the task fails with EDEADLK
 * The park is conditional ("only while the number is still what I saw"),
 * so a wake between the check and the park is never lost. Objects that
 * tasks of a fork run share must live in conc_shm_alloc() memory; they
 * contain no pointers a child could not use (the waiter list is for
 * green and eventloop, which never fork).
 */
#ifndef CONC_SYNC_H
#define CONC_SYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A waiter a green or eventloop model links into a queue while its task is
 * parked. wake() is called by the waker, on any thread, after the node was
 * unlinked; the model then makes the task runnable on its own scheduler.
 * The model sets wake; the links belong to the queue.
 */
struct conc_waiter {
    struct conc_waiter *next, *prev;
    void (*wake)(struct conc_waiter *w);
    bool linked; /* in a queue's list, under that queue's lock */
};

struct conc_waitq {
    _Atomic uint32_t seq;      /* bumped by every wake: the futex word (a
                                  lock's state: see conc_lock) */
    _Atomic uint32_t sleepers; /* OS threads in a futex wait on seq */
    _Atomic uint32_t linked;   /* waiters in the list (changed under
                                  lock), for a waker on another thread;
                                  on one thread (conc_sync_local) nothing
                                  reads it, and it stays 0 */
    _Atomic uint32_t slept;    /* an OS thread has slept on seq (sticky) */
    atomic_flag lock;          /* guards the list below */
    struct conc_waiter *head, *tail; /* tail: while head (link_tail) */
};

#define CONC_WAKE_ALL UINT32_MAX

/*
 * Says that, until it is called with false, every task of the run steps on
 * this one OS thread of this one process (a model with one scheduler, loop
 * or ring, or sequential): the objects then take no locked instruction.
 * The model calls it before its run starts any thread or task (a task's
 * init may choose its code by it), and again after.
 */
void conc_sync_set_local(bool local);

/* The flag: written only by conc_sync_set_local. */
extern atomic_bool conc_sync_local_flag;

/* Whether the run is on one thread. Inline (a plain load on x86 and
   arm64): the histograms and the task counts ask it at every add, too.
   Relaxed: it changes only between runs, ordered before the run by the
   threads' creation or its end. */
static inline bool conc_sync_local(void)
{
    return atomic_load_explicit(&conc_sync_local_flag, memory_order_relaxed);
}

/* *p += d, the old value returned: seq_cst, or a plain load and store
   while the run is on one thread (local, as conc_sync_local() says). */
static inline uint32_t conc_sync_add32_as(_Atomic uint32_t *p, uint32_t d,
                                          bool local)
{
    uint32_t v;

    if (!local)
        return atomic_fetch_add_explicit(p, d, memory_order_seq_cst);
    v = atomic_load_explicit(p, memory_order_relaxed);
    atomic_store_explicit(p, v + d, memory_order_relaxed);
    return v;
}

static inline uint32_t conc_sync_add32(_Atomic uint32_t *p, uint32_t d)
{
    return conc_sync_add32_as(p, d, conc_sync_local());
}

/* *p = v, the old value returned: with order mo, or a plain load and
   store while the run is on one thread. */
static inline uint32_t conc_sync_xchg32(_Atomic uint32_t *p, uint32_t v,
                                        memory_order mo)
{
    uint32_t old;

    if (!conc_sync_local())
        return atomic_exchange_explicit(p, v, mo);
    old = atomic_load_explicit(p, memory_order_relaxed);
    atomic_store_explicit(p, v, memory_order_relaxed);
    return old;
}

/* *p = v if it is *expect (true, acquire), else *expect = *p (false); as
   plain accesses while the run is on one thread. */
static inline bool conc_sync_cas32(_Atomic uint32_t *p, uint32_t *expect,
                                   uint32_t v)
{
    uint32_t cur;

    if (!conc_sync_local())
        return atomic_compare_exchange_strong_explicit(
            p, expect, v, memory_order_acquire, memory_order_relaxed);
    cur = atomic_load_explicit(p, memory_order_relaxed);
    if (cur != *expect) {
        *expect = cur;
        return false;
    }
    atomic_store_explicit(p, v, memory_order_relaxed);
    return true;
}

/* An empty queue (also what zeroed memory is, but for the flag). */
void conc_waitq_init(struct conc_waitq *q);

/* The sequence number a waiter must see unchanged to park: read it before
   the check that decides to wait. */
static inline uint32_t conc_waitq_seq(struct conc_waitq *q)
{
    return atomic_load_explicit(&q->seq, memory_order_acquire);
}

/*
 * Wakes up to n tasks parked on q (CONC_WAKE_ALL: every one), and makes
 * any task about to park on an older number retry instead. Safe from any
 * thread or process sharing q.
 */
void conc_waitq_wake(struct conc_waitq *q, uint32_t n);

/*
 * The list's own steps, under its lock or on one thread, for the inline
 * paths below and lib/sync.c. link_tail: w at the tail. pop_head: the
 * first waiter (there is one) out; after this nothing of it is written.
 * head says whether the list is empty; tail is its last waiter only while
 * it is not (a pop that empties it leaves tail as it was: a store and a
 * branch fewer on each handoff of a lock one task waits for).
 */
static inline void conc_waitq_link_tail(struct conc_waitq *q,
                                        struct conc_waiter *w)
{
    w->next = NULL;
    if (q->head) {
        w->prev = q->tail;
        q->tail->next = w;
    } else {
        w->prev = NULL;
        q->head = w;
    }
    q->tail = w;
    w->linked = true;
}

static inline struct conc_waiter *conc_waitq_pop_head(struct conc_waitq *q)
{
    struct conc_waiter *w = q->head;

    q->head = w->next;
    if (q->head)
        q->head->prev = NULL;
    /* Its next and prev are left: nothing reads them while it is not
       linked (conc_waitq_unlink looks at linked first), and a link sets
       both. */
    w->linked = false;
    return w;
}

/* conc_waitq_link where other threads may wake: under the list's lock. */
bool conc_waitq_link_shared(struct conc_waitq *q, uint32_t seq,
                            struct conc_waiter *w);

/* conc_waitq_link where the run is on one thread (conc_sync_local), as
   its caller knows: no waker can come between the look and the link, and
   no lock. */
static inline bool conc_waitq_link_local(struct conc_waitq *q, uint32_t seq,
                                         struct conc_waiter *w)
{
    if (atomic_load_explicit(&q->seq, memory_order_relaxed) != seq)
        return false;
    conc_waitq_link_tail(q, w);
    return true;
}

/*
 * For green and eventloop: links w into q unless q's number moved past
 * seq. true when w is linked (the model parks its task; w->wake will
 * come), false when the caller should run the step again at once.
 */
static inline bool conc_waitq_link(struct conc_waitq *q, uint32_t seq,
                                   struct conc_waiter *w)
{
    if (!conc_sync_local())
        return conc_waitq_link_shared(q, seq, w);
    return conc_waitq_link_local(q, seq, w);
}

/*
 * On one thread: takes q's first waiter, if any, out of its list and
 * wakes it (conc_waitq_wake(q, 1), with the number already moved).
 */
static inline void conc_waitq_wake_head(struct conc_waitq *q)
{
    struct conc_waiter *w = q->head;

    if (!w)
        return;
    conc_waitq_pop_head(q);
    w->wake(w);
}

/*
 * For green and eventloop, when a parked task must stop waiting without a
 * wake (SIGINT, a failed task's abort, a deadlock): takes w, linked into q,
 * out of it, in O(1). true when it was still linked: no wake will come.
 * false when a waker popped it first: its wake() is coming or came, and
 * the model must expect it.
 */
bool conc_waitq_unlink(struct conc_waitq *q, struct conc_waiter *w);

/*
 * For the blocking driver: sleeps on q's futex while its number is seq,
 * at most timeout_ns (0: no limit), so the caller can look at a stop flag
 * now and then. 0 (woken, or the number had moved, or the time was up) or
 * -EINTR on a signal.
 */
int conc_waitq_sleep(struct conc_waitq *q, uint32_t seq, uint64_t timeout_ns);

/*
 * A mutex: Drepper's "Futexes are tricky" mutex 2, glibc's own, with its
 * state as the queue's number (q.seq): 0 free, 1 held, 2 held and maybe
 * awaited. conc_lock_try() takes it, or returns false with the number to
 * wait on in *seq (2: the park lasts while the lock is held and awaited):
 * the step then returns CONC_WAIT_SYNC on &l->q with it, and tries again
 * when run again. *waited is the caller's memory of its own last try on
 * this lock (false at first; the try keeps it): a task that waited takes
 * the lock as 2, as Drepper's waiter does after its wait, so the release
 * wakes whoever still waits; one that did not takes a free lock as 1. A
 * release that finds 2 wakes one waiter; once an OS thread has slept on
 * the lock it always makes the wake call, as glibc does (threads, fork),
 * and a green or eventloop run, whose waiters are linked, makes none.
 */
struct conc_lock {
    struct conc_waitq q;
};

void conc_lock_init(struct conc_lock *l);

/* A release's wake, out of line: the fast paths below are inline, as
   glibc's lock and unlock are a few instructions at their call. */
void conc_lock_wake(struct conc_lock *l);

static inline bool conc_lock_try(struct conc_lock *l, bool *waited,
                                 uint32_t *seq)
{
    uint32_t c = 0;

    if (!*waited && conc_sync_cas32(&l->q.seq, &c, 1))
        return true;
    /* Taken, or this task waited for it: mark it awaited (the number a
       park lasts while), and it is ours if that found it free. */
    *seq = 2;
    *waited = conc_sync_xchg32(&l->q.seq, 2, memory_order_acquire) != 0;
    return !*waited;
}

static inline void conc_lock_release(struct conc_lock *l)
{
    /* seq_cst: before the wake's look at the sleepers and the list. */
    if (conc_sync_xchg32(&l->q.seq, 0, memory_order_seq_cst) == 2)
        conc_lock_wake(l);
}

/*
 * A FIFO lock: a ticket lock on the wait queue, in asyncio.Lock's order.
 * Each acquire takes a ticket, and the queue's number is the ticket served
 * now: a release serves the next one, so it hands the lock to the task
 * that has waited longest, and a task that asks again at once queues
 * behind it where conc_lock's would take it back (barge). Every contended
 * acquire is then a handoff; under threads, each is a wake and a sleep (a
 * lock convoy). A release wakes the one waiter next in line where the run
 * is on one thread (its waiters are linked in ticket order: each links as
 * soon as its try fails), and every waiter otherwise (futex sleepers and
 * other schedulers' waiters queue in no known order): all but one park
 * again, so with W tasks waiting W-1 of a handoff's W wakes are a herd.
 */
struct conc_fifo_lock {
    struct conc_waitq q;   /* q.seq: the ticket served now */
    _Atomic uint32_t next; /* the next ticket to hand out */
};

/* A task's place in one FIFO lock's line: zeroed at first; the try keeps
   it, and a task holds at most one ticket at a time. */
struct conc_fifo_turn {
    uint32_t ticket;
    bool queued; /* holds a ticket not yet served */
};

void conc_fifo_init(struct conc_fifo_lock *l);

/* Takes the lock, or returns false with the number to wait on: the step
   then returns CONC_WAIT_SYNC on &l->q with it, and tries again with the
   same turn when run again. _as: the caller says whether the run is on
   one thread (local), where it knows. */
static inline bool conc_fifo_try_as(struct conc_fifo_lock *l,
                                    struct conc_fifo_turn *me, uint32_t *seq,
                                    bool local)
{
    uint32_t s;

    if (!me->queued) {
        me->ticket = conc_sync_add32_as(&l->next, 1, local);
        me->queued = true;
    }
    s = atomic_load_explicit(&l->q.seq, memory_order_acquire);
    if (s == me->ticket) {
        me->queued = false;
        return true;
    }
    *seq = s;
    return false;
}

static inline bool conc_fifo_try(struct conc_fifo_lock *l,
                                 struct conc_fifo_turn *me, uint32_t *seq)
{
    return conc_fifo_try_as(l, me, seq, conc_sync_local());
}

/* conc_fifo_release where other threads or processes may wait. */
void conc_fifo_release_shared(struct conc_fifo_lock *l);

/*
 * On one thread (conc_sync_local): serves the next ticket, and returns
 * the waiter it is for, out of the list but not yet woken (NULL: none
 * waits). The caller calls its wake (w->wake(w)), when it likes: nothing
 * else runs meanwhile, so a wake made after the caller's own next try and
 * park is the same wake, and a caller can then keep no register across
 * the call. The waiters are linked in ticket order: the head's is next.
 */
static inline struct conc_waiter *
conc_fifo_serve_local(struct conc_fifo_lock *l)
{
    uint32_t s = atomic_load_explicit(&l->q.seq, memory_order_relaxed);

    atomic_store_explicit(&l->q.seq, s + 1, memory_order_relaxed);
    return l->q.head ? conc_waitq_pop_head(&l->q) : NULL;
}

/* Serves the next ticket, and wakes its task. On one thread the release
   is a store and, with a waiter, the head's unlink and its wake's call. */
static inline void conc_fifo_release(struct conc_fifo_lock *l)
{
    struct conc_waiter *w;

    if (!conc_sync_local()) {
        conc_fifo_release_shared(l);
        return;
    }
    w = conc_fifo_serve_local(l);
    if (w)
        w->wake(w);
}

/*
 * A counting semaphore (queue slots and items, a pool of forks):
 * conc_sem_try() takes one unit or returns false with the number to wait
 * on, as conc_lock_try(); conc_sem_post() adds n and wakes as many of the
 * tasks that may wait. A failed try leaves a token in `waiters`, and a
 * post wakes only for tokens it takes (as glibc's sem_post wakes only for
 * its counted waiters): a producer that posts item after item while its
 * consumer is still on its way back from a wake makes no wake syscall for
 * each, which the queue's sleepers count alone would (the sleeper counts
 * itself out only once it runs again). A token left over (a try that
 * found a unit on its second look and a post took the token first) costs
 * one wake that finds no one, never a lost one.
 */
struct conc_sem {
    _Atomic int64_t count;
    _Atomic uint32_t waiters; /* failed tries not yet woken */
    struct conc_waitq q;
};

void conc_sem_init(struct conc_sem *s, int64_t count);
bool conc_sem_try(struct conc_sem *s, uint32_t *seq);
void conc_sem_post(struct conc_sem *s, uint32_t n);

/*
 * An event (threading.Event, gevent.event.Event): waiters wait until it is
 * set; set() wakes every one of them, clear() makes later waiters wait
 * again. conc_event_is_set() false gives the number to wait on.
 */
struct conc_event {
    _Atomic uint32_t set;
    struct conc_waitq q;
};

void conc_event_init(struct conc_event *e);
bool conc_event_is_set(struct conc_event *e, uint32_t *seq);
void conc_event_set(struct conc_event *e);
void conc_event_clear(struct conc_event *e);

/*
 * Memory every task of a run can write, forked children included
 * (MAP_SHARED | MAP_ANONYMOUS): where a workload's setup puts the state its
 * tasks mutate and its sync objects. Zeroed. NULL on failure (errno set).
 * It goes with the process: nothing is left behind (no /dev/shm name).
 */
void *conc_shm_alloc(size_t size);
void conc_shm_free(void *p, size_t size);

#endif
