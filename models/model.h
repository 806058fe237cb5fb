/*
 * The model interface: a model decides only where tasks run and how they
 * wait, never what they compute. See docs/design.md.
 */
#ifndef CONC_MODEL_H
#define CONC_MODEL_H

#include <stdatomic.h>
#include <stdint.h>

#include "lib/opts.h"
#include "workloads/workload.h"

/*
 * The signal (SIGINT, SIGTERM) that asked the run to stop, or 0. Set by the
 * handler cmd/ installs without SA_RESTART, so blocking waits return EINTR.
 * A lock-free atomic rather than volatile sig_atomic_t: it is safe in a
 * signal handler and, unlike volatile, race-free to read from the model's
 * worker threads.
 * A model that sees it set stops starting tasks, ends the ones running
 * within about 100 ms (waking its waiting threads, killing and reaping its
 * children), releases everything and returns -EINTR.
 */
extern atomic_int conc_interrupted;

/*
 * The exit status of a process that a task's crash ends at once, where no
 * return path is left (green's stack overflow handler): the status of a
 * failed run, which cmd/ checks it against.
 */
#define CONC_CRASH_EXIT 1

/* One timed run of `tasks` tasks of workload w, as handed to a model. */
struct conc_run {
    const struct conc_workload *w;
    void *shared;                 /* from w->setup */
    unsigned tasks;
    const struct conc_params *mp; /* the model's options */
    struct conc_task_out *out;    /* [tasks], zeroed, in MAP_SHARED memory */
    uint64_t child_max_rss_kib;   /* a model with child processes sets the
                                     largest child's peak RSS here */
};

struct conc_model {
    const char *name, *summary;
    const char *like;             /* its Python counterpart, for `list` */
    const struct conc_opt *opts;
    const char *unavailable;      /* non-NULL: compiled out, and why */

    /*
     * Optional, before anything runs: refuses a request that cannot fit the
     * machine's limits (pid_max, RLIMIT_NPROC, fds) with a message naming
     * the limit. 0 or -errno.
     */
    int (*check)(const struct conc_params *mp, unsigned tasks);

    /*
     * Runs every task of r to completion. Returns 0 when every task was
     * driven to its end (a task's own failure goes in out[i].status), or
     * -errno when the model itself failed (message printed), having still
     * released every thread, process, fd and byte it made.
     */
    int (*run)(struct conc_run *r);

    /*
     * Optional: releases what the model kept from one run for the next of
     * the same cell (green's stack pool), so it never counts against
     * another cell. Called once the cell's runs are over.
     */
    void (*cell_end)(void);
};

/*
 * Task bookkeeping every model shares (models/task.c). conc_task_start()
 * stamps out[index].start_ns and calls task_init; conc_task_finish() stamps
 * end_ns, calls task_result (when err is 0) and task_fini, and records err.
 */
int conc_task_start(const struct conc_run *r, unsigned index, void *task);
void conc_task_finish(const struct conc_run *r, unsigned index, void *task,
                      int err);

/*
 * The model's `workers` option: how many OS-level workers run the tasks,
 * never more than the tasks and at least one. A model whose table gives
 * `workers` no default runs one worker per task when it is not set.
 */
unsigned conc_model_workers(const struct conc_params *mp, unsigned tasks);

/*
 * The blocking driver (models/drive.c) that sequential, fork and threads
 * share. Hooks let a model run code around each step (the GIL of threads).
 */
struct conc_drive_hooks {
    void (*before_step)(void *arg);
    void (*after_step)(void *arg, const struct conc_wait *w);
    void *arg;
};

/*
 * Runs task index of r to completion in the calling thread, in task (at
 * least r->w->task_size bytes), waiting with poll(2) and clock_nanosleep(2).
 * hooks may be NULL. Returns the task's status (0 or -errno).
 */
int conc_drive_task(const struct conc_run *r, unsigned index, void *task,
                    const struct conc_drive_hooks *hooks);

/*
 * Blocks the calling thread until w is satisfied (fd ready, deadline
 * reached, or a READ/WRITE wait's deadline passed). CONC_YIELD returns at
 * once. 0, -EINTR once conc_interrupted is set, or -errno.
 */
int conc_drive_wait(const struct conc_wait *w);

#endif
