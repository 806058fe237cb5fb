/*
 * Time: CLOCK_MONOTONIC as uint64_t nanoseconds, the clock concbench
 * measures with; and, for a short interval timed inside a critical section
 * (a contended lock's wait), a tick counter calibrated against it.
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

/*
 * Ticks, for a short interval on a hot path where the clock read would
 * lengthen what it times: the TSC on x86-64, 12 ns a read on the test VM
 * against clock_gettime's 30 (a lock's wait ends with a read inside its
 * critical section), and CLOCK_MONOTONIC's nanoseconds elsewhere or where
 * the TSC did not calibrate. conc_ticks_ns() turns a difference of two
 * into nanoseconds, once conc_ticks_calibrate() has run (untimed: it takes
 * 2 ms, once a process).
 */
extern double conc_ns_per_tick;  /* 0 until calibrated */
extern _Bool conc_ticks_are_ns;  /* no TSC: ticks are conc_now_ns() */

static inline uint64_t conc_ticks(void)
{
#if defined(__x86_64__)
    if (!conc_ticks_are_ns)
        return __builtin_ia32_rdtsc();
#endif
    return conc_now_ns();
}

void conc_ticks_calibrate(void);

/* A difference of two conc_ticks() readings (later minus earlier), in ns;
   0 if it came out negative. */
static inline uint64_t conc_ticks_ns(uint64_t ticks)
{
    if ((int64_t)ticks <= 0)
        return 0;
    if (conc_ticks_are_ns)
        return ticks;
    return (uint64_t)((double)ticks * conc_ns_per_tick + 0.5);
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
