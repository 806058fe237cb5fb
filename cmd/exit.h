/*
 * The CLI's policy on failure: exit codes, the same for every subcommand
 * (README "Exit codes"), and usage errors. Only cmd/ exits.
 */
#ifndef CONC_EXIT_H
#define CONC_EXIT_H

/* Exit codes, the same for every subcommand (README "Exit codes"). */
enum conc_exit {
    CONC_EXIT_OK = 0,          /* every run passed */
    CONC_EXIT_FAILED = 1,      /* a run failed, or compare found a regression */
    CONC_EXIT_USAGE = 2,       /* bad input: nothing was run */
    CONC_EXIT_UNAVAILABLE = 3, /* the model or workload is not in this build */
    CONC_EXIT_INCONCLUSIVE = 4, /* compare: no regression, but more than
                                   half the compared cells are noisy, so
                                   the comparison says nothing either way
                                   (--accept-noisy makes it 0) */
};

/*
 * Usage error: prints "concbench: <fmt>" and returns CONC_EXIT_USAGE, for
 * `return conc_usage_error(...)` from a cmd_*() function.
 */
int conc_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
