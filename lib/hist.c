/*
 * A log-bucket histogram: values below 2^SUB_BITS are exact, above that each
 * power of two is split into 2^SUB_BITS equal buckets (HdrHistogram).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lib/hist.h"
#include "lib/sync.h"

/*
 * Values below 2^SUB_BITS get a bucket each. Above, a value whose highest
 * set bit is at position SUB_BITS + shift falls in octave `shift`, split
 * into SUB equal buckets by the SUB_BITS bits under that highest bit.
 */
static unsigned hist_index(uint64_t v)
{
    if (v < CONC_HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - CONC_HIST_SUB_BITS;
    return CONC_HIST_SUB + shift * CONC_HIST_SUB +
           (unsigned)((v >> shift) - CONC_HIST_SUB);
}

/* The highest value that lands in bucket i. */
static uint64_t hist_bucket_top(unsigned i)
{
    if (i < CONC_HIST_SUB)
        return i;
    unsigned shift = (i - CONC_HIST_SUB) / CONC_HIST_SUB;
    uint64_t sub = (i - CONC_HIST_SUB) % CONC_HIST_SUB;
    uint64_t low = (CONC_HIST_SUB + sub) << shift;
    return low + ((1ull << shift) - 1);
}

void conc_hist_init(struct conc_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void conc_hist_add(struct conc_hist *h, uint64_t v)
{
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += v;
    h->b[hist_index(v)]++;
}

/*
 * v, n times, with atomic operations; with plain relaxed loads and stores
 * while the run's tasks all share one OS thread (conc_sync_local), where
 * no other writer exists and a locked instruction only costs time: three
 * of them were about a tenth of a sleep's wake under uring. Relaxed
 * atomics, not plain accesses, since a reader may look on meanwhile.
 */
static void hist_plain_add(uint64_t *p, uint64_t d, int order)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + d, order);
}

/* One add to a counter: atomic, or plain on a local run (above). */
static void hist_counter_add(uint64_t *p, uint64_t d, bool local, int order)
{
    if (local)
        hist_plain_add(p, d, order);
    else
        __atomic_fetch_add(p, d, order);
}

/*
 * The totals of n values whose sum is sum and largest max: the count is
 * added last, with release, so a reader that sees it sees the rest.
 */
static void hist_totals_add(struct conc_hist *h, uint64_t sum, uint64_t max,
                            uint64_t n, bool local)
{
    uint64_t cur = __atomic_load_n(&h->max, __ATOMIC_RELAXED);

    hist_counter_add(&h->sum, sum, local, __ATOMIC_RELAXED);
    if (local) {
        if (max > cur)
            __atomic_store_n(&h->max, max, __ATOMIC_RELAXED);
    } else {
        while (max > cur &&
               !__atomic_compare_exchange_n(&h->max, &cur, max, 1,
                                            __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED))
            ;
    }
    /*
     * min is left alone: a zeroed histogram cannot tell "no minimum yet" from
     * 0 without a lock, and no report reads it.
     */
    hist_counter_add(&h->count, n, local, __ATOMIC_RELEASE);
}

static void hist_add_n(struct conc_hist *h, uint64_t v, uint64_t n)
{
    bool local = conc_sync_local();

    hist_counter_add(&h->b[hist_index(v)], n, local, __ATOMIC_RELAXED);
    hist_totals_add(h, v * n, v, n, local);
}

void conc_hist_add_atomic(struct conc_hist *h, uint64_t v)
{
    hist_add_n(h, v, 1);
}

void conc_hist_add_n_atomic(struct conc_hist *h, uint64_t v, uint64_t n)
{
    if (n)
        hist_add_n(h, v, n);
}

void conc_hist_add_many_atomic(struct conc_hist *h, const uint64_t *v,
                               const uint32_t *reps, unsigned n)
{
    bool local = conc_sync_local();
    uint64_t sum = 0, max = 0, count = 0;

    for (unsigned i = 0; i < n; i++) {
        uint64_t k = reps ? reps[i] : 1;
        if (!k)
            continue;
        hist_counter_add(&h->b[hist_index(v[i])], k, local, __ATOMIC_RELAXED);
        sum += v[i] * k;
        count += k;
        if (v[i] > max)
            max = v[i];
    }
    if (count)
        hist_totals_add(h, sum, max, count, local);
}

void conc_hist_merge(struct conc_hist *dst, const struct conc_hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    for (unsigned i = 0; i < CONC_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
}

uint64_t conc_hist_percentile(const struct conc_hist *h, double p)
{
    uint64_t total = 0, rank, seen = 0;

    for (unsigned i = 0; i < CONC_HIST_BUCKETS; i++)
        total += h->b[i];
    if (total == 0)
        return 0;
    /* The smallest value with at least p% of the values at or below it:
       the nearest rank, ceil(p/100 * n). The 1e-9 keeps a product that
       should be whole (0.99 * 100) from rounding up past it. */
    rank = (uint64_t)ceil(p / 100.0 * (double)total - 1e-9);
    if (rank < 1)
        rank = 1;
    if (rank > total)
        rank = total;
    for (unsigned i = 0; i < CONC_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t top = hist_bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}

void conc_hist_pcts(const struct conc_hist *h, struct conc_pcts *out)
{
    out->p50 = conc_hist_percentile(h, 50);
    out->p75 = conc_hist_percentile(h, 75);
    out->p90 = conc_hist_percentile(h, 90);
    out->p99 = conc_hist_percentile(h, 99);
    out->p999 = conc_hist_percentile(h, 99.9);
    out->max = h->count ? h->max : 0;
}
