/*
 * compare's tables for people: plain text for a terminal and Markdown for a
 * pull-request comment, one row a matched cell, then the unmatched cells,
 * and last the comparison's verdict. Text from a report (labels, notes) is
 * sanitized: it reaches a terminal.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/compare.h"
#include "lib/clock.h"
#include "lib/err.h"

/* A value in the metric's unit, for the tables. */
static char *compare_fmt_value(char *buf, size_t len, double v,
                               const struct conc_cmp *c)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (strcmp(c->unit, "ns") == 0)
        conc_fmt_ns(buf, len, v);
    else if (strcmp(c->unit, "KiB") == 0)
        snprintf(buf, len, "%.1f MiB", v / 1024);
    else
        snprintf(buf, len, "%.6g", v);
    return buf;
}

static char *compare_fmt_pct(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (isinf(v))
        snprintf(buf, len, "%s", v > 0 ? "+inf" : "-inf");
    else
        snprintf(buf, len, "%+.1f%%", v);
    return buf;
}

static char *compare_fmt_ci(char *buf, size_t len, const struct conc_cmp_row *r,
                            const char *sep)
{
    char lo[24], hi[24];

    if (isnan(r->ci_lo_pct))
        snprintf(buf, len, "-");
    else if (isinf(r->ci_lo_pct) && isinf(r->ci_hi_pct))
        snprintf(buf, len, "too few runs");
    else
        snprintf(buf, len, "%s%s%s", compare_fmt_pct(lo, sizeof(lo),
                                                     r->ci_lo_pct),
                 sep, compare_fmt_pct(hi, sizeof(hi), r->ci_hi_pct));
    return buf;
}

static char *compare_fmt_p(char *buf, size_t len, double p)
{
    if (isnan(p))
        snprintf(buf, len, "-");
    else if (p < 0.001)
        snprintf(buf, len, "%.1e", p);
    else
        snprintf(buf, len, "%.3f", p);
    return buf;
}

/* "slower" for durations, "higher" for memory and counts. */
static const char *compare_word(const char *verdict,
                                const struct conc_cmp *c)
{
    if (strcmp(c->unit, "ns") == 0)
        return verdict;
    if (strcmp(verdict, "slower") == 0)
        return "higher";
    if (strcmp(verdict, "faster") == 0)
        return "lower";
    return verdict;
}

/* "2 slower, 1 unchanged": how many rows got each verdict, joined by sep. */
static void compare_tally(const struct conc_cmp *c, char *buf, size_t len,
                          const char *sep)
{
    static const char *const verdicts[] = { "slower", "faster", "unchanged",
                                            "noisy", "failed", "skipped",
                                            "n/a" };
    size_t at = 0;

    buf[0] = '\0';
    for (size_t v = 0; v < sizeof(verdicts) / sizeof(verdicts[0]); v++) {
        size_t k = 0;
        for (size_t i = 0; i < c->nrows; i++)
            k += strcmp(c->rows[i].verdict, verdicts[v]) == 0;
        if (k && at < len)
            at += (size_t)snprintf(buf + at, len - at, "%s%zu %s",
                                   at ? sep : "", k,
                                   compare_word(verdicts[v], c));
    }
    if (!c->nrows)
        snprintf(buf, len, "no cell in both reports");
}

void compare_print_text(const struct conc_cmp *c)
{
    size_t w = 4;
    char bv[32], nv[32], ch[24], ci[48], p[24], tally[256], closing[512];

    for (size_t i = 0; i < c->nrows; i++) {
        size_t n = conc_sanitize(NULL, 0, c->rows[i].label);
        w = n > w ? n : w;
    }
    printf("%s: '%s' -> '%s' (threshold %g%%, alpha %g)\n", c->metric,
           c->base_path, c->new_path, c->threshold_pct, c->alpha);
    printf("%-*s  %10s  %10s  %8s  %-17s  %7s  %s\n", (int)w, "cell", "base",
           "new", "change", "95% CI", "p", "verdict");
    for (size_t i = 0; i < c->nrows; i++) {
        const struct conc_cmp_row *r = &c->rows[i];
        char *label = conc_sanitize_dup(r->label);
        char *note = conc_sanitize_dup(r->note);

        printf("%-*s  %10s  %10s  %8s  %-17s  %7s  %s", (int)w, label,
               compare_fmt_value(bv, sizeof(bv), r->median_base, c),
               compare_fmt_value(nv, sizeof(nv), r->median_new, c),
               compare_fmt_pct(ch, sizeof(ch), r->change_pct),
               compare_fmt_ci(ci, sizeof(ci), r, " .. "),
               compare_fmt_p(p, sizeof(p), r->p), compare_word(r->verdict, c));
        if (note[0])
            printf(" (%s)", note);
        putchar('\n');
        free(label);
        free(note);
    }
    compare_tally(c, tally, sizeof(tally), ", ");
    printf("%s; change: Hodges-Lehmann shift over the base median, 95%% CI "
           "by Moses; p: Mann-Whitney U\n", tally);
    compare_closing(c, closing, sizeof(closing));
    printf("%s\n", closing);
}

