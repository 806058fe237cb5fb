/*
 * One cell: a (model, workload, options, tasks) combination, run `warmup`
 * untimed and `runs` timed times. Shared by `run` and `sweep`.
 */
#ifndef CONC_CELL_H
#define CONC_CELL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/clock.h"
#include "lib/hist.h"
#include "lib/opts.h"
#include "cmd/stats.h"
#include "models/model.h"
#include "workloads/workload.h"

/*
 * Optional, for a progress display: told as each run begins (wall_ns 0)
 * and as it ends (its wall time), outside the timed part. run counts from
 * 1 among the warmups (warm) or the timed runs, of `of`.
 */
struct conc_cell_watch {
    void (*run)(void *arg, bool warm, unsigned run, unsigned of,
                uint64_t wall_ns);
    void *arg;
};

struct conc_cell {
    const struct conc_model *model;
    const struct conc_workload *workload;
    struct conc_params mp, wp; /* model and workload options */
    unsigned tasks, runs, warmup;
    const struct conc_cell_watch *watch; /* NULL: nobody watches */
};

/* What one timed run measured. */
struct conc_run_stats {
    uint64_t start_ns;        /* CLOCK_MONOTONIC at the run's start: pairs
                                 runs adjacent in time */
    uint64_t wall_ns, user_ns, sys_ns, max_rss_kib;
    uint64_t total_rss_kib;   /* every process of the run together: this
                                 one's peak RSS, plus each child's own
                                 memory (total_rss_source) */
    const char *total_rss_source; /* "rss": one process; "rss+uss": and
                                 each child's unique set (smaps_rollup);
                                 "rss+anon": and each child's anonymous
                                 resident pages (statm, without rollup);
                                 "+pte": and each child's page tables */
    uint64_t ctxsw_voluntary, ctxsw_involuntary;
    struct conc_pcts task_ns; /* per-task start..done */
    struct conc_pcts done_ns; /* each task's done, from the run's start:
                                 when its result was there to use */
    struct conc_pcts op_ns;   /* per-operation (workload's op_name) */
    uint64_t op_count;
    /* Interference: what other work on the machine took from this run. */
    uint64_t steal_ns;        /* CPU stolen by the hypervisor, every CPU */
    uint64_t runqueue_ns;     /* the run's threads waited runnable for a
                                 CPU (schedstat): the main thread and, up
                                 to CONC_RUNQUEUE_WORKERS, every worker */
    unsigned runqueue_threads; /* how many threads that counts; 0: none
                                  (more workers than it reads) */
    uint64_t throttled_ns;    /* cgroup CFS throttling (cpu.stat) */
    uint64_t throttled_periods;
    unsigned disturbed;       /* CONC_DISTURBED_* bits: beyond the limits */
    struct conc_totals totals;
    uint32_t errors[CONC_ERR_KINDS];
    int task_failures;        /* tasks whose step returned -errno */
    struct conc_metric extra[CONC_METRICS_MAX]; /* the workload's own */
    size_t nextra;
    char note[160];           /* the workload's one line for the summary */
    bool result_ok;
    bool failed;              /* wrong result, errors or a failed task */
    char why[160];            /* why it failed, empty when it passed */
};

/*
 * A run is disturbed when others took more than CONC_DISTURB_PCT percent of
 * what it had: steal over wall time times the usable CPUs; run-queue wait
 * over wall time times the threads counted, when the run has no more OS
 * workers than usable CPUs (otherwise its threads wait for each other,
 * which is the model's own cost, not interference); throttling over wall.
 */
#define CONC_DISTURB_PCT 5.0
enum {
    CONC_DISTURBED_STEAL = 1,
    CONC_DISTURBED_RUNQUEUE = 2,
    CONC_DISTURBED_THROTTLE = 4,
};

/* What each CONC_DISTURBED_* bit (by its index) lost time to, for text. */
extern const char *const conc_disturbed_names[3];
/* Their names in the report: "steal", "runqueue", "throttle". */
extern const char *const conc_disturbed_keys[3];

struct conc_cell_result {
    struct conc_run_stats *runs; /* [nruns] */
    unsigned nruns;              /* timed runs done (< cell->runs on abort) */
    struct conc_summary wall;    /* over the passed runs only */
    unsigned disturbed[3];       /* runs disturbed by steal, run queue,
                                    throttling (passed runs) */
    bool failed;                 /* any run failed, or the model failed */
    int err;                     /* model/setup failure: -errno, else 0 */
    const char *skipped;         /* not run, and why (sweep) */
    /* Child processes' own memory, measured in the cell's first run whose
       model ran to its end with children (cell_total_rss), then carried
       to the rest. */
    const char *child_mem_source; /* NULL until taken */
    uint64_t child_mem_kib;
};

