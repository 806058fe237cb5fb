/*
 * concbench sweep --dry-run: the plan printed instead of run, with a rough
 * time for each cell from what its workload's options say about its work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/host.h"
#include "cmd/sweep.h"
#include "lib/clock.h"
#include "lib/err.h"

/*
 * The sieve's CPU time a number up to n, all tasks together: measured with
 * `run -m sequential -w primes -o n=1e10` (1.26 s of user time, and 0.09
 * to 0.13 ns a number from n = 1e8 to 1e10) on the x86 server this was
 * written on. A faster or slower core moves it by its own ratio.
 */
#define SWEEP_PRIMES_NS_PER_NUMBER 0.12

/* The value of key in p, or false when p has no such (present) key. */
static bool sweep_param(const struct conc_params *p, const char *key,
                        uint64_t *out)
{
    int i = conc_params_find(p, key);

    if (i < 0 || !p->v[i].present)
        return false;
    *out = p->v[i].u;
    return true;
}

double sweep_estimate_run(const struct sweep_cell *sc, double usable_cpus)
{
    const struct conc_cell *c = &sc->cell;
    const char *w = c->workload->name;
    uint64_t n, ms, count, jitter = 0;

    if (strcmp(w, "primes") == 0 && sweep_param(&c->wp, "n", &n)) {
        double cpu = (double)n * SWEEP_PRIMES_NS_PER_NUMBER, lanes = 1;

        /* Each task has a core of its own only under a preemptive model
           (threads without a GIL, fork); the others share one. */
        if (c->model->preemptive && c->model->preemptive(&c->mp))
            lanes = (double)c->tasks < usable_cpus ? (double)c->tasks
                                                   : usable_cpus;
        return cpu / (lanes >= 1 ? lanes : 1);
    }
    if (strcmp(w, "sleep") == 0 && sweep_param(&c->wp, "ms", &ms) &&
        sweep_param(&c->wp, "count", &count)) {
        double task;

        sweep_param(&c->wp, "jitter", &jitter);
        task = (double)count * ((double)ms + (double)jitter / 2);
        /* sequential runs one task after another; every other model lets
           the tasks' waits overlap. */
        if (strcmp(c->model->name, "sequential") == 0)
            return task * c->tasks;
        return task;
    }
    return -1;
}

/* A rough duration: two significant digits at most, "1.2 s", "3m20s". */
static char *sweep_fmt_rough(char *buf, size_t len, double ns)
{
    static const struct { double scale; const char *unit; } units[] = {
        { 1e9, "s" }, { 1e6, "ms" }, { 1e3, "us" }, { 1, "ns" },
    };
    size_t i = 0;

    if (ns >= 3600e9) {
        snprintf(buf, len, "%lldh%02lldm", (long long)(ns / 3600e9),
                 (long long)(ns / 60e9) % 60);
        return buf;
    }
    if (ns >= 60e9) {
        snprintf(buf, len, "%lldm%02llds", (long long)(ns / 60e9),
                 (long long)(ns / 1e9) % 60);
        return buf;
    }
    while (i < 3 && ns < units[i].scale)
        i++;
    snprintf(buf, len, ns / units[i].scale >= 10 ? "%.0f %s" : "%.1f %s",
             ns / units[i].scale, units[i].unit);
    return buf;
}

/* Runs a cell makes, warmups included: before each timed run when
   interleaved, before them all otherwise. */
static double sweep_cell_runs(const struct sweep *sw, bool interleave)
{
    return interleave ? (double)sw->runs * (1 + sw->warmup)
                      : (double)sw->runs + sw->warmup;
}

/* What a cell is not run for, or NULL: a model or workload not built. */
static const char *sweep_unavailable(const struct sweep_cell *sc)
{
    if (conc_model_refusal(sc->cell.model))
        return sc->cell.model->unavailable ? "model unavailable in this build"
                                           : "model refused on this machine";
    if (sc->cell.workload->unavailable)
        return "workload unavailable in this build";
    return NULL;
}

/* Sums of estimates: cells with one, without, and their time. */
struct sweep_sum {
    size_t cells, known, skipped;
    double ns;
    const char *unknown[4]; /* workloads without a basis, the first few */
    size_t nunknown;
};

static void sweep_sum_add(struct sweep_sum *s, const struct sweep_cell *sc,
                          double ns)
{
    s->cells++;
    if (sweep_unavailable(sc)) {
        s->skipped++;
        return;
    }
    if (ns >= 0) {
        s->known++;
        s->ns += ns;
        return;
    }
    for (size_t i = 0; i < s->nunknown; i++)
        if (strcmp(s->unknown[i], sc->cell.workload->name) == 0)
            return;
    if (s->nunknown < sizeof(s->unknown) / sizeof(s->unknown[0]))
        s->unknown[s->nunknown++] = sc->cell.workload->name;
}

