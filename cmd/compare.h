/*
 * The compare module's internal header: what compare.c (the command:
 * loading, matching, warnings), compare-verdict.c (one cell's statistics
 * and verdict, and the comparison's), compare-text.c (text and Markdown
 * tables) and compare-json.c (JSON and the calibration file, with jansson)
 * share; calibrate.c writes the file compare reads.
 */
#ifndef CONC_COMPARE_H
#define CONC_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "cmd/report.h"

/* The schema of `concbench calibrate`'s file, which compare reads. */
#define CONC_CALIB_SCHEMA "concbench-calibration/1"

/* What compare found for one matched cell (compare-verdict.c fills it). */
struct conc_cmp_row {
    const struct conc_rcell *base, *new;
    const char *label;          /* "primes/threads t=8 workers=2" */
    size_t n_base, n_new;       /* passed runs with the metric */
    size_t failed_base, failed_new;
    size_t disturbed_base, disturbed_new; /* passed runs left out: others
                                             took over 5% of them */
    double median_base, median_new;
    double mad_new;             /* median absolute deviation of the new runs */
    double change_pct;          /* Hodges-Lehmann shift / base median; NaN */
    double ci_lo_pct, ci_hi_pct; /* Moses' 95% interval; +-inf when too few */
    double p, min_p;            /* Mann-Whitney U; the best p these n allow */
    bool significant;           /* p < alpha and the 95% CI excludes 0 */
    double floor_pct;           /* the calibrated noise floor (set by the
                                   caller; 0: none) */
    double threshold_pct;       /* in effect: max(--threshold, floor) */
    const char *verdict;        /* faster slower unchanged noisy failed
                                   skipped n/a (compare-verdict.c's table) */
    char note[200];             /* why, for noisy and the like */
};

/* A calibration (concbench calibrate): the noise floor of each cell. */
struct conc_calib {
    char *path, *metric;
    double floor_pct;           /* the machine's: median of the cells' */
    char *cpu_model;            /* the host it was measured on */
    long long cpus;
    size_t ncells;
    char **ids;                 /* matched like compare's cells (rcell id) */
    double *floors;             /* NaN: the cell has none */
};

/* A whole comparison: its settings, its rows and the unmatched cells. */
struct conc_cmp {
    const char *metric, *unit, *base_path, *new_path;
    double threshold_pct, alpha;
    const struct conc_cmp_row *rows;
    size_t nrows;
    const struct conc_rcell *const *only_base, *const *only_new;
    const char *const *only_base_labels, *const *only_new_labels;
    size_t nonly_base, nonly_new;
    size_t regressions;
    bool allow_missing, accept_noisy;
    bool keep_disturbed;        /* count disturbed runs like the others */
    const struct conc_calib *calib; /* NULL: none given */
    /* The whole comparison's verdict (compare_conclude): */
    const char *outcome;        /* "pass", "fail" or "inconclusive" */
    int exit_code;              /* CONC_EXIT_OK, _FAILED, _INCONCLUSIVE */
    size_t compared, noisy;     /* cells with a statistical verdict; noisy */
    char why[256];              /* the reasons, "" for a plain pass */
};

/* The metric of one run, NaN when absent; cpu_ns is user_ns + sys_ns when
   the run does not record it. */
double compare_metric(const struct conc_rrun *r, const char *metric);

/*
 * Fills row's statistics and verdict (row->base, ->new, ->label and
 * ->floor_pct set) by c's metric, threshold and alpha, following the table
 * at the top of compare-verdict.c. Returns 1 when it is a regression
 * (slower, or no passed run in new), else 0.
 */
int compare_row(struct conc_cmp_row *row, const struct conc_cmp *c);

/*
 * The whole comparison's verdict from its rows (regressions counted) and
 * unmatched cells: sets c->outcome, ->exit_code, ->compared, ->noisy and
 * ->why. Fail (exit 1) when nothing was compared, on a regression, or when
 * a cell of base is missing from new without allow_missing; else
 * inconclusive (exit 4) when more than half the compared cells are noisy
 * without accept_noisy; else pass.
 */
void compare_conclude(struct conc_cmp *c);

/*
 * The closing sentence of every output: "verdict: fail: 1 regression" and,
 * with a calibration, what size of change it cannot tell from noise.
 */
void compare_closing(const struct conc_cmp *c, char *buf, size_t len);

/*
 * Loads the calibration at path into *out (free with compare_calib_free).
 * 0, or -EINVAL / -errno with one line printed naming the file.
 */
int compare_calib_load(const char *path, struct conc_calib **out);
void compare_calib_free(struct conc_calib *k);

/* k's floor for cell c: its own where k has it, else the machine's. */
double compare_calib_floor(const struct conc_calib *k,
                           const struct conc_rcell *c);

/* A threshold or floor in percent as notes print it: 5, 2.5, 6.23. */
const char *compare_fmt_thr(char *buf, size_t len, double pct);

/* The fewest runs a side with which Mann-Whitney can reach p < alpha. */
size_t compare_runs_needed(double alpha);

/*
 * On stderr, the cells whose run counts cannot reach p < alpha however
 * they differ: one warning for each pair of counts, listing its cells
 * (a few, then how many more), never one a cell. needed is how many runs
 * a side can.
 */
void compare_warn_few_runs(const struct conc_cmp *c, size_t needed);

/* Prints c on stdout as the text table (--format text). */
void compare_print_text(const struct conc_cmp *c);

/* Prints c on stdout as a Markdown table for a pull-request comment. */
void compare_print_md(const struct conc_cmp *c);

/* Writes c to stdout as compare's JSON (--format json). 0 or -errno. */
int compare_print_json(const struct conc_cmp *c);

/*
 * Writes the new side of c to stdout as github-action-benchmark's
 * customSmallerIsBetter array: [{"name","unit","value","range","extra"}].
 * 0 or -errno.
 */
int compare_print_benchmark(const struct conc_cmp *c);

#endif
