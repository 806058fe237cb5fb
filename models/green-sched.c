/*
 * green's scheduler: a FIFO run queue, tasks parked in epoll for fds, in
 * a min-heap of deadlines and in sync queues (woken from any thread through
 * a remote queue), the poll between rounds, and the loop that runs one
 * scheduler's tasks on its OS thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "models/green.h"

#define GREEN_EVENTS 256            /* epoll events taken per wait */
#define GREEN_ALTSTACK (64 * 1024)  /* where the overflow handler runs */

_Thread_local struct green_co *green_cur;

/* The scheduler running on this thread: a wake from it needs no handoff. */
static _Thread_local struct green_sched *green_self;

/* ---- the run queue and waits ---- */

/* Parks co in the deadline heap (sized for every task: it never grows). */
static void green_heap_push(struct green_sched *s, struct green_co *co)
{
    co->wait.key = co->deadline_ns;
    (void)conc_heap_push(&s->heap, &co->wait);
}

/* The task whose deadline node n is. */
static struct green_co *green_of_node(struct conc_heap_node *n)
{
    return (struct green_co *)((char *)n - offsetof(struct green_co, wait));
}

/*
 * The run queue: head says whether it is empty, and tail is the last
 * task only while it is not (a pop that empties it leaves tail as it
 * was, one store and a branch fewer on a handoff's every switch).
 */
static void green_push(struct green_sched *s, struct green_co *co)
{
    co->next = NULL;
    if (s->head)
        s->tail->next = co;
    else
        s->head = co;
    s->tail = co;
    s->nrunnable++;
}

static struct green_co *green_pop(struct green_sched *s)
{
    struct green_co *co = s->head;

    s->head = co->next;
    s->nrunnable--;
    return co;
}

/*
 * Makes a parked task runnable again, out of epoll and the heap; timed_out
 * when its deadline came rather than its fd.
 */
static void green_wake(struct green_sched *s, struct green_co *co,
                       bool timed_out)
{
    if (conc_heap_node_in(&co->wait))
        conc_heap_remove(&s->heap, &co->wait);
    if (co->state == GREEN_WAIT_FD) {
        s->nfd_waits--;
        /*
         * A one-shot registration is disarmed once it has fired, but still
         * armed when the deadline came first: a later event must not wake
         * the task in the middle of another wait.
         */
        if (timed_out && co->reg_fd >= 0) {
            epoll_ctl(s->epfd, EPOLL_CTL_DEL, co->reg_fd, NULL);
            co->reg_fd = -1;
        }
    }
    co->state = GREEN_RUNNABLE;
    green_push(s, co);
}

/*
 * Registers co for one readiness event of fd. The registration stays in
 * epoll, disarmed, after it fires, so the next wait on the same fd is one
 * EPOLL_CTL_MOD; closing the fd removes it.
 */
static int green_arm(struct green_sched *s, struct green_co *co, int fd,
                     uint32_t events)
{
    struct epoll_event ev = { .events = events | EPOLLONESHOT,
                              .data.ptr = co };
    int op = co->reg_fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    if (epoll_ctl(s->epfd, op, fd, &ev) == 0)
        goto ok;
    if (errno == ENOENT && op == EPOLL_CTL_MOD)
        op = EPOLL_CTL_ADD;
    else if (errno == EEXIST && op == EPOLL_CTL_ADD)
        op = EPOLL_CTL_MOD;
    else
        return -errno;
    if (epoll_ctl(s->epfd, op, fd, &ev))
        return -errno;
ok:
    co->reg_fd = fd;
    return 0;
}

/* ---- waits on sync queues (lib/sync.h) ---- */

static struct green_co *green_of_waiter(struct conc_waiter *w)
{
    return (struct green_co *)((char *)w - offsetof(struct green_co, waiter));
}

/* Wakes s's thread out of epoll. */
static void green_kick(struct green_sched *s)
{
    uint64_t one = 1;

    if (write(s->wakefd, &one, sizeof(one)) < 0) {
        /* The counter is only full after 2^64-2 wakes. */
    }
}

