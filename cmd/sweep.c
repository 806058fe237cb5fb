/*
 * concbench sweep: a matrix of cells (workloads x models x option values x
 * task counts) run through the same cell runner as `run`, into one report.
 * Repetitions are interleaved in a seeded random order so that a shared
 * machine's drift spreads over every cell instead of biasing the last ones.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/args.h"
#include "cmd/cell.h"
#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/registry.h"
#include "cmd/report.h"
#include "lib/clock.h"
#include "lib/err.h"

#define SWEEP_TASKS_MAX 1000000u
#define SWEEP_CELLS_MAX 1000000u

static const char sweep_usage[] =
    "usage: concbench sweep [--models all|M1,M2] [--workloads all|W1,W2]\n"
    "                       [--tasks T1,T2,...] [--runs R] [--warmup N]\n"
    "                       [-o key=v1,v2]... [--seed S]\n"
    "                       [--interleave|--no-interleave] [--shard K/N]\n"
    "                       [--json FILE|-]\n"
    "\n"
    "    -m, --models LIST     models to run, or 'all' (default all)\n"
    "    -w, --workloads LIST  workloads to run, or 'all' (default all)\n"
    "    -t, --tasks LIST      task counts (default 1,2,4,8,16,32,64)\n"
    "    -r, --runs R          timed runs of each cell (default 5)\n"
    "        --warmup N        untimed runs before the timed ones (default 1);\n"
    "                          interleaved, before each timed run\n"
    "    -o key=v1,v2          an option and the values to sweep; applies to\n"
    "                          the models and workloads that declare it\n"
    "        --seed S          seed of the interleaved order (default: random,\n"
    "                          recorded in the report)\n"
    "        --interleave      run every cell's repetitions in a shuffled\n"
    "                          order (the default when --runs > 1)\n"
    "        --no-interleave   run each cell's repetitions back to back\n"
    "        --shard K/N       run only the K-th of N disjoint slices: cell i\n"
    "                          (in matrix order) belongs to shard i mod N + 1\n"
    "        --json FILE       write the report ('-': stdout)\n"
    "\n"
    "Cells a model cannot run (unavailable in this build, or over a limit)\n"
    "are recorded as skipped with the reason; a failed cell is recorded,\n"
    "the sweep goes on, and the exit code is 1.\n";

/* One -o key=v1,v2: the values to sweep for key. */
struct sweep_opt {
    const char *key;
    char *text;    /* owned copy of the values, split in place */
    char **vals;   /* [nvals], pointing into text */
    size_t nvals;
};

struct sweep_cell {
    struct conc_cell cell;
    struct conc_cell_result res;
    char *opts_label; /* the swept options it uses: "gil=on workers=2" */
    char *skip_why;   /* owned reason a check refused the cell */
    bool begun;       /* conc_cell_begin passed: the cell has runs to do */
    bool in_shard;
};

struct sweep {
    const struct conc_model **models;
    size_t nmodels;
    const struct conc_workload **workloads;
    size_t nworkloads;
    unsigned *tasks;
    size_t ntasks;
    struct sweep_opt *opts;
    size_t nopts;
    unsigned runs, warmup;

    struct sweep_cell *cells;
    size_t ncells;

    /* Progress on a terminal: weights are runs (warmups included). */
    bool tty;
    uint64_t t0_ns, done_w, total_w;
    size_t done_steps, total_steps;
};

static uint64_t sweep_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform integer in [0, n), n > 0, without modulo bias. */
static uint64_t sweep_below(uint64_t *s, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;

    do
        x = sweep_splitmix(s);
    while (x >= limit);
    return x % n;
}

/* A seed nobody chose: the time and the pid, mixed. */
static uint64_t sweep_random_seed(void)
{
    struct timespec ts;
    uint64_t s;

    clock_gettime(CLOCK_REALTIME, &ts);
    s = (uint64_t)ts.tv_sec * CONC_NS_PER_S + (uint64_t)ts.tv_nsec;
    s ^= (uint64_t)getpid() << 32;
    return sweep_splitmix(&s) >> 11; /* fits a JSON integer exactly */
}

