/*
 * concbench sweep's parts, internal to cmd/sweep*.c: the plan (selection,
 * matrix, shard, order) in sweep-plan.c, the progress line in
 * sweep-progress.c, the summary table in sweep-table.c; sweep.c is the CLI.
 */
#ifndef CONC_SWEEP_H
#define CONC_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cmd/cell.h"
#include "cmd/paired.h"
#include "lib/clock.h"

/* One -o key=v1,v2: the values to sweep for key. */
struct sweep_opt {
    const char *key;
    char *text;    /* owned copy of the values, split in place */
    char **vals;   /* [nvals], pointing into text */
    size_t nvals;
};

struct sweep_cell {
    struct conc_cell cell;
    struct conc_cell_result res;
    char *opts_label; /* the swept options it uses: "gil=on workers=2" */
    char *vary_label; /* of them, those swept over several values */
    char *skip_why;   /* owned reason a check refused the cell */
    bool begun;       /* conc_cell_begin passed: the cell has runs to do */
    bool in_shard;
    struct conc_speedup speedup; /* over its sequential baseline, from
                                    paired runs; pairs 0: none */
};

/* The selection and the matrix built from it; zero it before use. */
struct sweep {
    const struct conc_model **models;
    size_t nmodels;
    const struct conc_workload **workloads;
    size_t nworkloads;
    unsigned *tasks;
    size_t ntasks;
    struct sweep_opt *opts;
    size_t nopts;
    unsigned runs, warmup;

    struct sweep_cell *cells; /* [ncells], in matrix order */
    size_t ncells;
};

/* One step of the plan: `runs` timed runs of a cell after its warmups. */
struct sweep_step {
    size_t cell; /* index into sw->cells */
    unsigned runs;
};

/*
 * Reads the comma-separated --models, --workloads and --tasks lists into
 * sw (NULL: all models, all workloads, 1,2,4,8,16,32,64). "all" may be
 * mixed with names; a name given twice, an unknown name (with the closest
 * one when close), an empty item or a bad count is a usage error. Returns
 * 0, or CONC_EXIT_USAGE with the message printed.
 */
int sweep_select(struct sweep *sw, const char *models, const char *workloads,
                 const char *tasks);

/*
 * Adds one "-o key=v1,v2" to sw, after sweep_select: the key must be
 * declared by a selected model or workload (otherwise the message says who
 * declares it, or what was probably meant), given once, its values
 * distinct and none empty. The values themselves are checked when the
 * cells are built. Returns 0, or CONC_EXIT_USAGE with the message printed.
 */
int sweep_add_opt(struct sweep *sw, const char *kv);

/* How a sweep is sliced: shard k of n (1/1: the whole matrix). */
struct sweep_slice {
    unsigned k, n;
    char text[48];    /* "K/N" */
    char source[160]; /* where auto found K and N, for --dry-run; "" */
    char plan[17];    /* sweep_plan_hash */
};

/*
 * Parses "--shard K/N" (1 <= K <= N), or "auto" / "auto/N", which take K
 * and N from the job engine's environment:
 *   - a Slurm job array (SLURM_ARRAY_TASK_ID): with "auto", the array is
 *     the plan, its tasks the shards in order (N from
 *     SLURM_ARRAY_TASK_COUNT, or from SLURM_ARRAY_TASK_MIN, _MAX and _STEP,
 *     which must agree; K the task's place in it); with "auto/N", the
 *     array's indices are the shard numbers, 1 to N (a rerun of some);
 *   - a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, from 0): "auto/N"
 *     only, K = the index + 1, as the Job does not tell its completions.
 * Sets sl's k, n, text and source. Returns 0, or CONC_EXIT_USAGE with one
 * line printed (for auto with no engine: what it looked for).
 */
int sweep_parse_shard(const char *s, struct sweep_slice *sl);

/*
 * Builds every cell of the matrix in its canonical order: workloads, then
 * models, then the cartesian product of the values of the options that
 * model and workload declare (in -o order, the last key fastest), then task
 * counts, each with sw->runs and sw->warmup. Every cell is built, even
 * outside the shard, so that a bad value fails every shard alike. Returns
 * 0, or an exit code with the message printed.
 */
int sweep_build(struct sweep *sw);

/* The shard of n that cell i (in matrix order) belongs to: i mod n + 1. */
unsigned sweep_shard_of(size_t i, unsigned n);

/*
 * Marks the cells of shard k of n (sweep_shard_of). Returns how many cells
 * are in it.
 */
size_t sweep_shard(struct sweep *sw, unsigned k, unsigned n);

/*
 * The id of every cell of the matrix, in order: the id compare and merge
 * match cells by (conc_report_cell_id). [sw->ncells]; free with
 * sweep_plan_ids_free.
 */
char **sweep_plan_ids(const struct sweep *sw);
void sweep_plan_ids_free(char **ids, size_t n);

/*
 * The plan's hash, which every shard's manifest records so that merge can
 * tell the shards of one plan: FNV-1a (64 bits) of a canonical text of it,
 * a line each for the runs, the warmup, the order and the seed (a --seed
 * given, seed NULL: drawn by each shard, so not part of the plan), then a
 * line for each cell of the matrix in order, by its id (ids, from
 * sweep_plan_ids). The same matrix hashes alike however it was typed
 * ("all" or the names, 1e5 or 100000). 16 hex digits into out.
 */