/*
 * On co's scheduler thread: its sync park is over, by a wake or an abort
 * (green_sync_check). Either way the park returns 0 and the step runs
 * again: after an abort, its next park fails (green_park_sync), unless
 * what it waited for came after all. A wake a run of several schedulers
 * counts (green_sync_woken).
 */
static inline __attribute__((always_inline)) void
green_sync_ready(struct green_sched *s, struct green_co *co)
{
    co->state = GREEN_RUNNABLE;
    s->nsync--;
    green_push(s, co);
}

/* A wake ended co's park: counted for deadlock detection, which reads the
   count only where the run has several schedulers (conc_sync_deadlocked),
   so one alone in its run does not count (green_on_sync_wake_solo). */
static void green_sync_woken(struct green_sched *s, struct green_co *co)
{
    s->wakes++;
    green_sync_ready(s, co);
}

/*
 * Brings the run's shared counts of parked tasks and of wakes up to date
 * for this scheduler, which deadlock detection reads: while it has
 * runnable tasks it counts none parked (it is not stuck, and a count too
 * low never makes a false deadlock), while idle all it has. So a park and
 * a wake cost no atomic operation on the hot path; the counts move only
 * when the scheduler goes idle or wakes up, around a syscall anyway.
 */
static void green_sync_publish(struct green_sched *s)
{
    struct conc_runsync *sync = s->g->r->sync;
    bool idle = s->nrunnable == 0;
    unsigned parked = idle ? s->nsync : 0;

    if (parked == s->pub_parked && (!idle || s->wakes == s->pub_wakes))
        return;
    if (s->wakes != s->pub_wakes) {
        atomic_fetch_add(&sync->unparks, s->wakes - s->pub_wakes);
        s->pub_wakes = s->wakes;
    }
    if (parked != s->pub_parked) {
        atomic_fetch_add(&sync->parked, parked - s->pub_parked);
        s->pub_parked = parked;
    }
}

/*
 * A waiter's wake(), on the waker's thread, which may be another
 * scheduler's: a task of this thread's scheduler goes straight onto its
 * run queue; any other is pushed onto its scheduler's remote queue, and
 * that scheduler is woken if it may be asleep. The push is the last touch
 * of co: its owner may run it at once.
 */
static void green_on_sync_wake(struct conc_waiter *w)
{
    struct green_co *co = green_of_waiter(w);
    struct green_sched *s = co->s;
    struct green_co *head;

    if (green_self == s) {
        green_sync_woken(s, co);
        return;
    }
    head = atomic_load_explicit(&s->remote, memory_order_relaxed);
    do
        co->rnext = head;
    while (!atomic_compare_exchange_weak_explicit(&s->remote, &head, co,
                                                  memory_order_seq_cst,
                                                  memory_order_relaxed));
    /* Against the owner's store of sleeping, then load of remote: one of
       the two sees the other's write (both seq_cst). */
    if (atomic_load_explicit(&s->sleeping, memory_order_seq_cst))
        green_kick(s);
}

/* The same, for a scheduler alone in its run: every wake is from one of
   its own tasks, on its thread (conc_sync_local). */
static void green_on_sync_wake_solo(struct conc_waiter *w)
{
    struct green_co *co = green_of_waiter(w);

    green_sync_ready(co->s, co);
}

/* Moves the tasks other threads woke onto the run queue, in wake order. */
static void green_drain(struct green_sched *s)
{
    struct green_co *co, *next, *fifo = NULL;

    if (!atomic_load_explicit(&s->remote, memory_order_relaxed))
        return;
    co = atomic_exchange_explicit(&s->remote, NULL, memory_order_acquire);
    for (; co; co = next) {
        next = co->rnext;
        co->rnext = fifo;
        fifo = co;
    }
    for (co = fifo; co; co = next) {
        next = co->rnext;
        co->rnext = NULL;
        if (co->state == GREEN_WAIT_SYNC)
            green_sync_woken(s, co);
    }
}

/*
 * Tells every other scheduler, once per run, to look at the run's sync
 * abort now rather than at its next poll timeout: a task failed (and may
 * hold what others wait for), or a deadlock was found.
 */
static void green_sync_alert(struct green_sched *s)
{
    struct green_group *g = s->g;

    if (g->nsched < 2 || atomic_exchange(&g->alerted, true))
        return;
    for (unsigned k = 0; k < g->nsched; k++)
        if (&g->scheds[k] != s)
            green_kick(&g->scheds[k]);
}