void compare_print_md(const struct conc_cmp *c)
{
    char bv[32], nv[32], ch[24], ci[48], p[24], tally[256], closing[512];

    compare_tally(c, tally, sizeof(tally), " \xc2\xb7 ");
    printf("### concbench compare: `%s`\n\n", c->metric);
    printf("**%s** (threshold %g%%, alpha %g)\n\n", tally, c->threshold_pct,
           c->alpha);
    printf("| cell | base | new | change | 95%% CI | p | verdict |\n");
    printf("|:--|--:|--:|--:|:-:|--:|:--|\n");
    for (size_t i = 0; i < c->nrows; i++) {
        const struct conc_cmp_row *r = &c->rows[i];
        bool bold = strcmp(r->verdict, "slower") == 0 ||
                    strcmp(r->verdict, "failed") == 0;
        char *label = conc_sanitize_dup(r->label);
        char *note = conc_sanitize_dup(r->note);

        printf("| `%s` | %s | %s | %s | %s | %s | %s%s%s%s%s%s |\n", label,
               compare_fmt_value(bv, sizeof(bv), r->median_base, c),
               compare_fmt_value(nv, sizeof(nv), r->median_new, c),
               compare_fmt_pct(ch, sizeof(ch), r->change_pct),
               compare_fmt_ci(ci, sizeof(ci), r, " \xe2\x80\xa6 "),
               compare_fmt_p(p, sizeof(p), r->p), bold ? "**" : "",
               compare_word(r->verdict, c), bold ? "**" : "",
               note[0] ? " (" : "", note, note[0] ? ")" : "");
        free(label);
        free(note);
    }
    if (c->nonly_base || c->nonly_new) {
        printf("\n");
        for (size_t i = 0; i < c->nonly_base; i++) {
            char *label = conc_sanitize_dup(c->only_base_labels[i]);
            printf("- only in base: `%s`\n", label);
            free(label);
        }
        for (size_t i = 0; i < c->nonly_new; i++) {
            char *label = conc_sanitize_dup(c->only_new_labels[i]);
            printf("- only in new: `%s`\n", label);
            free(label);
        }
    }
    printf("\n<sub>change: Hodges\xe2\x80\x93Lehmann shift over the base "
           "median, with Moses' 95%% interval; p: Mann\xe2\x80\x93Whitney U, "
           "two-sided; only passed runs count.</sub>\n");
    compare_closing(c, closing, sizeof(closing));
    printf("\n**%s**\n", closing);
}

/* The labels a few-runs warning lists before "and N more". */
#define COMPARE_FEW_LISTED 5

void compare_warn_few_runs(const struct conc_cmp *c, size_t needed)
{
    bool *done = conc_xcalloc(c->nrows + 1, sizeof(*done));

    for (size_t i = 0; i < c->nrows; i++) {
        const struct conc_cmp_row *r = &c->rows[i];
        size_t n = 0, listed = 0, cap = 256, at = 0;
        char *list;

        if (done[i] || isnan(r->min_p) || r->min_p < c->alpha)
            continue;
        list = conc_xmalloc(cap);
        list[0] = '\0';
        for (size_t j = i; j < c->nrows; j++) {
            const struct conc_cmp_row *o = &c->rows[j];
            size_t need;
            if (done[j] || isnan(o->min_p) || o->min_p < c->alpha ||
                o->n_base != r->n_base || o->n_new != r->n_new)
                continue;
            done[j] = true;
            if (n++ >= COMPARE_FEW_LISTED)
                continue;
            need = at + strlen(o->label) + 3;
            if (need > cap) {
                cap = 2 * need;
                list = conc_xrealloc(list, cap);
            }
            at += (size_t)sprintf(list + at, "%s%s", listed++ ? ", " : "",
                                  o->label);
        }
        if (n == 1)
            conc_warn("'%s' has %zu and %zu passed runs: Mann-Whitney cannot "
                      "reach p < %g with them (best %.2g); run at least %zu "
                      "a side", r->label, r->n_base, r->n_new, c->alpha,
                      r->min_p, needed);
        else if (n > COMPARE_FEW_LISTED)
            conc_warn("%zu cells have %zu and %zu passed runs: Mann-Whitney "
                      "cannot reach p < %g with them (best %.2g); run at "
                      "least %zu a side: %s and %zu more (each marked noisy "
                      "in the table)", n, r->n_base, r->n_new, c->alpha,
                      r->min_p, needed, list, n - COMPARE_FEW_LISTED);
        else
            conc_warn("%zu cells have %zu and %zu passed runs: Mann-Whitney "
                      "cannot reach p < %g with them (best %.2g); run at "
                      "least %zu a side: %s", n, r->n_base, r->n_new,
                      c->alpha, r->min_p, needed, list);
        free(list);
    }
    free(done);
}
