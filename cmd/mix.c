/*
 * Mixed cells: a composite workload whose every hook hands the call to the
 * part the task belongs to (tasks [first, first + count) of the run are a
 * part's), so every model runs a mix unchanged.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/exit.h"
#include "cmd/mix.h"
#include "cmd/registry.h"
#include "lib/clock.h"
#include "lib/err.h"

/* What an entry of a mix's option table stands for. */
enum mix_kind {
    MIX_PREFIXED,  /* "sleep.ms": the part's option under its own name */
    MIX_ALIAS,     /* "ms": the same, when only one part declares it */
    MIX_AMBIGUOUS, /* "seed" that two parts declare: refused when given */
};

struct mix_optmap {
    enum mix_kind kind;
    unsigned part, other; /* other: a second declaring part (ambiguous) */
    int idx;              /* the option's index in the part's table */
};

struct mix_part {
    const struct conc_workload *w;
    unsigned count; /* 0: the rest of the cell's tasks */
};

struct mix {
    struct conc_workload w; /* the composite; its opts are opts below */
    char *name, *summary;
    unsigned nparts;
    struct mix_part part[CONC_MIX_PARTS_MAX];
    unsigned op_owner;      /* the part whose op_name the report shows (it
                               records into the common histogram); nparts
                               when none has one */
    struct conc_opt *opts;  /* [nopts + 1] */
    struct mix_optmap *map; /* [nopts] */
    size_t nopts;
    char *names[CONC_METRICS_MAX]; /* metric names, made once, kept */
    size_t nnames;
    struct mix *next;
};

/*
 * Per-part numbers every task adds to as it ends, in memory fork's
 * children share: the part's own totals for its verify, and its
 * operations' histogram when the common one holds another part's.
 */
struct mix_shm_part {
    _Atomic uint64_t result, ops, bytes, errors;
    struct conc_hist op_ns;
};

struct mix_shared {
    struct mix *m;
    unsigned count[CONC_MIX_PARTS_MAX], first[CONC_MIX_PARTS_MAX];
    void *shared[CONC_MIX_PARTS_MAX];
    struct conc_params params[CONC_MIX_PARTS_MAX];
    struct mix_shm_part *shm; /* [nparts], conc_shm_alloc */
};

/* A task: its part, then the part's own task memory. */
struct mix_task {
    const struct conc_workload *w; /* the part's workload */
    struct mix_shared *sh;
    unsigned part;
    bool started; /* its first step, a yield, is done */
    _Alignas(16) unsigned char mem[];
};

static struct mix *mix_list; /* every mix built, kept until exit */

bool conc_mix_is(const char *name)
{
    return strchr(name, '+') != NULL;
}

static struct mix *mix_of(const struct conc_params *p)
{
    for (struct mix *m = mix_list; m; m = m->next)
        if (m->opts == p->opts)
            return m;
    abort(); /* params of a table no mix made: a bug */
}

const char *conc_mix_record_key(const struct conc_params *p, int i)
{
    const struct mix *m = mix_of(p);
    const struct mix_optmap *e = &m->map[i];

    if (e->kind != MIX_ALIAS)
        return m->opts[i].key;
    /* The part's "part.key" entry: the first ones, in table order. */
    for (size_t j = 0; j < m->nopts; j++)
        if (m->map[j].kind == MIX_PREFIXED && m->map[j].part == e->part &&
            m->map[j].idx == e->idx)
            return m->opts[j].key;
    abort(); /* every alias has its full entry */
}

/* The index of key in opts, or -1. */
static int mix_opt_index(const struct conc_opt *opts, const char *key)
{
    for (int i = 0; opts && opts[i].key; i++)
        if (strcmp(opts[i].key, key) == 0)
            return i;
    return -1;
}

/*
 * Adds o under key, without its default: the part's own table gives the
 * defaults, so a cell's options list only what was given, once.
 */
static void mix_add_opt(struct mix *m, const struct conc_opt *o, char *key,
                        struct mix_optmap map)
{
    struct conc_opt *e = &m->opts[m->nopts];

