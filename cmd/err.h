/*
 * Error reporting in git's style: "concbench: <what failed>[: <why>]" on
 * stderr, once, where the context is known.
 */
#ifndef CONC_ERR_H
#define CONC_ERR_H

#include <stddef.h>

/* Exit codes, the same for every subcommand (README "Exit codes"). */
enum conc_exit {
    CONC_EXIT_OK = 0,          /* every run passed */
    CONC_EXIT_FAILED = 1,      /* a run failed, or compare found a regression */
    CONC_EXIT_USAGE = 2,       /* bad input: nothing was run */
    CONC_EXIT_UNAVAILABLE = 3, /* the model or workload is not in this build */
};

/*
 * Prints "concbench: <fmt>: strerror(-err)" (the suffix only when err < 0)
 * and returns err, so callers write `return conc_error(-errno, "...", x);`.
 */
int conc_error(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Like conc_error() but never appends strerror: for rejected input. */
int conc_error_msg(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The last message conc_error(), conc_error_msg() or conc_usage_error()
 * printed from the calling thread, without the "concbench: " prefix ("" if
 * none). Thread-local; valid until this thread's next error.
 */
const char *conc_error_last(void);

/* Prints "concbench: warning: <fmt>". */
void conc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Usage error: prints "concbench: <fmt>" and returns CONC_EXIT_USAGE, for
 * `return conc_usage_error(...)` from a cmd_*() function.
 */
int conc_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * The candidate closest to word by edit distance, or NULL when none is
 * close enough to suggest ("did you mean ...").
 */
const char *conc_suggest(const char *word, const char *const *candidates,
                         size_t n);

/* Allocation that aborts with a message on OOM; never returns NULL. */
void *conc_xmalloc(size_t size);
void *conc_xcalloc(size_t n, size_t size);
void *conc_xrealloc(void *p, size_t size);
char *conc_xstrdup(const char *s);

#endif
