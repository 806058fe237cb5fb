/*
 * counter: T tasks each apply `increments` updates to one shared counter,
 * under a lock of the sync layer (mutex), a spinlock from Concurrency Kit
 * (spin, ticket, mcs), one atomic add, or nothing at all. It measures what
 * contention costs under each model, and with lock=none the updates a race
 * loses: a measurement, not a failure. `count += 1` under threading.Lock,
 * and the FakeDatabase whose unlocked update loses writes.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/sync.h"
#include "workloads/workload.h"

#ifdef CONC_HAVE_CK
#include <ck_spinlock.h>
#endif

/* Updates one step may apply before it yields, so cooperative models
   interleave the tasks as a real program's would. */
#define COUNTER_STEP_UPDATES 256
/* Waits a task keeps before it adds them to the run's histogram. */
#define COUNTER_WAIT_BATCH 32
/*
 * Which contended waits are timed (counter_draw_skip): a task's first
 * COUNTER_TIME_FIRST, then one in COUNTER_TIME_ONE_IN, at random, while
 * the waits are short; every one once a timed wait took
 * COUNTER_TIME_ALL_NS or more, where two TSC reads are lost in it.
 */
#define COUNTER_TIME_FIRST 256
#define COUNTER_TIME_ONE_IN 32
#define COUNTER_TIME_ALL_NS 10000
#define COUNTER_MAX (1ull << 40)

/* Where a task's current acquire stands (counter_task.wait). */
enum { COUNTER_NO_WAIT, COUNTER_WAIT_UNTIMED, COUNTER_WAIT_TIMED };

enum counter_lock {
    COUNTER_MUTEX, COUNTER_SPIN, COUNTER_TICKET, COUNTER_MCS, COUNTER_ATOMIC,
    COUNTER_NONE,
};

static const struct conc_opt counter_opts[] = {
    { "increments", CONC_OPT_COUNT, "100000", "updates each task applies",
      NULL, 1, COUNTER_MAX },
    { "lock", CONC_OPT_CHOICE, "mutex", "what guards an update: the sync "
      "layer's lock (waits as the model waits), a spinlock of Concurrency "
      "Kit (spin: test-and-set; ticket: FIFO; mcs: a queue, one cache line "
      "a waiter), one atomic add, or none (a racy read, then write)",
      "mutex|spin|ticket|mcs|atomic|none", 0, 0 },
    { "hold", CONC_OPT_DURATION, "0", "busy work inside the critical section "
      "(a bare number is ms; 200ns, 1us)", NULL, 0, CONC_NS_PER_S },
    { "outside", CONC_OPT_DURATION, "0", "busy work between updates",
      NULL, 0, CONC_NS_PER_S },
    { "fair", CONC_OPT_BOOL, "off", "with lock=mutex: a release hands the "
      "lock to the task that has waited longest (FIFO, as asyncio.Lock "
      "does), where by default a task that asks again at once takes it "
      "back (barges, as threading.Lock and gevent's Semaphore do)", NULL, 0,
      0 },
    { "yield_inside", CONC_OPT_BOOL, "off", "give up the CPU between reading "
      "the counter and writing it back (where even cooperative models lose "
      "updates without a lock)", NULL, 0, 0 },
    { "fail_at", CONC_OPT_COUNT, "0", "for testing: task 0 fails at its "
      "update N while it holds the lock (0: never)", NULL, 0, COUNTER_MAX },
    { NULL },
};

/* What the tasks mutate, in memory every task of the run shares. */
struct counter_mut {
    _Atomic uint64_t count;
    struct conc_lock lock;
    struct conc_fifo_lock fifo; /* lock=mutex fair=on */
    atomic_uint finished;    /* tasks whose result is in */
    struct conc_hist wait;   /* contended acquires' waits (the rest are 0) */
#ifdef CONC_HAVE_CK
    ck_spinlock_fas_t spin;
    ck_spinlock_ticket_t ticket;
    ck_spinlock_mcs_t mcs;
    struct ck_spinlock_mcs nodes[]; /* one per task: MCS queues them */
#endif
};

struct counter_shared {
    enum counter_lock lock;
    uint64_t increments, hold_ns, outside_ns, fail_at;
    bool yield_inside, fair;
    unsigned tasks;
    uint64_t time_all_ticks; /* COUNTER_TIME_ALL_NS in conc_ticks() */
    struct counter_mut *mut;
    size_t mut_bytes;
};