    *e = *o;
    e->key = key;
    e->def = NULL;
    m->map[m->nopts++] = map;
}

/*
 * The table: every part's options as "part.key", then each key one part alone declares under its own name, and
 * each key several declare as an entry that refuses to be used. Returns
 * -E2BIG when that passes CONC_OPTS_MAX.
 */
static int mix_build_opts(struct mix *m)
{
    size_t n = 0, cap;

    for (unsigned k = 0; k < m->nparts; k++)
        for (int i = 0; m->part[k].w->opts && m->part[k].w->opts[i].key; i++)
            n++;
    cap = 2 * n + 1;
    m->opts = conc_xcalloc(cap, sizeof(*m->opts));
    m->map = conc_xcalloc(cap, sizeof(*m->map));
    for (unsigned k = 0; k < m->nparts; k++) {
        const struct conc_workload *w = m->part[k].w;
        for (int i = 0; w->opts && w->opts[i].key; i++) {
            size_t len = strlen(w->name) + strlen(w->opts[i].key) + 2;
            char *key = conc_xmalloc(len);
            snprintf(key, len, "%s.%s", w->name, w->opts[i].key);
            mix_add_opt(m, &w->opts[i], key,
                        (struct mix_optmap){ MIX_PREFIXED, k, k, i });
        }
    }
    for (unsigned k = 0; k < m->nparts; k++) {
        const struct conc_workload *w = m->part[k].w;
        for (int i = 0; w->opts && w->opts[i].key; i++) {
            const char *key = w->opts[i].key;
            unsigned other = k;
            bool earlier = false;

            for (unsigned j = 0; j < m->nparts; j++) {
                if (j == k || mix_opt_index(m->part[j].w->opts, key) < 0)
                    continue;
                earlier |= j < k;
                if (other == k)
                    other = j;
            }
            if (earlier)
                continue; /* the ambiguous entry is made once, by the first */
            if (other == k) {
                mix_add_opt(m, &w->opts[i], conc_xstrdup(key),
                            (struct mix_optmap){ MIX_ALIAS, k, k, i });
            } else {
                static const struct conc_opt any = {
                    .type = CONC_OPT_STRING,
                    .help = "declared by two workloads of the mix: give "
                            "it as workload.key",
                };
                mix_add_opt(m, &any, conc_xstrdup(key),
                            (struct mix_optmap){ MIX_AMBIGUOUS, k, other,
                                                 i });
            }
        }
    }
    return m->nopts > CONC_OPTS_MAX ? -E2BIG : 0;
}

static void mix_free(struct mix *m)
{
    for (size_t i = 0; i < m->nopts; i++)
        free((char *)m->opts[i].key);
    free(m->opts);
    free(m->map);
    free(m->name);
    free(m->summary);
    free(m);
}

/*
 * The part's own params from the mix's: each option given under either
 * name, at most once. 0, or -EINVAL after printing why (an option given
 * under both names, or an ambiguous one).
 */
static int mix_part_params(const struct mix *m, const struct conc_params *p,
                           unsigned k, struct conc_params *pp)
{
    const struct conc_workload *w = m->part[k].w;
    bool given[CONC_OPTS_MAX] = { false };
    int err;

    for (size_t i = 0; i < m->nopts; i++) {
        const struct mix_optmap *e = &m->map[i];
        if (e->kind == MIX_AMBIGUOUS && p->v[i].set)
            return conc_error_msg(-EINVAL, "option '%s' is declared by "
                                  "both '%s' and '%s' of mix '%s': give it "
                                  "as '%s.%s' or '%s.%s'", m->opts[i].key,
                                  m->part[e->part].w->name,
                                  m->part[e->other].w->name, m->name,
                                  m->part[e->part].w->name, m->opts[i].key,
                                  m->part[e->other].w->name,
                                  m->opts[i].key);
    }
    if ((err = conc_params_init(pp, w->opts)))
        return err;
    for (size_t i = 0; i < m->nopts; i++) {
        const struct mix_optmap *e = &m->map[i];
        if (e->kind == MIX_AMBIGUOUS || e->part != k || !p->v[i].set)
            continue;
        if (given[e->idx]) {
            conc_params_fini(pp);
            return conc_error_msg(-EINVAL, "option '%s' of '%s' is given "
                                  "twice, as '%s' and '%s.%s'",
                                  w->opts[e->idx].key, w->name,
                                  w->opts[e->idx].key, w->name,
                                  w->opts[e->idx].key);
        }
        given[e->idx] = true;
        if ((err = conc_params_set(pp, w->opts[e->idx].key, p->v[i].s))) {
            conc_params_fini(pp);
            return err;
        }
    }
    return 0;
}