void sweep_plan_hash(const struct sweep *sw, char *const *ids,
                     bool interleave, const char *seed, char out[17]);

/* A seed nobody chose (the time and the pid, mixed), below 2^53. */
uint64_t sweep_random_seed(void);

/*
 * The steps that run the begun cells: one step of sw->runs runs a cell, in
 * matrix order; or, interleaved, one step a timed run, shuffled by seed so
 * that the same seed replays the same order. Sets *n; the caller frees.
 */
struct sweep_step *sweep_steps(const struct sweep *sw, bool interleave,
                               uint64_t seed, size_t *n);

/*
 * A rough time of one timed run of a cell, in ns, or a negative number
 * when there is no basis for one: primes from its n (the sieve's CPU time
 * a number, measured), spread over min(tasks, usable_cpus) when the model
 * is preemptive; sleep from ms, count and jitter, its tasks' waits
 * overlapping except under sequential; any other workload unknown. Model
 * overhead, setup and a busy machine are not counted.
 */
double sweep_estimate_run(const struct sweep_cell *sc, double usable_cpus);

/*
 * --dry-run: prints the plan on f without running anything: its hash, the
 * cells in matrix order with the shard of each, this shard's marked, each
 * with a time estimate (sweep_estimate_run) over its runs and warmups,
 * the totals for this shard and the whole plan, how the estimate is made,
 * and where the report would go (json; NULL: nowhere). Nothing is written.
 */
void sweep_print_plan(FILE *f, const struct sweep *sw,
                      const struct sweep_slice *sl, bool interleave,
                      const char *seed, const char *json);

/* Frees everything sw holds; sw may be half built. */
void sweep_fini(struct sweep *sw);

/* The progress line on stderr, drawn only when it is a terminal. */
struct sweep_progress {
    bool tty;
    unsigned warmup;
    uint64_t t0_ns, done_w, total_w; /* weights are runs, warmups included */
    size_t done_steps, total_steps;
    uint64_t logged_ns;  /* off a terminal: when the last line was printed */
};

/* Off a terminal, a progress line at most this often (and after the first
   and the last step). */
#define SWEEP_LOG_NS (5 * CONC_NS_PER_S)

/* Starts the clock of the ETA over these steps, each after warmup runs. */
void sweep_progress_start(struct sweep_progress *p,
                          const struct sweep_step *steps, size_t n,
                          unsigned warmup);

/*
 * On a terminal, draws the bar, the step count, sc (the cell about to run,
 * or NULL) and the ETA on one line that fits the terminal's width, ending
 * at column 0 so a warning printed during the step starts on a clean
 * column. Off a terminal it draws nothing.
 */
void sweep_progress_show(const struct sweep_progress *p,
                         const struct sweep_cell *sc);

/*
 * Counts a finished step of `runs` timed runs of sc. Off a terminal (a CI
 * log), prints a line with the count, the time so far and the ETA after
 * the first step, the last, and otherwise at most every SWEEP_LOG_NS.
 */
void sweep_progress_step(struct sweep_progress *p, unsigned runs,
                         const struct sweep_cell *sc);

/* Erases the line, before anything else is printed for good. */
void sweep_progress_clear(const struct sweep_progress *p);

/*
 * Sets each finished cell's speedup over its sequential baseline (the
 * sequential cell with the same workload, workload options and tasks):
 * its passed runs paired with the baseline's passed runs nearest in time,
 * the median ratio and its bootstrap 95% interval. A CPU-bound cell's
 * (sweep_cpu_bound) is checked against min(tasks, usable_cpus). The
 * baseline itself, and a cell with no baseline or no passed run, get none.
 */
void sweep_speedups(struct sweep *sw, double usable_cpus);

/* Whether sc is its own baseline: a sequential cell that ran. */
bool sweep_is_baseline(const struct sweep *sw, const struct sweep_cell *sc);

/*
 * Whether a cell's work is CPU-bound, so that its speedup cannot pass
 * min(tasks, usable CPUs): for now the workload primes, the one workload
 * that only computes.
 */
bool sweep_cpu_bound(const struct sweep_cell *sc);

/*
 * The summary table, one line per cell of the shard: the median, the 95%
 * CI of the mean and the speedup (sweep_speedups) with its interval;
 * skipped and failed cells say why. An impossible speedup is marked, and
 * a line after the table says why.
 */
void sweep_print_table(FILE *f, const struct sweep *sw);

/*
 * After the table, a few lines on what went wrong beside the numbers: how
 * many cells were noisy, disturbed, had outliers or ran too short, each
 * with the worst one, led by the mark the table gives such a cell (the
 * legend); that outliers need CONC_OUTLIER_MIN_RUNS runs when cells had
 * fewer; how many failed. Nothing when there is nothing to say.
 */
void sweep_print_digest(FILE *f, const struct sweep *sw);

/* --verbose: every cell's warnings, one line each, on stderr. */
void sweep_print_warnings(const struct sweep *sw);

#endif