struct counter_task {
    const struct counter_shared *sh;
    conc_step_fn *step; /* made for the run's options (counter_step) */
    struct counter_mut *mut; /* sh->mut, a load nearer */
    struct conc_waitq *q; /* what a wait for the lock parks on */
    unsigned index;
    bool holding;         /* read the counter, not yet written back */
    bool waited;          /* its last try of the lock failed (conc_lock) */
    uint8_t wait;         /* the current acquire: COUNTER_NO_WAIT, or
                             it had to wait (timed from wait_from, or not) */
    struct conc_fifo_turn turn; /* its ticket, fair=on */
    uint64_t left;        /* updates still to apply (a count down: one
                             instruction an update tests it) */
    uint64_t seen;        /* the value read, before it is written back */
    uint64_t wait_from;   /* when the current acquire first had to wait, in
                             conc_ticks(): its end is read inside the
                             critical section, which a clock read (30 ns
                             here) would lengthen */
    uint64_t free_takes;  /* acquires that found the lock free */
    uint64_t last_wait;   /* the latest timed wait, in ticks, not yet in
                             the buffer: it stands for itself and the
                             untimed waits after it */
    uint32_t last_reps;   /* how many that is (0: no timed wait yet) */
    uint32_t ntimed;      /* timed waits so far (to COUNTER_TIME_FIRST) */
    uint32_t skip;        /* contended waits left untimed before the
                             next timed one */
    uint32_t rng;         /* xorshift32 state: draws skip */
    unsigned nwaits;      /* contended acquires' waits not yet added */
    /* Last, past the fields every update touches: */
    uint64_t waits[COUNTER_WAIT_BATCH]; /* in ticks, until added */
    uint32_t reps[COUNTER_WAIT_BATCH];  /* the waits each stands for */
};

static int counter_check(const struct conc_params *p, unsigned tasks)
{
    uint64_t lock = conc_param_u64(p, "lock");

    (void)tasks;
#ifndef CONC_HAVE_CK
    if (lock == COUNTER_SPIN || lock == COUNTER_TICKET || lock == COUNTER_MCS)
        return conc_error_msg(-ENOTSUP, "lock=%s needs Concurrency Kit, and "
                              "this build is without it (install libck-dev "
                              "and rebuild)", conc_param_str(p, "lock"));
#endif
    if (conc_param_u64(p, "fail_at") > conc_param_u64(p, "increments"))
        return conc_error_msg(-EINVAL, "fail_at=%llu is past increments=%llu",
                              (unsigned long long)conc_param_u64(p, "fail_at"),
                              (unsigned long long)conc_param_u64(p,
                                                                 "increments"));
    if (lock != COUNTER_MUTEX && conc_param_bool(p, "fair"))
        return conc_error_msg(-EINVAL, "fair=on orders the waiters of "
                              "lock=mutex, not lock=%s (lock=ticket is the "
                              "FIFO spinlock)", conc_param_str(p, "lock"));
    if (lock == COUNTER_ATOMIC && conc_param_bool(p, "yield_inside"))
        return conc_error_msg(-EINVAL, "lock=atomic is one indivisible add: "
                              "there is no inside to yield in (drop "
                              "yield_inside)");
    if (lock == COUNTER_ATOMIC && conc_param_u64(p, "hold"))
        return conc_error_msg(-EINVAL, "lock=atomic holds nothing: 'hold' "
                              "needs a lock (use 'outside')");
    return 0;
}

static bool counter_spins(const struct conc_params *p)
{
    uint64_t lock = conc_param_u64(p, "lock");

    return lock == COUNTER_SPIN || lock == COUNTER_TICKET ||
           lock == COUNTER_MCS;
}

static void counter_run_start(void *shared)
{
    struct counter_shared *sh = shared;
    struct counter_mut *m = sh->mut;

    atomic_store(&m->count, 0);
    atomic_store(&m->finished, 0);
    conc_hist_init(&m->wait);
    conc_lock_init(&m->lock);
    conc_fifo_init(&m->fifo);
#ifdef CONC_HAVE_CK
    ck_spinlock_fas_init(&m->spin);
    ck_spinlock_ticket_init(&m->ticket);
    ck_spinlock_mcs_init(&m->mcs);
#endif
}

