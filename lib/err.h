/*
 * Error reporting in git's style: "concbench: <what failed>[: <why>]" on
 * stderr, once, where the context is known. The base every layer uses; exit
 * codes and usage errors are the CLI's (cmd/exit.h).
 */
#ifndef CONC_ERR_H
#define CONC_ERR_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Prints "concbench: <fmt>: strerror(-err)" (the suffix only when err < 0)
 * and returns err, so callers write `return conc_error(-errno, "...", x);`.
 */
int conc_error(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Like conc_error() but never appends strerror: for rejected input. */
int conc_error_msg(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* conc_error_msg() with a va_list, for wrappers such as conc_usage_error(). */
int conc_error_vmsg(int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * The last message conc_error() or conc_error_msg() printed from the
 * calling thread, without the "concbench: " prefix ("" if none). Thread-local; valid until this thread's next error.
 */
const char *conc_error_last(void);

/* Prints "concbench: warning: <fmt>". */
void conc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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
