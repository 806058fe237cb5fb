/*
 * Human formatting of durations; the clock itself is inline in clock.h.
 */
#include <stdio.h>

#include "lib/clock.h"

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
