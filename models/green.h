/*
 * The green model's insides, shared by its files: the task, scheduler and
 * run structs, the sanitizer and valgrind switches, the inline stack switch
 * of the hot path, and what each file offers the others.
 */
#ifndef CONC_GREEN_H
#define CONC_GREEN_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#include "lib/heap.h"
#include "models/fcontext.h"
#include "models/model.h"

#if defined(__SANITIZE_ADDRESS__)
#define GREEN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GREEN_ASAN 1
#endif
#endif
#ifdef GREEN_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/*
 * ThreadSanitizer keeps a shadow call stack and a vector clock per thread;
 * a stack switch it is not told about mixes the frames of every task on a
 * scheduler. Each task is a TSan fiber, switched to with synchronization
 * (flags 0): the tasks of one scheduler run one at a time, in order.
 */
#if defined(__SANITIZE_THREAD__)
#define GREEN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GREEN_TSAN 1
#endif
#endif
#ifdef GREEN_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/*
 * Valgrind takes a large stack-pointer move inside one mapping for a huge
 * frame, not a switch, and then marks or unwinds through other tasks'
 * stacks and guard regions (it crashed on MADV_GUARD_INSTALL pages it did
 * not know were there). Registered stacks are switches. Outside valgrind a
 * client request is a few no-op instructions, once per task.
 */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define GREEN_VALGRIND 1
#endif
#endif

/*
 * Linux 6.13 guard regions: guard pages inside one mapping, without
 * splitting it, so 100,000 stacks do not need 200,000 memory maps.
 */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define GREEN_CHUNK_SLOTS 64        /* stacks made by one mmap */

/* Indexed like the choices of -o guard. */
enum green_guard {
    GREEN_GUARD_AUTO,
    GREEN_GUARD_MADVISE,
    GREEN_GUARD_MPROTECT,
};

/* Indexed like the choices of -o switch, and like green_switches[]. */
enum green_switch_kind { GREEN_SWITCH_FCONTEXT, GREEN_SWITCH_UCONTEXT };

enum green_state {
    GREEN_NEW,        /* queued, not started: no stack yet */
    GREEN_RUNNABLE,   /* in the run queue */
    GREEN_WAIT_TIMER, /* in the deadline heap */
    GREEN_WAIT_FD,    /* in epoll, and in the heap if it has a deadline */
    GREEN_WAIT_SYNC,  /* its waiter is in a sync queue (lib/sync.h) */
    GREEN_DONE,       /* finished; its stack is back in the pool */
};

struct green_sched;

struct green_co {
    struct green_co *next;   /* run queue link */
    struct green_sched *s;
    union {
        fcontext_t fctx;     /* where to jump to resume it */
        ucontext_t *uc;      /* at the top of its stack */
    };
    char *slot;              /* guard page + stack, or NULL */
    char *stack_lo;          /* lowest usable byte of the stack */
    size_t stack_size;
    void *task;              /* the workload's task memory */
    uint64_t deadline_ns;    /* of a wait; 0: none */
    struct conc_heap_node wait; /* in s->heap while a deadline is armed */
    unsigned index;          /* the task's index in the run */
    enum green_state state;
    int reg_fd;              /* last fd it registered in epoll, or -1 */
    bool inited;             /* task_init done, task_finish not yet */
    struct conc_waiter waiter; /* in sync_q while GREEN_WAIT_SYNC */
    struct conc_waitq *sync_q;
    struct green_co *rnext;  /* its scheduler's remote queue, once woken
                                from another thread */
#ifdef GREEN_ASAN
    void *fake_stack;
#endif
#ifdef GREEN_TSAN
    void *tsan_fiber;        /* while it has a stack */
#endif
#ifdef GREEN_VALGRIND
    unsigned vg_stack;       /* valgrind's id of its stack, while it has one */
#endif
};

/* A way to switch stacks: the method table behind -o switch. */
struct green_switch {
    const char *name;
    /* Prepares co to start in green_co_main on [lo, lo + size). */
    void (*make)(struct green_co *co, char *lo, size_t size);
    /* From `from` to `to`, each a task or, as NULL, s's scheduler; returns
       when `from` is switched back to, by anyone. */
    void (*jump)(struct green_sched *s, struct green_co *from,
                 struct green_co *to);
};

