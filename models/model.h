/*
 * The model interface: a model decides only where tasks run and how they
 * wait, never what they compute. See docs/design.md.
 */
#ifndef CONC_MODEL_H
#define CONC_MODEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/interrupt.h"
#include "lib/clock.h"
#include "lib/opts.h"
#include "workloads/workload.h"

/*
 * conc_interrupted (lib/interrupt.h): a model that sees it set stops
 * starting tasks, ends the ones running within about 100 ms (waking its
 * waiting threads, killing and reaping its children), releases everything
 * and returns -EINTR. cmd/ installs the handler without SA_RESTART, so
 * blocking waits return EINTR.
 */

/*
 * The exit status of a process that a task's crash ends at once, where no
 * return path is left (green's stack overflow handler): the status of a
 * failed run, which cmd/ checks it against.
 */
#define CONC_CRASH_EXIT 1

/* The run-queue wait of a run's workers, summed as they end. */
struct conc_runqueue {
    _Atomic uint64_t ns;
    atomic_uint threads; /* how many workers added theirs */
};

/*
 * The memory of a run's child processes (fork's), each adding its own as
 * its last act: its unique set (the pages no other process maps, from
 * smaps_rollup) or, where the kernel has no rollup, its anonymous resident
 * pages (statm), and its page tables (VmPTE) where status has them. Pages
 * a child shares with the parent are the parent's.
 */
struct conc_memsum {
    _Atomic uint64_t kib;
    atomic_uint children;  /* how many added theirs */
    atomic_uint anon;      /* of them, how many could only give statm's */
    atomic_uint pte;       /* of them, how many added their page tables */
};

/*
 * What every task of a run shares about coordination, in MAP_SHARED
 * memory (fork's children too): the first failure that should stop the
 * waiting (a task that failed while others may wait on a lock it held, a
 * deadlock), and the counts deadlock detection reads.
 */
struct conc_runsync {
    _Atomic int abort;       /* 0, or -errno: parked tasks stop and fail */
    atomic_uint running;     /* tasks started and not finished */
    atomic_uint parked;      /* of them, parked on a CONC_WAIT_SYNC */
    _Atomic uint64_t unparks; /* wakes that ended a park: progress */
};

/*
 * How often a parked task looks at the stop flags, and how long every
 * running task must stay parked with no wake before that is a deadlock
 * (long enough that a woken task's thread, starved of a CPU, is not
 * taken for a stuck one).
 */
#define CONC_SYNC_POLL_NS (100 * CONC_NS_PER_MS)
#define CONC_DEADLOCK_NS (1000 * CONC_NS_PER_MS)

/*
 * What a model that times its run itself reports (python: an interpreter
 * started before its timed section measures that section), zeroed before
 * each run. When `set`, the cell takes these numbers instead of its own
 * clock and rusage around run(). Independently, `facts` follow the
 * workload's run metrics in each run's record (the interpreter's version),
 * and `note` is the summary's last line when the workload has none.
 */
struct conc_run_self {
    bool set;
    uint64_t start_ns, wall_ns, user_ns, sys_ns, max_rss_kib;
    uint64_t ctxsw_voluntary, ctxsw_involuntary;
    struct conc_metric facts[3];
    size_t nfacts;
    char note[120];
};

/* One timed run of `tasks` tasks of workload w, as handed to a model. */
struct conc_run {
    const struct conc_workload *w;
    void *shared;                 /* from w->setup */
    unsigned tasks;
    const struct conc_params *mp; /* the model's options */
    struct conc_task_out *out;    /* [tasks], zeroed, in MAP_SHARED memory */
    uint64_t child_max_rss_kib;   /* a model with child processes sets the
                                     largest child's peak RSS here */
    struct conc_runsync *sync;    /* in MAP_SHARED memory, zeroed */
    unsigned workers;             /* the OS-level workers the run uses */
    struct conc_runqueue *runqueue; /* in MAP_SHARED memory: each worker
                                     thread or child adds its run-queue
                                     wait at its end (conc_worker_end);
                                     NULL: not counted this run */
    struct conc_memsum *mem;      /* in MAP_SHARED memory, zeroed: each
                                     child process adds its memory at its
                                     end; NULL: not counted */
    const struct conc_params *wp; /* the workload's options, for a model
                                     that runs the workload in another
                                     program (python) */
    struct conc_run_self self;    /* see above; only python sets it */
};

struct conc_model {
    const char *name, *summary;
    const char *like;             /* its Python counterpart, for `list` */
    const struct conc_opt *opts;
    const char *unavailable;      /* non-NULL: compiled out, and why */

    /*
     * Optional: why this machine refuses the model at run time though it
     * is built in (a kernel or sandbox that forbids io_uring), or NULL.
     * Asked once, its answer kept. Read it through conc_model_refusal().
     */
    const char *(*refusal)(void);

    /*
     * Optional, before anything runs: refuses a request that cannot fit the
     * machine's limits (pid_max, RLIMIT_NPROC, fds) with a message naming
     * the limit. 0 or -errno.
     */
    int (*check)(const struct conc_params *mp, unsigned tasks);