/*
 * Runs cell: setup (untimed), warmups, timed runs, teardown. Fills res
 * (free with conc_cell_result_fini). Returns 0 when every run passed,
 * CONC_EXIT_FAILED when a run failed (reasons printed),
 * CONC_EXIT_UNAVAILABLE, CONC_EXIT_USAGE when the model's check refused
 * the request, or 128 + the signal when conc_interrupted stopped it.
 */
int conc_cell_run(const struct conc_cell *cell, struct conc_cell_result *res);
void conc_cell_result_fini(struct conc_cell_result *res);

/*
 * conc_cell_run in three steps, for a caller that spreads a cell's timed
 * runs over time (sweep --interleave); conc_cell_run is exactly these.
 * conc_cell_begin zeroes res and checks availability and the model's and
 * workload's limits: 0, CONC_EXIT_UNAVAILABLE (res->skipped says why) or
 * CONC_EXIT_USAGE (the check printed why). conc_cell_runs does setup,
 * cell->warmup untimed runs and up to `runs` timed runs (appended to res,
 * at most cell->runs in all), then teardown: 0, CONC_EXIT_FAILED or 128 +
 * the signal. conc_cell_end summarizes the passed runs (its warnings are
 * conc_cell_warnings', for the caller to print): 0 or CONC_EXIT_FAILED.
 */
int conc_cell_begin(const struct conc_cell *cell, struct conc_cell_result *res);
int conc_cell_runs(const struct conc_cell *cell, struct conc_cell_result *res,
                   unsigned runs);
int conc_cell_end(const struct conc_cell *cell, struct conc_cell_result *res);

/*
 * Makes cell for model and workload with their default options and the
 * given counts. 0, or -EINVAL if a default fails to parse (a table bug).
 */
int conc_cell_init(struct conc_cell *cell, const struct conc_model *model,
                   const struct conc_workload *workload, unsigned tasks,
                   unsigned runs, unsigned warmup);

/*
 * Applies "key=value" to whichever of the cell's model and workload
 * declares key. 0, or -EINVAL/-ERANGE/-ENOENT with a one-line message (an
 * unknown key gets a "did you mean").
 */
int conc_cell_set(struct conc_cell *cell, const char *kv);

/* Frees the cell's params. */
void conc_cell_fini(struct conc_cell *cell);

/*
 * Warnings about a finished cell (after conc_cell_end), computed, not
 * printed: `run` prints them, a sweep digests them (and prints them with
 * --verbose), and the report keeps them.
 *   noisy      the stddev is over CONC_NOISY_PCT percent of the mean
 *   short      the median run is under CONC_SHORT_NS, too short to time
 *   outliers   runs far from the median (MAD), called only with at least
 *              CONC_OUTLIER_MIN_RUNS runs: with 3, any spread looks like
 *              one
 *   disturbed  runs that other work took over CONC_DISTURB_PCT from, one
 *              warning a kind (steal, run queue, throttling)
 */
#define CONC_NOISY_PCT 10.0
#define CONC_SHORT_NS (5 * CONC_NS_PER_MS)
#define CONC_OUTLIER_MIN_RUNS 5
#define CONC_CELL_WARN_MAX 6

enum conc_cell_warn_kind {
    CONC_WARN_NOISY, CONC_WARN_SHORT, CONC_WARN_OUTLIERS, CONC_WARN_DISTURBED,
};

/* Their names in the report: "noisy", "short", "outliers", "disturbed". */
extern const char *const conc_cell_warn_keys[4];

struct conc_cell_warning {
    enum conc_cell_warn_kind kind;
    double value;   /* noisy: stddev in percent of the mean; outliers: how
                       many; disturbed: runs; short: the median in ns */
    char text[192]; /* what follows the cell's label: "is noisy: ..." */
};

/* The warnings about res into w[CONC_CELL_WARN_MAX]; how many. */
size_t conc_cell_warnings(const struct conc_cell_result *res,
                          struct conc_cell_warning *w);

/* Prints each warning about res as "warning: <label> <text>". */
void conc_cell_warn_print(const struct conc_cell_result *res,
                          const char *label);

/*
 * What tells a cell apart, for people: "primes under threads (gil=on,
 * 2 tasks)". opts are the options to show ("gil=on"; "" for none); NULL
 * shows the ones the user set (conc_cell_opts_given). Caller frees.
 */
char *conc_cell_label(const struct conc_cell *cell, const char *opts);

/*
 * Option i of p as people read it, not as typed: a switch as on or off, a
 * duration in its largest whole unit (20ms, 1500us), counts, sizes and
 * text as given. Into buf; returns buf.
 */
char *conc_cell_opt_text(const struct conc_params *p, int i, char *buf,
                         size_t len);

/*
 * "n=1e9 gil=on": the options the user set, model's then workload's, as
 * conc_cell_opt_text writes them, one space apart. Caller frees.
 */
char *conc_cell_opts_given(const struct conc_cell *cell);

#endif
