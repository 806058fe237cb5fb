/*
 * The open-loop http schedule: when each request of a task is meant to
 * leave, uniform or poisson, independent of when earlier ones answered.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/clock.h"
#include "workloads/http.h"

/* splitmix64 (Steele, Lea, Flood): a whole 64-bit stream from any seed. */
static uint64_t http_sched_mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void http_sched_init(struct http_sched *s, double rate, bool poisson,
                     uint64_t seed, unsigned index, unsigned tasks)
{
    uint64_t x = seed;

    s->rate = rate;
    s->index = index;
    s->tasks = tasks ? tasks : 1;
    s->poisson = poisson;
    s->k = 0;
    s->at_ns = 0;
    /* Each task its own stream: the seed's, moved on by the index. */
    s->rng = http_sched_mix(&x) ^ (0xd1b54a32d192ed03ull * (index + 1ull));
}

uint64_t http_sched_next(struct http_sched *s)
{
    double u;

    if (!s->poisson) {
        /*
         * Request k of task i is the run's request k * tasks + i: computed
         * from k, not summed gap by gap, so rounding never accumulates.
         */
        double n = (double)s->k++ * s->tasks + s->index;
        return (uint64_t)(n * (double)CONC_NS_PER_S / s->rate);
    }
    /*
     * Merged, tasks Poisson streams at rate / tasks are one Poisson stream
     * at rate. A gap is -ln(1 - u) times the mean gap, u uniform in [0, 1)
     * from the top 53 bits.
     */
    u = (double)(http_sched_mix(&s->rng) >> 11) * 0x1p-53;
    s->at_ns += -log1p(-u) * (double)s->tasks * (double)CONC_NS_PER_S /
                s->rate;
    s->k++;
    return (uint64_t)s->at_ns;
}

uint64_t http_sched_count(const struct http_sched *s, uint64_t duration_ns,
                          uint64_t max)
{
    struct http_sched c = *s;
    uint64_t n = 0;

    while (n < max && http_sched_next(&c) < duration_ns)
        n++;
    return n;
}
