/*
 * uring: tasks as under eventloop, on one io_uring per worker thread: an fd
 * wait is a poll request, a deadline a timeout request (linked to the poll
 * when a wait has both), and the requests every task of a pass made go to
 * the kernel in one io_uring_enter, which also waits for the next
 * completions. It measures what a completion ring saves over epoll. This
 * file holds the model, the kernel's refusal and the rings; a task's
 * requests, steps and wakes are in uring-task.c.
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
    { "slack", CONC_OPT_DURATION, "50us", "sleeps whose deadlines fall in "
      "the same slot of this length share one timeout request, for the "
      "slot's end: at most this late, as the kernel's default timer slack "
      "lets a thread's own sleep be (0: a request per sleep)", NULL, 0,
      CONC_NS_PER_S },
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
/* The ring whose thread this is, for a wake to tell local from remote. */
_Thread_local struct uring_ring *uring_cur;

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

/* ---- one ring */

/* Runs one opened ring over its tasks, until every task has ended. */
static void uring_ring_run(struct uring_ring *rg)
{
    const struct conc_run *r = rg->r;
    int err;

    uring_cur = rg;
    /*
     * Not calloc: each task is zeroed just before it starts, in the same
     * pass (100,000 tasks are 16 MB; a calloc from the heap a run before
     * freed zeroes them all first, then the starts bring them back).
     * Only tasks [0, started) are ever looked at.
     */
    rg->tasks = conc_xmallocarray(rg->n ? rg->n : 1, rg->stride);
    /* Every task's first step, their requests queued for one submit. */
    for (; rg->started < rg->n && !conc_interrupted; rg->started++) {
        struct uring_task *t = uring_task_at(rg, rg->started);
        memset(t, 0, rg->stride);
        t->rg = rg;
        t->index = rg->first + rg->started;
        t->waiter.wake = uring_on_wake;
        atomic_init(&t->linked, false);
        if (rg->started % 64 == 0)
            rg->now_ns = conc_now_ns();
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
        rg->now_ns = conc_now_ns();
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
        rg->now_ns = conc_now_ns();
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
    int err = conc_limits_check_workers(mp, tasks);

    return err ? err : uring_prepare();
}

static int uring_run(struct conc_run *r)
{
    unsigned workers = conc_model_workers(r->mp, r->tasks);
    unsigned entries = (unsigned)conc_param_u64(r->mp, "entries");
    bool sqpoll = conc_param_bool(r->mp, "sqpoll");
    uint64_t slack = conc_param_u64(r->mp, "slack");
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
        rgs[k].slack_ns = slack;
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
    /* One ring: every step on this thread, sync with no locked
       instruction. */
    conc_sync_set_local(workers == 1);
    if (!err)
        uring_ring_run(&rgs[0]);
    conc_sync_set_local(false);
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
        uring_timers_free(&rgs[k]);
    }
    free(rgs);
    if (conc_interrupted)
        return -EINTR;
    return err;
}

/* Writable: uring_probe marks it unavailable when the kernel refuses. */
/* The rings' threads, and under sqpoll=on each ring's kernel thread. */
static unsigned uring_os_threads(const struct conc_params *mp, unsigned tasks)
{
    unsigned n = conc_model_workers(mp, tasks);

    return conc_param_bool(mp, "sqpoll") ? 2 * n : n;
}

const struct conc_model conc_model_uring = {
    .name = "uring",
    .summary = "tasks on one io_uring per worker thread: poll and timeout "
               "requests, submitted in batches",
    .opts = uring_opts,
    .refusal = uring_probe,
    .check = uring_check,
    .run = uring_run,
    .stack_size = conc_workers_stack,
    .os_threads = uring_os_threads,
};

#else /* !CONC_HAVE_URING */

const struct conc_model conc_model_uring = {
    .name = "uring",
    .summary = "tasks on one io_uring per worker thread",
    .opts = uring_opts,
    .unavailable = "built without liburing",
};

#endif
