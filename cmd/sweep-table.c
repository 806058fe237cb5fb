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

/* The sequential cell with the same workload, options and tasks, or NULL. */
static const struct sweep_cell *sweep_baseline(const struct sweep *sw,
                                               const struct sweep_cell *sc)
{
    for (size_t i = 0; i < sw->ncells; i++) {
        const struct sweep_cell *b = &sw->cells[i];
        if (b->in_shard && b->begun && b->res.wall.n &&
            strcmp(b->cell.model->name, "sequential") == 0 &&
            b->cell.workload == sc->cell.workload &&
            b->cell.tasks == sc->cell.tasks &&
            sweep_same_workload_opts(&b->cell, &sc->cell))
            return b;
    }
    return NULL;
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

void sweep_print_table(FILE *f, const struct sweep *sw)
{
    int ow = 7; /* "options" */

    for (size_t i = 0; i < sw->ncells; i++)
        if (sw->cells[i].in_shard && (int)strlen(sw->cells[i].opts_label) > ow)
            ow = (int)strlen(sw->cells[i].opts_label);
    fprintf(f, "%-10s %-11s %-*s %7s %11s  %-25s  %s\n", "workload", "model",
            ow, "options", "tasks", "median", "95% CI of the mean",
            "speedup (95% CI)");
    for (size_t i = 0; i < sw->ncells; i++) {
        const struct sweep_cell *sc = &sw->cells[i];
        const struct conc_summary *w = &sc->res.wall;
        char a[32], b[32], c[32], ci[64], sp[64];

        if (!sc->in_shard)
            continue;
        fprintf(f, "%-10s %-11s %-*s %7u ", sc->cell.workload->name,
                sc->cell.model->name, ow, sc->opts_label, sc->cell.tasks);
        if (sc->res.skipped) {
            fprintf(f, "skipped: %s\n", sc->res.skipped);
            continue;
        }
        if (!w->n) {
            const char *why = "";
            for (unsigned k = 0; k < sc->res.nruns && !*why; k++)
                why = sc->res.runs[k].why;
            fprintf(f, "failed: %s\n", *why ? why
                    : sc->res.err ? strerror(-sc->res.err) : "no run passed");
            continue;
        }
        /* Student's t over few noisy runs can reach below zero, which no
           time can: the interval is shown clipped at 0. */
        snprintf(ci, sizeof(ci), "%s \xe2\x80\xa6 %s",
                 conc_fmt_ns(b, sizeof(b), w->ci95_lo > 0 ? w->ci95_lo : 0),
                 conc_fmt_ns(c, sizeof(c), w->ci95_hi));
        sweep_fmt_speedup(sp, sizeof(sp), sw, sc);
        /* The ellipsis is 3 bytes and 1 column: pad by 2 more. */
        fprintf(f, "%11s  %-27s  %s%s\n", conc_fmt_ns(a, sizeof(a), w->median),
                ci, sp, sc->res.failed ? "  (some runs failed)" : "");
    }
    sweep_print_impossible(f, sw);
}