/*
 * With tasks parked on sync queues: when the run was aborted (a task
 * failed) or, if nothing else is runnable, is deadlocked, their parks end,
 * and each task, on its own stack, steps again and fails at its next park
 * with the abort's error (-ECANCELED, -EDEADLK: green_park_sync). A task
 * a waker already took out of its queue is left to that wake: it too
 * steps again, and fails at its next park.
 */
static void green_sync_check(struct green_sched *s)
{
    const struct conc_run *r = s->g->r;

    if (!atomic_load(&r->sync->abort)) {
        if (s->nrunnable ||
            !conc_sync_deadlocked(r, &s->dl_since, &s->dl_unparks))
            return;
        green_sync_alert(s);
    }
    s->aborted = 1; /* before the parks end: each fails when made again */
    for (unsigned i = 0; i < s->ntasks && s->nsync; i++) {
        struct green_co *co = &s->cos[i];
        if (co->state == GREEN_WAIT_SYNC &&
            conc_waitq_unlink(co->sync_q, &co->waiter))
            green_sync_ready(s, co);
    }
}

static void green_after(struct green_sched *s, struct green_co *co);

/*
 * The run's sync abort (0, or the error tasks parked on sync end with), as
 * this scheduler must heed it. One alone in its run sees every write of
 * it on its own thread, each of which sets aborted (a task's finish in
 * green_co_main, the deadlock check in green_sync_check): until then, no
 * load of the shared word through its pointer.
 */
static inline __attribute__((always_inline)) int
green_abort_seen(const struct green_sched *s)
{
    return s->poll_words[1] /* aborted | multi */
               ? atomic_load_explicit(s->abort, memory_order_relaxed)
               : 0;
}

/* Whether a signal came (conc_interrupted, nonzero): relaxed, as the
   handler's store needs no order. */
static inline __attribute__((always_inline)) unsigned
green_signalled(void)
{
    return (unsigned)atomic_load_explicit(&conc_interrupted,
                                          memory_order_relaxed);
}

/*
 * Whether nothing at all calls for the poll, sig being the signal word
 * (green_signalled): a scheduler alone in its run (multi 0) is on the
 * run's only thread (its sync objects take no lock, conc_sync_local): no
 * other thread pushes onto its remote queue, its stop is set only by its
 * own loop, never while a task runs, and its abort is in aborted. So its
 * check is its own counts and the signal word, in one test.
 */
static inline __attribute__((always_inline)) bool
green_poll_is_idle(const struct green_sched *s, unsigned sig)
{
    return !(s->poll_words[0] | s->poll_words[1] | s->heap.n | sig);
}

/*
 * Whether the poll due at a round's end would find nothing to do: no fd
 * or deadline waits, no wake from another thread, nothing published to
 * take back, no abort to act on, no stop, no signal. Then a task may
 * begin the next round itself.
 */
static inline __attribute__((always_inline)) bool
green_poll_is_noop(const struct green_sched *s)
{
    if (__builtin_expect(green_poll_is_idle(s, green_signalled()), 1))
        return true;
    if (s->nfd_waits | s->pub_parked | s->aborted | s->heap.n ||
        green_signalled() || !s->multi)
        return false;
    if (atomic_load_explicit(&s->remote, memory_order_relaxed) ||
        atomic_load_explicit(s->stop, memory_order_relaxed))
        return false;
    return !s->nsync || !green_abort_seen(s);
}

/*
 * An open round: one begun while nothing called for the poll
 * (green_poll_is_idle), on a scheduler alone in its run. It has no end
 * of its own (its budget is this) but a signal, looked at each switch:
 * what could call for the poll later is this thread's own doing, a task
 * parked on a deadline or an fd or ended, and each of those ends it once
 * the tasks queued then have run (green_round_cut), as a round would
 * have. So the poll's look is made once, not at each switch when only
 * two tasks hand a lock back and forth, each round one switch long.
 */
#define GREEN_ROUND_OPEN SIZE_MAX

/* The round ends once the tasks queued now have run (if it would run
   longer: an open round). */