/* "unknown model 'thread'; did you mean 'threads'?" (exit 2). */
static int sweep_unknown(const char *what, const char *name)
{
    const char *names[64];
    size_t n = 0;
    const char *hint;

    if (strcmp(what, "model") == 0)
        for (size_t i = 0; conc_models[i] && n < 64; i++)
            names[n++] = conc_models[i]->name;
    else
        for (size_t i = 0; conc_workloads[i] && n < 64; i++)
            names[n++] = conc_workloads[i]->name;
    hint = conc_suggest(name, names, n);
    if (hint)
        return conc_usage_error("unknown %s '%s'; did you mean '%s'?", what,
                                name, hint);
    return conc_usage_error("unknown %s '%s' (see 'concbench list')", what,
                            name);
}

/*
 * Splits a comma-separated list in place into its items; an empty item is
 * an error. Returns how many, or 0 with a message.
 */
static size_t sweep_split(char *text, char **items, size_t max,
                          const char *flag)
{
    size_t n = 0;
    char *p = text;

    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p) {
            conc_usage_error("empty item in the list for '%s'", flag);
            return 0;
        }
        if (n == max) {
            conc_usage_error("too many items in the list for '%s' (at most "
                             "%zu)", flag, max);
            return 0;
        }
        items[n++] = p;
        if (!comma)
            return n;
        p = comma + 1;
    }
}

static int sweep_parse_models(struct sweep *sw, const char *list)
{
    char *text = conc_xstrdup(list), *items[64];
    size_t n = sweep_split(text, items, 64, "--models");
    int rc = 0;

    sw->models = conc_xcalloc(64, sizeof(*sw->models));
    if (!n)
        rc = CONC_EXIT_USAGE;
    for (size_t i = 0; i < n && !rc; i++) {
        if (strcmp(items[i], "all") == 0) {
            for (size_t k = 0; conc_models[k]; k++) {
                bool seen = false;
                for (size_t j = 0; j < sw->nmodels; j++)
                    seen |= sw->models[j] == conc_models[k];
                if (!seen && sw->nmodels < 64)
                    sw->models[sw->nmodels++] = conc_models[k];
            }
            continue;
        }
        const struct conc_model *m = conc_model_find(items[i]);
        if (!m) {
            rc = sweep_unknown("model", items[i]);
            break;
        }
        for (size_t j = 0; j < sw->nmodels; j++)
            if (sw->models[j] == m)
                rc = conc_usage_error("model '%s' is listed twice",
                                      items[i]);
        if (!rc)
            sw->models[sw->nmodels++] = m;
    }
    free(text);
    return rc;
}

static int sweep_parse_workloads(struct sweep *sw, const char *list)
{
    char *text = conc_xstrdup(list), *items[64];
    size_t n = sweep_split(text, items, 64, "--workloads");
    int rc = 0;

    sw->workloads = conc_xcalloc(64, sizeof(*sw->workloads));
    if (!n)
        rc = CONC_EXIT_USAGE;
    for (size_t i = 0; i < n && !rc; i++) {
        if (strcmp(items[i], "all") == 0) {
            for (size_t k = 0; conc_workloads[k]; k++) {
                bool seen = false;
                for (size_t j = 0; j < sw->nworkloads; j++)
                    seen |= sw->workloads[j] == conc_workloads[k];
                if (!seen && sw->nworkloads < 64)
                    sw->workloads[sw->nworkloads++] = conc_workloads[k];
            }
            continue;
        }
        const struct conc_workload *w = conc_workload_find(items[i]);
        if (!w) {
            rc = sweep_unknown("workload", items[i]);
            break;
        }
        for (size_t j = 0; j < sw->nworkloads; j++)
            if (sw->workloads[j] == w)
                rc = conc_usage_error("workload '%s' is listed twice",
                                      items[i]);
        if (!rc)
            sw->workloads[sw->nworkloads++] = w;
    }
    free(text);
    return rc;
}

static int sweep_parse_tasks(struct sweep *sw, const char *list)
{
    char *text = conc_xstrdup(list), *items[256];
    size_t n = sweep_split(text, items, 256, "--tasks");
    int rc = n ? 0 : CONC_EXIT_USAGE;

    sw->tasks = conc_xcalloc(n ? n : 1, sizeof(*sw->tasks));
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned long long t;
        if (conc_args_count("--tasks", items[i], 1, SWEEP_TASKS_MAX, &t)) {
            rc = CONC_EXIT_USAGE;
            break;
        }
        for (size_t j = 0; j < sw->ntasks; j++)
            if (sw->tasks[j] == t)
                rc = conc_usage_error("task count %llu is listed twice", t);
        if (!rc)
            sw->tasks[sw->ntasks++] = (unsigned)t;
    }
    free(text);
    return rc;
}

