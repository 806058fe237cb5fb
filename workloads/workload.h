/*
 * The workload interface: a workload is a resumable task that never blocks.
 * step() does a bounded slice of work and says what it needs next; the model
 * decides how to wait for it. See docs/design.md "One workload runs under
 * every model".
 */
#ifndef CONC_WORKLOAD_H
#define CONC_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/hist.h"
#include "lib/opts.h"
#include "lib/sync.h"

enum conc_want {
    CONC_DONE,       /* the task finished; call task_result */
    CONC_YIELD,      /* runnable again at once; let others run first */
    CONC_WAIT_READ,  /* call step again when fd is readable */
    CONC_WAIT_WRITE, /* call step again when fd is writable */
    CONC_WAIT_UNTIL, /* call step again at CLOCK_MONOTONIC deadline_ns */
    CONC_WAIT_SYNC,  /* call step again once q's number is no longer seq
                        (lib/sync.h: a lock, semaphore or event to wait on) */
};

struct conc_wait {
    enum conc_want want;
    int fd;               /* CONC_WAIT_READ/WRITE */
    uint64_t deadline_ns; /* CONC_WAIT_UNTIL; also an optional timeout for
                             READ/WRITE when nonzero (step is called at the
                             deadline even if fd is not ready) */
    struct conc_waitq *q; /* CONC_WAIT_SYNC: the queue to park on */
    uint32_t seq;         /* CONC_WAIT_SYNC: the number seen before the
                             check that failed (conc_lock_try & co.) */
    /*
     * CONC_WAIT_SYNC, optional: a waiter the step's release served and
     * left to the model to wake (one thread's FIFO lock hands it back,
     * conc_fifo_serve_local), NULL for none. The model wakes it before it
     * makes the wait, as the step's last act would have (conc_wait_wake).
     * One that runs the tasks of a thread may instead make the wait first
     * (on one thread nothing runs between), and then switch straight to
     * it when nothing else is queued (green).
     */
    struct conc_waiter *wake;
    /*
     * One clock read shared, where a model and a step would make two back
     * to back (28 ns each on a VM's kvm-clock: a quarter of a sleep's
     * start or wake with 100,000 tasks).
     */
    uint64_t start_ns; /* in, on a task's first step: the reading its start
                          was stamped with, just before task_init; the
                          step may take it as "now" (0 on later steps, or
                          from a model without it: read the clock) */
    uint64_t end_ns;   /* out, with CONC_DONE: a reading the step took with
                          nothing after it but deciding to end; the model
                          stamps it as the task's end (0: the model reads
                          the clock) */
};

/* A step: see struct conc_workload's step. */
typedef int conc_step_fn(void *task, struct conc_wait *w);

/*
 * A build with AddressSanitizer or ThreadSanitizer, which CI runs every
 * workload under: it checks what a hot path may assume (conc_wait_next,
 * CONC_KNOWN) where another build only assumes it.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CONC_CHECKED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CONC_CHECKED 1
#endif
#endif

/*
 * What a hot path knows holds, told to the compiler so it drops the
 * tests: checked (abort) in a checked build, assumed otherwise.
 */
#ifdef CONC_CHECKED
#define CONC_KNOWN(cond) ((cond) ? (void)0 : abort())
#else
#define CONC_KNOWN(cond) ((cond) ? (void)0 : __builtin_unreachable())
#endif

#ifdef CONC_CHECKED
void conc_wait_next_checked(struct conc_wait *w);
#endif

/* Wakes the waiter a step's sync wait left to the model (wake), if any. */
static inline void conc_wait_wake(const struct conc_wait *w)
{
    if (w->wake)
        w->wake->wake(w->wake);
}

/*
 * Readies w for the next step after one that asked for a yield or a sync
 * wait, as it is: a step writes want and the fields its want names, and no
 * other, so deadline_ns and end_ns are still 0 (and start_ns, once the
 * first step is past), and a model reads no field a want does not name.
 * A model may then call the step again with nothing reset but a sync
 * wait's wake, once made (green does, on its hot path); after any other
 * want it zeroes w. A checked build (CONC_CHECKED) aborts, naming the
 * broken rule, when the step wrote one of those three or wake is set,
 * and fills want, fd, q and seq with garbage, so a step that read one
 * fails its run.
 */
static inline void conc_wait_next(struct conc_wait *w)
{
#ifdef CONC_CHECKED
    conc_wait_next_checked(w);
#else
    (void)w;
#endif
}

/* Errors a task counts without failing itself; any nonzero fails the run. */
enum conc_err_kind {
    CONC_ERR_REFUSED,
    CONC_ERR_RESET,
    CONC_ERR_TIMEOUT,
    CONC_ERR_STATUS, /* a response status other than the expected one */
    CONC_ERR_PARSE,
    CONC_ERR_OTHER,
    CONC_ERR_KINDS
};

/* The JSON names of enum conc_err_kind, indexed by it. */
extern const char *const conc_err_kind_names[CONC_ERR_KINDS];

