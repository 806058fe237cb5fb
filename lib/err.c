/*
 * Error and warning output, "did you mean" suggestions and allocation that
 * cannot return NULL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

/* Per thread, so workers printing at once never race on it. */
static _Thread_local char err_last[1024];

static void err_vprint(const char *prefix, int err, const char *fmt,
                       va_list ap) __attribute__((format(printf, 3, 0)));

static void err_vprint(const char *prefix, int err, const char *fmt,
                       va_list ap)
{
    char msg[1024];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* One write, so lines from concurrent workers never interleave. */
    if (err < 0)
        fprintf(stderr, "concbench: %s%s: %s\n", prefix, msg, strerror(-err));
    else
        fprintf(stderr, "concbench: %s%s\n", prefix, msg);
    if (!*prefix)
        snprintf(err_last, sizeof(err_last), err < 0 ? "%s: %s" : "%s", msg,
                 err < 0 ? strerror(-err) : "");
}

const char *conc_error_last(void)
{
    return err_last;
}

int conc_error(int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vprint("", err, fmt, ap);
    va_end(ap);
    return err;
}

int conc_error_vmsg(int err, const char *fmt, va_list ap)
{
    err_vprint("", 0, fmt, ap);
    return err;
}

int conc_error_msg(int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vprint("", 0, fmt, ap);
    va_end(ap);
    return err;
}

void conc_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vprint("warning: ", 0, fmt, ap);
    va_end(ap);
}

/* Levenshtein distance, capped to keep it cheap on long words. */
static size_t err_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[65], cur[65];

    if (la > 64 || lb > 64)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t best = del < ins ? del : ins;
            cur[j] = best < sub ? best : sub;
        }
        memcpy(prev, cur, sizeof(cur));
    }
    return prev[lb];
}

const char *conc_suggest(const char *word, const char *const *candidates,
                         size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;

    for (size_t i = 0; i < n; i++) {
        size_t d = err_distance(word, candidates[i]);
        /* A prefix ("thread" for "threads") is always worth suggesting. */
        if (strncmp(word, candidates[i], strlen(word)) == 0 && *word)
            d = d < 1 ? d : 1;
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    /* git suggests within a distance of about a third of the word. */
    if (best && best_d <= 2 + strlen(word) / 4 && best_d < strlen(best))
        return best;
    return NULL;
}

static void *err_oom(size_t size)
{
    fprintf(stderr, "concbench: out of memory (allocating %zu bytes)\n", size);
    abort();
}

void *conc_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    return p ? p : err_oom(size);
}

void *conc_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : err_oom(n * size);
}

void *conc_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    return q ? q : err_oom(size);
}

char *conc_xstrdup(const char *s)
{
    char *p = strdup(s);
    return p ? p : err_oom(strlen(s) + 1);
}