/*
 * Each part's task count for a run of tasks: the counts given, and the
 * part without one gets the rest. 0, or -EINVAL after printing why.
 */
static int mix_counts(const struct mix *m, unsigned tasks, unsigned *count)
{
    unsigned long long fixed = 0;
    int free_part = -1;

    for (unsigned k = 0; k < m->nparts; k++) {
        count[k] = m->part[k].count;
        fixed += count[k];
        if (!count[k])
            free_part = (int)k;
    }
    if (free_part < 0 && fixed != tasks)
        return conc_error_msg(-EINVAL, "mix '%s' runs %llu tasks, not the "
                              "%u of --tasks; give --tasks %llu, or leave "
                              "one part's count out to give it the rest",
                              m->name, fixed, tasks, fixed);
    if (free_part >= 0 && fixed >= tasks)
        return conc_error_msg(-EINVAL, "mix '%s' with %u task%s leaves no "
                              "task to '%s' (the others take %llu): raise "
                              "--tasks", m->name, tasks, tasks == 1 ? "" : "s",
                              m->part[free_part].w->name, fixed);
    if (free_part >= 0)
        count[free_part] = tasks - (unsigned)fixed;
    return 0;
}

static int mix_check(const struct conc_params *p, unsigned tasks)
{
    struct mix *m = mix_of(p);
    unsigned count[CONC_MIX_PARTS_MAX];
    int err = mix_counts(m, tasks, count);

    for (unsigned k = 0; k < m->nparts && !err; k++) {
        struct conc_params pp;
        if ((err = mix_part_params(m, p, k, &pp)))
            break;
        if (m->part[k].w->check)
            err = m->part[k].w->check(&pp, count[k]);
        conc_params_fini(&pp);
    }
    return err;
}

/* Under a serial model, each part must be able to run its tasks one
   after another (a queue's consumers after its producers). */
static int mix_serial_check(const struct conc_params *p, unsigned tasks)
{
    struct mix *m = mix_of(p);
    unsigned count[CONC_MIX_PARTS_MAX];
    int err = mix_counts(m, tasks, count);

    for (unsigned k = 0; k < m->nparts && !err; k++) {
        struct conc_params pp;
        if (!m->part[k].w->serial_check)
            continue;
        if ((err = mix_part_params(m, p, k, &pp)))
            break;
        err = m->part[k].w->serial_check(&pp, count[k]);
        conc_params_fini(&pp);
    }
    return err;
}

static bool mix_spins(const struct conc_params *p)
{
    struct mix *m = mix_of(p);
    bool spins = false;

    for (unsigned k = 0; k < m->nparts; k++) {
        struct conc_params pp;
        if (!m->part[k].w->spins || mix_part_params(m, p, k, &pp))
            continue;
        spins |= m->part[k].w->spins(&pp);
        conc_params_fini(&pp);
    }
    return spins;
}

static uint64_t mix_stack_need(const struct conc_params *p)
{
    struct mix *m = mix_of(p);
    uint64_t need = 0;

    for (unsigned k = 0; k < m->nparts; k++) {
        struct conc_params pp;
        if (!m->part[k].w->stack_need || mix_part_params(m, p, k, &pp))
            continue;
        uint64_t n = m->part[k].w->stack_need(&pp);
        need = n > need ? n : need;
        conc_params_fini(&pp);
    }
    return need;
}