static int counter_setup(void **shared, const struct conc_params *p,
                         unsigned tasks)
{
    struct counter_shared *sh = calloc(1, sizeof(*sh));

    if (!sh)
        return conc_error(-ENOMEM, "cannot allocate the counter");
    conc_ticks_calibrate(); /* for the waits (counter_wait_end) */
    sh->lock = (enum counter_lock)conc_param_u64(p, "lock");
    sh->increments = conc_param_u64(p, "increments");
    sh->hold_ns = conc_param_u64(p, "hold");
    sh->outside_ns = conc_param_u64(p, "outside");
    sh->yield_inside = conc_param_bool(p, "yield_inside");
    sh->fair = conc_param_bool(p, "fair");
    sh->fail_at = conc_param_u64(p, "fail_at");
    sh->tasks = tasks;
    sh->time_all_ticks =
        conc_ticks_are_ns
            ? COUNTER_TIME_ALL_NS
            : (uint64_t)((double)COUNTER_TIME_ALL_NS / conc_ns_per_tick);
    /* Shared memory: fork's children update the very same counter, with
       the very same lock, as multiprocessing.Value with its lock does. */
    sh->mut_bytes = sizeof(*sh->mut);
#ifdef CONC_HAVE_CK
    sh->mut_bytes += (size_t)tasks * sizeof(sh->mut->nodes[0]);
#endif
    sh->mut = conc_shm_alloc(sh->mut_bytes);
    if (!sh->mut) {
        int err = conc_error(-errno, "cannot map the shared counter");
        free(sh);
        return err;
    }
    counter_run_start(sh);
    *shared = sh;
    return 0;
}

static void counter_teardown(void *shared)
{
    struct counter_shared *sh = shared;

    conc_shm_free(sh->mut, sh->mut_bytes);
    free(sh);
}

static conc_step_fn *counter_step_for(const struct counter_shared *sh);

static int counter_task_init(void *task, void *shared, unsigned index,
                             unsigned tasks)
{
    struct counter_task *t = task;

    (void)tasks;
    memset(t, 0, sizeof(*t));
    t->sh = shared;
    t->step = counter_step_for(shared);
    t->mut = t->sh->mut;
    t->q = t->sh->fair ? &t->mut->fifo.q : &t->mut->lock.q;
    t->left = t->sh->increments;
    t->index = index;
    t->rng = 2654435761u * (index + 1) | 1; /* nonzero, a stream a task */
    return 0;
}

/* Updates the task has applied (it counts down what is left). */
static inline uint64_t counter_done(const struct counter_task *t)
{
    return t->sh->increments - t->left;
}

/* Busy work for ns, on the clock (0: none, and no clock read). */
static void counter_busy(uint64_t ns)
{
    uint64_t end;

    if (!ns)
        return;
    end = conc_now_ns() + ns;
    while (conc_now_ns() < end)
        ;
}

/*
 * Which contended waits are timed. A TSC read is 20-40 cycles (12-21 ns
 * on the VMs measured), and one of a wait's two is inside the critical
 * section: where waits are as short as a green handoff, timing every one
 * made the handoff 1.5-1.8x slower on a 2 GHz VM, and one in 8 still
 * 11-14% (docs/workloads.md). So, as Go's runtime samples its scheduling
 * latencies, a task times its first COUNTER_TIME_FIRST waits (a short run
 * is timed whole), then one in COUNTER_TIME_ONE_IN, at random, and each
 * timed wait stands for the untimed ones after it: every acquire is still
 * counted, the percentiles are estimated from the sample. After a timed
 * wait, the number of waits to leave untimed is drawn (uniform, 0 to
 * 2(COUNTER_TIME_ONE_IN - 1)): the choice is made before those waits
 * begin, so their lengths cannot bias it, and an untimed wait costs a
 * decrement. Every wait after one of COUNTER_TIME_ALL_NS or more (a sleep
 * in the kernel, a long hold) is timed, where two reads cost under 1%.
 */
static uint32_t counter_draw_skip(struct counter_task *t, uint64_t waited)
{
    uint32_t x = t->rng;

    if (t->ntimed < COUNTER_TIME_FIRST) {
        t->ntimed++;
        return 0;
    }
    if (waited >= t->sh->time_all_ticks)
        return 0;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    t->rng = x;
    return x % (2 * COUNTER_TIME_ONE_IN - 1);
}

