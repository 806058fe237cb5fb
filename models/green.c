/*
 * green: one stackful coroutine per task, scheduled cooperatively on one OS
 * thread (or W of them, M:N) with a FIFO run queue, epoll for fds and a
 * min-heap of deadlines, like gevent. It measures what a user-space stack
 * switch (Boost.Context's jump_fcontext, or swapcontext) and a stack per
 * task cost against threads and callbacks. Here: the model object and its
 * run (the schedulers' threads, the join); sizes and limits, stacks, switch
 * back-ends and the scheduler are in green-{size,stack,switch,sched}.c.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/sync.h"
#include "models/green.h"
#include "models/model.h"

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

/* One scheduler's thread body (the main thread runs scheduler 0). */
static void *green_thread_main(void *arg)
{
    struct green_sched *s = arg;
    uint64_t one = 1;

    green_sched_run(s);
    conc_worker_end(s->g->r);
    atomic_fetch_add(&s->g->finished, 1);
    if (write(s->g->done_efd, &one, sizeof(one)) < 0) {
        /* Cannot fail below 2^64-2; the main thread also polls. */
    }
    return NULL;
}

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
    green_kept_fit(&g, keep);
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

    /* One scheduler: every step on this thread, sync with no locked
       instruction. */
    conc_sync_set_local(g.nsched == 1);
    if (!err)
        green_sched_run(&g.scheds[0]);
    else
        green_sched_abandon(&g.scheds[0]);
    conc_sync_set_local(false);
    if (g.nsched > 1)
        green_join(&g, g.nsched - 1);
    green_segv_restore();
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
