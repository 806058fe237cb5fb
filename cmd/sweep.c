/*
 * concbench sweep: a matrix of cells (workloads x models x option values x
 * task counts) run through the same cell runner as `run`, into one report.
 * Repetitions are interleaved in a seeded random order so that a shared
 * machine's drift spreads over every cell instead of biasing the last ones.
 * This file is the CLI and the execution; see sweep.h for the other parts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cell.h"
#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/export.h"
#include "cmd/flags.h"
#include "cmd/host.h"
#include "cmd/output.h"
#include "cmd/report.h"
#include "cmd/sweep.h"
#include "lib/err.h"
#include "lib/opts.h"

static const char sweep_synopsis[] =
    "sweep [--models all|M1,M2] [--workloads all|W1,W2]\n"
    "                       [--tasks T1,T2,...] [--runs R] [--warmup N]\n"
    "                       [-o key=v1,v2]... [--seed S]\n"
    "                       [--interleave|--no-interleave]\n"
    "                       [--shard K/N|auto|auto/N] [--dry-run]\n"
    "                       [--json FILE|-] [--export-csv FILE]\n"
    "                       [--export-markdown FILE] [--verbose]";

static const char sweep_epilogue[] =
    "Cells a model cannot run (unavailable in this build, or over a limit)\n"
    "are recorded as skipped with the reason; a failed cell is recorded,\n"
    "the sweep goes on, and the exit code is 1.\n"
    "\n"
    "A cell's speedup is over the sequential cell with the same workload,\n"
    "options and tasks (a python cell's: python's api=sequential): each of\n"
    "its runs paired with the baseline's run\n"
    "nearest in time, the median of the ratios and its bootstrap 95% CI\n"
    "(\"speedup\" in the report). A CPU-bound (primes) speedup whose CI lies\n"
    "wholly above min(tasks, usable CPUs) is marked impossible: the\n"
    "baseline was disturbed.\n"
    "\n"
    "The table marks cells with warnings (~ noisy, ! disturbed, * outliers,\n"
    "< too short to time) and a few lines after it count them and name the\n"
    "worst; --verbose prints each cell's, and the report keeps them.\n"
    "Progress goes to stderr: a bar on a terminal, else a line every few\n"
    "seconds with the ETA.\n"
    "\n"
    "--shard auto takes K/N from a Slurm job array (SLURM_ARRAY_TASK_ID\n"
    "and the array's bounds; auto/N: the indices are the shard numbers) or\n"
    "a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, from 0; auto/N only).\n"
    "--dry-run prints the plan, this shard's cells and a time estimate, and\n"
    "runs and writes nothing.\n";

/* Whether a cell before cells[i] was skipped for the reason why. */
static bool sweep_said_before(const struct sweep *sw, size_t i,
                              const char *why)
{
    for (size_t k = 0; k < i; k++)
        if (sw->cells[k].in_shard && !sw->cells[k].begun &&
            sw->cells[k].skip_why && strcmp(sw->cells[k].skip_why, why) == 0)
            return true;
    return false;
}

/*
 * Checks every cell of the shard up front, so a refusal shows before the
 * long part: a cell of an unavailable model or workload, or one over a
 * limit, is marked skipped with the reason; the others are begun. Sets
 * *unavailable; returns how many cells were begun.
 */
static size_t sweep_begin(struct sweep *sw, size_t *unavailable)
{
    size_t ran = 0, repeats = 0, said = 0;

    *unavailable = 0;
    for (size_t i = 0; i < sw->ncells; i++) {
        struct sweep_cell *sc = &sw->cells[i];
        const struct conc_model *m = sc->cell.model;
        const struct conc_workload *w = sc->cell.workload;
        char why[512];
        int r;

        if (!sc->in_shard)
            continue;
        if (conc_model_refusal(m) || w->unavailable) {
            const char *mwhy = conc_model_refusal(m);
            snprintf(why, sizeof(why), "%s '%s' is unavailable %s: %s",
                     mwhy ? "model" : "workload", mwhy ? m->name : w->name,
                     mwhy && !m->unavailable ? "on this machine"
                                             : "in this build",
                     mwhy ? mwhy : w->unavailable);
            sc->skip_why = conc_xstrdup(why);
            sc->res.skipped = sc->skip_why;
            (*unavailable)++;
            continue;
        }
        conc_error_quiet(true);
        r = conc_cell_begin(&sc->cell, &sc->res);
        conc_error_quiet(false);
        if (r) {
            /* Over a limit the model or workload checks (CONC_EXIT_USAGE):
               the report keeps the check's reason, and stderr says each
               reason once, not once a cell. */
            sc->skip_why = conc_xstrdup(*conc_error_last()
                                            ? conc_error_last()
                                            : "refused by the limits check");
            sc->res.skipped = sc->skip_why;
            sc->res.failed = false;
            if (sweep_said_before(sw, i, sc->skip_why)) {
                repeats++;
            } else {
                conc_error_msg(0, "%s", sc->skip_why);
                said++;
            }
            continue;
        }
        sc->begun = true;
        ran++;
    }
    if (repeats)
        conc_warn("%zu more cell%s skipped for %s; the table and the "
                  "report name each", repeats, repeats == 1 ? " was" : "s were",
                  said == 1 ? "the same reason" : "the reasons above");
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
    return ran;
}

