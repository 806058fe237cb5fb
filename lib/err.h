/*
 * Error reporting in git's style: "concbench: <what failed>[: <why>]" on
 * stderr, once, where the context is known. The base every layer uses; exit
 * codes and usage errors are the CLI's (cmd/exit.h).
 */
#ifndef CONC_ERR_H
#define CONC_ERR_H

#include <stdarg.h>
#include <stdbool.h>
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

/*
 * While quiet is true, conc_error() and conc_error_msg() from the calling
 * thread keep their message for conc_error_last() and print nothing (a
 * warning still prints): for a caller that says the same refusal once for
 * many cells.
 */
void conc_error_quiet(bool quiet);

/* Prints "concbench: warning: <fmt>". */
void conc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The candidate closest to word by edit distance, or NULL when none is
 * close enough to suggest ("did you mean ...").
 */
const char *conc_suggest(const char *word, const char *const *candidates,
                         size_t n);

/*
 * Copies src into dst (len bytes, always terminated when len > 0) with
 * every control character made visible: C0 controls and DEL as "\x1b",
 * C1 controls (UTF-8 U+0080-U+009F) as "\u9b". Text from a report, a URL
 * or any input must pass through it before it reaches a terminal. Returns
 * the length the whole result needs (without the terminator), so
 * conc_sanitize(NULL, 0, s) sizes it.
 */
size_t conc_sanitize(char *dst, size_t len, const char *src);

/* conc_sanitize() into new memory (caller frees). */
char *conc_sanitize_dup(const char *src);

/*
 * Allocation that never returns NULL: when memory runs out it prints
 * "concbench: out of memory (allocating N bytes)", calls conc_oom_cleanup
 * (when set: cmd/ removes half-written outputs there) and ends the process
 * with status 1, a failed run, rather than aborting.
 */
extern void (*conc_oom_cleanup)(void);
void *conc_xmalloc(size_t size);
void *conc_xcalloc(size_t n, size_t size);
/* n x size bytes, not zeroed; the product checked for overflow. */
void *conc_xmallocarray(size_t n, size_t size);
void *conc_xrealloc(void *p, size_t size);
char *conc_xstrdup(const char *s);

#endif