static bool sweep_declares(const struct conc_opt *opts, const char *key)
{
    for (size_t i = 0; opts && opts[i].key; i++)
        if (strcmp(opts[i].key, key) == 0)
            return true;
    return false;
}

/*
 * Checks that some selected model or workload declares key; otherwise a
 * usage error that says who does declare it, or what was probably meant.
 */
static int sweep_check_key(const struct sweep *sw, const char *key)
{
    const char *keys[256], *hint;
    size_t n = 0;

    for (size_t i = 0; i < sw->nmodels; i++)
        if (sweep_declares(sw->models[i]->opts, key))
            return 0;
    for (size_t i = 0; i < sw->nworkloads; i++)
        if (sweep_declares(sw->workloads[i]->opts, key))
            return 0;
    for (size_t i = 0; conc_models[i]; i++)
        if (sweep_declares(conc_models[i]->opts, key))
            return conc_usage_error("option '%s' belongs to model '%s', which "
                                    "this sweep does not run", key,
                                    conc_models[i]->name);
    for (size_t i = 0; conc_workloads[i]; i++)
        if (sweep_declares(conc_workloads[i]->opts, key))
            return conc_usage_error("option '%s' belongs to workload '%s', "
                                    "which this sweep does not run", key,
                                    conc_workloads[i]->name);
    for (size_t i = 0; i < sw->nmodels; i++)
        n += conc_opts_keys(sw->models[i]->opts, keys + n,
                            n + CONC_OPTS_MAX <= 256 ? CONC_OPTS_MAX : 0);
    for (size_t i = 0; i < sw->nworkloads; i++)
        n += conc_opts_keys(sw->workloads[i]->opts, keys + n,
                            n + CONC_OPTS_MAX <= 256 ? CONC_OPTS_MAX : 0);
    hint = conc_suggest(key, keys, n);
    if (hint)
        return conc_usage_error("option '%s' is not declared by any selected "
                                "model or workload; did you mean '%s'?", key,
                                hint);
    return conc_usage_error("option '%s' is not declared by any selected "
                            "model or workload (see 'concbench list')", key);
}

/* "-o key=v1,v2" into sw->opts; usage errors printed. */
static int sweep_parse_opt(struct sweep *sw, const char *kv)
{
    const char *eq = strchr(kv, '=');
    struct sweep_opt *o;
    size_t klen;

    if (!eq || eq == kv || !eq[1])
        return conc_usage_error("bad option '%s': expected key=value or "
                                "key=v1,v2", kv);
    klen = (size_t)(eq - kv);
    for (size_t i = 0; i < sw->nopts; i++)
        if (strlen(sw->opts[i].key) == klen &&
            strncmp(sw->opts[i].key, kv, klen) == 0)
            return conc_usage_error("option '%.*s' given twice; list its "
                                    "values as %.*s=v1,v2", (int)klen, kv,
                                    (int)klen, kv);
    o = &sw->opts[sw->nopts++];
    o->text = conc_xstrdup(kv);
    o->text[klen] = '\0';
    o->key = o->text;
    o->vals = conc_xcalloc(256, sizeof(*o->vals));
    o->nvals = sweep_split(o->text + klen + 1, o->vals, 256, o->key);
    if (!o->nvals)
        return CONC_EXIT_USAGE;
    for (size_t i = 0; i < o->nvals; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->vals[i], o->vals[j]) == 0)
                return conc_usage_error("value '%s' of option '%s' is listed "
                                        "twice", o->vals[i], o->key);
    return sweep_check_key(sw, o->key);
}

static int sweep_parse_shard(const char *s, unsigned *k, unsigned *n)
{
    unsigned long long a, b;
    char *end;

    errno = 0;
    if (!(*s >= '0' && *s <= '9'))
        goto bad;
    a = strtoull(s, &end, 10);
    if (*end != '/' || errno || !(end[1] >= '0' && end[1] <= '9'))
        goto bad;
    b = strtoull(end + 1, &end, 10);
    if (*end || errno)
        goto bad;
    if (b < 1 || b > SWEEP_CELLS_MAX || a < 1 || a > b)
        return conc_usage_error("bad shard '%llu/%llu': K must be 1 to N, "
                                "and N 1 to %u", a, b, SWEEP_CELLS_MAX);
    *k = (unsigned)a;
    *n = (unsigned)b;
    return 0;
bad:
    return conc_usage_error("bad value '%s' for '--shard': expected K/N such "
                            "as 2/4", s);
}


