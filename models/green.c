/*
 * green: one stackful coroutine per task, scheduled cooperatively on one OS
 * thread (or W of them, M:N) with a FIFO run queue, epoll for fds and a
 * min-heap of deadlines, like gevent. It measures what a user-space stack
 * switch (Boost.Context's jump_fcontext, or swapcontext) and a stack per
 * task cost against threads and callbacks.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/heap.h"
#include "lib/proc.h"
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
#define GREEN_EVENTS 256            /* epoll events taken per wait */
#define GREEN_ALTSTACK (64 * 1024)  /* where the overflow handler runs */

static const struct conc_opt green_opts[] = {
    { "workers", CONC_OPT_COUNT, "1", "schedulers, each on its own OS "
      "thread; tasks are split between them (M:N)", NULL, 1, 1024 },
    { "stack", CONC_OPT_SIZE, "64KiB", "stack of each task (rounded up to "
      "pages), above a guard page", NULL, 16 * 1024, 1ull << 30 },
#ifdef CONC_HAVE_BOOST_CONTEXT
    { "switch", CONC_OPT_CHOICE, "fcontext", "how stacks are switched: "
      "Boost.Context's jump_fcontext, or swapcontext (a sigprocmask syscall "
      "per switch)", "fcontext|ucontext", 0, 0 },
#else
    { "switch", CONC_OPT_CHOICE, "ucontext", "how stacks are switched: "
      "Boost.Context's jump_fcontext (not in this build), or swapcontext (a "
      "sigprocmask syscall per switch)", "fcontext|ucontext", 0, 0 },
#endif
    { "guard", CONC_OPT_CHOICE, "auto", "how guard pages are made: madvise "
      "(MADV_GUARD_INSTALL, Linux 6.13+, one memory map per 64 stacks), "
      "mprotect (two maps per stack); auto picks madvise when the kernel has "
      "it", "auto|madvise|mprotect", 0, 0 },
    { "keep_stacks", CONC_OPT_BOOL, "on", "keep the stack pool mapped "
      "from one run of a cell to the next, as a long-lived process reuses "
      "its stacks (and glibc its thread stacks): later runs skip the mmap "
      "and first page faults; released when the cell ends (off: every run "
      "maps fresh stacks)", NULL, 0, 0 },
    { NULL },
};

enum green_guard { GREEN_GUARD_AUTO, GREEN_GUARD_MADVISE, GREEN_GUARD_MPROTECT };

enum green_state {
    GREEN_NEW,        /* queued, not started: no stack yet */
    GREEN_RUNNABLE,   /* in the run queue */
    GREEN_WAIT_TIMER, /* in the deadline heap */
    GREEN_WAIT_FD,    /* in epoll, and in the heap if it has a deadline */
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
    /* From the scheduler: runs co until it switches back. */
    void (*resume)(struct green_sched *s, struct green_co *co);
    /* From co: back to the scheduler, until resumed. */
    void (*suspend)(struct green_sched *s, struct green_co *co);
};

struct green_group;

/* One scheduler: one OS thread and the tasks it owns. */
struct green_sched {
    struct green_group *g;
    struct green_co *cos;       /* [ntasks] */
    char *tasks_mem;            /* [ntasks] workload tasks, task_stride each */
    unsigned first, ntasks, done;

    struct green_co *head, *tail; /* FIFO run queue */
    size_t nrunnable;
    struct conc_heap heap;      /* parked tasks by deadline_ns */
    unsigned nfd_waits;         /* tasks parked in epoll */
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
};

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
    int done_efd;        /* worker threads tell the main thread they ended */
};

/*
 * Stacks kept from the last run with keep_stacks=on, for the next one.
 * Touched only by the main thread between runs.
 */
static struct {
    char **chunks;
    size_t *len;
    size_t n;
    size_t slot_bytes;
    int guard;
} green_kept;

/* The task running on this thread, for the SIGSEGV handler. */
static _Thread_local struct green_co *green_cur;

static struct sigaction green_old_segv;
static char green_overflow_msg[128];
static size_t green_overflow_len;