static void mix_teardown(void *shared)
{
    struct mix_shared *sh = shared;

    for (unsigned k = 0; k < sh->m->nparts; k++) {
        if (sh->shared[k])
            sh->m->part[k].w->teardown(sh->shared[k]);
        conc_params_fini(&sh->params[k]);
    }
    if (sh->shm)
        conc_shm_free(sh->shm, sh->m->nparts * sizeof(*sh->shm));
    free(sh);
}

static int mix_setup(void **shared, const struct conc_params *p,
                     unsigned tasks)
{
    struct mix *m = mix_of(p);
    struct mix_shared *sh = conc_xcalloc(1, sizeof(*sh));
    unsigned first = 0;
    int err;

    sh->m = m;
    if ((err = mix_counts(m, tasks, sh->count))) {
        free(sh);
        return err;
    }
    for (unsigned k = 0; k < m->nparts; k++) {
        sh->first[k] = first;
        first += sh->count[k];
    }
    sh->shm = conc_shm_alloc(m->nparts * sizeof(*sh->shm));
    if (!sh->shm) {
        err = conc_error(-errno, "cannot map the counters of mix '%s'",
                         m->name);
        free(sh);
        return err;
    }
    for (unsigned k = 0; k < m->nparts; k++) {
        if ((err = mix_part_params(m, p, k, &sh->params[k])) ||
            (err = m->part[k].w->setup(&sh->shared[k], &sh->params[k],
                                       sh->count[k]))) {
            sh->shared[k] = NULL;
            mix_teardown(sh);
            return err;
        }
    }
    *shared = sh;
    return 0;
}

/* Each part that can say what its tasks waited for says it, in turn. */
static void mix_deadlock_why(void *shared, char *why, size_t why_len)
{
    struct mix_shared *sh = shared;

    for (unsigned k = 0; k < sh->m->nparts; k++)
        if (sh->m->part[k].w->deadlock_why)
            sh->m->part[k].w->deadlock_why(sh->shared[k], why, why_len);
}

static void mix_run_start(void *shared)
{
    struct mix_shared *sh = shared;

    memset(sh->shm, 0, sh->m->nparts * sizeof(*sh->shm));
    for (unsigned k = 0; k < sh->m->nparts; k++)
        if (sh->m->part[k].w->run_start)
            sh->m->part[k].w->run_start(sh->shared[k]);
}

static int mix_task_init(void *task, void *shared, unsigned index,
                         unsigned tasks)
{
    struct mix_task *t = task;
    struct mix_shared *sh = shared;
    unsigned k = 0;

    (void)tasks;
    while (k + 1 < sh->m->nparts && index >= sh->first[k + 1])
        k++;
    t->part = k;
    t->started = false;
    t->sh = sh;
    t->w = sh->m->part[k].w;
    return t->w->task_init(t->mem, sh->shared[k], index - sh->first[k],
                           sh->count[k]);
}

/*
 * A task's first step yields before the part's first step runs, so every
 * task of the mix has started before any runs long, whatever the model's
 * order; and eventloop's offload=on, which hands the steps after a yield
 * to its pool, takes a CPU-bound task there from its start, as asyncio
 * code calls run_in_executor before the work rather than after a slice.
 */
static int mix_step(void *task, struct conc_wait *w)
{
    struct mix_task *t = task;

    if (!t->started) {
        t->started = true;
        w->want = CONC_YIELD;
        return 0;
    }
    return t->w->step(t->mem, w);
}

/*
 * The part fills out as it would alone; its operations go to its own
 * histogram unless it is the part the common one shows, and its numbers
 * to its totals, for its verify and metrics.
 */
static int mix_task_result(const void *task, struct conc_task_out *out)
{
    const struct mix_task *t = task;
    struct mix_shm_part *sp = &t->sh->shm[t->part];
    struct conc_hist *common = out->op_ns;
    uint64_t errors = 0;
    int err;

    if (t->part != t->sh->m->op_owner)
        out->op_ns = &sp->op_ns;
    err = t->w->task_result(t->mem, out);
    out->op_ns = common;
    for (int k = 0; k < CONC_ERR_KINDS; k++)
        errors += out->errors[k];
    atomic_fetch_add(&sp->result, out->result);
    atomic_fetch_add(&sp->ops, out->ops);
    atomic_fetch_add(&sp->bytes, out->bytes);
    atomic_fetch_add(&sp->errors, errors);
    return err;
}