/*
 * Runs the plan: checks every cell up front, then the steps, then the
 * summaries. Returns 0, 1 when a cell failed, 3 when nothing could run
 * because everything was unavailable, or 128 + the signal when
 * interrupted.
 */
static int sweep_execute(struct sweep *sw, bool interleave, uint64_t seed)
{
    struct sweep_progress progress;
    struct sweep_step *steps;
    size_t nsteps, ran, unavailable;
    int rc = CONC_EXIT_OK;

    ran = sweep_begin(sw, &unavailable);
    steps = sweep_steps(sw, interleave, seed, &nsteps);
    sweep_progress_start(&progress, steps, nsteps, sw->warmup);
    for (size_t i = 0; i < nsteps; i++) {
        struct sweep_cell *sc = &sw->cells[steps[i].cell];
        int r = 0;

        sweep_progress_show(&progress, sc);
        /* A model that failed outright (not a wrong answer) is not retried:
           the cell keeps the runs it has and is marked failed. */
        if (!sc->res.err)
            r = conc_cell_runs(&sc->cell, &sc->res, steps[i].runs);
        sweep_progress_step(&progress, steps[i].runs, sc);
        if (r >= 128 || conc_interrupted) {
            sweep_progress_clear(&progress);
            free(steps);
            return r >= 128 ? r : 128 + conc_interrupted;
        }
    }
    sweep_progress_clear(&progress);
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

/*
 * The report of the shard's cells, with how they were ordered and sliced
 * (slice NULL: not sharded). Its argv is "concbench sweep ...", as typed.
 * 0, or -1 with the message printed.
 */
static int sweep_write_report(const struct sweep *sw, int argc, char **argv,
                              const char *json, bool interleave,
                              uint64_t seed, const struct sweep_slice *slice,
                              char *const *ids)
{
    char **args = conc_xcalloc((size_t)argc + 2, sizeof(*args));
    struct conc_report *rep;
    int rc = 0;

    args[0] = "concbench";
    args[1] = "sweep";
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    rep = conc_report_new(argc + 1, args);
    free(args);
    conc_report_set_str(rep, "order", interleave ? "interleaved" : "by cell");
    if (interleave)
        conc_report_set_u64(rep, "seed", seed);
    conc_report_set_u64(rep, "matrix_cells", sw->ncells);
    if (slice)
        conc_report_set_str(rep, "shard", slice->text);
    for (size_t i = 0; i < sw->ncells; i++) {
        if (!sw->cells[i].in_shard)
            continue;
        conc_report_add(rep, &sw->cells[i].cell, &sw->cells[i].res);
        if (sw->cells[i].speedup.pairs)
            conc_report_add_speedup(rep, &sw->cells[i].speedup);
    }
    /* Every cell of the shard is in: merge checks the plan against it. */
    if (slice) {
        unsigned *shard_of = conc_xcalloc(sw->ncells + 1, sizeof(*shard_of));

        for (size_t i = 0; i < sw->ncells; i++)
            shard_of[i] = sweep_shard_of(i, slice->n);
        conc_report_set_shard_manifest(rep, slice->plan, ids, shard_of,
                                       sw->ncells, slice->k, slice->n);
        free(shard_of);
    }
    if (conc_report_write(rep, json))
        rc = -1;
    conc_report_free(rep);
    return rc;
}

/*
 * --export-csv and --export-markdown of the shard's cells, in matrix
 * order, the Markdown table with each cell's speedup. 0, or -1 with the
 * message printed.
 */
static int sweep_exports(const struct sweep *sw, const char *csv,
                         const char *md)
{
    struct conc_cell *cells = conc_xcalloc(sw->ncells + 1, sizeof(*cells));
    struct conc_cell_result *res = conc_xcalloc(sw->ncells + 1, sizeof(*res));
    struct conc_speedup *sp = conc_xcalloc(sw->ncells + 1, sizeof(*sp));
    bool *base = conc_xcalloc(sw->ncells + 1, sizeof(*base));
    size_t n = 0;
    int rc = 0;

    for (size_t i = 0; i < sw->ncells; i++) {
        if (!sw->cells[i].in_shard)
            continue;
        /* Shallow copies: the exports only read them. */
        cells[n] = sw->cells[i].cell;
        res[n] = sw->cells[i].res;
        sp[n] = sw->cells[i].speedup;
        base[n] = sweep_is_baseline(sw, &sw->cells[i]);
        n++;
    }
    if (csv && conc_export_csv(csv, cells, res, n))
        rc = -1;
    if (md) {
        const struct conc_export_speedups s = { sp, base };
        if (conc_export_markdown(md, cells, res, &s, n))
            rc = -1;
    }
    free(cells);
    free(res);
    free(sp);
    free(base);
    return rc;
}

int cmd_sweep(int argc, char **argv)
{
    const char *models = NULL, *workloads = NULL, *tasks = NULL,
               *seed_s = NULL, *shard_s = NULL, *json = NULL, *csv = NULL,
               *md = NULL;
    bool inter_on = false, inter_off = false, dry_run = false, interleave,
         verbose = false;
    unsigned long long runs = 5, warmup = 1;
    struct conc_flag_list opts;
    const struct conc_flag flags[] = {
        { CONC_FLAG_STRING, 'm', "models", &models, "LIST",
          "models to run, or 'all' (default all)", 0, 0 },
        { CONC_FLAG_STRING, 'w', "workloads", &workloads, "LIST",
          "workloads to run, or 'all' (default all)", 0, 0 },
        { CONC_FLAG_STRING, 't', "tasks", &tasks, "LIST",
          "task counts (default 1,2,4,8,16,32,64)", 0, 0 },
        { CONC_FLAG_COUNT, 'r', "runs", &runs, "R",
          "timed runs of each cell (default 5)", 1, 10000 },
        { CONC_FLAG_COUNT, 0, "warmup", &warmup, "N",
          "untimed runs before the timed ones (default 1); interleaved, "
          "before each timed run", 0, 1000 },
        { CONC_FLAG_LIST, 'o', NULL, &opts, "key=v1,v2",
          "an option and the values to sweep; applies to the models and "
          "workloads that declare it", 0, 0 },
        { CONC_FLAG_STRING, 0, "seed", &seed_s, "S",
          "seed of the interleaved order (default: random, recorded in the "
          "report)", 0, 0 },
        { CONC_FLAG_SWITCH, 0, "interleave", &inter_on, NULL,
          "run every cell's repetitions in a shuffled order (the default "
          "when --runs > 1)", 0, 0 },
        { CONC_FLAG_SWITCH, 0, "no-interleave", &inter_off, NULL,
          "run each cell's repetitions back to back", 0, 0 },
        { CONC_FLAG_STRING, 0, "shard", &shard_s, "K/N",
          "run only the K-th of N disjoint slices: cell i (in matrix order) "
          "belongs to shard i mod N + 1; auto or auto/N: K (and N) from the "
          "job engine", 0, 0 },
        { CONC_FLAG_SWITCH, 0, "dry-run", &dry_run, NULL,
          "print the plan, this shard's cells and a time estimate; run "
          "nothing and write no report", 0, 0 },
        { CONC_FLAG_STRING, 0, "json", &json, "FILE",
          "write the report ('-': stdout)", 0, 0 },
        { CONC_FLAG_STRING, 0, "export-csv", &csv, "FILE",
          "one CSV row per run of every cell", 0, 0 },
        { CONC_FLAG_STRING, 0, "export-markdown", &md, "FILE",
          "the table as Markdown, one row a cell, with its speedup", 0, 0 },
        { CONC_FLAG_SWITCH, 'v', "verbose", &verbose, NULL,
          "print each cell's warnings (noisy, outliers, disturbed, too "
          "short), not only the digest after the table", 0, 0 },
        { CONC_FLAG_END },
    };
    const struct conc_command cmd = {
        .name = "sweep", .synopsis = sweep_synopsis, .flags = flags,
        .epilogue = sweep_epilogue,
    };
    struct conc_operands ops;
    struct conc_host host;
    struct sweep_slice slice = { 1, 1, "1/1", "", "" };
    char **ids = NULL;
    uint64_t seed = 0;
    struct sweep sw;
    char seed_text[24];
    FILE *human;
    int rc;

    memset(&sw, 0, sizeof(sw));
    rc = conc_flags_parse(&cmd, argc, argv, &ops);
    if (rc != CONC_FLAGS_OK) {
        rc = rc == CONC_FLAGS_HELP ? CONC_EXIT_OK : rc;
        goto out;
    }
    if (inter_on && inter_off) {
        rc = conc_flags_error(&cmd, "'--interleave' and '--no-interleave' "
                                    "contradict each other");
        goto out;
    }
    if ((rc = sweep_select(&sw, models, workloads, tasks)))
        goto out;
    rc = CONC_EXIT_USAGE;
    /* Below 2^53, so every JSON reader (jq, Python) reads it back exactly. */
    if (seed_s && (conc_parse_count(seed_s, &seed) || seed >= 1ull << 53)) {
        conc_usage_error("bad value '%s' for '--seed': expected a whole "
                         "number below 2^53", seed_s);
        goto out;
    }
    if (shard_s && sweep_parse_shard(shard_s, &slice))
        goto out;
    /* -o is checked against the selected models and workloads, which may
       come later on the command line: all flags first, then -o. */
    for (size_t i = 0; i < opts.n; i++)
        if (sweep_add_opt(&sw, opts.v[i]))
            goto out;
    /* A dry run writes nothing, so its outputs need not be writable yet
       (a job's output directory is often made by the job). */
    if (!dry_run) {
        const struct conc_output outs[] = {
            { "--json", json }, { "--export-csv", csv },
            { "--export-markdown", md },
        };
        if (conc_outputs_check(outs, 3))
            goto out;
    }
    sw.runs = (unsigned)runs;
    sw.warmup = (unsigned)warmup;
    interleave = inter_on || (!inter_off && runs > 1);
    if (!seed_s)
        seed = sweep_random_seed();

    if ((rc = sweep_build(&sw)))
        goto out;
    if (!sweep_shard(&sw, slice.k, slice.n) && !dry_run)
        conc_warn("shard %u/%u of %zu cells is empty", slice.k, slice.n,
                  sw.ncells);
    snprintf(seed_text, sizeof(seed_text), "%llu", (unsigned long long)seed);
    if ((shard_s && json) || dry_run) {
        ids = sweep_plan_ids(&sw);
        sweep_plan_hash(&sw, ids, interleave, seed_s ? seed_text : NULL,
                        slice.plan);
    }
    if (dry_run) {
        sweep_print_plan(stdout, &sw, &slice, interleave,
                         seed_s ? seed_text : NULL, json);
        rc = CONC_EXIT_OK;
        goto out;
    }

    rc = sweep_execute(&sw, interleave, seed);
    if (rc >= 128)
        goto out; /* interrupted: no table and no file */

    /* The CPUs the report's host records, read again: the same process,
       the same affinity and quota. */
    conc_host_read(&host);
    sweep_speedups(&sw, host.usable_cpus);

    if (verbose)
        sweep_print_warnings(&sw);
    /* The table and its digest never mix into an output on stdout. */
    human = conc_output_is_stdout(json) || conc_output_is_stdout(csv) ||
                    conc_output_is_stdout(md)
                ? stderr : stdout;
    sweep_print_table(human, &sw);
    sweep_print_digest(human, &sw);
    fflush(human);
    if (json && sweep_write_report(&sw, argc, argv, json, interleave, seed,
                                   shard_s ? &slice : NULL, ids))
        rc = CONC_EXIT_FAILED;
    if ((csv || md) && sweep_exports(&sw, csv, md))
        rc = CONC_EXIT_FAILED;
out:
    sweep_plan_ids_free(ids, sw.ncells);
    conc_flags_fini(&ops);
    sweep_fini(&sw);
    return rc;
}