/* The latest timed wait, with the untimed ones it stood for, into the
   task's buffer. */
static inline void counter_push_last(struct counter_task *t)
{
    t->waits[t->nwaits] = t->last_wait;
    t->reps[t->nwaits++] = t->last_reps;
}

/* The buffered waits, to the shared histogram: as a timed wait begins
   with the buffer full (counter_wait_begin_timed), or with last, the
   latest timed wait too, when the task is done. */
static void counter_flush_waits(struct counter_task *t, bool last)
{
    if (last && t->last_reps) {
        if (t->nwaits == COUNTER_WAIT_BATCH)
            counter_flush_waits(t, false); /* room for it */
        counter_push_last(t);
        t->last_reps = 0;
    }
    for (unsigned i = 0; i < t->nwaits; i++)
        t->waits[i] = conc_ticks_ns(t->waits[i]);
    conc_hist_add_many_atomic(&t->sh->mut->wait, t->waits, t->reps,
                              t->nwaits);
    t->nwaits = 0;
}

/*
 * The timed ends of a wait, out of line (a clock read may be a call) and
 * returning a step's 0: a step can end with one as a jump, and its own
 * path then makes no call and saves no register (counter_take_yield_as).
 */
static __attribute__((noinline)) int
counter_wait_begin_timed(struct counter_task *t)
{
    /* Not holding the lock (its try failed), and before the clock read:
       the buffer's adds are in no critical section and no wait. A timed
       wait's end pushes at most one, and each comes after a begin. */
    if (t->nwaits == COUNTER_WAIT_BATCH)
        counter_flush_waits(t, false);
    t->wait = COUNTER_WAIT_TIMED;
    t->wait_from = conc_ticks();
    return 0;
}

static int counter_wait_end_timed(struct counter_task *t);

/* A contended acquire begins to wait. 0, for a step to return. */
static inline int counter_wait_begin(struct counter_task *t)
{
    if (__builtin_expect(t->skip != 0, 1)) { /* all but one in 32 */
        t->skip--;
        t->wait = COUNTER_WAIT_UNTIMED;
        return 0;
    }
    return counter_wait_begin_timed(t);
}

/*
 * Its wait is over, the lock taken: a timed wait into the task's buffer
 * (the one before it, with the untimed ones it stood for), an untimed one
 * onto the last timed one's count. A store in the critical section,
 * where the shared histogram's locked adds, four a wait, on lines both
 * threads write, were (in a bare two-thread loop of conc_lock) 5-10 ns an
 * update; counter_flush_waits adds a buffer's worth at once, outside
 * the lock, as a later timed wait begins. 0, for a step to return.
 */
static inline int counter_wait_end_untimed(struct counter_task *t)
{
    t->wait = COUNTER_NO_WAIT;
    t->last_reps++;
    return 0;
}

static inline int counter_wait_end(struct counter_task *t)
{
    if (t->wait == COUNTER_WAIT_UNTIMED)
        return counter_wait_end_untimed(t);
    return counter_wait_end_timed(t);
}

static __attribute__((noinline)) int
counter_wait_end_timed(struct counter_task *t)
{
    uint64_t d;

    t->wait = COUNTER_NO_WAIT;
    d = conc_ticks() - t->wait_from;
    if (t->last_reps)
        counter_push_last(t);
    t->last_wait = d;
    t->last_reps = 1;
    t->skip = counter_draw_skip(t, d);
    return 0;
}

/*
 * The step, its acquire and its release are written once, always inline,
 * with the lock kind, fair and plain (no hold, no outside, no fail_at) as
 * arguments, and made into one function for any options and one for each
 * sync-layer lock without extras (counter_step): the compiler drops every
 * test those decide, from an update that is a few dozen instructions.
 */
#define COUNTER_INLINE static inline __attribute__((always_inline))

/* Tries the sync layer's lock (FIFO or not); seq: what a wait waits on;
   local: the run is on one thread (conc_sync_local()). */
COUNTER_INLINE bool counter_mutex_try(struct counter_task *t,
                                      struct counter_mut *m, bool fair,
                                      uint32_t *seq, bool local)
{
    return fair ? conc_fifo_try_as(&m->fifo, &t->turn, seq, local)
                : conc_lock_try(&m->lock, &t->waited, seq);
}

/* The try took it: the wait it had, if any, ends. 0, for a step to
   return. */