static void mix_task_fini(void *task)
{
    struct mix_task *t = task;

    t->w->task_fini(t->mem);
}

static struct conc_totals mix_part_totals(const struct mix_shared *sh,
                                          unsigned k)
{
    struct mix_shm_part *sp = &sh->shm[k];

    return (struct conc_totals){
        .tasks = sh->count[k],
        .result = atomic_load(&sp->result),
        .ops = atomic_load(&sp->ops),
        .bytes = atomic_load(&sp->bytes),
        .errors = atomic_load(&sp->errors),
    };
}

/* Each part checks its own answer; the reasons of those wrong, joined. */
static int mix_verify(void *shared, const struct conc_totals *tot, char *why,
                      size_t len)
{
    struct mix_shared *sh = shared;
    size_t n = 0;
    int rc = 0;

    (void)tot;
    why[0] = '\0';
    for (unsigned k = 0; k < sh->m->nparts; k++) {
        const struct conc_workload *w = sh->m->part[k].w;
        struct conc_totals pt = mix_part_totals(sh, k);
        char part_why[160] = "";

        if (w->verify(sh->shared[k], &pt, part_why, sizeof(part_why)) == 0)
            continue;
        rc = -EINVAL;
        if (n < len)
            n += (size_t)snprintf(why + n, len - n, "%s%s: %s",
                                  n ? "; " : "", w->name, part_why);
    }
    return rc;
}

/* A metric name made once per mix and kept, as conc_metric wants. */
static const char *mix_name(struct mix *m, const char *part, const char *key,
                            const char *sub)
{
    char buf[128];

    snprintf(buf, sizeof(buf), "%s.%s%s%s", part, key, sub ? "." : "",
             sub ? sub : "");
    for (size_t i = 0; i < m->nnames; i++)
        if (strcmp(m->names[i], buf) == 0)
            return m->names[i];
    if (m->nnames == sizeof(m->names) / sizeof(m->names[0]))
        return "mix.unnamed"; /* cannot happen: max bounds the metrics */
    return m->names[m->nnames++] = conc_xstrdup(buf);
}

static void mix_metric(struct conc_metric *mt, size_t *n, size_t max,
                       const char *name, double value)
{
    if (*n < max)
        mt[(*n)++] = (struct conc_metric){ name, value };
}

/*
 * Per part: its task count, task times (p50, p99), the span from its first
 * task's start to its last one's end, its operations a second over that
 * span (the CPU side's throughput), its operations' mean, p50 and p99
 * (the I/O side's lateness or latency), then its own metrics, each named
 * "part.metric".
 */
