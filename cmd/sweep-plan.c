/*
 * concbench sweep's plan: the selection (--models, --workloads, --tasks,
 * -o key=v1,v2), the matrix of cells it spans, the shard and the order.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/exit.h"
#include "cmd/flags.h"
#include "cmd/mix.h"
#include "cmd/registry.h"
#include "cmd/report.h"
#include "cmd/sweep.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/opts.h"

#define SWEEP_TASKS_MAX 1000000u
#define SWEEP_CELLS_MAX 1000000u

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

uint64_t sweep_random_seed(void)
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
            rc = conc_mix_is(items[i]) ? CONC_EXIT_USAGE /* it said why */
                                       : sweep_unknown("workload", items[i]);
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
        if ((rc = conc_flags_count("--tasks", items[i], 1, SWEEP_TASKS_MAX,
                                   &t)))
            break;
        for (size_t j = 0; j < sw->ntasks; j++)
            if (sw->tasks[j] == t)
                rc = conc_usage_error("task count %llu is listed twice", t);
        if (!rc)
            sw->tasks[sw->ntasks++] = (unsigned)t;
    }
    free(text);
    return rc;
}

int sweep_select(struct sweep *sw, const char *models, const char *workloads,
                 const char *tasks)
{
    int rc;

    if ((rc = sweep_parse_models(sw, models ? models : "all")) ||
        (rc = sweep_parse_workloads(sw, workloads ? workloads : "all")) ||
        (rc = sweep_parse_tasks(sw, tasks ? tasks : "1,2,4,8,16,32,64")))
        return rc;
    return 0;
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

int sweep_add_opt(struct sweep *sw, const char *kv)
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
    /* Grown one at a time: a sweep has a handful of -o at most. */
    sw->opts = conc_xrealloc(sw->opts, (sw->nopts + 1) * sizeof(*sw->opts));
    o = &sw->opts[sw->nopts++];
    memset(o, 0, sizeof(*o));
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

/* A whole number, at most max, from text; false when it is not one. */
static bool sweep_uint(const char *text, unsigned long long max,
                       unsigned long long *out)
{
    char *end;

    if (!text || !(*text >= '0' && *text <= '9'))
        return false;
    errno = 0;
    *out = strtoull(text, &end, 10);
    return !*end && !errno && *out <= max;
}

/*
 * An environment variable that must be a whole number: false when unset;
 * a set one that is not a number is a usage error (*rc).
 */
static bool sweep_env(const char *name, unsigned long long *out, int *rc)
{
    const char *v = getenv(name);

    if (!v)
        return false;
    if (!sweep_uint(v, UINT32_MAX, out)) {
        *rc = conc_usage_error("--shard auto: bad %s '%s': expected a whole "
                               "number", name, v);
        return false;
    }
    return true;
}

/*
 * --shard auto in a Slurm job array; want_n: N given (auto/N), 0: the
 * array's. Sets *k and *n. 0, or CONC_EXIT_USAGE with the message printed.
 */
static int sweep_shard_slurm(unsigned long long want_n, unsigned long long *k,
                             unsigned long long *n, char *src, size_t len)
{
    unsigned long long id, lo, hi, step = 1, count = 0, span;
    bool have_lo, have_hi, have_count;
    int rc = 0;

    if (!sweep_env("SLURM_ARRAY_TASK_ID", &id, &rc))
        return rc;
    have_lo = sweep_env("SLURM_ARRAY_TASK_MIN", &lo, &rc);
    have_hi = !rc && sweep_env("SLURM_ARRAY_TASK_MAX", &hi, &rc);
    have_count = !rc && sweep_env("SLURM_ARRAY_TASK_COUNT", &count, &rc);
    if (!rc && getenv("SLURM_ARRAY_TASK_STEP"))
        sweep_env("SLURM_ARRAY_TASK_STEP", &step, &rc);
    if (rc)
        return rc;
    if (want_n) {
        /* Some shards of a larger plan: the indices are shard numbers. */
        if (id < 1 || id > want_n)
            return conc_usage_error("--shard auto/%llu: SLURM_ARRAY_TASK_ID "
                                    "is %llu, but with auto/N the array's "
                                    "indices are the shard numbers, 1 to "
                                    "%llu (--array=1-%llu)", want_n, id,
                                    want_n, want_n);
        *k = id;
        *n = want_n;
        snprintf(src, len, "SLURM_ARRAY_TASK_ID=%llu, N given", id);
        return 0;
    }
    if (!have_lo)
        return conc_usage_error("--shard auto: SLURM_ARRAY_TASK_ID is set but "
                                "SLURM_ARRAY_TASK_MIN is not, so its place "
                                "in the array is unknown; give K/N");
    if (step < 1 || id < lo || (have_hi && (hi < lo || id > hi)) ||
        (id - lo) % step) {
        char hi_text[24] = "?";

        if (have_hi)
            snprintf(hi_text, sizeof(hi_text), "%llu", hi);
        return conc_usage_error("--shard auto: SLURM_ARRAY_TASK_ID %llu is "
                                "not a task of the array %llu-%s:%llu", id, lo,
                                hi_text, step);
    }
    span = have_hi ? (hi - lo) / step + 1 : 0;
    if (!have_count && !have_hi)
        return conc_usage_error("--shard auto: neither SLURM_ARRAY_TASK_COUNT "
                                "nor SLURM_ARRAY_TASK_MAX is set, so the "
                                "array's size is unknown; give K/N");
    /* A list such as --array=3,5 spans more than it holds: its indices
       are not the places of the tasks. */
    if (have_count && have_hi && count != span)
        return conc_usage_error("--shard auto: the job array %llu-%llu holds "
                                "%llu tasks (SLURM_ARRAY_TASK_COUNT), not a "
                                "range of %llu; for some shards of a larger "
                                "plan give its N: --shard auto/N", lo, hi,
                                count, span);
    *n = have_count ? count : span;
    *k = (id - lo) / step + 1;
    if (*k > *n)
        return conc_usage_error("--shard auto: SLURM_ARRAY_TASK_ID %llu is "
                                "past the array's %llu tasks", id, *n);
    snprintf(src, len, "SLURM_ARRAY_TASK_ID=%llu in the array %llu-%llu",
             id, lo, lo + (*n - 1) * step);
    if (step > 1)
        snprintf(src + strlen(src), len - strlen(src), ":%llu", step);
    return 0;
}

/* --shard auto: K/N from a job engine's environment. */
static int sweep_shard_auto(unsigned long long want_n, unsigned long long *k,
                            unsigned long long *n, char *src, size_t len)
{
    const char *slurm = getenv("SLURM_ARRAY_TASK_ID"),
               *kube = getenv("JOB_COMPLETION_INDEX");
    unsigned long long idx;
    int rc = 0;

    if (slurm && kube)
        return conc_usage_error("--shard auto: both SLURM_ARRAY_TASK_ID and "
                                "JOB_COMPLETION_INDEX are set, so the engine "
                                "is unclear; give K/N");
    if (slurm)
        return sweep_shard_slurm(want_n, k, n, src, len);
    if (!kube)
        return conc_usage_error("--shard auto found no job index: it looks "
                                "for SLURM_ARRAY_TASK_ID (a Slurm job array) "
                                "and JOB_COMPLETION_INDEX (a Kubernetes "
                                "Indexed Job); elsewhere give K/N");
    if (!sweep_env("JOB_COMPLETION_INDEX", &idx, &rc))
        return rc;
    if (!want_n)
        return conc_usage_error("--shard auto: JOB_COMPLETION_INDEX is set (a "
                                "Kubernetes Indexed Job), which does not say "
                                "how many completions the Job has; give them: "
                                "--shard auto/N");
    if (idx >= want_n)
        return conc_usage_error("--shard auto/%llu: JOB_COMPLETION_INDEX is "
                                "%llu, past the %llu completions (0 to %llu)",
                                want_n, idx, want_n, want_n - 1);
    *k = idx + 1;
    *n = want_n;
    snprintf(src, len, "JOB_COMPLETION_INDEX=%llu, N given", idx);
    return 0;
}

int sweep_parse_shard(const char *s, struct sweep_slice *sl)
{
    unsigned long long a = 0, b = 0;
    const char *slash = strchr(s, '/');
    char num[24];
    int rc;

    sl->source[0] = '\0';
    if (strncmp(s, "auto", 4) == 0 && (!s[4] || s[4] == '/')) {
        if (s[4] == '/' && (!sweep_uint(s + 5, SWEEP_CELLS_MAX, &b) || !b))
            return conc_usage_error("bad value '%s' for '--shard': expected "
                                    "auto/N with N 1 to %u", s,
                                    SWEEP_CELLS_MAX);
        if ((rc = sweep_shard_auto(b, &a, &b, sl->source,
                                   sizeof(sl->source))))
            return rc;
    } else {
        if (!slash || (size_t)(slash - s) >= sizeof(num))
            goto bad;
        memcpy(num, s, (size_t)(slash - s));
        num[slash - s] = '\0';
        if (!sweep_uint(num, ULLONG_MAX, &a) ||
            !sweep_uint(slash + 1, ULLONG_MAX, &b))
            goto bad;
    }
    if (b < 1 || b > SWEEP_CELLS_MAX || a < 1 || a > b)
        return conc_usage_error("bad shard '%llu/%llu': K must be 1 to N, "
                                "and N 1 to %u", a, b, SWEEP_CELLS_MAX);
    sl->k = (unsigned)a;
    sl->n = (unsigned)b;
    snprintf(sl->text, sizeof(sl->text), "%u/%u", sl->k, sl->n);
    return 0;
bad:
    return conc_usage_error("bad value '%s' for '--shard': expected K/N such "
                            "as 2/4, auto or auto/N", s);
}

/*
 * The swept options this cell uses, as "key=value key=value", each value
 * as people read it (gil=on for gil=yes); varying: only those swept over
 * several values, which tell the cell from its neighbours.
 */
static char *sweep_opts_label(const struct sweep *sw, const struct conc_cell *c,
                              bool varying)
{
    char buf[512], val[256];
    int n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sw->nopts && n < (int)sizeof(buf); i++) {
        const struct conc_params *p = &c->mp;
        int k = conc_params_find(p, sw->opts[i].key);
        if (k < 0) {
            p = &c->wp;
            k = conc_params_find(p, sw->opts[i].key);
        }
        if (k >= 0 && (!varying || sw->opts[i].nvals > 1))
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%s=%s",
                          n ? " " : "", sw->opts[i].key,
                          conc_cell_opt_text(p, k, val, sizeof(val)));
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
 * The number of cells the matrix makes, counted before any is built (a
 * product of list lengths can pass a million at once), as a double so no
 * product overflows.
 */
static double sweep_count(const struct sweep *sw)
{
    double total = 0;

    for (size_t wi = 0; wi < sw->nworkloads; wi++)
        for (size_t mi = 0; mi < sw->nmodels; mi++) {
            double cells = (double)sw->ntasks;
            for (size_t k = 0; k < sw->nopts; k++)
                if (sweep_declares(sw->models[mi]->opts, sw->opts[k].key) ||
                    sweep_declares(sw->workloads[wi]->opts, sw->opts[k].key))
                    cells *= (double)sw->opts[k].nvals;
            total += cells;
        }
    return total;
}

int sweep_build(struct sweep *sw)
{
    size_t cap = 64;
    bool *use;
    size_t *pick;
    int rc = 0;
    double total = sweep_count(sw);

    if (total > SWEEP_CELLS_MAX)
        return conc_usage_error("the matrix has %.0f cells, over the %u a "
                                "sweep may run; give fewer models, workloads, "
                                "tasks or values", total, SWEEP_CELLS_MAX);
    use = conc_xcalloc(sw->nopts + 1, sizeof(*use));
    pick = conc_xcalloc(sw->nopts + 1, sizeof(*pick));

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
                    sc->opts_label = sweep_opts_label(sw, &sc->cell, false);
                    sc->vary_label = sweep_opts_label(sw, &sc->cell, true);
                }
            } while (!rc && sweep_next_combo(sw, use, pick));
        }
    }
    free(use);
    free(pick);
    return rc;
}

