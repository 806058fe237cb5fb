/*
 * concbench calibrate: how far apart the same code lands on this machine.
 * Re-runs each cell of a report as an A/A set and writes the noise floor
 * that compare --calibration uses. Includes jansson (like report*.c and
 * compare-json.c) to write its file and to read a cell's warmup.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cell.h"
#include "cmd/cmds.h"
#include "cmd/compare.h"
#include "cmd/exit.h"
#include "cmd/export.h"
#include "cmd/flags.h"
#include "cmd/registry.h"
#include "cmd/report-internal.h"
#include "cmd/report.h"
#include "lib/err.h"
#include "lib/interrupt.h"

static const char calibrate_synopsis[] =
    "calibrate REPORT.json --json FILE [--rounds K]";

static const char calibrate_epilogue[] =
    "Runs each cell of REPORT again, K rounds of two halves A and B of the\n"
    "report's run count, run by run A,B,A,B, with the same code: every\n"
    "difference between A and B is noise. Each round's change is the\n"
    "Hodges-Lehmann shift B - A over A's median (wall_ns); a cell's noise\n"
    "floor is the largest |change| over its rounds, the machine's the median\n"
    "of the cells'. compare --calibration FILE never calls a change below\n"
    "the floor a regression. Exit 1 when a run failed (the file is still\n"
    "written) or no cell could be calibrated, 2 on bad input.\n";

/* One cell of the report, ready to run, and what its rounds measured. */
struct calib_cell {
    const struct conc_rcell *rc;
    struct conc_cell cell;
    bool ready;          /* cell was made (needs conc_cell_fini) */
    char *skipped;       /* not run, and why */
    json_t *rounds;      /* one object a round */
    double floor_pct;    /* NaN until a round passed */
    double lo_pct, hi_pct; /* the widest A/A interval over the rounds */
    bool failed;         /* a run failed */
};

/* A number for the file, or null: JSON has no NaN or infinity. */
static json_t *calibrate_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/*
 * "key=value" for conc_cell_set from a report's option: the report writes
 * durations as integer ns, and a bare number is ms to the parser.
 */
static void calibrate_kv(char *buf, size_t len, const struct conc_rkv *kv,
                         const struct conc_opt *table)
{
    const char *unit = "";
    char *end;

    for (size_t i = 0; table && table[i].key; i++)
        if (strcmp(table[i].key, kv->key) == 0 &&
            table[i].type == CONC_OPT_DURATION) {
            strtoull(kv->val, &end, 10);
            if (end != kv->val && !*end)
                unit = "ns";
        }
    snprintf(buf, len, "%s=%s%s", kv->key, kv->val, unit);
}

/*
 * Makes k's cell from its report cell: model, workload, tasks, the report's
 * run count and warmup, every option. 0, or CONC_EXIT_USAGE with one line
 * printed (a name or option this build does not know).
 */
static int calibrate_prepare(struct calib_cell *k, const char *path)
{
    const struct conc_rcell *rc = k->rc;
    const struct conc_model *m = conc_model_find(rc->model);
    const struct conc_workload *w = conc_workload_find(rc->workload);
    const json_t *warm = json_object_get(rc->json, "warmup");
    unsigned warmup = json_is_integer(warm) &&
                              json_integer_value(warm) >= 0 &&
                              json_integer_value(warm) <= 1000
                          ? (unsigned)json_integer_value(warm) : 1;
    char kv[256];

    k->floor_pct = k->lo_pct = k->hi_pct = NAN;
    if (rc->skipped) {
        k->skipped = conc_xstrdup(rc->skipped);
        return 0;
    }
    if (rc->nruns == 0) {
        k->skipped = conc_xstrdup("no runs in the report");
        return 0;
    }
    if (!m || !w)
        return conc_usage_error("'%s' has the unknown %s '%s'", path,
                                m ? "workload" : "model",
                                m ? rc->workload : rc->model);
    if (rc->tasks == 0 || rc->tasks > UINT_MAX || rc->nruns > 10000)
        return conc_usage_error("'%s' has a cell of %llu tasks and %zu runs: "
                                "out of range", path, rc->tasks, rc->nruns);
    if (conc_cell_init(&k->cell, m, w, (unsigned)rc->tasks,
                       (unsigned)rc->nruns, warmup))
        return CONC_EXIT_USAGE;
    k->ready = true;
    for (size_t i = 0; i < rc->nmopts + rc->nwopts; i++) {
        bool model = i < rc->nmopts;
        calibrate_kv(kv, sizeof(kv),
                     model ? &rc->mopts[i] : &rc->wopts[i - rc->nmopts],
                     model ? m->opts : w->opts);
        if (conc_cell_set(&k->cell, kv))
            return CONC_EXIT_USAGE;
    }
    k->rounds = json_array();
    return 0;
}