static void green_round_cut(struct green_sched *s)
{
    if (s->budget > s->nrunnable)
        s->budget = s->nrunnable;
}

/*
 * In the task, once its state says where it goes: switches to the next
 * runnable task straight from its stack, as Boost.Fiber does: one jump,
 * where the scheduler between makes two. To the scheduler only when the
 * next task has no stack yet, a signal came, or the round is over and its
 * poll has something to do; a round whose poll would do nothing gives way
 * to the next round here, of the tasks runnable now, as the scheduler's
 * loop would, and a task alone in it runs on. Inline, always: a return
 * after the jump lands on another task's return address, which the CPU
 * does not predict.
 */
static inline __attribute__((always_inline)) void
green_switch_out(struct green_sched *s, struct green_co *co,
                 enum green_state state, bool fc)
{
    /* A signal is looked at on every way out: in the round-end check, or
       before a switch within the round. Its word is read first: the
       compiler takes an atomic load for a barrier, and would read again
       after it the fields read before. */
    unsigned sig = green_signalled();
    struct green_co *next = s->head;

    if (!next) {
        /* Alone and runnable, with nothing to poll: the scheduler would
           start a round of this one task. It runs on, with no switch. A
           round with budget left and nothing queued is an open one
           (within any other, the budget is at most the tasks queued):
           only a signal can have come since its poll was looked at. */
        if (state != GREEN_RUNNABLE)
            goto hop;
        if (s->budget) {
            if (!sig)
                return;
        } else if (green_poll_is_idle(s, sig)) {
            s->budget = GREEN_ROUND_OPEN; /* a round of this one task */
            return;
        } else if (green_poll_is_noop(s)) {
            return;
        }
        goto hop;
    }
    if (__builtin_expect(next->state == GREEN_NEW, 0))
        goto hop;
    if (__builtin_expect(!s->budget, 0)) {
        if (green_poll_is_idle(s, sig)) {
            s->budget = GREEN_ROUND_OPEN;
        } else {
            if (!green_poll_is_noop(s))
                goto hop;
            /* The next round: the runnable tasks (next among them) and
               this one if it yields, less next, which runs now. */
            s->budget = s->nrunnable + (state == GREEN_RUNNABLE) - 1;
        }
    } else {
        if (sig)
            goto hop;
        s->budget--;
    }
    /* A yield, the common case, is a push made here, and a sync park (its
       waiter linked) needs nothing: no call. */
    if (state == GREEN_RUNNABLE) {
        green_push(s, co);
        green_pop(s);
    } else if (state == GREEN_WAIT_SYNC) {
        green_pop(s);
    } else {
        green_after(s, co);
        green_pop(s);
        green_round_cut(s); /* a deadline or an fd to poll for */
    }
    green_switch_direct(s, co, next, fc);
    return;
hop:
    green_suspend(s, co, false, fc);
}

/*
 * A sync park's handoff, on a scheduler alone in its run: co, parked
 * (its waiter linked), makes way for b, a task of its own whose wait its
 * step's release ended (conc_wait's wake, which its wake callback would
 * have pushed onto the run queue). With nothing else queued, and a round
 * that goes on, co switches straight to b, past the run queue: what a
 * push and the pop after it would do. co's park and b's wake leave the
 * count of parked tasks as it was.
 */
static inline __attribute__((always_inline)) void
green_hand_over(struct green_sched *s, struct green_co *co,
                struct green_co *b, bool fc)
{
    unsigned sig = green_signalled(); /* first: as in green_switch_out */

    b->state = GREEN_RUNNABLE;
    if (__builtin_expect(!s->head && s->budget && !sig, 1)) {
        s->budget--;
        green_switch_direct(s, co, b, fc);
        return;
    }
    green_push(s, b);
    green_switch_out(s, co, GREEN_WAIT_SYNC, fc);
}

/*
 * In the task: parks it on w's sync queue and switches away
 * (green_switch_out); it is switched back to when a wake or an abort ends
 * the park. 0 (the step runs again), or, once the run is aborted, the
 * abort's -errno at once, with no park (then the task ends with it). A
 * waiter the step left to wake (conc_wait's wake) is woken, or, where
 * the scheduler is alone in its run, handed over to (green_hand_over).
 */
