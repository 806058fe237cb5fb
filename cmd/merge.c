/*
 * concbench merge: joins reports (the shards of `sweep --shard K/N` run on
 * many machines) into one, keeping cells from different machines apart by
 * a host fingerprint (CPU model, cpus, memory, kernel).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/flags.h"
#include "cmd/report.h"
#include "lib/err.h"
#include "lib/interrupt.h"

static const char merge_epilogue[] =
    "Joins the results of reports of one schema. Cells measured on different\n"
    "machines (CPU model, cpus, memory or kernel differ) stay apart: each "
    "then\n"
    "carries its own \"host\". Without --join, the same cell twice from one\n"
    "machine is an error, as is a report of another schema (exit 2).\n"
    "\"merged_from\" lists the inputs.\n"
    "\n"
    "Shards of `sweep --shard K/N` name their plan and all its cells: shards\n"
    "of different plans, one shard twice, a missing shard or a missing cell\n"
    "are an error (exit 2), each named, unless --allow-partial, which merges\n"
    "what there is and records which shards and cells are missing.\n";

/* The plan the inputs' manifests share, and what of it they hold. */
struct merge_plan {
    struct conc_rplan held;  /* borrowed strings: the inputs' */
    size_t *owner;           /* [n + 1]: the input holding shard k, + 1 */
    unsigned *missing;       /* [nmissing]: shards no input holds */
    size_t nmissing;
    char **gone;             /* [ngone]: the plan's cells no input holds */
    size_t ngone;
    size_t *gone_at;         /* [ngone]: their index in the plan */
};

static void merge_plan_fini(struct merge_plan *mp)
{
    free(mp->held.shards);
    free(mp->held.cells);
    free(mp->owner);
    free(mp->missing);
    free(mp->gone);
    free(mp->gone_at);
}

/* Whether two manifests list the same cells of the plan, in one order. */
static bool merge_same_cells(const struct conc_rplan *a,
                             const struct conc_rplan *b)
{
    if (a->nplan != b->nplan)
        return false;
    for (size_t i = 0; i < a->nplan; i++)
        if (a->plan_shard[i] != b->plan_shard[i] ||
            strcmp(a->plan_ids[i], b->plan_ids[i]) != 0)
            return false;
    return true;
}

/*
 * Checks the manifests of files against each other: one plan, one shard
 * count, the same cells, no shard twice (but with join: rounds of the
 * same shard). Fills mp->owner. 0, or CONC_EXIT_USAGE with one line
 * printed.
 */
static int merge_plan_check(struct conc_rfile *const *files, size_t n,
                            bool join, struct merge_plan *mp)
{
    const struct conc_rfile *first = NULL;

    for (size_t f = 0; f < n; f++) {
        const struct conc_rplan *p = files[f]->plan;

        if (!p)
            continue;
        if (!first) {
            first = files[f];
            mp->held.hash = p->hash;
            mp->held.n = p->n;
            mp->held.plan_ids = p->plan_ids;
            mp->held.plan_shard = p->plan_shard;
            mp->held.nplan = p->nplan;
            mp->owner = conc_xcalloc((size_t)p->n + 1, sizeof(*mp->owner));
        } else if (strcmp(p->hash, first->plan->hash) != 0) {
            return conc_usage_error("'%s' is a shard of plan %s and '%s' of "
                                    "plan %s: merge joins the shards of one "
                                    "plan", first->path, first->plan->hash,
                                    files[f]->path, p->hash);
        } else if (p->n != first->plan->n) {
            return conc_usage_error("'%s' cuts plan %s into %u shards and "
                                    "'%s' into %u: merge joins the shards "
                                    "of one cut", first->path, p->hash,
                                    first->plan->n, files[f]->path, p->n);
        } else if (!merge_same_cells(p, first->plan)) {
            return conc_usage_error("'%s' and '%s' name plan %s but list "
                                    "different cells in it", first->path,
                                    files[f]->path, p->hash);
        }
        for (size_t i = 0; i < p->nshards; i++) {
            unsigned k = p->shards[i];

            if (mp->owner[k] && !join)
                return conc_usage_error("shard %u/%u of plan %s is in both "
                                        "'%s' and '%s'", k, p->n, p->hash,
                                        files[mp->owner[k] - 1]->path,
                                        files[f]->path);
            if (!mp->owner[k])
                mp->owner[k] = f + 1;
        }
    }
    return 0;
}