/* "1.2 s (3 of 4 cells; no basis for 1: yield; 1 skipped)". */
static void sweep_print_sum(FILE *f, const char *what,
                            const struct sweep_sum *s)
{
    size_t runnable = s->cells - s->skipped;
    char t[32];

    fprintf(f, "estimate for %s: ", what);
    if (!s->known)
        fprintf(f, "unknown");
    else
        fprintf(f, "%s", sweep_fmt_rough(t, sizeof(t), s->ns));
    if (s->known == runnable)
        fprintf(f, " (%zu cell%s", s->cells, s->cells == 1 ? "" : "s");
    else
        fprintf(f, " (%zu of %zu cells; no basis for %zu:", s->known,
                s->cells, runnable - s->known);
    for (size_t i = 0; i < s->nunknown; i++)
        fprintf(f, "%s %s", i ? "," : "", s->unknown[i]);
    if (s->skipped)
        fprintf(f, "; %zu skipped", s->skipped);
    fprintf(f, ")\n");
}

void sweep_print_plan(FILE *f, const struct sweep *sw,
                      const struct sweep_slice *sl, bool interleave,
                      const char *seed, const char *json)
{
    bool sharded = sl->n > 1;
    double runs = sweep_cell_runs(sw, interleave);
    struct sweep_sum mine = { 0 }, all = { 0 };
    struct conc_host host;
    size_t in_shard = 0;
    /* Columns as wide as their longest entry: a mix's name, such as
       "sleep:63+primes:1", is longer than any workload's. */
    int ww = 10, mw = 11, ow = 7; /* "workload", "model", "options" */

    conc_host_read(&host);
    for (size_t i = 0; i < sw->ncells; i++) {
        const struct sweep_cell *sc = &sw->cells[i];
        if ((int)strlen(sc->cell.workload->name) > ww)
            ww = (int)strlen(sc->cell.workload->name);
        if ((int)strlen(sc->cell.model->name) > mw)
            mw = (int)strlen(sc->cell.model->name);
        if ((int)strlen(sc->opts_label) > ow)
            ow = (int)strlen(sc->opts_label);
        in_shard += sc->in_shard;
    }
    fprintf(f, "plan %s: %zu cell%s, %u timed run%s each after %u "
            "warmup%s%s, %s%s\n", sl->plan, sw->ncells,
            sw->ncells == 1 ? "" : "s", sw->runs, sw->runs == 1 ? "" : "s",
            sw->warmup, sw->warmup == 1 ? "" : "s",
            interleave ? " (before each timed run)" : "",
            interleave ? "interleaved; seed " : "by cell",
            interleave ? (seed ? seed : "drawn when it runs") : "");
    if (sharded)
        fprintf(f, "shard %s%s%s%s: %zu of the %zu cells, marked >\n",
                sl->text, *sl->source ? " (" : "", sl->source,
                *sl->source ? ")" : "", in_shard, sw->ncells);
    fprintf(f, "\n%s%-*s %-*s %-*s %7s  %9s  %5s  %9s\n",
            sharded ? "  shard  " : "", ww, "workload", mw, "model", ow,
            "options",
            "tasks", "per run", "runs", "cell");
    for (size_t i = 0; i < sw->ncells; i++) {
        const struct sweep_cell *sc = &sw->cells[i];
        double per = sweep_estimate_run(sc, host.usable_cpus);
        const char *why = sweep_unavailable(sc);
        char a[32], b[32];

        if (sharded)
            fprintf(f, "%c %5u  ", sc->in_shard ? '>' : ' ',
                    sweep_shard_of(i, sl->n));
        fprintf(f, "%-*s %-*s %-*s %7u  ", ww, sc->cell.workload->name,
                mw, sc->cell.model->name, ow, sc->opts_label, sc->cell.tasks);
        if (why)
            fprintf(f, "skipped: %s\n", why);
        else if (per < 0)
            fprintf(f, "%9s  %5.0f  %9s\n", "unknown", runs, "unknown");
        else
            fprintf(f, "%9s  %5.0f  %9s\n", sweep_fmt_rough(a, sizeof(a), per),
                    runs, sweep_fmt_rough(b, sizeof(b), per * runs));
        sweep_sum_add(&all, sc, per < 0 ? -1 : per * runs);
        if (sc->in_shard)
            sweep_sum_add(&mine, sc, per < 0 ? -1 : per * runs);
    }
    fprintf(f, "\n");
    if (sharded) {
        char what[64];

        snprintf(what, sizeof(what), "shard %s", sl->text);
        sweep_print_sum(f, what, &mine);
        sweep_print_sum(f, "the whole plan", &all);
    } else {
        sweep_print_sum(f, "the sweep", &all);
    }
    fprintf(f, "how: primes at %.2f ns of CPU a number up to n (measured "
            "on one x86 core),\n     over min(tasks, %g usable CPUs) under "
            "a preemptive model, else one CPU;\n     sleep at ms x count (+ "
            "jitter/2) a task, the waits overlapping except\n     under "
            "sequential; other workloads: no basis. Model overhead, setup "
            "and\n     a busy machine come on top.\n",
            SWEEP_PRIMES_NS_PER_NUMBER, host.usable_cpus);
    if (json) {
        char *p = conc_sanitize_dup(json);

        fprintf(f, "dry run: nothing was run; the report would go to %s%s%s\n",
                strcmp(json, "-") == 0 ? "" : "'",
                strcmp(json, "-") == 0 ? "standard output" : p,
                strcmp(json, "-") == 0 ? "" : "'");
        free(p);
    } else {
        fprintf(f, "dry run: nothing was run (no --json: no report)\n");
    }
}