COUNTER_INLINE int counter_took(struct counter_task *t)
{
    /* The untimed end first: the common one where a task waits at each
       acquire. */
    if (t->wait == COUNTER_WAIT_UNTIMED)
        return counter_wait_end_untimed(t);
    if (t->wait != COUNTER_NO_WAIT)
        return counter_wait_end_timed(t);
    t->free_takes++;
    return 0;
}

/* The try failed: w says what to wait on, and the wait begins unless it
   has; next, a waiter the step's release served (NULL: none), is left
   to the model to wake (conc_wait's wake). 0, for a step to return; last,
   since its clock read may be a call. */
COUNTER_INLINE int counter_park(struct counter_task *t, struct conc_wait *w,
                                uint32_t seq, struct conc_waiter *next)
{
    w->want = CONC_WAIT_SYNC;
    w->q = t->q;
    w->seq = seq;
    w->wake = next;
    /* Its acquire's first failed try, a wait that begins, is the common
       one (each park of a handoff's). */
    if (__builtin_expect(t->wait == COUNTER_NO_WAIT, 1))
        return counter_wait_begin(t);
    return 0;
}

/*
 * Takes the lock. false when the sync layer's lock is taken: w then says
 * what to wait on, the step returns, and the model runs it again.
 */
COUNTER_INLINE bool counter_acquire(struct counter_task *t,
                                    struct conc_wait *w,
                                    enum counter_lock lock, bool fair)
{
    struct counter_mut *m = t->mut;
    uint32_t seq;

    switch (lock) {
    case COUNTER_MUTEX:
        if (counter_mutex_try(t, m, fair, &seq, conc_sync_local())) {
            counter_took(t);
            return true;
        }
        counter_park(t, w, seq, NULL);
        return false;
#ifdef CONC_HAVE_CK
    case COUNTER_SPIN:
    case COUNTER_TICKET:
    case COUNTER_MCS: {
        struct ck_spinlock_mcs *node = &m->nodes[t->index];
        bool got = lock == COUNTER_SPIN ? ck_spinlock_fas_trylock(&m->spin)
                   : lock == COUNTER_TICKET
                       ? ck_spinlock_ticket_trylock(&m->ticket)
                       : ck_spinlock_mcs_trylock(&m->mcs, node);
        if (got) {
            t->free_takes++;
            return true;
        }
        /* A spinlock spins right here, in the step: that is what it is. */
        counter_wait_begin(t);
        if (lock == COUNTER_SPIN)
            ck_spinlock_fas_lock(&m->spin);
        else if (lock == COUNTER_TICKET)
            ck_spinlock_ticket_lock(&m->ticket);
        else
            ck_spinlock_mcs_lock(&m->mcs, node);
        counter_wait_end(t);
        return true;
    }
#endif
    default:
        return true; /* none: nothing to take */
    }
}

COUNTER_INLINE void counter_release(struct counter_task *t,
                                    enum counter_lock lock, bool fair)
{
    struct counter_mut *m = t->mut;

    switch (lock) {
    case COUNTER_MUTEX:
        if (fair)
            conc_fifo_release(&m->fifo);
        else
            conc_lock_release(&m->lock);
        break;
#ifdef CONC_HAVE_CK
    case COUNTER_SPIN:
        ck_spinlock_fas_unlock(&m->spin);
        break;
    case COUNTER_TICKET:
        ck_spinlock_ticket_unlock(&m->ticket);
        break;
    case COUNTER_MCS:
        ck_spinlock_mcs_unlock(&m->mcs, &m->nodes[t->index]);
        break;
#endif
    default:
        break;
    }
}

/*
 * Reads the counter, the lock held: the update's first half. m is t->mut,
 * which a caller that has it in a register passes: an atomic access is a
 * barrier to the compiler, which reloads t->mut after one.
 */
COUNTER_INLINE void counter_read(struct counter_task *t,
                                 struct counter_mut *m)
{
    t->seen = atomic_load_explicit(&m->count, memory_order_relaxed);
    t->holding = true;
}

/* Takes the lock and reads the counter: false when the step must park
   (w says on what). */
COUNTER_INLINE bool counter_take(struct counter_task *t, struct conc_wait *w,
                                 enum counter_lock lock, bool fair,
                                 bool plain)
{
    if (!counter_acquire(t, w, lock, fair))
        return false;
    counter_read(t, t->mut);
    if (!plain)
        counter_busy(t->sh->hold_ns);
    return true;
}