/* The passed runs' wall times of res into v; their count. */
static size_t calibrate_walls(const struct conc_cell_result *res, double *v)
{
    size_t n = 0;

    for (unsigned i = 0; i < res->nruns; i++)
        if (!res->runs[i].failed)
            v[n++] = (double)res->runs[i].wall_ns;
    return n;
}

/* Records one round from its halves: the A/A change and its interval. */
static void calibrate_round(struct calib_cell *k,
                            const struct conc_cell_result *a,
                            const struct conc_cell_result *b)
{
    double *va = conc_xcalloc(a->nruns + 1, sizeof(*va)),
           *vb = conc_xcalloc(b->nruns + 1, sizeof(*vb));
    size_t na = calibrate_walls(a, va), nb = calibrate_walls(b, vb);
    double est, lo, hi, ma = NAN, change = NAN, lo_pct = NAN, hi_pct = NAN;

    k->failed |= na < a->nruns || nb < b->nruns || a->nruns < k->cell.runs ||
                 b->nruns < k->cell.runs;
    if (na && nb) {
        int err = conc_hodges_lehmann(va, na, vb, nb, 0.95, &est, &lo, &hi);
        ma = conc_median(va, na);
        if (ma > 0) {
            change = 100 * est / ma;
            lo_pct = err ? -INFINITY : 100 * lo / ma;
            hi_pct = err ? INFINITY : 100 * hi / ma;
            if (isnan(k->floor_pct) || fabs(change) > k->floor_pct)
                k->floor_pct = fabs(change);
            if (isnan(k->lo_pct) || lo_pct < k->lo_pct)
                k->lo_pct = lo_pct;
            if (isnan(k->hi_pct) || hi_pct > k->hi_pct)
                k->hi_pct = hi_pct;
        }
    }
    json_array_append_new(k->rounds, json_pack(
        "{s:o,s:[o,o],s:{s:I,s:o},s:{s:I,s:o}}", "change_pct",
        calibrate_num(change), "ci95_pct", calibrate_num(lo_pct),
        calibrate_num(hi_pct), "a", "runs", (json_int_t)na, "median",
        calibrate_num(ma), "b", "runs", (json_int_t)nb, "median",
        calibrate_num(nb ? conc_median(vb, nb) : NAN)));
    free(va);
    free(vb);
}

/*
 * One round of k: halves A and B, one run of each in turn. 0, 128 + the
 * signal when interrupted, or CONC_EXIT_UNAVAILABLE / CONC_EXIT_USAGE
 * when the cell cannot run here (k->skipped says why).
 */
static int calibrate_run_round(struct calib_cell *k)
{
    struct conc_cell_result a, b;
    int rc = conc_cell_begin(&k->cell, &a);

    if (rc) {
        k->skipped = conc_xstrdup(a.skipped ? a.skipped : conc_error_last());
        conc_cell_result_fini(&a);
        return rc;
    }
    if (conc_cell_begin(&k->cell, &b)) {
        conc_cell_result_fini(&a);
        conc_cell_result_fini(&b);
        return CONC_EXIT_USAGE; /* cannot be: a's begin passed the checks */
    }
    for (unsigned i = 0; i < k->cell.runs && !a.err && !b.err; i++) {
        int ra = conc_cell_runs(&k->cell, &a, 1);
        int rb = ra >= 128 ? ra : conc_cell_runs(&k->cell, &b, 1);
        if (ra >= 128 || rb >= 128 || conc_interrupted) {
            rc = ra >= 128 ? ra : rb >= 128 ? rb : 128 + conc_interrupted;
            break;
        }
    }
    if (rc < 128)
        calibrate_round(k, &a, &b);
    conc_cell_result_fini(&a);
    conc_cell_result_fini(&b);
    return rc;
}