static size_t mix_run_metrics(void *shared, const struct conc_totals *tot,
                              const struct conc_task_out *out, unsigned tasks,
                              struct conc_metric *mt, size_t max, char *note,
                              size_t note_len)
{
    struct mix_shared *sh = shared;
    struct mix *m = sh->m;
    struct conc_hist *h = conc_xmalloc(sizeof(*h));
    size_t n = 0, nl = 0;

    (void)tot;
    (void)tasks;
    note[0] = '\0';
    for (unsigned k = 0; k < m->nparts; k++) {
        const struct conc_workload *w = m->part[k].w;
        const struct conc_task_out *po = out + sh->first[k];
        struct conc_totals pt = mix_part_totals(sh, k);
        uint64_t t0 = UINT64_MAX, t1 = 0;
        struct conc_pcts pc;

        conc_hist_init(h);
        for (unsigned i = 0; i < sh->count[k]; i++) {
            if (po[i].status)
                continue;
            conc_hist_add(h, po[i].end_ns - po[i].start_ns);
            t0 = po[i].start_ns < t0 ? po[i].start_ns : t0;
            t1 = po[i].end_ns > t1 ? po[i].end_ns : t1;
        }
        conc_hist_pcts(h, &pc);
        mix_metric(mt, &n, max, mix_name(m, w->name, "tasks", NULL),
                   sh->count[k]);
        mix_metric(mt, &n, max, mix_name(m, w->name, "task_ns", "p50"),
                   (double)pc.p50);
        mix_metric(mt, &n, max, mix_name(m, w->name, "task_ns", "p99"),
                   (double)pc.p99);
        if (t1 > t0) {
            mix_metric(mt, &n, max, mix_name(m, w->name, "span_ns", NULL),
                       (double)(t1 - t0));
            mix_metric(mt, &n, max, mix_name(m, w->name, "ops_per_s", NULL),
                       (double)pt.ops * 1e9 / (double)(t1 - t0));
        }
        if (w->op_name) {
            const struct conc_hist *oh =
                k == m->op_owner ? out[0].op_ns : &sh->shm[k].op_ns;
            conc_hist_pcts(oh, &pc);
            if (oh->count)
                mix_metric(mt, &n, max,
                           mix_name(m, w->name, w->op_name, "mean"),
                           (double)oh->sum / (double)oh->count);
            mix_metric(mt, &n, max, mix_name(m, w->name, w->op_name, "p50"),
                       (double)pc.p50);
            mix_metric(mt, &n, max, mix_name(m, w->name, w->op_name, "p99"),
                       (double)pc.p99);
        }
        if (w->run_metrics && n < max) {
            char part_note[160] = "";
            size_t got = w->run_metrics(sh->shared[k], &pt, po,
                                        sh->count[k], mt + n, max - n,
                                        part_note, sizeof(part_note));
            for (size_t i = n; i < n + got; i++)
                mt[i].name = mix_name(m, w->name, mt[i].name, NULL);
            n += got;
            if (part_note[0] && nl < note_len)
                nl += (size_t)snprintf(note + nl, note_len - nl, "%s%s: %s",
                                       nl ? "; " : "", w->name, part_note);
        }
    }
    free(h);
    return n;
}

/* "unknown workload 'x' in mix 'sleep+x'", with a hint when one is close. */
static int mix_unknown(const char *part, const char *spec)
{
    const char *names[32], *hint;
    size_t n = 0;

    for (size_t i = 0; conc_workloads[i] && n < 32; i++)
        names[n++] = conc_workloads[i]->name;
    hint = conc_suggest(part, names, n);
    if (hint)
        return conc_usage_error("unknown workload '%s' in mix '%s'; did you "
                                "mean '%s'?", part, spec, hint);
    return conc_usage_error("unknown workload '%s' in mix '%s' (see "
                            "'concbench list')", part, spec);
}

/*
 * Reads spec into m's parts and writes its normal form ("sleep:63+primes:1",
 * counts in decimal) into name. 0, or CONC_EXIT_USAGE after one line.
 */