    /*
     * Optional, after check, for a model that runs only some workloads or
     * needs what the program does not ship (python: an interpreter, a
     * module): whether it runs w with options wp here. 0; -ENOENT with
     * *missing naming what this machine lacks (the cell is unavailable,
     * exit 3; the text lives as long as the program); or another -errno
     * with the reason printed (the request is refused, exit 2).
     */
    int (*supports)(const struct conc_params *mp,
                    const struct conc_workload *w,
                    const struct conc_params *wp, const char **missing);

    /*
     * Runs every task of r to completion. Returns 0 when every task was
     * driven to its end (a task's own failure goes in out[i].status), or
     * -errno when the model itself failed (message printed), having still
     * released every thread, process, fd and byte it made.
     */
    int (*run)(struct conc_run *r);

    /*
     * Optional: the stack a task gets, in bytes, so a workload that needs
     * more (its stack_need) is refused up front instead of crashing; NULL
     * or 0 when the model reports an overflow itself (green's guard pages).
     */
    uint64_t (*stack_size)(const struct conc_params *mp);

    /*
     * Optional: the OS threads a run keeps busy at once, when a model has
     * more than its `workers` (eventloop's offload pool, uring's SQPOLL
     * kernel threads). The cell runner expects their own run-queue waits
     * when they outnumber the CPUs, and does not count those as other
     * work disturbing the run. NULL: one, or `workers` for a model that
     * declares it.
     */
    unsigned (*os_threads)(const struct conc_params *mp, unsigned tasks);

    /*
     * Optional: whether each task has an OS thread of its own that the
     * kernel preempts and never hands to another task mid-task, so a task
     * may spin (threads without a GIL, fork). NULL: no.
     */
    bool (*preemptive)(const struct conc_params *mp);

    /*
     * Whether the model runs each task to its end before it starts the
     * next (sequential): a task that waits for a later one never runs
     * again, so the cell asks the workload's serial_check first.
     */
    bool serial;

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
 * conc_task_finish_at() stamps end_ns instead (0: the clock now): the
 * end_ns of a step's CONC_DONE (struct conc_wait).
 */
int conc_task_start(const struct conc_run *r, unsigned index, void *task);
void conc_task_finish(const struct conc_run *r, unsigned index, void *task,
                      int err);
void conc_task_finish_at(const struct conc_run *r, unsigned index, void *task,
                         int err, uint64_t end_ns);

/* The step to call for a started task: its own (task_step), or step. */
conc_step_fn *conc_task_step(const struct conc_run *r, void *task);

/*
 * A task that crashes the process (a workload's bug; a stack overflow the
 * up-front stack check could not foresee) ends it with one line,
 * "concbench: a task crashed with SIGSEGV at 0x...: ...", and status
 * CONC_CRASH_EXIT, rather than a raw signal death. conc_crash_install()
 * sets the handler process-wide and gives the calling (main) thread an
 * alternate stack to run it on; cmd/ calls it once. Worker threads have
 * no alternate stack (it would cost a syscall per thread in the timed
 * run): their overflows are refused up front instead (stack_size below).
 * Under a sanitizer nothing is installed: its own report is better.
 * 0 or -errno.
 */
int conc_crash_install(void);

/*
 * Why model m cannot run here: compiled out (its `unavailable`), or
 * refused by this machine (its `refusal`); NULL when it can run.
 */
const char *conc_model_refusal(const struct conc_model *m);

/*
 * Called by a model's worker thread or child process as its last act:
 * adds the time it spent runnable but waiting for a CPU (its schedstat)
 * to r->runqueue, when the run counts it. About 10 us (a /proc read),
 * which is why the cell counts workers only up to CONC_RUNQUEUE_WORKERS.
 */
void conc_worker_end(const struct conc_run *r);

/* The most OS workers whose run-queue wait a run counts one by one. */
#define CONC_RUNQUEUE_WORKERS 64

/*
 * The stack a task running on the main thread gets (sequential, fork's
 * children, the first event loop): RLIMIT_STACK less a margin for what the
 * program itself uses; and the default stack of a new thread (glibc's:
 * RLIMIT_STACK, or 2 MiB when unlimited).
 */
uint64_t conc_main_stack(void);
uint64_t conc_thread_stack(void);

/*
 * The stack of a model whose first worker runs on the main thread and the
 * others (`workers` > 1) on new threads (eventloop, uring): a task may get
 * either, so the smaller counts (0, unlimited, is no bound).
 */
uint64_t conc_workers_stack(const struct conc_params *mp);

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
 * reached, or a READ/WRITE wait's deadline passed, a sync queue's number
 * moved). CONC_YIELD returns at once. 0, -EINTR once conc_interrupted is
 * set, r->sync->abort's -errno once a task's failure stopped the run,
 * -EDEADLK when every running task is parked, or -errno.
 */
int conc_drive_wait(const struct conc_run *r, const struct conc_wait *w);

/*
 * For a model's scheduler with nothing left to run but tasks parked on
 * sync queues: whether the run is deadlocked. A single worker knows at
 * once (nobody else can wake them); several must see every running task
 * parked and no wake for CONC_DEADLOCK_NS, tracked in *since_ns and
 * *unparks (start both at 0). Sets r->sync->abort to -EDEADLK when so.
 */
bool conc_sync_deadlocked(const struct conc_run *r, uint64_t *since_ns,
                          uint64_t *unparks);

#endif