static int merge_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The shards of the plan merged, the cells they hold (each once: with
 * join, the rounds of a shard list the same cells, in the plan's order),
 * the shards missing and the plan's cells no input holds.
 */
static void merge_plan_collect(struct conc_rfile *const *files, size_t n,
                               struct merge_plan *mp)
{
    struct conc_rplan *held = &mp->held;
    char **all;
    size_t nall = 0;

    for (unsigned k = 1; k <= held->n; k++) {
        if (mp->owner[k]) {
            held->shards = conc_xrealloc(held->shards, (held->nshards + 1) *
                                                       sizeof(*held->shards));
            held->shards[held->nshards++] = k;
        } else {
            mp->missing = conc_xrealloc(mp->missing, (mp->nmissing + 1) *
                                                     sizeof(*mp->missing));
            mp->missing[mp->nmissing++] = k;
        }
    }
    for (size_t f = 0; f < n; f++)
        nall += files[f]->plan ? files[f]->plan->ncells : 0;
    all = conc_xcalloc(nall + 1, sizeof(*all));
    nall = 0;
    for (size_t f = 0; f < n; f++)
        for (size_t i = 0; files[f]->plan && i < files[f]->plan->ncells; i++)
            all[nall++] = files[f]->plan->cells[i];
    qsort(all, nall, sizeof(*all), merge_str_cmp);
    held->cells = conc_xcalloc(held->nplan + 1, sizeof(*held->cells));
    mp->gone = conc_xcalloc(held->nplan + 1, sizeof(*mp->gone));
    mp->gone_at = conc_xcalloc(held->nplan + 1, sizeof(*mp->gone_at));
    /* Every held cell is a plan cell (the reader checked): walking the
       plan lists each once, in its order. */
    for (size_t i = 0; i < held->nplan; i++) {
        if (bsearch(&held->plan_ids[i], all, nall, sizeof(*all),
                    merge_str_cmp)) {
            held->cells[held->ncells++] = held->plan_ids[i];
        } else {
            mp->gone_at[mp->ngone] = i;
            mp->gone[mp->ngone++] = held->plan_ids[i];
        }
    }
    free(all);
}

/* Whether the cells of files hold more than one machine. */
static bool merge_many_hosts(struct conc_rfile *const *files, size_t n)
{
    const char *first = NULL;

    for (size_t f = 0; f < n; f++)
        for (size_t c = 0; c < files[f]->ncells; c++) {
            const char *fp = files[f]->cells[c].host.fingerprint;
            if (!first)
                first = fp;
            else if (strcmp(first, fp) != 0)
                return true;
        }
    return false;
}

/*
 * The same cell from the same machine twice: which copy would be right?
 * With join, only twice within one report is an error.
 */
static int merge_check_dups(struct conc_rfile *const *files, size_t n,
                            bool join)
{
    for (size_t f = 0; f < n; f++)
        for (size_t c = 0; c < files[f]->ncells; c++) {
            const struct conc_rcell *a = &files[f]->cells[c];
            if (conc_interrupted)
                return -EINTR;
            for (size_t g = f; g < (join ? f + 1 : n); g++)
                for (size_t d = g == f ? c + 1 : 0; d < files[g]->ncells;
                     d++) {
                    const struct conc_rcell *b = &files[g]->cells[d];
                    char *label;

                    if (strcmp(a->id, b->id) != 0 ||
                        strcmp(a->host.fingerprint, b->host.fingerprint) != 0)
                        continue;
                    label = conc_compare_label(a, false);
                    if (f == g)
                        conc_error_msg(-EEXIST, "cell '%s' appears twice in "
                                       "'%s'", label, files[f]->path);
                    else
                        conc_error_msg(-EEXIST, "cell '%s' is in both '%s' "
                                       "and '%s' from the same host; merge "
                                       "joins disjoint reports", label,
                                       files[f]->path, files[g]->path);
                    free(label);
                    return -EEXIST;
                }
        }
    return 0;
}

/* One line, an error or (partial) a warning. */
static void merge_say(bool partial, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void merge_say(bool partial, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (partial)
        conc_warn("%s", line);
    else
        conc_error_msg(-ENOENT, "%s", line);
}

/* How many cells of the plan belong to shard k. */
static size_t merge_shard_cells(const struct conc_rplan *p, unsigned k)
{
    size_t c = 0;

    for (size_t i = 0; i < p->nplan; i++)
        c += p->plan_shard[i] == k;
    return c;
}

/*
 * Names what is missing, ten lines at most, then how many more: each
 * missing shard with its number of cells, then each missing cell of a
 * shard that is there, with the input that holds the shard. As errors or,
 * with partial, as warnings.
 */
static void merge_plan_missing(struct conc_rfile *const *files,
                               const struct merge_plan *mp, bool partial)
{
    const struct conc_rplan *held = &mp->held;
    size_t lone = 0, total, limit, said = 0;

    for (size_t i = 0; i < mp->ngone; i++)
        lone += mp->owner[held->plan_shard[mp->gone_at[i]]] != 0;
    total = mp->nmissing + lone;
    limit = total > 11 ? 10 : total;
    for (size_t i = 0; i < mp->nmissing && said < limit; i++, said++) {
        unsigned k = mp->missing[i];
        size_t c = merge_shard_cells(held, k);

        merge_say(partial, "shard %u/%u of plan %s is missing: %zu cell%s",
                  k, held->n, held->hash, c, c == 1 ? "" : "s");
    }
    for (size_t i = 0; i < mp->ngone && said < limit; i++) {
        unsigned k = held->plan_shard[mp->gone_at[i]];

        if (!mp->owner[k])
            continue;
        merge_say(partial, "cell '%s' of shard %u/%u of plan %s is missing "
                  "from '%s'", mp->gone[i], k, held->n, held->hash,
                  files[mp->owner[k] - 1]->path);
        said++;
    }
    if (total > limit)
        merge_say(partial, "and %zu more missing shards and cells of plan %s",
                  total - limit, held->hash);
}

int cmd_merge(int argc, char **argv)
{
    const char *out = NULL;
    bool join = false, partial = false;
    const struct conc_flag flags[] = {
        { CONC_FLAG_STRING, 'o', "json", &out, "OUT",
          "the merged report ('-': stdout), written atomically", 0, 0 },
        { CONC_FLAG_SWITCH, 0, "join", &join, NULL,
          "the same cell from the same machine in several reports (rounds "
          "of one suite): one cell with all their runs", 0, 0 },
        { CONC_FLAG_SWITCH, 0, "allow-partial", &partial, NULL,
          "merge the shards of a plan even when some shards or cells are "
          "missing: the report says it is partial and which", 0, 0 },
        { CONC_FLAG_END },
    };
    const struct conc_command cmd = {
        .name = "merge",
        .synopsis = "merge A.json B.json ... --json OUT [--join] "
                    "[--allow-partial]",
        .flags = flags, .operands = "at least one report",
        .min_operands = 1, .max_operands = UINT_MAX,
        .epilogue = merge_epilogue,
    };
    struct conc_operands ops;
    struct conc_rfile **files = NULL;
    const char *const *paths;
    struct conc_report *rep = NULL;
    size_t n, loaded = 0, cells = 0, nout = 0, joined = 0;
    const struct conc_rcell **outc = NULL;
    struct merge_plan mp;
    bool many;
    int rc;

    memset(&mp, 0, sizeof(mp));
    rc = conc_flags_parse(&cmd, argc, argv, &ops);
    if (rc != CONC_FLAGS_OK) {
        rc = rc == CONC_FLAGS_HELP ? CONC_EXIT_OK : rc;
        goto out;
    }
    rc = CONC_EXIT_USAGE;
    if (!out) {
        conc_flags_error(&cmd, "missing --json OUT");
        goto out;
    }
    paths = ops.v;
    n = ops.n;
    files = conc_xcalloc(n, sizeof(*files));
    if (conc_report_check_path(out))
        goto out;
    for (loaded = 0; loaded < n; loaded++)
        if (conc_report_load(paths[loaded], &files[loaded]))
            goto out;
    /* The plan before the cells: a shard given twice says so, not which
       of its cells is twice. */
    if (merge_plan_check(files, n, join, &mp))
        goto out;
    if (mp.owner) {
        merge_plan_collect(files, n, &mp);
        merge_plan_missing(files, &mp, partial);
        if ((mp.nmissing || mp.ngone) && !partial) {
            conc_error_msg(-ENOENT, "plan %s is incomplete: %zu of %u "
                           "shards, %zu of %zu cells missing; "
                           "--allow-partial merges what there is",
                           mp.held.hash, mp.nmissing, mp.held.n, mp.ngone,
                           mp.held.nplan);
            goto out;
        }
    }
    if (merge_check_dups(files, n, join))
        goto out;
    for (size_t f = 1; f < n; f++)
        if (strcmp(files[f]->version, files[0]->version) != 0) {
            conc_warn("'%s' is from concbench %s, '%s' from %s", paths[0],
                      files[0]->version, paths[f], files[f]->version);
            break;
        }

    many = merge_many_hosts(files, n);
    rep = conc_report_merge_new(files[0], argc, argv);
    for (size_t f = 0; f < n; f++)
        cells += files[f]->ncells;
    outc = conc_xcalloc(cells + 1, sizeof(*outc));
    for (size_t f = 0; f < n; f++) {
        for (size_t c = 0; c < files[f]->ncells; c++) {
            const struct conc_rcell *cell = &files[f]->cells[c];
            size_t at = nout;

            /* Joining is quadratic in cells: a big merge stays stoppable,
               and an interrupted one writes nothing. */
            if (conc_interrupted)
                goto out;
            /* Earlier inputs only: duplicates within one were refused. */
            for (size_t j = 0; join && j < nout && at == nout; j++)
                if (strcmp(outc[j]->id, cell->id) == 0 &&
                    strcmp(outc[j]->host.fingerprint,
                           cell->host.fingerprint) == 0)
                    at = j;
            if (at < nout) {
                conc_report_merge_join(rep, at, files[f], c);
                joined++;
            } else {
                conc_report_merge_add(rep, files[f], c, many);
                outc[nout++] = cell;
            }
        }
        conc_report_merge_source(rep, files[f], files[f]->ncells);
    }
    if (mp.owner)
        conc_report_merge_plan(rep, &mp.held, mp.missing, mp.nmissing,
                               mp.gone, mp.ngone);
    if (conc_interrupted)
        goto out;
    rc = conc_report_write(rep, out) ? CONC_EXIT_FAILED : CONC_EXIT_OK;
    if (rc == CONC_EXIT_OK && strcmp(out, "-") != 0) {
        char plan[160] = "";

        if (mp.owner && (mp.nmissing || mp.ngone))
            snprintf(plan, sizeof(plan), ", partial: %zu of %u shards of "
                     "plan %s missing (%zu of %zu cells)", mp.nmissing,
                     mp.held.n, mp.held.hash, mp.ngone, mp.held.nplan);
        else if (mp.owner)
            snprintf(plan, sizeof(plan), ", all %u shards of plan %s",
                     mp.held.n, mp.held.hash);
        fprintf(stderr, "merged %zu cells from %zu reports into '%s': %zu "
                "cells%s%s%s\n", cells, n, out, nout,
                joined ? ", runs of the same cell joined" : "",
                many ? ", several hosts kept apart" : "", plan);
    }
out:
    merge_plan_fini(&mp);
    conc_report_free(rep);
    free(outc);
    for (size_t f = 0; f < loaded; f++)
        conc_rfile_free(files[f]);
    free(files);
    conc_flags_fini(&ops);
    return rc;
}