/* Writes the update back, the lock still held (m: as for counter_read). */
COUNTER_INLINE void counter_write(struct counter_task *t,
                                  struct counter_mut *m)
{
    atomic_store_explicit(&m->count, t->seen + 1, memory_order_relaxed);
    t->holding = false;
}

/* Writes the update back and releases the lock. */
COUNTER_INLINE void counter_put(struct counter_task *t,
                                enum counter_lock lock, bool fair,
                                bool plain)
{
    counter_write(t, t->mut);
    counter_release(t, lock, fair);
    t->left--;
    if (!plain)
        counter_busy(t->sh->outside_ns);
}

/* The task is done: its last waits to the histogram, next woken first
   (a waiter the step's release served and handed back,
   conc_fifo_serve_local; a step that parks leaves it to the model:
   counter_park). Out of line: a step ends with it as a jump. */
static __attribute__((noinline)) int counter_finish(struct counter_task *t,
                                                    struct conc_wait *w,
                                                    struct conc_waiter *next)
{
    if (next)
        next->wake(next);
    counter_flush_waits(t, true);
    w->want = CONC_DONE;
    return 0;
}

/*
 * One step: up to COUNTER_STEP_UPDATES updates, then a yield, so
 * cooperative models interleave the tasks. The update reads and writes with
 * relaxed atomics, never plain racy accesses: without a lock a race loses
 * updates exactly as `count += 1` does in Python, and no undefined
 * behaviour keeps the sanitizers quiet.
 */
COUNTER_INLINE int counter_step_as(struct counter_task *t,
                                   struct conc_wait *w,
                                   enum counter_lock lock, bool fair,
                                   bool plain, bool yield)
{
    const struct counter_shared *sh = t->sh;

    for (unsigned n = 0; n < COUNTER_STEP_UPDATES; n++) {
        if (!t->left)
            return counter_finish(t, w, NULL);
        if (lock == COUNTER_ATOMIC) {
            atomic_fetch_add_explicit(&t->mut->count, 1,
                                      memory_order_relaxed);
            t->left--;
            if (!plain)
                counter_busy(sh->outside_ns);
            continue;
        }
        if (!t->holding) {
            if (!counter_take(t, w, lock, fair, plain))
                return 0; /* parked on the lock; this step runs again */
            if (yield) {
                w->want = CONC_YIELD; /* between the read and the write */
                return 0;
            }
        }
        if (!plain && sh->fail_at && t->index == 0 &&
            counter_done(t) + 1 == sh->fail_at)
            return -EIO; /* holding the lock: the others must not hang */
        counter_put(t, lock, fair, plain);
    }
    w->want = CONC_YIELD;
    return 0;
}

/*
 * The same, for a sync-layer lock without extras and a yield inside: a
 * step writes back the update it holds, if any, then takes the lock and
 * reads, and yields. No loop, and two halves: the write back, whose
 * release wakes a waiter through a call, is a function the step jumps to
 * (counter_put_*_yield below); the take makes no call, since what may
 * (a timed wait's clock reads, the end) it makes as its last act, a jump,
 * so the step that only takes saves no register. That one reads the
 * counter before its wait's end is timed: the wait includes one load.
 * m: t->mut (as for counter_read). next: a waiter the write back's
 * release served and left to it to wake (one thread's FIFO lock,
 * counter_put_fifo_yield_local), NULL for none: the step's park leaves it
 * to the model, its end wakes it. local: the run is on one thread.
 */
COUNTER_INLINE int counter_take_yield_as(struct counter_task *t,
                                         struct counter_mut *m,
                                         struct conc_wait *w, bool fair,
                                         bool local,
                                         struct conc_waiter *next)
{
    uint32_t seq;

    if (!t->left)
        return counter_finish(t, w, next);
    if (!counter_mutex_try(t, m, fair, &seq, local))
        return counter_park(t, w, seq, next); /* this step runs again */
    /* A waiter served holds the turn: the try takes the lock only where
       there was none. */
    CONC_KNOWN(!next);
    counter_read(t, m);
    w->want = CONC_YIELD; /* between the read and the write */
    return counter_took(t);
}

