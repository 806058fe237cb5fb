/*
 * Human formatting of durations; the clock itself is inline in clock.h.
 */
#include <stdio.h>

#include "cmd/clock.h"

char *conc_fmt_ns(char *buf, size_t len, double ns)
{
    static const struct { double scale; const char *unit; } units[] = {
        { 1e9, "s" }, { 1e6, "ms" }, { 1e3, "us" }, { 1, "ns" },
    };
    size_t i = 0;

    while (i < 3 && ns < units[i].scale)
        i++;
    double v = ns / units[i].scale;

    if (ns == 0) {
        snprintf(buf, len, "0 ns");
        return buf;
    }
    snprintf(buf, len, v >= 100 ? "%.1f %s" : v >= 10 ? "%.2f %s" : "%.3f %s",
             v, units[i].unit);
    return buf;
}