/* ---- sizes and limits ---- */

static size_t green_page(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

/* "64KiB", "1MiB" or "70000B": a size as the user would write it. */
static void green_fmt_size(char *buf, size_t len, uint64_t b)
{
    if (b && b % (1ull << 30) == 0)
        snprintf(buf, len, "%lluGiB", (unsigned long long)(b >> 30));
    else if (b && b % (1ull << 20) == 0)
        snprintf(buf, len, "%lluMiB", (unsigned long long)(b >> 20));
    else if (b && b % 1024 == 0)
        snprintf(buf, len, "%lluKiB", (unsigned long long)(b >> 10));
    else
        snprintf(buf, len, "%lluB", (unsigned long long)b);
}

/* MemAvailable + SwapFree in bytes, or 0 when /proc/meminfo is unreadable. */
static uint64_t green_mem_available(void)
{
    uint64_t avail = 0, swap = 0;

    conc_proc_field_u64("/proc/meminfo", "MemAvailable:", &avail);
    conc_proc_field_u64("/proc/meminfo", "SwapFree:", &swap);
    return (avail + swap) * 1024;
}

/*
 * Whether this kernel has MADV_GUARD_INSTALL (Linux 6.13+). Asked once:
 * the answer cannot change while the process runs.
 */
static bool green_have_guard_install(void)
{
    static atomic_int known; /* 0 unknown, 1 yes, 2 no */
    int k = atomic_load(&known);
    size_t pg = green_page();
    char *p;

    if (k)
        return k == 1;
    p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false; /* no answer now; mprotect works everywhere */
    k = madvise(p, pg, MADV_GUARD_INSTALL) == 0 ? 1 : 2;
    munmap(p, 2 * pg);
    atomic_store(&known, k);
    return k == 1;
}

static enum green_guard green_guard_mode(const struct conc_params *mp)
{
    enum green_guard g = (enum green_guard)conc_param_u64(mp, "guard");

    if (g == GREEN_GUARD_AUTO)
        g = green_have_guard_install() ? GREEN_GUARD_MADVISE
                                       : GREEN_GUARD_MPROTECT;
    return g;
}

static size_t green_stack_bytes(const struct conc_params *mp)
{
    size_t pg = green_page();

    return (size_t)((conc_param_u64(mp, "stack") + pg - 1) / pg * pg);
}

/*
 * Refuses, before anything runs, a request whose stacks cannot exist: more
 * stack memory than the machine has available, or more memory maps than
 * vm.max_map_count allows (every stack is live at once in the worst case).
 */
static int green_check(const struct conc_params *mp, unsigned tasks)
{
    unsigned workers = conc_model_workers(mp, tasks);
    size_t slot = green_stack_bytes(mp) + green_page();
    uint64_t avail, need, max_maps, in_use;
    char s1[32], s2[32], s3[32];

#ifndef CONC_HAVE_BOOST_CONTEXT
    if (conc_param_u64(mp, "switch") == 0)
        return conc_error_msg(-ENOTSUP, "-o switch=fcontext is unavailable "
                              "in this build: built without Boost.Context; "
                              "use -o switch=ucontext");
#endif
    if (conc_param_u64(mp, "guard") == GREEN_GUARD_MADVISE &&
        !green_have_guard_install())
        return conc_error_msg(-ENOTSUP, "-o guard=madvise needs "
                              "MADV_GUARD_INSTALL (Linux 6.13+), which this "
                              "kernel lacks; use -o guard=mprotect");

    avail = green_mem_available();
    need = (uint64_t)tasks * slot;
    if (avail && need > avail) {
        green_fmt_size(s1, sizeof(s1), green_stack_bytes(mp));
        snprintf(s2, sizeof(s2), "%.1f GiB", (double)need / (1ull << 30));
        snprintf(s3, sizeof(s3), "%.1f GiB", (double)avail / (1ull << 30));
        return conc_error_msg(-ENOMEM, "%u green stacks of %s need %s, more "
                              "than the %s of available memory (MemAvailable "
                              "+ SwapFree); lower --tasks or -o stack",
                              tasks, s1, s2, s3);
    }

    /*
     * Every chunk is one map with guard regions, or two maps per stack with
     * mprotect; each scheduler adds an alternate signal stack and, on its
     * own thread, a thread stack with its guard.
     */
    if (conc_proc_u64("/proc/sys/vm/max_map_count", &max_maps))
        max_maps = 0;
    if (conc_proc_lines("/proc/self/maps", &in_use))
        in_use = 0;
    if (green_guard_mode(mp) == GREEN_GUARD_MADVISE)
        need = tasks / GREEN_CHUNK_SLOTS + 1 + workers;
    else
        need = 2ull * tasks + tasks / GREEN_CHUNK_SLOTS + 1 + workers;
    need += 3ull * workers + 16; /* altstacks, threads, malloc arenas */
    if (max_maps && in_use + need > max_maps)
        return conc_error_msg(-ENOMEM, "%u green stacks with guard pages "
                              "need about %llu memory maps, over "
                              "vm.max_map_count=%llu (%llu in use)%s; lower "
                              "--tasks or raise vm.max_map_count", tasks,
                              (unsigned long long)need,
                              (unsigned long long)max_maps,
                              (unsigned long long)in_use,
                              green_guard_mode(mp) == GREEN_GUARD_MPROTECT
                                  ? " with -o guard=mprotect"
                                  : "");
    return 0;
}

/* ---- stacks ---- */

/* A stack from the pool, or from a new chunk. NULL with errno set. */
static char *green_slot_get(struct green_sched *s)
{
    const struct green_group *g = s->g;
    size_t n, len;
    char *base;

    if (s->nfree)
        return s->free_slots[--s->nfree];
    if (s->nchunks && s->chunk_used < s->chunk_slots)
        return s->chunks[s->nchunks - 1] + g->slot_bytes * s->chunk_used++;
    if (s->slots_made >= s->ntasks) {
        errno = ENOMEM; /* cannot happen: a stack per task exists */
        return NULL;
    }

    /*
     * Every stack made is live (the pool is empty), so fewer than ntasks
     * exist and at least one more is needed; never more than ntasks.
     */
    n = s->ntasks - s->slots_made;
    if (n > GREEN_CHUNK_SLOTS)
        n = GREEN_CHUNK_SLOTS;
    len = n * g->slot_bytes;
    base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    /* A huge page would make every stack in it resident at once. */
    madvise(base, len, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < n; i++) {
        char *guard = base + i * g->slot_bytes;
        int rc = g->guard == GREEN_GUARD_MADVISE
                     ? madvise(guard, g->guard_bytes, MADV_GUARD_INSTALL)
                     : mprotect(guard, g->guard_bytes, PROT_NONE);
        if (rc) {
            int e = errno;
            munmap(base, len);
            errno = e;
            return NULL;
        }
    }
    s->chunks[s->nchunks] = base;
    s->chunk_len[s->nchunks++] = len;
    s->chunk_slots = n;
    s->chunk_used = 1;
    s->slots_made += n;
    return base;
}

/* Back to the pool: the next task to start runs on it. */
static void green_slot_put(struct green_sched *s, char *slot)
{
#ifdef GREEN_ASAN
    /* Frames that never returned (the entry's) leave poisoned redzones. */
    __asan_unpoison_memory_region(slot + s->g->guard_bytes, s->g->stack_bytes);
#endif
    s->free_slots[s->nfree++] = slot;
}

/* ---- switching ---- */

static void green_co_main(struct green_co *co) __attribute__((noreturn));

#ifdef CONC_HAVE_BOOST_CONTEXT
static void green_fc_entry(transfer_t t)
{
    struct green_co *co = t.data;

    co->s->fctx = t.fctx;
    green_co_main(co);
}

static void green_fc_make(struct green_co *co, char *lo, size_t size)
{
    co->stack_lo = lo;
    co->stack_size = size;
    co->fctx = make_fcontext(lo + size, size, green_fc_entry);
}

static void green_fc_resume(struct green_sched *s, struct green_co *co)
{
    transfer_t t = jump_fcontext(co->fctx, co);

    (void)s;
    co->fctx = t.fctx;
}

static void green_fc_suspend(struct green_sched *s, struct green_co *co)
{
    transfer_t t = jump_fcontext(s->fctx, co);

    s->fctx = t.fctx;
}
#endif

static void green_uc_entry(void)
{
    green_co_main(green_cur);
}

/* The ucontext_t lives at the top of the task's own stack. */
static void green_uc_make(struct green_co *co, char *lo, size_t size)
{
    uintptr_t top = (uintptr_t)(lo + size) - sizeof(ucontext_t);
    ucontext_t *uc = (ucontext_t *)(top & ~(uintptr_t)63);

    getcontext(uc);
    uc->uc_stack.ss_sp = lo;
    uc->uc_stack.ss_size = (size_t)((char *)uc - lo);
    uc->uc_link = NULL;
    makecontext(uc, green_uc_entry, 0);
    co->uc = uc;
    co->stack_lo = lo;
    co->stack_size = uc->uc_stack.ss_size;
}

static void green_uc_resume(struct green_sched *s, struct green_co *co)
{
    swapcontext(s->uc, co->uc);
}

static void green_uc_suspend(struct green_sched *s, struct green_co *co)
{
    swapcontext(co->uc, s->uc);
}

/* Indexed like the choices of -o switch. */
static const struct green_switch green_switches[] = {
#ifdef CONC_HAVE_BOOST_CONTEXT
    { "fcontext", green_fc_make, green_fc_resume, green_fc_suspend },
#else
    { "fcontext", NULL, NULL, NULL }, /* refused by green_check */
#endif
    { "ucontext", green_uc_make, green_uc_resume, green_uc_suspend },
};

/* Scheduler to task. */
static void green_resume(struct green_sched *s, struct green_co *co)
{
    green_cur = co;
#ifdef GREEN_ASAN
    __sanitizer_start_switch_fiber(&s->fake_stack, co->stack_lo,
                                   co->stack_size);
#endif
#ifdef GREEN_TSAN
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
#ifdef CONC_HAVE_BOOST_CONTEXT
    /* A direct call on the common path: the jump is a few ns, so is an
     * indirect call. */
    if (s->g->sw->resume == green_fc_resume)
        green_fc_resume(s, co);
    else
#endif
        s->g->sw->resume(s, co);
#ifdef GREEN_ASAN
    __sanitizer_finish_switch_fiber(s->fake_stack, NULL, NULL);
#endif
    green_cur = NULL;
}

/* Task to scheduler; `last` when the task has finished for good. */
static void green_suspend(struct green_sched *s, struct green_co *co,
                          bool last)
{
#ifdef GREEN_ASAN
    __sanitizer_start_switch_fiber(last ? NULL : &co->fake_stack,
                                   s->asan_bottom, s->asan_size);
#else
    (void)last;
#endif
#ifdef GREEN_TSAN
    __tsan_switch_to_fiber(s->tsan_fiber, 0);
#endif
#ifdef CONC_HAVE_BOOST_CONTEXT
    if (s->g->sw->suspend == green_fc_suspend)
        green_fc_suspend(s, co);
    else
#endif
        s->g->sw->suspend(s, co);
#ifdef GREEN_ASAN
    __sanitizer_finish_switch_fiber(co->fake_stack, NULL, NULL);
#endif
}

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

/* ---- the run queue and waits ---- */

static void green_push(struct green_sched *s, struct green_co *co)
{
    co->next = NULL;
    if (s->tail)
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
    if (!s->head)
        s->tail = NULL;
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

/*
 * In the task: parks it as w asks and switches to the scheduler, which
 * switches back when the wait is over. 0, or -errno when the wait cannot
 * be made (then the task ends with it).
 */
static int green_park(struct green_sched *s, struct green_co *co,
                      const struct conc_wait *w)
{
    int err;

    co->deadline_ns = 0;
    switch (w->want) {
    case CONC_YIELD:
        co->state = GREEN_RUNNABLE;
        break;
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
    green_suspend(s, co, false);
    return 0;
}

/* A task's whole life, on its own stack. */
static void green_co_main(struct green_co *co)
{
    struct green_sched *s = co->s;
    const struct conc_run *r = s->g->r;
    struct conc_wait w;
    int err;

#ifdef GREEN_ASAN
    __sanitizer_finish_switch_fiber(NULL, &s->asan_bottom, &s->asan_size);
#endif
    err = conc_task_start(r, co->index, co->task);
    if (!err) {
        co->inited = true;
        for (;;) {
            memset(&w, 0, sizeof(w));
            err = r->w->step(co->task, &w);
            if (err || w.want == CONC_DONE)
                break;
            err = green_park(s, co, &w);
            if (err)
                break;
        }
        co->inited = false;
        conc_task_finish(r, co->index, co->task, err);
    }
    co->state = GREEN_DONE;
    green_suspend(s, co, true);
    abort(); /* a finished task is never resumed */
}

/* ---- the scheduler ---- */

static bool green_stopping(const struct green_sched *s)
{
    return conc_interrupted ||
           atomic_load_explicit(&s->g->stop, memory_order_relaxed);
}

/* Wakes every scheduler out of epoll so that it sees the stop flag. */
static void green_stop_all(struct green_group *g)
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

/* Gives a new task its stack and its first context. */
static int green_start(struct green_sched *s, struct green_co *co)
{
    const struct green_group *g = s->g;
    char *slot = green_slot_get(s);

    if (!slot)
        return -errno;
    co->slot = slot;
    g->sw->make(co, slot + g->guard_bytes, g->stack_bytes);
#ifdef GREEN_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef GREEN_VALGRIND
    co->vg_stack = VALGRIND_STACK_REGISTER(co->stack_lo,
                                           co->stack_lo + co->stack_size);
#endif
    co->state = GREEN_RUNNABLE;
    return 0;
}

/* Takes a finished or abandoned task's stack back, from the scheduler. */
static void green_release(struct green_sched *s, struct green_co *co)
{
#ifdef GREEN_TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
    co->tsan_fiber = NULL;
#endif
#ifdef GREEN_VALGRIND
    VALGRIND_STACK_DEREGISTER(co->vg_stack);
#endif
    green_slot_put(s, co->slot);
    co->slot = NULL;
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
        green_release(s, co);
        s->done++;
        break;
    case GREEN_NEW:
        abort();
    }
}

/*
 * Waits in epoll for fds and the next deadline, without blocking when
 * tasks are runnable, then wakes what is ready. Never wakes a timer task
 * before its deadline: epoll_pwait2 sleeps at least the relative timeout
 * it is given, and the heap is then checked against the clock.
 */
static int green_poll(struct green_sched *s)
{
    static atomic_int no_pwait2;
    struct epoll_event ev[GREEN_EVENTS];
    bool idle = s->nrunnable == 0;
    struct timespec ts = { 0, 0 };
    int n, timeout_ms = 0;
    uint64_t now = 0;

    /* Nothing parked: no reason to ask the kernel. */
    if (!s->nfd_waits && !s->heap.n)
        return 0;
    if (s->heap.n)
        now = conc_now_ns();
    if (idle || s->nfd_waits) {
        bool forever = idle && !s->heap.n;
        if (idle && s->heap.n && s->heap.v[0]->key > now) {
            uint64_t d = s->heap.v[0]->key - now;
            ts = conc_ns_to_timespec(d);
            /* The fallback rounds up: waking early would only spin. */
            timeout_ms = d / CONC_NS_PER_MS > INT_MAX
                             ? INT_MAX
                             : (int)((d + CONC_NS_PER_MS - 1) / CONC_NS_PER_MS);
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
        size_t n = s->nrunnable;
        int err;

        while (n-- && !conc_interrupted) {
            struct green_co *co = green_pop(s);
            if (co->state == GREEN_NEW && (err = green_start(s, co)) != 0) {
                co->state = GREEN_NEW; /* never started: nothing to undo */
                green_fail(s->g, err, "map stacks for green tasks");
                return;
            }
            green_resume(s, co);
            green_after(s, co);
        }
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
 * Ends the tasks a stop left parked: their task_fini runs here, on the
 * scheduler's stack (a task's memory is not on its own stack), and their
 * stacks go back to the pool.
 */
static void green_sched_abandon(struct green_sched *s)
{
    int err = atomic_load(&s->g->err);

    for (unsigned i = 0; i < s->ntasks; i++) {
        struct green_co *co = &s->cos[i];
        if (co->inited) {
            conc_task_finish(s->g->r, co->index, co->task,
                             err ? err : -EINTR);
            co->inited = false;
        }
        if (co->slot)
            green_release(s, co);
    }
}

/* One scheduler's thread body (the main thread runs scheduler 0). */
static void green_sched_run(struct green_sched *s)
{
    stack_t ss = { .ss_sp = s->altstack, .ss_size = GREEN_ALTSTACK };

#ifdef GREEN_TSAN
    s->tsan_fiber = __tsan_get_current_fiber();
#endif
    /* The overflow handler cannot run on the stack that overflowed. */
    sigaltstack(&ss, &s->old_altstack);
    green_sched_loop(s);
    green_sched_abandon(s);
    sigaltstack(&s->old_altstack, NULL);
}

static void *green_thread_main(void *arg)
{
    struct green_sched *s = arg;
    uint64_t one = 1;

    green_sched_run(s);
    atomic_fetch_add(&s->g->finished, 1);
    if (write(s->g->done_efd, &one, sizeof(one)) < 0) {
        /* Cannot fail below 2^64-2; the main thread also polls. */
    }
    return NULL;
}

static void green_sched_fini(struct green_sched *s)
{
#ifdef GREEN_ASAN
    for (size_t i = 0; i < s->nchunks; i++)
        __asan_unpoison_memory_region(s->chunks[i], s->chunk_len[i]);
#endif
    for (size_t i = 0; i < s->nchunks; i++)
        munmap(s->chunks[i], s->chunk_len[i]);
    if (s->altstack)
        munmap(s->altstack, GREEN_ALTSTACK);
    if (s->wakefd >= 0)
        close(s->wakefd);
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->g->sw->make == green_uc_make)
        free(s->uc);
    free(s->chunks);
    free(s->chunk_len);
    free(s->free_slots);
    conc_heap_fini(&s->heap);
    free(s->tasks_mem);
    free(s->cos);
}

/* Scheduler s gets tasks [first, first + n). 0 or -errno, printed. */
static int green_sched_init(struct green_group *g, struct green_sched *s,
                            unsigned first, unsigned n)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    size_t maxchunks = n / GREEN_CHUNK_SLOTS + 1 + green_kept.n;

    memset(s, 0, sizeof(*s));
    s->g = g;
    s->first = first;
    s->ntasks = n;
    s->epfd = s->wakefd = -1;
    s->cos = conc_xcalloc(n, sizeof(*s->cos));
    s->tasks_mem = conc_xcalloc(n, g->task_stride);
    s->free_slots = conc_xcalloc((size_t)n + GREEN_CHUNK_SLOTS,
                                 sizeof(*s->free_slots));
    s->chunks = conc_xcalloc(maxchunks, sizeof(*s->chunks));
    s->chunk_len = conc_xcalloc(maxchunks, sizeof(*s->chunk_len));
    if (g->sw->make == green_uc_make)
        s->uc = conc_xcalloc(1, sizeof(*s->uc));
    /* Kept stacks first; each chunk's stacks all go in the pool. */
    while (s->slots_made < n && green_kept.n) {
        size_t c = --green_kept.n, len = green_kept.len[c];
        s->chunks[s->nchunks] = green_kept.chunks[c];
        s->chunk_len[s->nchunks++] = len;
        for (size_t k = len / g->slot_bytes; k-- > 0;)
            s->free_slots[s->nfree++] = green_kept.chunks[c] +
                                        k * g->slot_bytes;
        s->slots_made += len / g->slot_bytes;
    }
    for (unsigned i = 0; i < n; i++) {
        struct green_co *co = &s->cos[i];
        co->s = s;
        co->index = first + i;
        co->task = s->tasks_mem + (size_t)i * g->task_stride;
        conc_heap_node_init(&co->wait);
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

/* ---- stack overflow ---- */

/*
 * A fault in the guard page under the running task's stack is an
 * overflow: say so and exit 1, rather than die of a bare SIGSEGV. Only
 * async-signal-safe calls. Any other fault goes to the previous handler.
 */
static void green_on_segv(int sig, siginfo_t *si, void *uctx)
{
    const struct green_co *co = green_cur;
    const char *a = si->si_addr;

    if (co && co->slot && a >= co->slot && a < co->stack_lo) {
        if (write(STDERR_FILENO, green_overflow_msg, green_overflow_len) < 0) {
            /* Nothing left to report it with. */
        }
        _exit(CONC_CRASH_EXIT);
    }
    if ((green_old_segv.sa_flags & SA_SIGINFO) &&
        green_old_segv.sa_sigaction) {
        green_old_segv.sa_sigaction(sig, si, uctx);
    } else if (green_old_segv.sa_handler != SIG_DFL &&
               green_old_segv.sa_handler != SIG_IGN) {
        green_old_segv.sa_handler(sig);
    } else {
        /* Returning re-runs the faulting access, now fatal as usual. */
        signal(SIGSEGV, SIG_DFL);
    }
}

static int green_segv_install(const struct green_group *g)
{
    struct sigaction sa;
    char sz[32];
    int n;

    green_fmt_size(sz, sizeof(sz), g->stack_bytes);
    n = snprintf(green_overflow_msg, sizeof(green_overflow_msg),
                 "concbench: green task stack overflow (stack=%s); raise "
                 "-o stack\n", sz);
    green_overflow_len = (size_t)n < sizeof(green_overflow_msg)
                             ? (size_t)n
                             : sizeof(green_overflow_msg) - 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = green_on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &green_old_segv))
        return conc_error(-errno, "cannot catch SIGSEGV");
    return 0;
}

/* ---- the run ---- */

/* Waits, interruptibly, for the worker threads to end; then joins them. */
static void green_join(struct green_group *g, unsigned nthreads)
{
    struct pollfd pfd = { .fd = g->done_efd, .events = POLLIN };
    bool told = false;
    uint64_t v;

    while (atomic_load(&g->finished) < nthreads) {
        if (!told && (conc_interrupted || atomic_load(&g->stop))) {
            green_stop_all(g);
            told = true;
        }
        if (poll(&pfd, 1, -1) > 0 && read(g->done_efd, &v, sizeof(v)) < 0) {
            /* Raced with another reader of the counter: poll again. */
        }
    }
    for (unsigned k = 1; k < g->nsched; k++)
        if (g->scheds[k].thread_started)
            pthread_join(g->scheds[k].thread, NULL);
}

/* Unmaps the stacks kept from an earlier run. */
static void green_kept_free(void)
{
    for (size_t i = 0; i < green_kept.n; i++)
        munmap(green_kept.chunks[i], green_kept.len[i]);
    free(green_kept.chunks);
    free(green_kept.len);
    memset(&green_kept, 0, sizeof(green_kept));
}

/* Moves every scheduler's stacks to green_kept, for the next run. */
static void green_kept_take(struct green_group *g)
{
    size_t total = 0;

    for (unsigned k = 0; k < g->nsched; k++)
        total += g->scheds[k].nchunks;
    green_kept.chunks = conc_xrealloc(green_kept.chunks,
                                      (green_kept.n + total) * sizeof(char *));
    green_kept.len = conc_xrealloc(green_kept.len,
                                   (green_kept.n + total) * sizeof(size_t));
    for (unsigned k = 0; k < g->nsched; k++) {
        struct green_sched *s = &g->scheds[k];
        for (size_t i = 0; i < s->nchunks; i++) {
#ifdef GREEN_ASAN
            __asan_unpoison_memory_region(s->chunks[i], s->chunk_len[i]);
#endif
            green_kept.chunks[green_kept.n] = s->chunks[i];
            green_kept.len[green_kept.n++] = s->chunk_len[i];
        }
        s->nchunks = 0;
    }
    green_kept.slot_bytes = g->slot_bytes;
    green_kept.guard = (int)g->guard;
}

static int green_run(struct conc_run *r)
{
    const struct conc_params *mp = r->mp;
    struct green_group g;
    unsigned workers = conc_model_workers(mp, r->tasks);
    unsigned started = 0;
    bool keep;
    sigset_t block, old;
    int err = 0, rc;

    memset(&g, 0, sizeof(g));
    g.r = r;
    g.sw = &green_switches[conc_param_u64(mp, "switch")];
    if (!g.sw->make)
        return conc_error_msg(-ENOTSUP, "-o switch=%s is unavailable in "
                              "this build", g.sw->name);
    g.guard = green_guard_mode(mp);
    g.stack_bytes = green_stack_bytes(mp);
    g.guard_bytes = green_page();
    g.slot_bytes = g.stack_bytes + g.guard_bytes;
    g.task_stride = (r->w->task_size + 15) & ~(size_t)15;
    if (!g.task_stride)
        g.task_stride = 16;
    g.nsched = workers;
    g.done_efd = -1;
    keep = conc_param_bool(mp, "keep_stacks");
    if (!keep || green_kept.slot_bytes != g.slot_bytes ||
        green_kept.guard != (int)g.guard)
        green_kept_free();
    if (!g.nsched)
        return 0;

    g.scheds = conc_xcalloc(g.nsched, sizeof(*g.scheds));
    for (unsigned k = 0; k < g.nsched; k++) {
        unsigned lo = (unsigned)((uint64_t)r->tasks * k / g.nsched);
        unsigned hi = (unsigned)((uint64_t)r->tasks * (k + 1) / g.nsched);
        started = k + 1;
        err = green_sched_init(&g, &g.scheds[k], lo, hi - lo);
        if (err)
            goto fail_scheds;
    }
    if (g.nsched > 1) {
        g.done_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (g.done_efd < 0) {
            err = conc_error(-errno, "cannot create an eventfd");
            goto fail_scheds;
        }
    }
    err = green_segv_install(&g);
    if (err)
        goto fail_scheds;

    /*
     * Worker threads block SIGINT and SIGTERM, so the main thread takes
     * them: its epoll_wait or poll returns EINTR and it wakes the others.
     */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (unsigned k = 1; k < g.nsched; k++) {
        rc = pthread_create(&g.scheds[k].thread, NULL, green_thread_main,
                            &g.scheds[k]);
        if (rc) {
            err = conc_error(-rc, "cannot create green scheduler thread %u "
                             "of %u", k + 1, g.nsched);
            /* Threads never made count as finished for the join. */
            atomic_fetch_add(&g.finished, g.nsched - k);
            atomic_store(&g.stop, 1);
            break;
        }
        g.scheds[k].thread_started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (!err)
        green_sched_run(&g.scheds[0]);
    else
        green_sched_abandon(&g.scheds[0]);
    if (g.nsched > 1)
        green_join(&g, g.nsched - 1);
    sigaction(SIGSEGV, &green_old_segv, NULL);
    if (!err)
        err = atomic_load(&g.err);

fail_scheds:
    if (keep && !err && !conc_interrupted && started == g.nsched)
        green_kept_take(&g);
    else
        green_kept_free();
    for (unsigned k = 0; k < started; k++)
        green_sched_fini(&g.scheds[k]);
    if (g.done_efd >= 0)
        close(g.done_efd);
    free(g.scheds);
    if (conc_interrupted)
        return -EINTR;
    return err;
}

const struct conc_model conc_model_green = {
    .name = "green",
    .summary = "stackful coroutines on one OS thread (or W): a FIFO run "
               "queue, epoll and a deadline heap, switching stacks",
    .like = "gevent, greenlets",
    .opts = green_opts,
    .check = green_check,
    .run = green_run,
    .cell_end = green_kept_free,
};