/* The write back and the take. */
COUNTER_INLINE int counter_put_yield_as(struct counter_task *t,
                                        struct conc_wait *w, bool fair)
{
    counter_put(t, COUNTER_MUTEX, fair, true);
    return counter_take_yield_as(t, t->mut, w, fair, conc_sync_local(),
                                 NULL);
}

/* The step for any options, and one for each sync-layer lock without
   extras, with and without a yield inside: each the body above, made
   into a function of its own with its constants. */
#define COUNTER_STEP_FN(name, body)                                          \
    static __attribute__((noinline)) int name(void *task,                   \
                                              struct conc_wait *w)          \
    {                                                                        \
        struct counter_task *t = task;                                       \
                                                                             \
        return body;                                                         \
    }
COUNTER_STEP_FN(counter_step_any,
                counter_step_as(t, w, t->sh->lock, t->sh->fair, false,
                                t->sh->yield_inside))
COUNTER_STEP_FN(counter_step_fifo,
                counter_step_as(t, w, COUNTER_MUTEX, true, true, false))
COUNTER_STEP_FN(counter_step_mutex,
                counter_step_as(t, w, COUNTER_MUTEX, false, true, false))
COUNTER_STEP_FN(counter_put_fifo_yield, counter_put_yield_as(t, w, true))

/*
 * The FIFO lock's write back and take where the run is on one thread
 * (chosen at the task's init, when conc_sync_local() is already set for
 * the run): its release's wake, a call, is left to the model with the
 * park that follows (the same wake: nothing else runs meanwhile), which
 * may switch straight to the waiter, so the step makes no call, keeps
 * nothing and saves no register.
 */
static __attribute__((noinline)) int
counter_put_fifo_yield_local(void *task, struct conc_wait *w)
{
    struct counter_task *t = task;
    struct counter_mut *m = t->mut;
    struct conc_waiter *next;

    counter_write(t, m);
    next = conc_fifo_serve_local(&m->fifo);
    t->left--;
    /* The holder's turn was served and its acquire ended (the try that
       took the lock cleared both): the take below draws a new ticket, and
       a wait, if it has one, begins. */
    CONC_KNOWN(!t->turn.queued && t->wait == COUNTER_NO_WAIT);
    return counter_take_yield_as(t, m, w, true, true, next);
}
COUNTER_STEP_FN(counter_put_mutex_yield, counter_put_yield_as(t, w, false))
COUNTER_STEP_FN(counter_step_fifo_yield,
                t->holding ? counter_put_fifo_yield(t, w)
                           : counter_take_yield_as(t, t->mut, w, true,
                                                   conc_sync_local(), NULL))
COUNTER_STEP_FN(counter_step_fifo_yield_local,
                t->holding ? counter_put_fifo_yield_local(t, w)
                           : counter_take_yield_as(t, t->mut, w, true, true,
                                                   NULL))
COUNTER_STEP_FN(counter_step_mutex_yield,
                t->holding ? counter_put_mutex_yield(t, w)
                           : counter_take_yield_as(t, t->mut, w, false,
                                                   conc_sync_local(), NULL))

/* The one of those made for the run's options: "plain" is no hold, no
   outside, no fail_at; and whether the run is on one thread, which a
   model says before any task's init (conc_sync_set_local). */
static conc_step_fn *counter_step_for(const struct counter_shared *sh)
{
    bool plain = !sh->hold_ns && !sh->outside_ns && !sh->fail_at;

    if (sh->lock != COUNTER_MUTEX || !plain)
        return counter_step_any;
    if (sh->yield_inside && sh->fair)
        return conc_sync_local() ? counter_step_fifo_yield_local
                                 : counter_step_fifo_yield;
    if (sh->yield_inside)
        return counter_step_mutex_yield;
    return sh->fair ? counter_step_fifo : counter_step_mutex;
}

/* The step: a tail call to the task's own (counter_task_init), which a
   model may also call directly (counter_task_step). */
static int counter_step(void *task, struct conc_wait *w)
{
    struct counter_task *t = task;

    return t->step(t, w);
}

static conc_step_fn *counter_task_step(void *task)
{
    return ((struct counter_task *)task)->step;
}

