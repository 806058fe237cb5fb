/*
 * The compare module's internal header: what compare.c (the command:
 * loading, matching, warnings), compare-verdict.c (one cell's statistics
 * and verdict), compare-text.c (text and Markdown tables) and compare-json.c
 * (JSON, with jansson) share.
 */
#ifndef CONC_COMPARE_H
#define CONC_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "cmd/report.h"

/* What compare found for one matched cell (compare-verdict.c fills it). */
struct conc_cmp_row {
    const struct conc_rcell *base, *new;
    const char *label;          /* "primes/threads t=8 workers=2" */
    size_t n_base, n_new;       /* passed runs with the metric */
    size_t failed_base, failed_new;
    double median_base, median_new;
    double mad_new;             /* median absolute deviation of the new runs */
    double change_pct;          /* Hodges-Lehmann shift / base median; NaN */
    double ci_lo_pct, ci_hi_pct; /* Moses' 95% interval; +-inf when too few */
    double p, min_p;            /* Mann-Whitney U; the best p these n allow */
    const char *verdict;        /* faster slower unchanged noisy failed
                                   skipped n/a */
    char note[160];             /* why, for noisy and the like */
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
};

/* The metric of one run, NaN when absent; cpu_ns is user_ns + sys_ns when
   the run does not record it. */
double compare_metric(const struct conc_rrun *r, const char *metric);

/*
 * Fills row's statistics and verdict (row->base, ->new and ->label set) by
 * c's metric, threshold and alpha. Returns 1 when it is a regression (slower,
 * or no passed run in new), else 0.
 */
int compare_row(struct conc_cmp_row *row, const struct conc_cmp *c);

/* The fewest runs a side with which Mann-Whitney can reach p < alpha. */
size_t compare_runs_needed(double alpha);

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