struct green_group;

/* One scheduler: one OS thread and the tasks it owns. */
struct green_sched {
    struct green_group *g;
    struct green_co *cos;       /* [ntasks] */
    char *tasks_mem;            /* [ntasks] workload tasks, task_stride each */
    unsigned first, ntasks, done;

    /* Of this round: tasks still to run. Apart from nrunnable: next to
       it, the two decrements of a switch became one 16-byte load that
       waited for green_push's 8-byte store (a failed store forward). */
    size_t budget;
    struct green_co *head, *tail; /* FIFO run queue (tail: while head) */
    size_t nrunnable;
    struct conc_heap heap;      /* parked tasks by deadline_ns */
    unsigned nsync;             /* tasks in GREEN_WAIT_SYNC */
    uint64_t wakes;             /* parks of its tasks that a wake ended */
    /*
     * What makes a round's end call for the poll, but for the heap's
     * count and the signal, and what a sync park must look at first: in
     * two words the hot path reads whole (green_poll_is_noop,
     * green_park), where one load and test each made 12 instructions of
     * a check. Written only off the hot path.
     */
    union {
        struct {
            unsigned nfd_waits;  /* tasks parked in epoll */
            unsigned pub_parked; /* what it added to r->sync->parked */
            unsigned aborted;    /* it has seen the run's sync abort set:
                                    a task of its finished with it set,
                                    or its loop's sync check found it or
                                    a deadlock (green_abort_seen) */
            unsigned multi;      /* not the run's only scheduler: others
                                    may wake its tasks, stop it, abort */
        };
        uint64_t poll_words[2]; /* [1]: aborted and multi */
    };
    _Atomic int *abort;         /* &r->sync->abort: one load from here,
                                   where the chain is four (a run of
                                   several schedulers reads it at each
                                   round-end check and sync park; one
                                   alone, only once aborted is set) */
    atomic_int *stop;           /* &g->stop, for the same reason */
    bool fcontext;              /* g->sw is fcontext's (green_jump) */
    uint64_t pub_wakes;         /* what it added to r->sync->unparks */
    uint64_t dl_since, dl_unparks; /* conc_sync_deadlocked's tracking */
    int epfd, wakefd;

    union {
        fcontext_t fctx;        /* the scheduler, while a task runs */
        ucontext_t *uc;
    };
    char **free_slots;          /* the pool: stacks of finished tasks */
    size_t nfree;
    char **chunks;              /* each mmap of GREEN_CHUNK_SLOTS stacks */
    size_t *chunk_len;
    size_t nchunks, chunk_used, chunk_slots, slots_made;

    char *altstack;
    stack_t old_altstack;
    pthread_t thread;
    bool thread_started;
#ifdef GREEN_ASAN
    const void *asan_bottom;    /* the scheduler thread's own stack */
    size_t asan_size;
    void *fake_stack;
#endif
#ifdef GREEN_TSAN
    void *tsan_fiber;           /* the scheduler thread's own context */
#endif

    /*
     * Tasks woken by other threads, pushed there lock-free (last in
     * first), and whether the scheduler may be asleep in epoll, when a
     * push must write wakefd. On cache lines of their own: other threads
     * write them, and the fields above are the owner's hot path.
     */
    char pad0[64];
    _Atomic(struct green_co *) remote;
    atomic_bool sleeping;
    char pad1[64];
};

/* The sync park's look, poll_words[1], is aborted and multi alone. */
_Static_assert(offsetof(struct green_sched, aborted) ==
                       offsetof(struct green_sched, poll_words) + 8 &&
                   offsetof(struct green_sched, multi) ==
                       offsetof(struct green_sched, poll_words) + 12,
               "green_sched's poll words");

/* One run: every scheduler and what they share. */
struct green_group {
    const struct conc_run *r;
    const struct green_switch *sw;
    enum green_guard guard;
    size_t stack_bytes, guard_bytes, slot_bytes, task_stride;
    struct green_sched *scheds;
    unsigned nsched;
    atomic_int stop;     /* a scheduler failed or the run was interrupted */
    atomic_int err;      /* the first failure, -errno */
    atomic_uint finished; /* worker threads that have ended */
    atomic_bool alerted; /* the schedulers were told of a sync abort */
    int done_efd;        /* worker threads tell the main thread they ended */
};

