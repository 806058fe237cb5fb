/*
 * One cell: a (model, workload, options, tasks) combination, run `warmup`
 * untimed and `runs` timed times. Shared by `run` and `sweep`.
 */
#ifndef CONC_CELL_H
#define CONC_CELL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/hist.h"
#include "lib/opts.h"
#include "cmd/stats.h"
#include "models/model.h"
#include "workloads/workload.h"

struct conc_cell {
    const struct conc_model *model;
    const struct conc_workload *workload;
    struct conc_params mp, wp; /* model and workload options */
    unsigned tasks, runs, warmup;
};

/* What one timed run measured. */
struct conc_run_stats {
    uint64_t start_ns;        /* CLOCK_MONOTONIC at the run's start: pairs
                                 runs adjacent in time */
    uint64_t wall_ns, user_ns, sys_ns, max_rss_kib;
    uint64_t ctxsw_voluntary, ctxsw_involuntary;
    struct conc_pcts task_ns; /* per-task start..done */
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
 * the signal. conc_cell_end summarizes the passed runs and warns about
 * noise: 0 or CONC_EXIT_FAILED.
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

#endif
