/*
 * Time: CLOCK_MONOTONIC as uint64_t nanoseconds, the only clock concbench
 * measures with.
 */
#ifndef CONC_CLOCK_H
#define CONC_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CONC_NS_PER_US 1000ULL
#define CONC_NS_PER_MS 1000000ULL
#define CONC_NS_PER_S 1000000000ULL

/* Now, in CLOCK_MONOTONIC nanoseconds. */
static inline uint64_t conc_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * CONC_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* A nanosecond count as a struct timespec (for clock_nanosleep). */
static inline struct timespec conc_ns_to_timespec(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / CONC_NS_PER_S),
                           (long)(ns % CONC_NS_PER_S) };
    return ts;
}

/*
 * Formats a duration with a unit that keeps 3-4 significant digits
 * ("812.3 ms", "1.204 s"); returns buf.
 */
char *conc_fmt_ns(char *buf, size_t len, double ns);

#endif