/*
 * The task running on this thread, or NULL while the scheduler runs: for
 * the ucontext entry and the SIGSEGV handler. Defined in green-sched.c,
 * where the hot path sets it.
 */
extern _Thread_local struct green_co *green_cur;

/* ---- green-size.c: sizes and limits ---- */

/* The page size (4096 when sysconf cannot tell). */
size_t green_page(void);

/* Writes b as the user would write it: "64KiB", "1MiB" or "70000B". */
void green_fmt_size(char *buf, size_t len, uint64_t b);

/* -o guard with auto resolved: madvise when the kernel has it. */
enum green_guard green_guard_mode(const struct conc_params *mp);

/* -o stack rounded up to whole pages. */
size_t green_stack_bytes(const struct conc_params *mp);

/*
 * The model's check: refuses, before anything runs, a switch or guard mode
 * this build or kernel lacks, and stacks that cannot exist (more memory
 * than is available, more maps than vm.max_map_count). 0, or -errno after
 * printing why.
 */
int green_check(const struct conc_params *mp, unsigned tasks);

/* ---- green-stack.c: the stack pool and stack overflows ---- */

/*
 * Gives scheduler s (g, ntasks set) its empty pool, then every kept chunk
 * it has use for. Cannot fail: allocation failure aborts.
 */
void green_stack_init(struct green_sched *s);

/* Unmaps s's chunks (none after green_kept_take) and frees its pool. */
void green_stack_fini(struct green_sched *s);

/*
 * Gives a new task a stack, from s's pool or a new chunk, and its first
 * context on it (green_switch_make). 0, or -errno, not printed.
 */
int green_stack_attach(struct green_sched *s, struct green_co *co);

/* Takes a finished or abandoned task's stack back into s's pool. */
void green_stack_detach(struct green_sched *s, struct green_co *co);

/*
 * Before a run: unmaps the kept stacks unless keep is set and they have
 * g's slot size and guard mode, the only stacks a run can reuse.
 */
void green_kept_fit(const struct green_group *g, bool keep);

/* After a run: moves every scheduler's chunks to the kept stacks. */
void green_kept_take(struct green_group *g);

/* Unmaps the kept stacks (the model's cell_end). */
void green_kept_free(void);

/*
 * Catches SIGSEGV for the run: a fault in the running task's guard page
 * prints that its stack overflowed (naming g's stack size) and exits
 * CONC_CRASH_EXIT; any other goes to the previous handler. The handler
 * runs on the scheduler's alternate signal stack. 0, or -errno, printed.
 */
int green_segv_install(const struct green_group *g);

/* Puts back the SIGSEGV handler green_segv_install replaced. */
void green_segv_restore(void);

/* ---- green-switch.c: contexts and the switch back-ends ---- */

/* Indexed by enum green_switch_kind; make is NULL for one not built. */
extern const struct green_switch green_switches[];

/* The scheduler's own context, as s->g->sw needs it; and its release. */
void green_switch_init(struct green_sched *s);
void green_switch_fini(struct green_sched *s);

/* ---- green-sched.c: the scheduler ---- */

/*
 * A task's whole life, on its own stack, from its first switch: the
 * workload's steps, parked between them, then a last switch back.
 */
void green_co_main(struct green_co *co) __attribute__((noreturn));

/*
 * Scheduler s of g gets tasks [first, first + n), all queued. 0, or -errno,
 * printed; green_sched_fini(s) is due either way.
 */
int green_sched_init(struct green_group *g, struct green_sched *s,
                     unsigned first, unsigned n);
void green_sched_fini(struct green_sched *s);

/*
 * Runs s's tasks on this thread until every one is done or the run stops,
 * then ends those a stop left parked. Signals taken meanwhile run on s's
 * alternate stack, where the overflow handler can still run.
 */
void green_sched_run(struct green_sched *s);

