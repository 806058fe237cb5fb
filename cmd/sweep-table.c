/*
 * concbench sweep's speedups and summary table: one line a cell, its
 * median, the 95% CI of the mean and its speedup over the sequential cell
 * like it, from runs paired in time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/paired.h"
#include "cmd/sweep.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/term.h"

/* Whether a and b have the same workload option values. */
static bool sweep_same_workload_opts(const struct conc_cell *a,
                                     const struct conc_cell *b)
{
    for (int i = 0; a->wp.opts && a->wp.opts[i].key; i++) {
        const struct conc_val *x = &a->wp.v[i], *y = &b->wp.v[i];
        if (x->present != y->present ||
            (x->present && strcmp(x->s, y->s) != 0))
            return false;
    }
    return true;
}

/*
 * Whether b's model is the baseline of c's: the sequential model for every
 * C model; for python, CPython's own plain loop (api=sequential) in the
 * same interpreter with the same GIL setting, since CPython's sieve runs
 * about 100x slower than the C one and a speedup over C would say only
 * that.
 */
static bool sweep_baseline_model(const struct conc_cell *b,
                                 const struct conc_cell *c)
{
    if (strcmp(c->model->name, "python") != 0)
        return strcmp(b->model->name, "sequential") == 0;
    if (b->model != c->model ||
        strcmp(conc_param_str(&b->mp, "api"), "sequential") != 0)
        return false;
    for (int i = 0; b->mp.opts && b->mp.opts[i].key; i++) {
        const struct conc_val *x = &b->mp.v[i], *y = &c->mp.v[i];
        const char *key = b->mp.opts[i].key;
        if (strcmp(key, "api") == 0 || strcmp(key, "workers") == 0)
            continue;
        if (x->present != y->present ||
            (x->present && strcmp(x->s, y->s) != 0))
            return false;
    }
    return true;
}

/* The baseline cell with the same workload, options and tasks, or NULL. */
static const struct sweep_cell *sweep_baseline(const struct sweep *sw,
                                               const struct sweep_cell *sc)
{
    for (size_t i = 0; i < sw->ncells; i++) {
        const struct sweep_cell *b = &sw->cells[i];
        if (b->in_shard && b->begun && b->res.wall.n &&
            sweep_baseline_model(&b->cell, &sc->cell) &&
            b->cell.workload == sc->cell.workload &&
            b->cell.tasks == sc->cell.tasks &&
            sweep_same_workload_opts(&b->cell, &sc->cell))
            return b;
    }
    return NULL;
}

bool sweep_is_baseline(const struct sweep *sw, const struct sweep_cell *sc)
{
    return sweep_baseline(sw, sc) == sc;
}

bool sweep_cpu_bound(const struct sweep_cell *sc)
{
    return strcmp(sc->cell.workload->name, "primes") == 0;
}

/* The passed runs of res as (start, wall) pairs; sets *n; caller frees. */
static struct conc_timed *sweep_timed(const struct conc_cell_result *res,
                                      size_t *n)
{
    struct conc_timed *t = conc_xcalloc(res->nruns ? res->nruns : 1,
                                        sizeof(*t));

    *n = 0;
    for (unsigned k = 0; k < res->nruns; k++)
        if (!res->runs[k].failed) {
            t[*n].start_ns = res->runs[k].start_ns;
            t[(*n)++].wall_ns = (double)res->runs[k].wall_ns;
        }
    return t;
}

void sweep_speedups(struct sweep *sw, double usable_cpus)
{
    for (size_t i = 0; i < sw->ncells; i++) {
        struct sweep_cell *sc = &sw->cells[i];
        const struct sweep_cell *base;
        struct conc_timed *b, *c;
        size_t nb, nc;

        memset(&sc->speedup, 0, sizeof(sc->speedup));
        if (!sc->in_shard || !sc->begun || !sc->res.wall.n)
            continue;
        base = sweep_baseline(sw, sc);
        if (!base || base == sc)
            continue;
        b = sweep_timed(&base->res, &nb);
        c = sweep_timed(&sc->res, &nc);
        if (conc_speedup_paired(b, nb, c, nc, &sc->speedup) == 0 &&
            sweep_cpu_bound(sc))
            conc_speedup_check(&sc->speedup, sc->cell.tasks, usable_cpus);
        free(b);
        free(c);
    }
}