static inline __attribute__((always_inline)) int
green_park_sync(struct green_sched *s, struct green_co *co,
                struct conc_wait *w, bool fc)
{
    struct conc_waiter *x = w->wake;
    bool linked;
    int err;

    w->wake = NULL; /* as the next step is handed it */
    if (__builtin_expect(!s->poll_words[1], 1)) {
        /* Alone in the run, which is then on this thread
           (conc_sync_local), and no abort seen. */
        linked = conc_waitq_link_local(w->q, w->seq, &co->waiter);
    } else {
        /* Woken before the wait is made, as by the step's last act. */
        if (x)
            x->wake(x);
        x = NULL;
        /* After an abort, a park fails at once (unless the number
           moved: then the step tries again, as for any wait). */
        err = green_abort_seen(s);
        if (err)
            return conc_waitq_seq(w->q) != w->seq ? 0 : err;
        linked = conc_waitq_link(w->q, w->seq, &co->waiter);
    }
    if (!linked) {
        if (x)
            x->wake(x);
        return 0; /* the number moved since the step saw it */
    }
    co->sync_q = w->q;
    co->state = GREEN_WAIT_SYNC;
    if (x) {
        /* Every waiter in a queue of this run is a task of this
           scheduler's: only a park links one. */
        CONC_KNOWN(x->wake == green_on_sync_wake_solo);
        green_hand_over(s, co, green_of_waiter(x), fc);
        return 0;
    }
    s->nsync++;
    green_switch_out(s, co, GREEN_WAIT_SYNC, fc);
    return 0; /* woken, or aborted: the step runs again (green_sync_ready) */
}

/*
 * In the task: parks it on a deadline or an fd, as w asks, and switches
 * away; it is switched back to when the wait is over. 0, or -errno when
 * the wait cannot be made (then the task ends with it).
 */
static int green_park(struct green_sched *s, struct green_co *co,
                      const struct conc_wait *w)
{
    int err;

    co->deadline_ns = 0;
    switch (w->want) {
    case CONC_WAIT_UNTIL:
        co->state = GREEN_WAIT_TIMER;
        co->deadline_ns = w->deadline_ns;
        break;
    case CONC_WAIT_READ:
    case CONC_WAIT_WRITE:
        err = green_arm(s, co, w->fd,
                        w->want == CONC_WAIT_READ ? EPOLLIN : EPOLLOUT);
        if (err == -EPERM) {
            /* epoll cannot watch it (a regular file): always ready. */
            co->state = GREEN_RUNNABLE;
            break;
        }
        if (err)
            return err;
        co->state = GREEN_WAIT_FD;
        co->deadline_ns = w->deadline_ns;
        break;
    default:
        return -EINVAL;
    }
    green_switch_out(s, co, co->state, false);
    return 0;
}

/*
 * A task's steps, parked between them as each asks, until one ends it:
 * its error, or 0 with *end_ns (0 or the step's reading). w holds the
 * first step's start_ns. fc: the switch is known to be fcontext's, so a
 * switch does not test it (green_co_main makes the loop once with it and
 * once without). A yield, the common want, then a sync park, each leave
 * w as the next step needs it (conc_wait_next): nothing is reset.
 */
static inline __attribute__((always_inline)) int
green_steps(struct green_sched *s, struct green_co *co, conc_step_fn *step,
            void *task, struct conc_wait *w, uint64_t *end_ns, bool fc)
{
    int err = step(task, w);

    w->start_ns = 0; /* the first step's alone */
    for (;;) {
        if (__builtin_expect(err != 0, 0))
            return err;
        if (__builtin_expect(w->want == CONC_YIELD, 1)) {
            /* A running task's state is GREEN_RUNNABLE already: each way
               onto the run queue set it, and a park that fails leaves
               it. */
            green_switch_out(s, co, GREEN_RUNNABLE, fc);
            conc_wait_next(w);
        } else if (w->want == CONC_WAIT_SYNC) {
            err = green_park_sync(s, co, w, fc);
            if (err)
                return err;
            conc_wait_next(w);
        } else if (w->want == CONC_DONE) {
            *end_ns = w->end_ns;
            return 0;
        } else {
            err = green_park(s, co, w);
            if (err)
                return err;
            memset(w, 0, sizeof(*w));
        }
        err = step(task, w);
    }
}

