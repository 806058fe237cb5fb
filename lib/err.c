/*
 * Error and warning output, "did you mean" suggestions and allocation that
 * cannot return NULL.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"

/* Per thread, so workers printing at once never race on it. */
static _Thread_local char err_last[1024];
static _Thread_local bool err_quiet;

size_t conc_sanitize(char *dst, size_t len, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0, need = 0;
    const unsigned char *p = (const unsigned char *)src;

    for (; *p; p++) {
        char esc[5];
        size_t k = 0;

        if (*p < 0x20 || *p == 0x7f) {
            /* C0 controls and DEL: ESC starts a terminal command, CR and
               LF forge lines. */
            esc[k++] = '\\';
            esc[k++] = 'x';
            esc[k++] = hex[*p >> 4];
            esc[k++] = hex[*p & 15];
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            /* C1 controls, U+0080-U+009F in UTF-8 (CSI is U+009B). */
            esc[k++] = '\\';
            esc[k++] = 'u';
            esc[k++] = hex[p[1] >> 4];
            esc[k++] = hex[p[1] & 15];
            p++;
        } else {
            esc[k++] = (char)*p;
        }
        for (size_t i = 0; i < k; i++, need++)
            if (dst && n + 1 < len)
                dst[n++] = esc[i];
    }
    if (dst && len)
        dst[n] = '\0';
    return need;
}

char *conc_sanitize_dup(const char *src)
{
    size_t need = conc_sanitize(NULL, 0, src) + 1;
    char *out = conc_xmalloc(need);

    conc_sanitize(out, need, src);
    return out;
}

static void err_vprint(const char *prefix, int err, const char *fmt,
                       va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * Formats the message whole (no length limit), makes its control
 * characters visible, and writes the line in one call, so lines from
 * concurrent workers never interleave and text from a report or a URL
 * can never drive the terminal.
 */
static void err_vprint(const char *prefix, int err, const char *fmt,
                       va_list ap)
{
    char small[1024], *msg = small, *safe;
    va_list again;
    int n;

    va_copy(again, ap);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n >= (int)sizeof(small) && (msg = malloc((size_t)n + 1)) != NULL)
        vsnprintf(msg, (size_t)n + 1, fmt, again);
    else if (!msg)
        msg = small; /* out of memory: the message, cut */
    va_end(again);
    safe = malloc(conc_sanitize(NULL, 0, msg) + 1);
    if (safe)
        conc_sanitize(safe, conc_sanitize(NULL, 0, msg) + 1, msg);
    /* Quiet: an error is kept below for conc_error_last(), not printed. */
    if (err < 0 && !(err_quiet && !*prefix))
        fprintf(stderr, "concbench: %s%s: %s\n", prefix, safe ? safe : msg,
                strerror(-err));
    else if (!(err_quiet && !*prefix))
        fprintf(stderr, "concbench: %s%s\n", prefix, safe ? safe : msg);
    if (!*prefix)
        snprintf(err_last, sizeof(err_last), err < 0 ? "%s: %s" : "%s",
                 safe ? safe : msg, err < 0 ? strerror(-err) : "");
    free(safe);
    if (msg != small)
        free(msg);
}

const char *conc_error_last(void)
{
    return err_last;
}

void conc_error_quiet(bool quiet)
{
    err_quiet = quiet;
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

void (*conc_oom_cleanup)(void);

static void *err_oom(size_t size)
{
    char msg[96];
    int n = snprintf(msg, sizeof(msg), "concbench: out of memory "
                     "(allocating %zu bytes)\n", size);

    /* write(2), not stdio: stdio may itself need the memory that ran out. */
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0) {
        /* Nothing left to report it with. */
    }
    if (conc_oom_cleanup)
        conc_oom_cleanup();
    /* A failed run (status 1), not a crash: no core, no abort's 134. */
    _exit(1);
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

void *conc_xmallocarray(size_t n, size_t size)
{
    size_t bytes;

    if (__builtin_mul_overflow(n ? n : 1, size ? size : 1, &bytes))
        return err_oom(SIZE_MAX);
    return conc_xmalloc(bytes);
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