/* The speedup column: "1.95x (1.90…2.01)", "1.00x" for the baseline. */
static void sweep_fmt_speedup(char *buf, size_t n, const struct sweep *sw,
                              const struct sweep_cell *sc)
{
    const struct conc_speedup *sp = &sc->speedup;

    if (sp->pairs > 1)
        snprintf(buf, n, "%.2fx (%.2f\xe2\x80\xa6%.2f)%s", sp->value, sp->lo,
                 sp->hi, sp->impossible ? " \xe2\x9c\x97" : "");
    else if (sp->pairs)
        snprintf(buf, n, "%.2fx%s", sp->value,
                 sp->impossible ? " \xe2\x9c\x97" : "");
    else if (sweep_baseline(sw, sc) == sc)
        snprintf(buf, n, "1.00x");
    else
        snprintf(buf, n, "-");
}

/*
 * The footnote of the impossible speedups: the limits they passed, once
 * each. Prints nothing when there is none.
 */
static void sweep_print_impossible(FILE *f, const struct sweep *sw)
{
    double seen[8];
    size_t nseen = 0, more = 0;

    for (size_t i = 0; i < sw->ncells; i++) {
        const struct conc_speedup *sp = &sw->cells[i].speedup;
        size_t k = 0;

        if (!sw->cells[i].in_shard || !sp->impossible)
            continue;
        while (k < nseen && seen[k] != sp->limit)
            k++;
        if (k == nseen && nseen < sizeof(seen) / sizeof(seen[0]))
            seen[nseen++] = sp->limit;
        else if (k == nseen)
            more++;
    }
    if (!nseen)
        return;
    fprintf(f, "\xe2\x9c\x97 impossible: the speedup's 95%% CI lies wholly "
            "above min(tasks, usable CPUs) = ");
    for (size_t k = 0; k < nseen; k++)
        fprintf(f, "%s%g", k ? ", " : "", seen[k]);
    fprintf(f, "%s, more than CPU-bound work can gain: the baseline was "
            "disturbed\n", more ? ", ..." : "");
}

/* Columns text takes on a terminal: UTF-8 continuation bytes take none. */
static size_t sweep_columns(const char *text)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

/*
 * The marks of a cell's warnings, in the order of the digest's lines that
 * explain them: "~" noisy, "!" disturbed, "*" outliers, "<" too short.
 */
static void sweep_marks(char *buf, size_t len, const struct sweep_cell *sc)
{
    static const char mark[] = { [CONC_WARN_NOISY] = '~',
                                 [CONC_WARN_DISTURBED] = '!',
                                 [CONC_WARN_OUTLIERS] = '*',
                                 [CONC_WARN_SHORT] = '<' };
    static const enum conc_cell_warn_kind order[] = {
        CONC_WARN_NOISY, CONC_WARN_DISTURBED, CONC_WARN_OUTLIERS,
        CONC_WARN_SHORT,
    };
    struct conc_cell_warning w[CONC_CELL_WARN_MAX];
    size_t n = conc_cell_warnings(&sc->res, w), at = 0;

    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        for (size_t i = 0; i < n; i++)
            if (w[i].kind == order[k] && at + 1 < len) {
                buf[at++] = mark[order[k]];
                break;
            }
    buf[at] = '\0';
}

