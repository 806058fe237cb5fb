/*
 * concbench sweep's summary table: one line a cell, its median, the 95% CI
 * of the mean and its speedup over the sequential cell like it.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/sweep.h"
#include "lib/clock.h"

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

void sweep_print_table(FILE *f, const struct sweep *sw)
{
    int ow = 7; /* "options" */

    for (size_t i = 0; i < sw->ncells; i++)
        if (sw->cells[i].in_shard && (int)strlen(sw->cells[i].opts_label) > ow)
            ow = (int)strlen(sw->cells[i].opts_label);
    fprintf(f, "%-10s %-11s %-*s %7s %11s  %-25s %8s\n", "workload", "model",
            ow, "options", "tasks", "median", "95% CI of the mean", "speedup");
    for (size_t i = 0; i < sw->ncells; i++) {
        const struct sweep_cell *sc = &sw->cells[i], *base;
        const struct conc_summary *w = &sc->res.wall;
        char a[32], b[32], c[32], ci[64], sp[16];

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
        base = sweep_baseline(sw, sc);
        if (base && w->median > 0)
            snprintf(sp, sizeof(sp), "%.2fx",
                     base->res.wall.median / w->median);
        else
            snprintf(sp, sizeof(sp), "-");
        /* The ellipsis is 3 bytes and 1 column: pad by 2 more. */
        fprintf(f, "%11s  %-27s %8s%s\n", conc_fmt_ns(a, sizeof(a), w->median),
                ci, sp, sc->res.failed ? "  (some runs failed)" : "");
    }
}