/* The file: the machine, the report's cells with their rounds, the floor. */
static json_t *calibrate_doc(const struct conc_report *rep,
                             const struct calib_cell *cells, size_t n,
                             const char *path, unsigned long long rounds,
                             double floor_pct)
{
    json_t *doc = json_object(), *arr = json_array();

    json_object_set_new(doc, "schema", json_string(CONC_CALIB_SCHEMA));
    json_object_set(doc, "concbench", json_object_get(rep->root,
                                                      "concbench"));
    json_object_set(doc, "host", json_object_get(rep->root, "host"));
    json_object_set(doc, "started_at", json_object_get(rep->root,
                                                       "started_at"));
    json_object_set(doc, "argv", json_object_get(rep->root, "argv"));
    json_object_set_new(doc, "report", json_string(path));
    json_object_set_new(doc, "metric", json_string("wall_ns"));
    json_object_set_new(doc, "rounds", json_integer((json_int_t)rounds));
    for (size_t i = 0; i < n; i++) {
        const struct calib_cell *k = &cells[i];
        const json_t *o = k->rc->json;
        json_t *c = json_pack(
            "{s:s,s:s,s:O,s:s,s:O,s:I,s:I}", "id", k->rc->id, "model",
            k->rc->model, "model_options", json_object_get(o, "model_options"),
            "workload", k->rc->workload, "workload_options",
            json_object_get(o, "workload_options"), "tasks",
            (json_int_t)k->rc->tasks, "runs", (json_int_t)k->rc->nruns);

        if (k->skipped)
            json_object_set_new(c, "skipped", json_string(k->skipped));
        json_object_set_new(c, "failed", json_boolean(k->failed));
        json_object_set_new(c, "floor_pct", calibrate_num(k->floor_pct));
        json_object_set_new(c, "ci95_pct",
                            json_pack("[o,o]", calibrate_num(k->lo_pct),
                                      calibrate_num(k->hi_pct)));
        json_object_set_new(c, "rounds", k->rounds ? json_incref(k->rounds)
                                                   : json_array());
        json_array_append_new(arr, c);
    }
    json_object_set_new(doc, "cells", arr);
    json_object_set_new(doc, "floor_pct", json_real(floor_pct));
    return doc;
}

/* A line a cell on out: its floor and its rounds' changes. */
static void calibrate_print(FILE *out, const struct calib_cell *k)
{
    char *label = conc_compare_label(k->rc, false), *safe;
    char f[32];

    safe = conc_sanitize_dup(label);
    if (k->skipped || isnan(k->floor_pct)) {
        char *why = conc_sanitize_dup(k->skipped ? k->skipped
                                                 : "no round passed");
        fprintf(out, "%s: no floor (%s)\n", safe, why);
        free(why);
    } else {
        fprintf(out, "%s: floor %s%% over %zu rounds (", safe,
               compare_fmt_thr(f, sizeof(f), k->floor_pct),
               json_array_size(k->rounds));
        for (size_t r = 0; r < json_array_size(k->rounds); r++) {
            const json_t *c = json_object_get(json_array_get(k->rounds, r),
                                              "change_pct");
            if (json_is_number(c))
                fprintf(out, "%s%+.1f%%", r ? " " : "",
                        json_number_value(c));
            else
                fprintf(out, "%s-", r ? " " : "");
        }
        fprintf(out, ")\n");
    }
    free(safe);
    free(label);
}

/*
 * The runs: for each round, each cell's halves in turn, so every cell's
 * rounds spread over the whole calibration. 0, or 128 + the signal.
 */
static int calibrate_execute(struct calib_cell *cells, size_t n,
                             unsigned long long rounds)
{
    for (unsigned long long r = 0; r < rounds; r++)
        for (size_t i = 0; i < n; i++) {
            int rc;
            if (cells[i].skipped)
                continue;
            rc = calibrate_run_round(&cells[i]);
            if (rc >= 128)
                return rc;
        }
    return conc_interrupted ? 128 + conc_interrupted : 0;
}