void sweep_print_table(FILE *f, const struct sweep *sw)
{
    int ow = 7; /* "options" */
    size_t sw_cols = 16; /* "speedup (95% CI)" */
    struct conc_paint p;

    conc_term_paint(&p, fileno(f));
    for (size_t i = 0; i < sw->ncells; i++) {
        char sp[64];
        if (!sw->cells[i].in_shard)
            continue;
        if ((int)strlen(sw->cells[i].opts_label) > ow)
            ow = (int)strlen(sw->cells[i].opts_label);
        sweep_fmt_speedup(sp, sizeof(sp), sw, &sw->cells[i]);
        if (sweep_columns(sp) > sw_cols)
            sw_cols = sweep_columns(sp);
    }
    fprintf(f, "%s%-10s %-11s %-*s %7s %11s  %-25s  %-*s  %s%s\n", p.bold,
            "workload", "model", ow, "options", "tasks", "median",
            "95% CI of the mean", (int)sw_cols, "speedup (95% CI)", "notes",
            p.reset);
    for (size_t i = 0; i < sw->ncells; i++) {
        const struct sweep_cell *sc = &sw->cells[i];
        const struct conc_summary *w = &sc->res.wall;
        char a[32], b[32], c[32], ci[64], sp[64], marks[8];

        if (!sc->in_shard)
            continue;
        fprintf(f, "%-10s %-11s %-*s %7u ", sc->cell.workload->name,
                sc->cell.model->name, ow, sc->opts_label, sc->cell.tasks);
        if (sc->res.skipped) {
            char *why = conc_sanitize_dup(sc->res.skipped);
            fprintf(f, "%sskipped: %s%s\n", p.dim, why, p.reset);
            free(why);
            continue;
        }
        if (!w->n) {
            const char *why = "";
            char *safe;
            for (unsigned k = 0; k < sc->res.nruns && !*why; k++)
                why = sc->res.runs[k].why;
            safe = conc_sanitize_dup(*why ? why
                                     : sc->res.err ? strerror(-sc->res.err)
                                                   : "no run passed");
            fprintf(f, "%sfailed: %s%s\n", p.red, safe, p.reset);
            free(safe);
            continue;
        }
        /* Student's t over few noisy runs can reach below zero, which no
           time can: the interval is shown clipped at 0. */
        snprintf(ci, sizeof(ci), "%s \xe2\x80\xa6 %s",
                 conc_fmt_ns(b, sizeof(b), w->ci95_lo > 0 ? w->ci95_lo : 0),
                 conc_fmt_ns(c, sizeof(c), w->ci95_hi));
        sweep_fmt_speedup(sp, sizeof(sp), sw, sc);
        sweep_marks(marks, sizeof(marks), sc);
        /* The ellipsis is 3 bytes and 1 column: pad by 2 more. */
        fprintf(f, "%11s  %-27s  %s%s%s", conc_fmt_ns(a, sizeof(a), w->median),
                ci, sc->speedup.impossible ? p.red : "", sp,
                sc->speedup.impossible ? p.reset : "");
        /* Notes pad the speedup to its column; none leave no trailing
           blanks. */
        if (*marks || sc->res.failed)
            fprintf(f, "%*s  %s%s%s%s", (int)(sw_cols - sweep_columns(sp)), "",
                    *marks ? p.yellow : "", marks, *marks ? p.reset : "",
                    sc->res.failed ? "  (some runs failed)" : "");
        fputc('\n', f);
    }
    sweep_print_impossible(f, sw);
}

/* The worst cell of one kind of warning, and how many cells had it. */
struct sweep_worst {
    size_t cells;
    double value;   /* the warning's value (conc_cell_warning) */
    const struct sweep_cell *sc;
};

static void sweep_worst_add(struct sweep_worst *w, const struct sweep_cell *sc,
                            double value, bool lowest)
{
    if (!w->cells++ || (lowest ? value < w->value : value > w->value)) {
        w->value = value;
        w->sc = sc;
    }
}

/* "primes under threads (gil=on, 64 tasks)": its varying options only. */
static char *sweep_label(const struct sweep_cell *sc)
{
    char *label = conc_cell_label(&sc->cell, sc->vary_label);
    char *safe = conc_sanitize_dup(label);

    free(label);
    return safe;
}