/*
 * Ends the tasks of s that are not done (their task_finish gets the run's
 * error, or -EINTR) and takes their stacks back.
 */
void green_sched_abandon(struct green_sched *s);

/* Stops the run and wakes every scheduler out of epoll to see it. */
void green_stop_all(struct green_group *g);

/* ---- the switch itself: inline, on the hot path or once per task ---- */

/*
 * Makes co's first context on [lo, lo + size), with g's switch, and tells
 * TSan and valgrind about that stack.
 */
static inline void green_switch_make(const struct green_group *g,
                                     struct green_co *co, char *lo,
                                     size_t size)
{
    g->sw->make(co, lo, size);
#ifdef GREEN_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef GREEN_VALGRIND
    co->vg_stack = VALGRIND_STACK_REGISTER(co->stack_lo,
                                           co->stack_lo + co->stack_size);
#endif
}

/* Forgets co's context and its stack for TSan and valgrind. */
static inline void green_switch_unmake(struct green_co *co)
{
#ifdef GREEN_TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
    co->tsan_fiber = NULL;
#endif
#ifdef GREEN_VALGRIND
    VALGRIND_STACK_DEREGISTER(co->vg_stack);
#endif
    (void)co;
}

#ifdef CONC_HAVE_BOOST_CONTEXT
/*
 * fcontext hands the context a jump leaves to the one it lands in, not to
 * the one that left: each jump passes where the leaver keeps its context,
 * and the arrival stores it there (green_fc_entry on a task's first).
 */
static inline __attribute__((always_inline)) void
green_fc_jump(struct green_sched *s, struct green_co *from,
              struct green_co *to)
{
    transfer_t t = jump_fcontext(to ? to->fctx : s->fctx,
                                 from ? &from->fctx : &s->fctx);

    *(fcontext_t *)t.data = t.fctx;
}
#endif

/* The switch itself, told to the sanitizers: from `from` to `to` (NULL:
   the scheduler); `last` when from has finished for good; fc when the
   caller knows s's switch is fcontext's (else s->fcontext tells). */
static inline __attribute__((always_inline)) void
green_jump(struct green_sched *s, struct green_co *from, struct green_co *to,
           bool last, bool fc)
{
#ifdef GREEN_ASAN
    void **save = from ? (last ? NULL : &from->fake_stack) : &s->fake_stack;
    if (to)
        __sanitizer_start_switch_fiber(save, to->stack_lo, to->stack_size);
    else
        __sanitizer_start_switch_fiber(save, s->asan_bottom, s->asan_size);
#else
    (void)last;
#endif
    (void)fc;
#ifdef GREEN_TSAN
    __tsan_switch_to_fiber(to ? to->tsan_fiber : s->tsan_fiber, 0);
#endif
#ifdef CONC_HAVE_BOOST_CONTEXT
    /* A direct call on the common path: the jump is a few ns, so is an
     * indirect call. */
    if (fc || __builtin_expect(s->fcontext, 1))
        green_fc_jump(s, from, to);
    else
#endif
        s->g->sw->jump(s, from, to);
#ifdef GREEN_ASAN
    __sanitizer_finish_switch_fiber(from ? from->fake_stack : s->fake_stack,
                                    NULL, NULL);
#endif
}

/*
 * Scheduler to task: runs co, and the tasks it and they switch to
 * directly, until one switches back; returns that one.
 */
static inline struct green_co *green_resume(struct green_sched *s,
                                            struct green_co *co)
{
    struct green_co *back;

    green_cur = co;
    green_jump(s, NULL, co, false, false);
    back = green_cur;
    green_cur = NULL;
    return back;
}

/* Task to scheduler; `last` when the task has finished for good; fc: as
   for green_jump. */
static inline __attribute__((always_inline)) void
green_suspend(struct green_sched *s, struct green_co *co, bool last, bool fc)
{
    green_jump(s, co, NULL, last, fc);
}

/* Task to task, past the scheduler: co leaves, next runs. */
static inline __attribute__((always_inline)) void
green_switch_direct(struct green_sched *s, struct green_co *co,
                    struct green_co *next, bool fc)
{
    green_cur = next;
    green_jump(s, co, next, false, fc);
}

#endif
