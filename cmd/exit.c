/*
 * Usage errors: one line in git's style, exit code 2.
 */
#include <stdarg.h>

#include "cmd/exit.h"
#include "lib/err.h"

int conc_usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conc_error_vmsg(0, fmt, ap);
    va_end(ap);
    return CONC_EXIT_USAGE;
}