void green_co_main(struct green_co *co)
{
    struct green_sched *s = co->s;
    const struct conc_run *r = s->g->r;
    conc_step_fn *step;
    void *task = co->task;
    struct conc_wait w;
    uint64_t end_ns = 0;
    int err;

#ifdef GREEN_ASAN
    __sanitizer_finish_switch_fiber(NULL, &s->asan_bottom, &s->asan_size);
#endif
    err = conc_task_start(r, co->index, co->task);
    if (!err) {
        co->inited = true;
        step = conc_task_step(r, task);
        memset(&w, 0, sizeof(w));
        w.start_ns = r->out[co->index].start_ns; /* the first step's */
#ifdef CONC_HAVE_BOOST_CONTEXT
        if (s->fcontext)
            err = green_steps(s, co, step, task, &w, &end_ns, true);
        else
#endif
            err = green_steps(s, co, step, task, &w, &end_ns, false);
        co->inited = false;
        conc_task_finish_at(r, co->index, co->task, err, end_ns);
        /* A failure (of the step or of the task's result) sets the run's
           sync abort: others may wait on it. */
        if (r->sync &&
            atomic_load_explicit(&r->sync->abort, memory_order_relaxed)) {
            s->aborted = 1;
            green_sync_alert(s);
        }
    }
    co->state = GREEN_DONE;
    green_suspend(s, co, true, false);
    abort(); /* a finished task is never resumed */
}

/* ---- the scheduler ---- */

static bool green_stopping(const struct green_sched *s)
{
    return conc_interrupted ||
           atomic_load_explicit(&s->g->stop, memory_order_relaxed);
}

void green_stop_all(struct green_group *g)
{
    uint64_t one = 1;

    atomic_store(&g->stop, 1);
    for (unsigned k = 0; k < g->nsched; k++)
        if (write(g->scheds[k].wakefd, &one, sizeof(one)) < 0) {
            /* The counter is only full after 2^64-2 wakes. */
        }
}

/* Records the run's first failure, printing it once, and stops the run. */
static void green_fail(struct green_group *g, int err, const char *what)
{
    int none = 0;
    char sz[32];

    if (atomic_compare_exchange_strong(&g->err, &none, err)) {
        green_fmt_size(sz, sizeof(sz), g->stack_bytes);
        conc_error(err, "cannot %s (stack=%s)", what, sz);
    }
    green_stop_all(g);
}

/* After a task switched back: where it goes next. */
static void green_after(struct green_sched *s, struct green_co *co)
{
    switch (co->state) {
    case GREEN_RUNNABLE:
        green_push(s, co);
        break;
    case GREEN_WAIT_TIMER:
        green_heap_push(s, co);
        break;
    case GREEN_WAIT_FD:
        s->nfd_waits++;
        if (co->deadline_ns)
            green_heap_push(s, co);
        break;
    case GREEN_DONE:
        green_stack_detach(s, co);
        s->done++;
        break;
    case GREEN_WAIT_SYNC:
        break; /* its waiter is linked: its wake will queue it */
    case GREEN_NEW:
        abort();
    }
}

/*
 * Waits in epoll for fds and the next deadline, without blocking when
 * tasks are runnable, then wakes what is ready. Never wakes a timer task
 * before its deadline: epoll_pwait2 sleeps at least the relative timeout
 * it is given, and the heap is then checked against the clock. Tasks
 * parked on sync queues are woken by other tasks, through the remote
 * queue and wakefd when from another thread; while they are all that is
 * left, it sleeps at most CONC_SYNC_POLL_NS between looks at the run's
 * abort and for a deadlock.
 */