/* The swept options this cell uses, as "key=value key=value". */
static char *sweep_opts_label(const struct sweep *sw, const struct conc_cell *c)
{
    char buf[512];
    int n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sw->nopts && n < (int)sizeof(buf); i++) {
        const struct conc_params *p = &c->mp;
        int k = conc_params_find(p, sw->opts[i].key);
        if (k < 0) {
            p = &c->wp;
            k = conc_params_find(p, sw->opts[i].key);
        }
        if (k >= 0)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%s=%s",
                          n ? " " : "", sw->opts[i].key, p->v[k].s);
    }
    return conc_xstrdup(buf);
}

/*
 * The next combination of the option values a cell uses (an odometer over
 * the used keys, the last one turning fastest). False after the last one.
 */
static bool sweep_next_combo(const struct sweep *sw, const bool *use,
                             size_t *pick)
{
    for (size_t k = sw->nopts; k-- > 0;) {
        if (!use[k])
            continue;
        if (++pick[k] < sw->opts[k].nvals)
            return true;
        pick[k] = 0;
    }
    return false;
}

/* Appends a zeroed cell to sw->cells. */
static struct sweep_cell *sweep_push(struct sweep *sw, size_t *cap)
{
    if (sw->ncells == *cap) {
        *cap *= 2;
        sw->cells = conc_xrealloc(sw->cells, *cap * sizeof(*sw->cells));
    }
    memset(&sw->cells[sw->ncells], 0, sizeof(*sw->cells));
    return &sw->cells[sw->ncells++];
}

/*
 * Builds every cell of the matrix in its canonical order: workloads, then
 * models, then the cartesian product of the values of the options that
 * model and workload declare (in -o order, the last key fastest), then task
 * counts. Every cell is built, even outside the shard, so that a bad value
 * fails every shard alike. 0, or an exit code with the message printed.
 */
static int sweep_build(struct sweep *sw)
{
    size_t cap = 64;
    bool *use = conc_xcalloc(sw->nopts + 1, sizeof(*use));
    size_t *pick = conc_xcalloc(sw->nopts + 1, sizeof(*pick));
    int rc = 0;

    sw->cells = conc_xcalloc(cap, sizeof(*sw->cells));
    for (size_t wi = 0; wi < sw->nworkloads && !rc; wi++) {
        const struct conc_workload *w = sw->workloads[wi];
        for (size_t mi = 0; mi < sw->nmodels && !rc; mi++) {
            const struct conc_model *m = sw->models[mi];

            for (size_t k = 0; k < sw->nopts; k++) {
                use[k] = sweep_declares(m->opts, sw->opts[k].key) ||
                         sweep_declares(w->opts, sw->opts[k].key);
                pick[k] = 0;
            }
            do {
                for (size_t ti = 0; ti < sw->ntasks && !rc; ti++) {
                    struct sweep_cell *sc;
                    if (sw->ncells == SWEEP_CELLS_MAX) {
                        rc = conc_usage_error("the matrix has over %u cells",
                                              SWEEP_CELLS_MAX);
                        break;
                    }
                    sc = sweep_push(sw, &cap);
                    if (conc_cell_init(&sc->cell, m, w, sw->tasks[ti],
                                       sw->runs, sw->warmup)) {
                        rc = CONC_EXIT_FAILED;
                        break;
                    }
                    for (size_t k = 0; k < sw->nopts && !rc; k++) {
                        char kv[512];
                        if (!use[k])
                            continue;
                        snprintf(kv, sizeof(kv), "%s=%s", sw->opts[k].key,
                                 sw->opts[k].vals[pick[k]]);
                        if (conc_cell_set(&sc->cell, kv))
                            rc = CONC_EXIT_USAGE;
                    }
                    sc->opts_label = sweep_opts_label(sw, &sc->cell);
                }
            } while (!rc && sweep_next_combo(sw, use, pick));
        }
    }
    free(use);
    free(pick);
    return rc;
}