unsigned sweep_shard_of(size_t i, unsigned n)
{
    return (unsigned)(i % n) + 1;
}

size_t sweep_shard(struct sweep *sw, unsigned k, unsigned n)
{
    size_t in_shard = 0;

    for (size_t i = 0; i < sw->ncells; i++) {
        sw->cells[i].in_shard = sweep_shard_of(i, n) == k;
        in_shard += sw->cells[i].in_shard;
    }
    return in_shard;
}

/* FNV-1a, 64 bits: a stable hash of text, the same on every machine. */
static void sweep_fnv(uint64_t *h, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        *h ^= *p;
        *h *= 0x100000001b3ull;
    }
}

char **sweep_plan_ids(const struct sweep *sw)
{
    char **ids = conc_xcalloc(sw->ncells + 1, sizeof(*ids));

    for (size_t i = 0; i < sw->ncells; i++) {
        ids[i] = conc_report_cell_id(&sw->cells[i].cell);
        if (!ids[i])
            ids[i] = conc_xstrdup("");
    }
    return ids;
}

void sweep_plan_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

void sweep_plan_hash(const struct sweep *sw, char *const *ids,
                     bool interleave, const char *seed, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ull;
    char line[96];

    snprintf(line, sizeof(line), "concbench sweep plan 1\nruns %u\n"
             "warmup %u\norder %s\n", sw->runs, sw->warmup,
             interleave ? "interleaved" : "by cell");
    sweep_fnv(&h, line);
    sweep_fnv(&h, "seed ");
    sweep_fnv(&h, seed ? seed : "random");
    sweep_fnv(&h, "\n");
    for (size_t i = 0; i < sw->ncells; i++) {
        sweep_fnv(&h, "cell ");
        sweep_fnv(&h, ids[i]);
        sweep_fnv(&h, "\n");
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

struct sweep_step *sweep_steps(const struct sweep *sw, bool interleave,
                               uint64_t seed, size_t *n)
{
    size_t begun = 0, nsteps = 0;
    struct sweep_step *steps;

    for (size_t i = 0; i < sw->ncells; i++)
        begun += sw->cells[i].begun;
    steps = conc_xcalloc(begun * (interleave ? sw->runs : 1) + 1,
                         sizeof(*steps));
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
    *n = nsteps;
    return steps;
}

void sweep_fini(struct sweep *sw)
{
    for (size_t i = 0; i < sw->ncells; i++) {
        conc_cell_result_fini(&sw->cells[i].res);
        conc_cell_fini(&sw->cells[i].cell);
        free(sw->cells[i].opts_label);
        free(sw->cells[i].vary_label);
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