static int green_poll(struct green_sched *s)
{
    static atomic_int no_pwait2;
    struct epoll_event ev[GREEN_EVENTS];
    struct timespec ts = { 0, 0 };
    int n, timeout_ms = 0;
    uint64_t now = 0;
    bool idle;

    green_drain(s);
    green_sync_publish(s);
    /* Nothing parked: no reason to ask the kernel. */
    if (!s->nfd_waits && !s->heap.n && !s->nsync)
        return 0;
    /* The abort is looked at every round (a failed task may hold what
       they wait for), a deadlock only when nothing else can run. */
    if (s->nsync && (s->nrunnable == 0 ||
                     atomic_load_explicit(&s->g->r->sync->abort,
                                          memory_order_relaxed))) {
        green_sync_check(s);
        green_sync_publish(s);
    }
    idle = s->nrunnable == 0;
    if (s->heap.n)
        now = conc_now_ns();
    if (idle || s->nfd_waits) {
        bool forever = idle && !s->heap.n && !s->nsync;
        if (idle && (s->heap.n || s->nsync)) {
            uint64_t d = s->nsync ? CONC_SYNC_POLL_NS : UINT64_MAX;
            if (s->heap.n) {
                uint64_t key = s->heap.v[0]->key;
                uint64_t left = key > now ? key - now : 0;
                if (left < d)
                    d = left;
            }
            ts = conc_ns_to_timespec(d);
            /* The fallback rounds up: waking early would only spin. */
            timeout_ms = d / CONC_NS_PER_MS > INT_MAX
                             ? INT_MAX
                             : (int)((d + CONC_NS_PER_MS - 1) / CONC_NS_PER_MS);
        }
        if (idle) {
            /* From here a remote wake writes wakefd; one that came before
               is seen below, and the wait does not block. */
            atomic_store_explicit(&s->sleeping, true, memory_order_seq_cst);
            if (atomic_load_explicit(&s->remote, memory_order_seq_cst)) {
                forever = false;
                ts.tv_sec = ts.tv_nsec = 0;
                timeout_ms = 0;
            }
        }
        if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
            n = epoll_pwait2(s->epfd, ev, GREEN_EVENTS, forever ? NULL : &ts,
                             NULL);
            if (n < 0 && errno == ENOSYS) {
                atomic_store(&no_pwait2, 1);
                n = epoll_wait(s->epfd, ev, GREEN_EVENTS,
                               forever ? -1 : timeout_ms);
            }
        } else {
            n = epoll_wait(s->epfd, ev, GREEN_EVENTS,
                           forever ? -1 : timeout_ms);
        }
        if (idle)
            atomic_store_explicit(&s->sleeping, false, memory_order_relaxed);
        if (n < 0) {
            if (errno == EINTR)
                return 0; /* the loop looks at conc_interrupted */
            return -errno;
        }
        for (int i = 0; i < n; i++) {
            struct green_co *co = ev[i].data.ptr;
            if (!co) {
                uint64_t v;
                if (read(s->wakefd, &v, sizeof(v)) < 0) {
                    /* Already drained: nothing to do. */
                }
                continue;
            }
            if (co->state == GREEN_WAIT_FD)
                green_wake(s, co, false);
        }
        green_drain(s);
        green_sync_publish(s); /* woken tasks are not parked any more */
        if (s->heap.n)
            now = conc_now_ns();
    }
    while (s->heap.n && s->heap.v[0]->key <= now)
        green_wake(s, green_of_node(s->heap.v[0]), true);
    return 0;
}

/*
 * Runs the scheduler's tasks until every one is done or the run stops. A
 * round runs each task that was runnable when it began once, then polls,
 * so tasks waiting on fds and deadlines are never starved by yielders.
 */
static void green_sched_loop(struct green_sched *s)
{
    while (s->done < s->ntasks && !green_stopping(s)) {
        int err;

        /* The round's tasks also switch to each other (green_switch_out):
           the budget counts what is left of it for both. */
        s->budget = s->nrunnable;
        while (s->budget && s->head && !conc_interrupted) {
            struct green_co *co = green_pop(s);
            s->budget--;
            if (co->state == GREEN_NEW) {
                err = green_stack_attach(s, co);
                if (err) {
                    green_fail(s->g, err, "map stacks for green tasks");
                    return;
                }
                co->state = GREEN_RUNNABLE;
            }
            green_after(s, green_resume(s, co));
            /* Back here, a task ended, parked or made way for one to
               start: an open round ends with the tasks queued now. */
            green_round_cut(s);
        }
        s->budget = 0;
        if (s->done == s->ntasks)
            break;
        err = green_poll(s);
        if (err) {
            green_fail(s->g, err, "wait in epoll");
            return;
        }
    }
}