static int mix_parse(struct mix *m, const char *spec, char *name, size_t len)
{
    char *text = conc_xstrdup(spec), *save = NULL, *item;
    int free_part = -1, rc = 0;
    size_t nl = 0;

    name[0] = '\0';
    if (text[0] == '+' || text[strlen(text) - 1] == '+' ||
        strstr(text, "++")) {
        free(text);
        return conc_usage_error("mix '%s' has an empty part: join workloads "
                                "with one '+', as in 'sleep:63+primes:1'",
                                spec);
    }
    for (item = strtok_r(text, "+", &save); item && !rc;
         item = strtok_r(NULL, "+", &save)) {
        char *colon = strchr(item, ':');
        const struct conc_workload *w;
        unsigned long long count = 0;

        if (colon)
            *colon = '\0';
        if (m->nparts == CONC_MIX_PARTS_MAX) {
            rc = conc_usage_error("mix '%s' has more than %d workloads",
                                  spec, CONC_MIX_PARTS_MAX);
            break;
        }
        if (!(w = conc_workload_find(item))) {
            rc = mix_unknown(item, spec);
            break;
        }
        for (unsigned k = 0; k < m->nparts; k++)
            if (m->part[k].w == w)
                rc = conc_usage_error("workload '%s' is twice in mix '%s': "
                                      "a mix runs each workload once, with "
                                      "its own count and options", item,
                                      spec);
        if (rc)
            break;
        if (colon) {
            uint64_t c;
            if (conc_parse_count(colon + 1, &c) || c > 1000000) {
                rc = conc_usage_error("bad task count '%s' of '%s' in mix "
                                      "'%s': expected a whole number from 1 "
                                      "to 1e6", colon + 1, item, spec);
                break;
            }
            if (c == 0) {
                rc = conc_usage_error("mix '%s' gives '%s' no tasks: each "
                                      "part runs at least one (leave the "
                                      "part out to run none)", spec, item);
                break;
            }
            count = c;
        } else if (free_part >= 0) {
            rc = conc_usage_error("mix '%s' gives neither '%s' nor '%s' a "
                                  "task count: every part but one needs "
                                  "one, as in 'sleep:63+primes:1'", spec,
                                  m->part[free_part].w->name, item);
            break;
        } else {
            free_part = (int)m->nparts;
        }
        m->part[m->nparts].w = w;
        m->part[m->nparts++].count = (unsigned)count;
        if (nl < len)
            nl += (size_t)(count ? snprintf(name + nl, len - nl, "%s%s:%llu",
                                            nl ? "+" : "", w->name, count)
                                 : snprintf(name + nl, len - nl, "%s%s",
                                            nl ? "+" : "", w->name));
    }
    free(text);
    if (!rc && m->nparts < 2)
        rc = conc_usage_error("mix '%s' names one workload: a mix joins two "
                              "or more with '+'", spec);
    return rc;
}

const struct conc_workload *conc_mix_find(const char *spec)
{
    struct mix *m = conc_xcalloc(1, sizeof(*m));
    char name[256];
    size_t task_size = 0, sl;

    if (mix_parse(m, spec, name, sizeof(name))) {
        free(m);
        return NULL;
    }
    for (struct mix *o = mix_list; o; o = o->next)
        if (strcmp(o->name, name) == 0) {
            free(m);
            return &o->w;
        }
    m->name = conc_xstrdup(name);
    if (mix_build_opts(m)) {
        conc_usage_error("mix '%s' has %zu options, over the %d a cell "
                         "holds", spec, m->nopts, CONC_OPTS_MAX);
        mix_free(m);
        return NULL;
    }
    m->op_owner = m->nparts;
    sl = 32;
    for (unsigned k = 0; k < m->nparts; k++) {
        const struct conc_workload *w = m->part[k].w;
        if (w->op_name && m->op_owner == m->nparts)
            m->op_owner = k;
        if (w->unavailable && !m->w.unavailable)
            m->w.unavailable = w->unavailable;
        task_size = w->task_size > task_size ? w->task_size : task_size;
        sl += strlen(w->name) + 8;
    }
    m->summary = conc_xmalloc(sl);
    snprintf(m->summary, sl, "tasks of %s", m->part[0].w->name);
    for (unsigned k = 1; k < m->nparts; k++)
        snprintf(m->summary + strlen(m->summary), sl - strlen(m->summary),
                 "%s%s", k + 1 == m->nparts ? " and " : ", ",
                 m->part[k].w->name);
    snprintf(m->summary + strlen(m->summary), sl - strlen(m->summary),
             " in one run");
    m->w = (struct conc_workload){
        .name = m->name,
        .summary = m->summary,
        .op_name = m->op_owner < m->nparts ? m->part[m->op_owner].w->op_name
                                           : NULL,
        .opts = m->opts,
        .unavailable = m->w.unavailable,
        .task_size = sizeof(struct mix_task) + task_size,
        .check = mix_check,
        .spins = mix_spins,
        .serial_check = mix_serial_check,
        .run_start = mix_run_start,
        .stack_need = mix_stack_need,
        .setup = mix_setup,
        .task_init = mix_task_init,
        .step = mix_step,
        .task_result = mix_task_result,
        .task_fini = mix_task_fini,
        .verify = mix_verify,
        .run_metrics = mix_run_metrics,
        .deadlock_why = mix_deadlock_why,
        .teardown = mix_teardown,
    };
    m->next = mix_list;
    mix_list = m;
    return &m->w;
}
