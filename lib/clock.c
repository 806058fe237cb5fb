/*
 * The tick counter's calibration and human formatting of durations; the
 * clock itself is inline in clock.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"

double conc_ns_per_tick;
_Bool conc_ticks_are_ns;

#if defined(__x86_64__)
/* Whether the CPU's TSC ticks at one rate in every power state, the same
   on every CPU (x86 Linux's constant_tsc and nonstop_tsc flags). */
static bool clock_tsc_steady(void)
{
    char line[4096];
    bool constant = false, nonstop = false;
    FILE *f = fopen("/proc/cpuinfo", "r");

    if (!f)
        return false;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "flags", 5) == 0) {
            constant = strstr(line, " constant_tsc") != NULL;
            nonstop = strstr(line, " nonstop_tsc") != NULL;
            break;
        }
    fclose(f);
    return constant && nonstop;
}
#endif

void conc_ticks_calibrate(void)
{
    static bool done;

    if (done)
        return;
    done = true;
#if defined(__x86_64__)
    if (clock_tsc_steady()) {
        uint64_t t0, t1, c0, c1;
        t0 = conc_now_ns();
        c0 = __builtin_ia32_rdtsc();
        do
            t1 = conc_now_ns();
        while (t1 - t0 < 2 * CONC_NS_PER_MS);
        c1 = __builtin_ia32_rdtsc();
        /* Between 0.01 and 100 ns a tick: 10 MHz to 100 GHz. */
        if (c1 > c0) {
            conc_ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
            if (conc_ns_per_tick > 0.01 && conc_ns_per_tick < 100)
                return;
        }
    }
#endif
    conc_ns_per_tick = 1;
    conc_ticks_are_ns = true;
}

char *conc_fmt_ns(char *buf, size_t len, double ns)
{
    static const struct { double scale; const char *unit; } units[] = {
        { 1e9, "s" }, { 1e6, "ms" }, { 1e3, "us" }, { 1, "ns" },
    };
    size_t i = 0;
    /* By magnitude: a CI's lower end can be negative with few runs, and
       came out as "-7186231.401 ns". */
    double mag = ns < 0 ? -ns : ns;

    while (i < 3 && mag < units[i].scale)
        i++;
    double v = ns / units[i].scale, vmag = mag / units[i].scale;

    if (ns == 0) {
        snprintf(buf, len, "0 ns");
        return buf;
    }
    snprintf(buf, len,
             vmag >= 100 ? "%.1f %s" : vmag >= 10 ? "%.2f %s" : "%.3f %s",
             v, units[i].unit);
    return buf;
}