/* "1m05s", "42s", "--" when unknown. */
static void sweep_fmt_eta(char *buf, size_t len, double s)
{
    if (s < 0)
        snprintf(buf, len, "--");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

/*
 * The progress line on a terminal: a bar over runs done (warmups
 * included), the step count, the current cell and an ETA from the pace so
 * far. Ends with the cursor at column 0, so a warning printed during the
 * step starts on a clean column.
 */
static void sweep_progress(const struct sweep *sw, const struct sweep_cell *sc)
{
    char bar[21], eta[16], cell[48];
    double frac = sw->total_w ? (double)sw->done_w / (double)sw->total_w : 1;
    double elapsed = (double)(conc_now_ns() - sw->t0_ns) / CONC_NS_PER_S;
    int fill = (int)(frac * 20);

    if (!sw->tty)
        return;
    for (int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    sweep_fmt_eta(eta, sizeof(eta),
                  sw->done_w ? elapsed * (1 - frac) / frac : -1);
    if (sc)
        snprintf(cell, sizeof(cell), "%s/%s T=%u%s%s",
                 sc->cell.workload->name, sc->cell.model->name,
                 sc->cell.tasks, *sc->opts_label ? " " : "", sc->opts_label);
    else
        cell[0] = '\0';
    fprintf(stderr, "\r\033[K[%s] %zu/%zu %s  ETA %s\r", bar,
            sw->done_steps + (sc ? 1 : 0), sw->total_steps, cell, eta);
    fflush(stderr);
}

static void sweep_progress_clear(const struct sweep *sw)
{
    if (sw->tty)
        fputs("\r\033[K", stderr);
}

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

/* One line per cell: the median, the 95% CI of the mean, the speedup. */
static void sweep_print_table(FILE *f, const struct sweep *sw)
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

/* One step of the plan: `runs` timed runs of a cell after its warmups. */
struct sweep_step {
    size_t cell;
    unsigned runs;
};

/*
 * Runs the plan: checks every cell up front (so a refusal shows before the
 * long part), then the steps, then the summaries. Returns 0, 1 when a cell
 * failed, 3 when nothing could run because everything was unavailable, or
 * 128 + the signal when interrupted.
 */
static int sweep_execute(struct sweep *sw, bool interleave, uint64_t seed)
{
    struct sweep_step *steps;
    size_t nsteps = 0, ran = 0, unavailable = 0;
    int rc = CONC_EXIT_OK;

    for (size_t i = 0; i < sw->ncells; i++) {
        struct sweep_cell *sc = &sw->cells[i];
        const struct conc_model *m = sc->cell.model;
        const struct conc_workload *w = sc->cell.workload;
        char why[512];
        int r;

        if (!sc->in_shard)
            continue;
        if (m->unavailable || w->unavailable) {
            snprintf(why, sizeof(why), "%s '%s' is unavailable in this build: "
                     "%s", m->unavailable ? "model" : "workload",
                     m->unavailable ? m->name : w->name,
                     m->unavailable ? m->unavailable : w->unavailable);
            sc->skip_why = conc_xstrdup(why);
            sc->res.skipped = sc->skip_why;
            unavailable++;
            continue;
        }
        r = conc_cell_begin(&sc->cell, &sc->res);
        if (r) {
            /* Over a limit the model or workload checks (CONC_EXIT_USAGE):
               the check printed why, and the report keeps that reason. */
            sc->skip_why = conc_xstrdup(*conc_error_last()
                                            ? conc_error_last()
                                            : "refused by the limits check");
            sc->res.skipped = sc->skip_why;
            sc->res.failed = false;
            continue;
        }
        sc->begun = true;
        ran++;
    }
    /* Once per unavailable model or workload, not once per cell. */
    for (size_t i = 0; i < sw->nmodels; i++)
        if (sw->models[i]->unavailable)
            conc_warn("model '%s' is unavailable in this build (%s): its "
                      "cells are recorded as skipped", sw->models[i]->name,
                      sw->models[i]->unavailable);
    for (size_t i = 0; i < sw->nworkloads; i++)
        if (sw->workloads[i]->unavailable)
            conc_warn("workload '%s' is unavailable in this build (%s): its "
                      "cells are recorded as skipped", sw->workloads[i]->name,
                      sw->workloads[i]->unavailable);

    steps = conc_xcalloc(ran * (interleave ? sw->runs : 1) + 1, sizeof(*steps));
    for (size_t i = 0; i < sw->ncells; i++) {
        if (!sw->cells[i].begun)
            continue;
        if (interleave) {
            for (unsigned k = 0; k < sw->runs; k++)
                steps[nsteps++] = (struct sweep_step){ i, 1 };
        } else {
            steps[nsteps++] = (struct sweep_step){ i, sw->runs };
        }
    }
    if (interleave) {
        /* Fisher-Yates with the recorded seed: the order can be replayed. */
        uint64_t s = seed;
        for (size_t i = nsteps; i > 1; i--) {
            size_t j = (size_t)sweep_below(&s, i);
            struct sweep_step t = steps[i - 1];
            steps[i - 1] = steps[j];
            steps[j] = t;
        }
    }

    sw->t0_ns = conc_now_ns();
    sw->total_steps = nsteps;
    for (size_t i = 0; i < nsteps; i++)
        sw->total_w += sw->warmup + steps[i].runs;
    for (size_t i = 0; i < nsteps; i++) {
        struct sweep_cell *sc = &sw->cells[steps[i].cell];
        int r = 0;

        sweep_progress(sw, sc);
        /* A model that failed outright (not a wrong answer) is not retried:
           the cell keeps the runs it has and is marked failed. */
        if (!sc->res.err)
            r = conc_cell_runs(&sc->cell, &sc->res, steps[i].runs);
        sw->done_w += sw->warmup + steps[i].runs;
        sw->done_steps++;
        if (r >= 128 || conc_interrupted) {
            sweep_progress_clear(sw);
            free(steps);
            return r >= 128 ? r : 128 + conc_interrupted;
        }
    }
    sweep_progress_clear(sw);
    free(steps);

    for (size_t i = 0; i < sw->ncells; i++) {
        struct sweep_cell *sc = &sw->cells[i];
        if (!sc->begun)
            continue;
        if (conc_cell_end(&sc->cell, &sc->res))
            rc = CONC_EXIT_FAILED;
    }
    if (!ran && unavailable)
        return CONC_EXIT_UNAVAILABLE;
    return rc;
}

static void sweep_fini(struct sweep *sw)
{
    for (size_t i = 0; i < sw->ncells; i++) {
        conc_cell_result_fini(&sw->cells[i].res);
        conc_cell_fini(&sw->cells[i].cell);
        free(sw->cells[i].opts_label);
        free(sw->cells[i].skip_why);
    }
    free(sw->cells);
    for (size_t i = 0; i < sw->nopts; i++) {
        free(sw->opts[i].text);
        free(sw->opts[i].vals);
    }
    free(sw->opts);
    free(sw->models);
    free(sw->workloads);
    free(sw->tasks);
}

int cmd_sweep(int argc, char **argv)
{
    struct conc_args a = { argc, 1, argv };
    const char *models = NULL, *workloads = NULL, *tasks = NULL, *runs_s = NULL,
               *warmup_s = NULL, *seed_s = NULL, *shard_s = NULL, *json = NULL;
    bool inter_on = false, inter_off = false;
    unsigned long long runs = 5, warmup = 1;
    unsigned shard_k = 1, shard_n = 1;
    uint64_t seed = 0;
    struct sweep sw;
    bool interleave;
    size_t in_shard = 0;
    int rc = CONC_EXIT_USAGE;

    memset(&sw, 0, sizeof(sw));
    sw.opts = conc_xcalloc((size_t)argc, sizeof(*sw.opts));
    /* -o is checked against the selected models and workloads, which may
       come later on the command line: collect first, check after. */
    const char **kvs = conc_xcalloc((size_t)argc, sizeof(*kvs));
    size_t nkvs = 0;

    for (; a.i < argc; a.i++) {
        const char *arg = argv[a.i], *o = NULL;
        int k;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(sweep_usage, stdout);
            rc = CONC_EXIT_OK;
            goto out;
        }
        if ((k = conc_args_value(&a, "--models", "-m", &models)) ||
            (k = conc_args_value(&a, "--workloads", "-w", &workloads)) ||
            (k = conc_args_value(&a, "--tasks", "-t", &tasks)) ||
            (k = conc_args_value(&a, "--runs", "-r", &runs_s)) ||
            (k = conc_args_value(&a, "--warmup", NULL, &warmup_s)) ||
            (k = conc_args_value(&a, "--seed", NULL, &seed_s)) ||
            (k = conc_args_value(&a, "--shard", NULL, &shard_s)) ||
            (k = conc_args_value(&a, "--json", NULL, &json)) ||
            (k = conc_args_flag(&a, "--interleave", &inter_on)) ||
            (k = conc_args_flag(&a, "--no-interleave", &inter_off))) {
            if (k < 0)
                goto out;
            continue;
        }
        if ((k = conc_args_value(&a, "-o", "-o", &o))) {
            if (k < 0)
                goto out;
            kvs[nkvs++] = o;
            continue;
        }
        conc_usage_error(arg[0] == '-' ? "unknown option '%s' (see "
                                         "'concbench sweep --help')"
                                       : "unexpected argument '%s' (see "
                                         "'concbench sweep --help')", arg);
        goto out;
    }
    if (inter_on && inter_off) {
        conc_usage_error("'--interleave' and '--no-interleave' contradict "
                         "each other");
        goto out;
    }
    if ((rc = sweep_parse_models(&sw, models ? models : "all")) ||
        (rc = sweep_parse_workloads(&sw, workloads ? workloads : "all")) ||
        (rc = sweep_parse_tasks(&sw, tasks ? tasks : "1,2,4,8,16,32,64")))
        goto out;
    rc = CONC_EXIT_USAGE;
    if ((runs_s && conc_args_count("--runs", runs_s, 1, 10000, &runs)) ||
        (warmup_s && conc_args_count("--warmup", warmup_s, 0, 1000, &warmup)))
        goto out;
    /* Below 2^53, so every JSON reader (jq, Python) reads it back exactly. */
    if (seed_s && (conc_parse_count(seed_s, &seed) || seed >= 1ull << 53)) {
        conc_usage_error("bad value '%s' for '--seed': expected a whole "
                         "number below 2^53", seed_s);
        goto out;
    }
    if (shard_s && sweep_parse_shard(shard_s, &shard_k, &shard_n))
        goto out;
    for (size_t i = 0; i < nkvs; i++)
        if (sweep_parse_opt(&sw, kvs[i]))
            goto out;
    if (json && conc_report_check_path(json))
        goto out;
    sw.runs = (unsigned)runs;
    sw.warmup = (unsigned)warmup;
    interleave = inter_on || (!inter_off && runs > 1);
    if (!seed_s)
        seed = sweep_random_seed();

    if ((rc = sweep_build(&sw)))
        goto out;
    for (size_t i = 0; i < sw.ncells; i++) {
        sw.cells[i].in_shard = i % shard_n == shard_k - 1;
        in_shard += sw.cells[i].in_shard;
    }
    if (!in_shard)
        conc_warn("shard %u/%u of %zu cells is empty", shard_k, shard_n,
                  sw.ncells);
    sw.tty = isatty(STDERR_FILENO);

    rc = sweep_execute(&sw, interleave, seed);
    if (rc >= 128)
        goto out; /* interrupted: no table and no file */

    sweep_print_table(json && strcmp(json, "-") == 0 ? stderr : stdout, &sw);
    if (json) {
        /* The report's argv is "concbench sweep ...", as typed. */
        char **args = conc_xcalloc((size_t)argc + 2, sizeof(*args));
        struct conc_report *rep;
        char shard[48];

        args[0] = "concbench";
        args[1] = "sweep";
        for (int i = 1; i < argc; i++)
            args[i + 1] = argv[i];
        rep = conc_report_new(argc + 1, args);
        free(args);
        conc_report_set_str(rep, "order", interleave ? "interleaved"
                                                     : "by cell");
        if (interleave)
            conc_report_set_u64(rep, "seed", seed);
        conc_report_set_u64(rep, "matrix_cells", sw.ncells);
        if (shard_s) {
            snprintf(shard, sizeof(shard), "%u/%u", shard_k, shard_n);
            conc_report_set_str(rep, "shard", shard);
        }
        for (size_t i = 0; i < sw.ncells; i++)
            if (sw.cells[i].in_shard)
                conc_report_add(rep, &sw.cells[i].cell, &sw.cells[i].res);
        if (conc_report_write(rep, json))
            rc = CONC_EXIT_FAILED;
        conc_report_free(rep);
    }
out:
    free(kvs);
    sweep_fini(&sw);
    return rc;
}