/* Writes the calibration to path. CONC_EXIT_OK or CONC_EXIT_FAILED. */
static int calibrate_write(int argc, char **argv, const char *report,
                           const struct calib_cell *cells, size_t n,
                           unsigned long long rounds, double floor_pct,
                           const char *path)
{
    char **args = conc_xcalloc((size_t)argc + 2, sizeof(*args)), *text;
    struct conc_report *rep;
    json_t *doc;
    size_t len;
    int rc = CONC_EXIT_OK;

    args[0] = "concbench";
    args[1] = "calibrate";
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    /* The report writer's stamp: the same host record as every report. */
    rep = conc_report_new(argc + 1, args);
    free(args);
    doc = calibrate_doc(rep, cells, n, report, rounds, floor_pct);
    text = report_json_text(doc, &len);
    if (!text) {
        conc_error_msg(-ENOMEM, "cannot encode the calibration");
        rc = CONC_EXIT_FAILED;
    } else if (conc_write_atomic(path, text, len))
        rc = CONC_EXIT_FAILED;
    free(text);
    json_decref(doc);
    conc_report_free(rep);
    return rc;
}

int cmd_calibrate(int argc, char **argv)
{
    const char *json = NULL;
    unsigned long long rounds = 5;
    const struct conc_flag flags[] = {
        { CONC_FLAG_STRING, 0, "json", &json, "FILE",
          "where to write the calibration (- for stdout); required", 0, 0 },
        { CONC_FLAG_COUNT, 0, "rounds", &rounds, "K",
          "A/A rounds of each cell (default 5)", 1, 1000 },
        { CONC_FLAG_END },
    };
    const struct conc_command cmd = {
        .name = "calibrate", .synopsis = calibrate_synopsis, .flags = flags,
        .operands = "a report, REPORT", .min_operands = 1, .max_operands = 1,
        .epilogue = calibrate_epilogue,
    };
    struct conc_operands ops;
    struct conc_rfile *f = NULL;
    struct calib_cell *cells = NULL;
    double *floors = NULL, floor_pct;
    size_t nfloors = 0;
    bool failed = false;
    FILE *out;
    char fb[32];
    int rc = conc_flags_parse(&cmd, argc, argv, &ops);

    if (rc != CONC_FLAGS_OK) {
        conc_flags_fini(&ops);
        return rc == CONC_FLAGS_HELP ? CONC_EXIT_OK : rc;
    }
    rc = CONC_EXIT_USAGE;
    if (!json) {
        conc_flags_error(&cmd, "calibrate needs --json FILE");
        goto out;
    }
    if (conc_report_check_path(json) || conc_report_load(ops.v[0], &f))
        goto out;
    cells = conc_xcalloc(f->ncells + 1, sizeof(*cells));
    for (size_t i = 0; i < f->ncells; i++) {
        cells[i].rc = &f->cells[i];
        if (calibrate_prepare(&cells[i], f->path))
            goto out;
    }

    rc = calibrate_execute(cells, f->ncells, rounds);
    if (rc >= 128)
        goto out; /* interrupted: no file, only the exit code */
    /* The JSON may be stdout: then the summary goes to stderr. */
    out = strcmp(json, "-") == 0 ? stderr : stdout;
    floors = conc_xcalloc(f->ncells + 1, sizeof(*floors));
    for (size_t i = 0; i < f->ncells; i++) {
        calibrate_print(out, &cells[i]);
        failed |= cells[i].failed;
        if (!isnan(cells[i].floor_pct))
            floors[nfloors++] = cells[i].floor_pct;
    }
    if (!nfloors) {
        conc_error_msg(0, "no cell of '%s' could be calibrated", f->path);
        rc = CONC_EXIT_FAILED;
        goto out;
    }
    floor_pct = conc_median(floors, nfloors);
    fprintf(out, "machine noise floor: %s%% (median of %zu cell%s, %llu "
            "round%s each)\n", compare_fmt_thr(fb, sizeof(fb), floor_pct),
            nfloors, nfloors == 1 ? "" : "s", rounds, rounds == 1 ? "" : "s");
    rc = calibrate_write(argc, argv, f->path, cells, f->ncells, rounds,
                         floor_pct, json);
    if (rc == CONC_EXIT_OK && failed)
        rc = CONC_EXIT_FAILED;
out:
    for (size_t i = 0; cells && i < f->ncells; i++) {
        if (cells[i].ready)
            conc_cell_fini(&cells[i].cell);
        free(cells[i].skipped);
        json_decref(cells[i].rounds);
    }
    free(cells);
    free(floors);
    conc_rfile_free(f);
    conc_flags_fini(&ops);
    return rc;
}