/*
 * What one task reports. The model zeroes it and fills start_ns, end_ns and
 * status; the workload's task_result fills the rest. It lives in memory
 * shared by every worker (MAP_SHARED, so forked children can write it).
 */
struct conc_task_out {
    uint64_t start_ns, end_ns; /* model: task_init .. CONC_DONE */
    int status;                /* model: 0, or the -errno step returned */
    uint64_t result;           /* workload: its part of the checksum */
    uint64_t ops;              /* workload: operations done (fetches, wakes) */
    uint64_t bytes;            /* workload: payload bytes moved */
    uint32_t errors[CONC_ERR_KINDS];
    struct conc_hist *op_ns;   /* shared per-operation latency histogram:
                                  record into it with conc_hist_add_atomic */
};

/* Sums over every task of a run, handed to verify(). */
struct conc_totals {
    unsigned tasks;
    uint64_t result, ops, bytes, errors;
};

/* A per-run number a workload adds to the report ("lost_updates"). */
struct conc_metric {
    const char *name; /* a JSON key, the same every run */
    double value;
};

#define CONC_METRICS_MAX 32

struct conc_workload {
    const char *name, *summary;
    const char *op_name;         /* what op_ns measures in the JSON, e.g.
                                    "request_ns"; NULL when it records none */
    const struct conc_opt *opts; /* declared beside the code that reads them */
    const char *unavailable;     /* non-NULL: compiled out, and why */
    size_t task_size;

    /*
     * Optional, before setup: refuses a request that cannot fit the
     * machine's limits (fds for connections) with a message naming the
     * limit and how to raise it. 0 or -errno; the run then exits 2.
     */
    int (*check)(const struct conc_params *p, unsigned tasks);

    /*
     * Optional: whether a task may busy-wait inside a step (a spinlock):
     * then every task needs an OS thread of its own that is preempted, not
     * given to another task (threads and fork, without a GIL), or the spin
     * never ends. The cell refuses the other models with a reason.
     */
    bool (*spins)(const struct conc_params *p);

    /*
     * Optional: whether the workload can run under a model that runs each
     * task to its end before it starts the next (a conc_model's `serial`):
     * tasks that wait for one another (a consumer for its producer) cannot,
     * or only in some configurations. 0, or -errno with the reason printed
     * (the request is refused, exit 2).
     */
    int (*serial_check)(const struct conc_params *p, unsigned tasks);

    /*
     * Optional: resets what tasks mutate (a shared counter) before each
     * run, untimed; shared from setup.
     */
    void (*run_start)(void *shared);

    /*
     * Optional: the stack one task needs beyond an ordinary call chain, in
     * bytes (yield's stack_use), checked before the run against what the
     * model gives a task. 0: nothing special.
     */
    uint64_t (*stack_need)(const struct conc_params *p);

    /*
     * Untimed, once per cell: parse nothing (p is parsed), allocate shared
     * read-only state. 0 or -errno, with the message printed.
     */
    int (*setup)(void **shared, const struct conc_params *p, unsigned tasks);

    /* Prepares task index of tasks in the caller's memory (task_size). */
    int (*task_init)(void *task, void *shared, unsigned index, unsigned tasks);

    /*
     * One bounded slice of work: 0 and *w filled, or -errno (the task
     * ends and the run fails). Never blocks.
     */
    int (*step)(void *task, struct conc_wait *w);

    /*
     * Optional, after task_init: the step to call for this task, to the
     * same effect as step, where step only chooses among several by the
     * task's options (counter's, one made for each lock). A model whose
     * hot path is a step call takes it once (conc_task_step) and saves a
     * call an update.
     */
    conc_step_fn *(*task_step)(void *task);

    /* Fills out's workload fields once step returned CONC_DONE. */
    int (*task_result)(const void *task, struct conc_task_out *out);

    /* Frees what task_init made; called after task_result or on failure. */
    void (*task_fini)(void *task);

    /*
     * Whether the run's answer is right: 0, or -EINVAL with a short reason
     * written to why (e.g. "5761454 primes, expected 5761455").
     */
    int (*verify)(void *shared, const struct conc_totals *t, char *why,
                  size_t why_len);

    /*
     * Optional, after verify: the run's own numbers beyond the common ones
     * (counter's expected and lost_updates), from shared and every task's
     * output, into m (at most max; returns how many), and a one-line note
     * for the summary ("lost 41,327 of 2,000,000 updates (2.1%)") into
     * note, or "" for none.
     */
    size_t (*run_metrics)(void *shared, const struct conc_totals *t,
                          const struct conc_task_out *out, unsigned tasks,
                          struct conc_metric *m, size_t max, char *note,
                          size_t note_len);

    /*
     * Optional, after a run that ended in a deadlock: what the tasks were
     * waiting for, read from shared ("deadlock: 5 philosophers each hold
     * one fork and wait for the next"), into why; leave why as it is when
     * the state says nothing better than the generic reason there.
     */
    void (*deadlock_why)(void *shared, char *why, size_t why_len);

    /* Frees shared (untimed). */
    void (*teardown)(void *shared);
};

#endif