/*
 * A stop leaves tasks parked: their task_fini runs here, on the
 * scheduler's stack (a task's memory is not on its own stack). A task
 * parked on a sync queue leaves it first: the queue outlives the run. If
 * a waker took it out already, its wake may still come, onto the remote
 * queue, which nothing reads any more; the scheduler's memory lasts until
 * every thread of the run has been joined.
 */
void green_sched_abandon(struct green_sched *s)
{
    int err = atomic_load(&s->g->err);

    for (unsigned i = 0; i < s->ntasks; i++) {
        struct green_co *co = &s->cos[i];
        if (co->state == GREEN_WAIT_SYNC) {
            conc_waitq_unlink(co->sync_q, &co->waiter);
            co->state = GREEN_DONE;
            s->nsync--;
        }
        if (co->inited) {
            conc_task_finish(s->g->r, co->index, co->task,
                             err ? err : -EINTR);
            co->inited = false;
        }
        if (co->slot)
            green_stack_detach(s, co);
    }
    if (s->pub_parked)
        atomic_fetch_sub(&s->g->r->sync->parked, s->pub_parked);
    s->pub_parked = 0;
}

void green_sched_run(struct green_sched *s)
{
    stack_t ss = { .ss_sp = s->altstack, .ss_size = GREEN_ALTSTACK };

#ifdef GREEN_TSAN
    s->tsan_fiber = __tsan_get_current_fiber();
#endif
    green_self = s;
    /* The overflow handler cannot run on the stack that overflowed. */
    sigaltstack(&ss, &s->old_altstack);
    green_sched_loop(s);
    green_sched_abandon(s);
    sigaltstack(&s->old_altstack, NULL);
    green_self = NULL;
}

/* ---- a scheduler's making and unmaking ---- */

int green_sched_init(struct green_group *g, struct green_sched *s,
                     unsigned first, unsigned n)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

    memset(s, 0, sizeof(*s));
    s->g = g;
    s->abort = &g->r->sync->abort;
    s->stop = &g->stop;
    s->multi = g->nsched > 1;
#ifdef CONC_HAVE_BOOST_CONTEXT
    s->fcontext = g->sw == &green_switches[GREEN_SWITCH_FCONTEXT];
#endif
    s->first = first;
    s->ntasks = n;
    s->epfd = s->wakefd = -1;
    s->cos = conc_xcalloc(n, sizeof(*s->cos));
    s->tasks_mem = conc_xcalloc(n, g->task_stride);
    green_stack_init(s);
    green_switch_init(s);
    for (unsigned i = 0; i < n; i++) {
        struct green_co *co = &s->cos[i];
        co->s = s;
        co->index = first + i;
        co->task = s->tasks_mem + (size_t)i * g->task_stride;
        conc_heap_node_init(&co->wait);
        co->waiter.wake =
            s->multi ? green_on_sync_wake : green_on_sync_wake_solo;
        co->reg_fd = -1;
        co->state = GREEN_NEW;
        green_push(s, co);
    }
    if (conc_heap_init(&s->heap, n))
        return conc_error(-ENOMEM, "cannot allocate the deadline heap");
    s->altstack = mmap(NULL, GREEN_ALTSTACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->altstack == MAP_FAILED) {
        s->altstack = NULL;
        return conc_error(-errno, "cannot map a signal stack");
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0)
        return conc_error(-errno, "cannot create an epoll instance");
    s->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wakefd < 0)
        return conc_error(-errno, "cannot create an eventfd");
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev))
        return conc_error(-errno, "cannot watch an eventfd");
    return 0;
}

void green_sched_fini(struct green_sched *s)
{
    green_stack_fini(s);
    if (s->altstack)
        munmap(s->altstack, GREEN_ALTSTACK);
    if (s->wakefd >= 0)
        close(s->wakefd);
    if (s->epfd >= 0)
        close(s->epfd);
    green_switch_fini(s);
    conc_heap_fini(&s->heap);
    free(s->tasks_mem);
    free(s->cos);
}