void sweep_print_digest(FILE *f, const struct sweep *sw)
{
    struct sweep_worst worst[4];
    size_t ran = 0, failed = 0, few_runs = 0;
    unsigned fewest = 0;
    struct conc_paint p;
    char *label, a[32];

    memset(worst, 0, sizeof(worst));
    conc_term_paint(&p, fileno(f));
    for (size_t i = 0; i < sw->ncells; i++) {
        const struct sweep_cell *sc = &sw->cells[i];
        struct conc_cell_warning w[CONC_CELL_WARN_MAX];
        double disturbed = 0;
        size_t n;

        if (!sc->in_shard || !sc->begun)
            continue;
        failed += sc->res.failed;
        if (!sc->res.wall.n)
            continue;
        ran++;
        if (sc->res.wall.n < CONC_OUTLIER_MIN_RUNS) {
            few_runs++;
            if (!fewest || sc->res.wall.n < fewest)
                fewest = (unsigned)sc->res.wall.n;
        }
        n = conc_cell_warnings(&sc->res, w);
        for (size_t k = 0; k < n; k++) {
            if (w[k].kind == CONC_WARN_DISTURBED) {
                /* The share of its runs, over every kind of interference. */
                disturbed = w[k].value > disturbed ? w[k].value : disturbed;
                continue;
            }
            sweep_worst_add(&worst[w[k].kind], sc, w[k].value,
                            w[k].kind == CONC_WARN_SHORT);
        }
        if (disturbed)
            sweep_worst_add(&worst[CONC_WARN_DISTURBED], sc,
                            disturbed / (double)sc->res.wall.n, false);
    }
    if (!ran)
        return;
    if (worst[CONC_WARN_NOISY].cells) {
        label = sweep_label(worst[CONC_WARN_NOISY].sc);
        fprintf(f, "%s~%s %zu of %zu cells noisy: stddev over %.0f%% of the "
                "mean (worst: %s, %.0f%%)\n", p.yellow, p.reset,
                worst[CONC_WARN_NOISY].cells, ran, CONC_NOISY_PCT, label,
                worst[CONC_WARN_NOISY].value);
        free(label);
    }
    if (worst[CONC_WARN_DISTURBED].cells) {
        const struct sweep_cell *sc = worst[CONC_WARN_DISTURBED].sc;
        label = sweep_label(sc);
        fprintf(f, "%s!%s %zu of %zu cells disturbed: other work took over "
                "%.0f%% of some runs (worst: %s, %.0f of %zu runs)\n",
                p.yellow, p.reset, worst[CONC_WARN_DISTURBED].cells, ran,
                CONC_DISTURB_PCT, label,
                worst[CONC_WARN_DISTURBED].value * (double)sc->res.wall.n,
                sc->res.wall.n);
        free(label);
    }
    if (worst[CONC_WARN_OUTLIERS].cells) {
        label = sweep_label(worst[CONC_WARN_OUTLIERS].sc);
        fprintf(f, "%s*%s %zu of %zu cells with outlier runs, kept in the "
                "statistics (most: %s, %.0f)\n", p.yellow, p.reset,
                worst[CONC_WARN_OUTLIERS].cells, ran, label,
                worst[CONC_WARN_OUTLIERS].value);
        free(label);
    }
    if (few_runs)
        fprintf(f, "  outliers are called only with %d or more runs a cell: "
                "%zu cell%s had %u\n", CONC_OUTLIER_MIN_RUNS, few_runs,
                few_runs == 1 ? "" : "s", fewest);
    if (worst[CONC_WARN_SHORT].cells) {
        label = sweep_label(worst[CONC_WARN_SHORT].sc);
        fprintf(f, "%s<%s %zu of %zu cells under %.0f ms, too short to time "
                "well (shortest: %s, %s)\n", p.yellow, p.reset,
                worst[CONC_WARN_SHORT].cells, ran, CONC_SHORT_NS / 1e6, label,
                conc_fmt_ns(a, sizeof(a), worst[CONC_WARN_SHORT].value));
        free(label);
    }
    if (failed)
        fprintf(f, "%s%zu cell%s failed%s: the table says why\n", p.red,
                failed, failed == 1 ? "" : "s", p.reset);
    if (worst[0].cells || worst[1].cells || worst[2].cells || worst[3].cells)
        fprintf(f, "  each cell's warnings: --verbose, and \"warnings\" in "
                "the report\n");
}

void sweep_print_warnings(const struct sweep *sw)
{
    for (size_t i = 0; i < sw->ncells; i++) {
        const struct sweep_cell *sc = &sw->cells[i];
        char *label;

        if (!sc->in_shard || !sc->begun || !sc->res.wall.n)
            continue;
        label = sweep_label(sc);
        conc_cell_warn_print(&sc->res, label);
        free(label);
    }
}