static int counter_task_result(const void *task, struct conc_task_out *out)
{
    const struct counter_task *t = task;
    struct counter_mut *m = t->sh->mut;

    out->ops = counter_done(t);
    out->result = 0;
    if (t->sh->lock != COUNTER_NONE && t->sh->lock != COUNTER_ATOMIC)
        conc_hist_add_n_atomic(&m->wait, 0, t->free_takes);
    /* The last task in hands every wait to the run's histogram, and the
       final count is its result (the run's result is the tasks' sum). */
    if (atomic_fetch_add(&m->finished, 1) + 1 == t->sh->tasks) {
        conc_hist_merge(out->op_ns, &m->wait);
        out->result = atomic_load(&m->count);
    }
    return 0;
}

static void counter_task_fini(void *task)
{
    (void)task;
}

/*
 * The final count is the tasks' summed result (the last task to finish
 * reports it, the others 0), not a read of the shared counter: a model
 * that runs the tasks in another program (python) is then checked alike.
 */
static uint64_t counter_lost(const struct counter_shared *sh,
                             const struct conc_totals *t)
{
    (void)sh;
    return t->ops > t->result ? t->ops - t->result : 0;
}

/*
 * Every update applied is in the count, with any lock. Without one a lost
 * update is what the run measures: it passes, and says how many.
 */
static int counter_verify(void *shared, const struct conc_totals *t,
                          char *why, size_t why_len)
{
    struct counter_shared *sh = shared;
    uint64_t expected = (uint64_t)t->tasks * sh->increments;
    uint64_t got = t->result; /* the final count: see counter_lost */

    if (t->ops != expected) {
        snprintf(why, why_len, "%llu updates applied, expected %llu",
                 (unsigned long long)t->ops, (unsigned long long)expected);
        return -EINVAL;
    }
    if (sh->lock != COUNTER_NONE && got != expected) {
        snprintf(why, why_len, "lost %llu of %llu updates under lock=%s",
                 (unsigned long long)(expected - got),
                 (unsigned long long)expected,
                 sh->lock == COUNTER_MUTEX ? "mutex" : "a spinlock or atomic");
        return -EINVAL;
    }
    return 0;
}

/* "41,327": thousands apart, as a slide reads them. */
static void counter_fmt(char *buf, size_t len, uint64_t v)
{
    char digits[32];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
    size_t k = 0;

    for (int i = 0; i < n && k + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
}

/*
 * expected and lost_updates; fairness as Jain's index of the tasks' run
 * times (1: every task took as long; 1/T: one task had all the time), the
 * spread a lock's handover order leaves.
 */
static size_t counter_run_metrics(void *shared, const struct conc_totals *t,
                                  const struct conc_task_out *out,
                                  unsigned tasks, struct conc_metric *m,
                                  size_t max, char *note, size_t note_len)
{
    struct counter_shared *sh = shared;
    uint64_t expected = (uint64_t)t->tasks * sh->increments;
    uint64_t lost = counter_lost(sh, t);
    double sum = 0, sq = 0;
    char a[32], b[32];

    for (unsigned i = 0; i < tasks; i++) {
        double d = (double)(out[i].end_ns - out[i].start_ns);
        sum += d;
        sq += d * d;
    }
    if (max < 3)
        return 0;
    m[0] = (struct conc_metric){ "expected", (double)expected };
    m[1] = (struct conc_metric){ "lost_updates", (double)lost };
    m[2] = (struct conc_metric){ "fairness_jain",
                                 sq > 0 ? sum * sum / (tasks * sq) : 1 };
    counter_fmt(a, sizeof(a), lost);
    counter_fmt(b, sizeof(b), expected);
    if (sh->lock == COUNTER_NONE)
        snprintf(note, note_len, "Lost updates:        %s of %s (%.1f%%)", a,
                 b, expected ? 100.0 * (double)lost / (double)expected : 0);
    else
        note[0] = '\0';
    return 3;
}

const struct conc_workload conc_workload_counter = {
    .name = "counter",
    .summary = "tasks add to one shared counter, under a lock, a spinlock, "
               "an atomic add, or none (then updates race and get lost)",
    .op_name = "wait_ns",
    .opts = counter_opts,
    .task_size = sizeof(struct counter_task),
    .check = counter_check,
    .spins = counter_spins,
    .run_start = counter_run_start,
    .setup = counter_setup,
    .task_init = counter_task_init,
    .step = counter_step,
    .task_step = counter_task_step,
    .task_result = counter_task_result,
    .task_fini = counter_task_fini,
    .verify = counter_verify,
    .run_metrics = counter_run_metrics,
    .teardown = counter_teardown,
};
