/*
 * Speedups from runs paired in time: each run of a cell against its
 * baseline's run nearest in time, so that a machine whose speed drifts
 * between runs moves both sides of every ratio alike.
 */
#ifndef CONC_PAIRED_H
#define CONC_PAIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bootstrap resamples, and their fixed seed: a report is reproducible. */
#define CONC_BOOTSTRAP_RESAMPLES 2000u
#define CONC_BOOTSTRAP_SEED 0x5eed5eedull

/*
 * How far above min(tasks, usable CPUs) a CPU-bound speedup's interval
 * must lie to be called impossible: timer and frequency noise, not physics.
 */
#define CONC_LIMIT_TOLERANCE 0.05

/* One passed run: when it started (CLOCK_MONOTONIC) and how long it took. */
struct conc_timed {
    uint64_t start_ns;
    double wall_ns;
};

/* A cell's speedup over its baseline. */
struct conc_speedup {
    double value;     /* median of the paired ratios baseline / cell */
    double lo, hi;    /* percentile-bootstrap 95% interval of that median */
    size_t pairs;     /* 0: no speedup (no baseline, or no passed run) */
    double limit;     /* min(tasks, usable CPUs) when checked, else 0 */
    bool impossible;  /* lo lies above limit * (1 + CONC_LIMIT_TOLERANCE) */
};

/*
 * Pairs each of cell[0..nc) with the run of base[0..nb) whose start is
 * nearest to its own (the earlier on a tie; a base run may serve several)
 * and writes ratios[i] = base wall / cell[i] wall. Returns how many ratios
 * it wrote: nc, or 0 when nb is 0. Runs with a wall time of 0 or less
 * cannot be divided by and are left out.
 */
size_t conc_pair_ratios(const struct conc_timed *base, size_t nb,
                        const struct conc_timed *cell, size_t nc,
                        double *ratios);

/*
 * The median of x[0..n) into *med and its 95% percentile-bootstrap
 * interval into [*lo, *hi]: `resamples` resamples of n drawn with
 * replacement (splitmix64 from seed), the interval their medians' 2.5th
 * and 97.5th percentiles (the ceil(p * resamples)-th smallest). One value
 * gives [x, x]. 0, or -EDOM when n or resamples is 0.
 */
int conc_bootstrap_median(const double *x, size_t n, unsigned resamples,
                          uint64_t seed, double *med, double *lo, double *hi);

/*
 * The speedup of cell over base: the pairs above, their median and its
 * bootstrap interval (CONC_BOOTSTRAP_RESAMPLES, CONC_BOOTSTRAP_SEED).
 * 0, or -EDOM (sp->pairs 0) when there is no pair.
 */
int conc_speedup_paired(const struct conc_timed *base, size_t nb,
                        const struct conc_timed *cell, size_t nc,
                        struct conc_speedup *sp);

/*
 * The physical limit of a CPU-bound cell: tasks running on usable_cpus
 * cannot go more than min(tasks, usable_cpus) times faster than one after
 * another. Sets sp->limit and marks sp->impossible when the whole interval
 * lies above it (with CONC_LIMIT_TOLERANCE). usable_cpus <= 0 (unknown)
 * checks nothing.
 */
void conc_speedup_check(struct conc_speedup *sp, unsigned tasks,
                        double usable_cpus);

/*
 * Why an impossible speedup is: "above min(tasks, usable CPUs) = 2: the
 * baseline was disturbed", into buf of size n.
 */
void conc_speedup_why(const struct conc_speedup *sp, char *buf, size_t n);

#endif
