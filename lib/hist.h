/*
 * Log-bucket histogram of nanosecond values (HdrHistogram's layout, 7
 * sub-bucket bits: every value within 0.8% of its bucket's top). Percentiles
 * are wrk's set, p50, p75, p90, p99 and max, with wrk2's p99.9.
 */
#ifndef CONC_HIST_H
#define CONC_HIST_H

#include <stdint.h>

#define CONC_HIST_SUB_BITS 7
#define CONC_HIST_SUB (1u << CONC_HIST_SUB_BITS)
#define CONC_HIST_BUCKETS ((65 - CONC_HIST_SUB_BITS) * CONC_HIST_SUB)

struct conc_hist {
    uint64_t count, sum, min, max;
    uint64_t b[CONC_HIST_BUCKETS];
};

/* wrk's percentile set and p99.9, as reported in the JSON. */
struct conc_pcts {
    uint64_t p50, p75, p90, p99, p999, max;
};

/* Empties h. A zeroed struct is also an empty histogram. */
void conc_hist_init(struct conc_hist *h);

/* Records one value. Not safe against concurrent writers. */
void conc_hist_add(struct conc_hist *h, uint64_t v);

/*
 * Records one value with atomic operations, so threads and forked processes
 * (on a MAP_SHARED histogram) may record into one histogram at once; while
 * a run's tasks share one OS thread (conc_sync_local), without locked
 * instructions. It does not maintain min.
 */
void conc_hist_add_atomic(struct conc_hist *h, uint64_t v);

/* n values of v at once, as conc_hist_add_atomic() (a task's many
   uncontended lock acquires, added when it ends). */
void conc_hist_add_n_atomic(struct conc_hist *h, uint64_t v, uint64_t n);

/*
 * The n values of v[] at once, each reps[i] times (reps NULL: once), as
 * conc_hist_add_n_atomic() would one by one, with one add each to the
 * count, the sum and the max: a task keeps its waits in a small buffer
 * and adds it outside its critical section.
 */
void conc_hist_add_many_atomic(struct conc_hist *h, const uint64_t *v,
                               const uint32_t *reps, unsigned n);

/* Adds every value of src to dst. */
void conc_hist_merge(struct conc_hist *dst, const struct conc_hist *src);

/*
 * The value at percentile p (0..100] by nearest rank: the smallest
 * recorded value with at least p% of the values at or below it (rank
 * ceil(p/100 * count)), given as the highest value of its bucket clamped
 * to the recorded max, so at most 0.8% above the exact value and never
 * below it; 0 on an empty histogram.
 */
uint64_t conc_hist_percentile(const struct conc_hist *h, double p);

/* Fills the percentile set (all zero on an empty histogram). */
void conc_hist_pcts(const struct conc_hist *h, struct conc_pcts *out);

#endif
