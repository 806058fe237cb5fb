/*
 * compare's JSON, with jansson: the whole comparison (--format json), the
 * new side as github-action-benchmark's input (--format github-benchmark),
 * and reading the noise floors `concbench calibrate` wrote.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/compare.h"
#include "cmd/export.h"
#include "cmd/report-internal.h"
#include "lib/err.h"

/* A finite number, or null: JSON has no NaN or infinity. */
static json_t *compare_json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* A cell as JSON: its label and the fields it is matched by. */
static json_t *compare_json_cell(const struct conc_rcell *c, const char *label)
{
    const json_t *o = c->json;

    return json_pack("{s:s,s:s,s:O,s:s,s:O,s:I,s:s}", "label", label, "model",
                     c->model, "model_options",
                     json_object_get(o, "model_options"), "workload",
                     c->workload, "workload_options",
                     json_object_get(o, "workload_options"), "tasks",
                     (json_int_t)c->tasks, "host", c->host.fingerprint);
}

/* Prints doc on stdout and releases it. 0 or -errno. */
static int compare_json_dump(json_t *doc)
{
    size_t len;
    char *text = report_json_text(doc, &len);
    int err;

    json_decref(doc);
    if (!text)
        return conc_error_msg(-ENOMEM, "cannot encode the comparison");
    err = conc_write_atomic("-", text, len);
    free(text);
    return err;
}

int compare_print_json(const struct conc_cmp *c)
{
    json_t *doc = json_object(), *rows = json_array(), *ob = json_array(),
           *on = json_array();
    char closing[512];

    json_object_set_new(doc, "schema", json_string("concbench-compare/1"));
    json_object_set_new(doc, "metric", json_string(c->metric));
    json_object_set_new(doc, "unit", json_string(c->unit));
    json_object_set_new(doc, "threshold_pct", json_real(c->threshold_pct));
    json_object_set_new(doc, "alpha", json_real(c->alpha));
    json_object_set_new(doc, "base", json_string(c->base_path));
    json_object_set_new(doc, "new", json_string(c->new_path));
    json_object_set_new(doc, "regressions",
                        json_integer((json_int_t)c->regressions));
    for (size_t i = 0; i < c->nrows; i++) {
        const struct conc_cmp_row *r = &c->rows[i];
        json_t *o = compare_json_cell(r->new, r->label);

        json_object_set_new(o, "base", json_pack("{s:I,s:I,s:I,s:o}", "runs",
                            (json_int_t)r->n_base, "failed_runs",
                            (json_int_t)r->failed_base, "disturbed_runs",
                            (json_int_t)r->disturbed_base, "median",
                            compare_json_num(r->median_base)));
        json_object_set_new(o, "new", json_pack("{s:I,s:I,s:I,s:o}", "runs",
                            (json_int_t)r->n_new, "failed_runs",
                            (json_int_t)r->failed_new, "disturbed_runs",
                            (json_int_t)r->disturbed_new, "median",
                            compare_json_num(r->median_new)));
        json_object_set_new(o, "change_pct", compare_json_num(r->change_pct));
        json_object_set_new(o, "ci95_pct",
                            json_pack("[o,o]", compare_json_num(r->ci_lo_pct),
                                      compare_json_num(r->ci_hi_pct)));
        json_object_set_new(o, "p", compare_json_num(r->p));
        json_object_set_new(o, "min_p", compare_json_num(r->min_p));
        json_object_set_new(o, "significant", json_boolean(r->significant));
        json_object_set_new(o, "threshold_pct", json_real(r->threshold_pct));
        json_object_set_new(o, "floor_pct", c->calib ? json_real(r->floor_pct)
                                                     : json_null());
        json_object_set_new(o, "verdict", json_string(r->verdict));
        json_object_set_new(o, "note", json_string(r->note));
        json_array_append_new(rows, o);
    }
    json_object_set_new(doc, "cells", rows);
    for (size_t i = 0; i < c->nonly_base; i++)
        json_array_append_new(ob, compare_json_cell(c->only_base[i],
                                                    c->only_base_labels[i]));
    for (size_t i = 0; i < c->nonly_new; i++)
        json_array_append_new(on, compare_json_cell(c->only_new[i],
                                                    c->only_new_labels[i]));
    json_object_set_new(doc, "only_in_base", ob);
    json_object_set_new(doc, "only_in_new", on);
    compare_closing(c, closing, sizeof(closing));
    json_object_set_new(doc, "outcome", json_pack(
        "{s:s,s:i,s:s,s:I,s:I,s:I,s:b,s:b,s:b,s:o,s:o,s:s}", "verdict",
        c->outcome, "exit_code", c->exit_code, "why", c->why, "compared",
        (json_int_t)c->compared, "noisy", (json_int_t)c->noisy,
        "missing_from_new", (json_int_t)c->nonly_base, "allow_missing",
        c->allow_missing, "accept_noisy", c->accept_noisy, "keep_disturbed",
        c->keep_disturbed, "calibration",
        c->calib ? json_string(c->calib->path) : json_null(), "floor_pct",
        c->calib ? json_real(c->calib->floor_pct) : json_null(), "closing",
        closing));
    return compare_json_dump(doc);
}

int compare_print_benchmark(const struct conc_cmp *c)
{
    json_t *doc = json_array();
    char name[512], range[64], extra[256];

    for (size_t i = 0; i < c->nrows; i++) {
        const struct conc_cmp_row *r = &c->rows[i];

        if (!isfinite(r->median_new))
            continue; /* every new run failed: nothing to chart */
        snprintf(name, sizeof(name), "%s (%s)", r->label, c->metric);
        /* The spread of the new runs: half the distance min..max would
           hide outliers, so the range is the median absolute deviation. */
        snprintf(range, sizeof(range), "\xc2\xb1 %.6g", r->mad_new);
        snprintf(extra, sizeof(extra), "%zu runs; vs base %+.2f%% (p=%.3g, "
                 "%s)", r->n_new, r->change_pct, r->p, r->verdict);
        json_array_append_new(doc, json_pack("{s:s,s:s,s:f,s:s,s:s}", "name",
                                             name, "unit", c->unit, "value",
                                             r->median_new, "range", range,
                                             "extra", extra));
    }
    return compare_json_dump(doc);
}

void compare_calib_free(struct conc_calib *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->ncells; i++)
        free(k->ids[i]);
    free(k->ids);
    free(k->floors);
    free(k->path);
    free(k->metric);
    free(k->cpu_model);
    free(k);
}

/* A calibration that is not what it should be: one line, -EINVAL. */
static int compare_calib_bad(const char *path, const char *what)
{
    return conc_error_msg(-EINVAL, "'%s' is not a concbench calibration: %s",
                          path, what);
}

int compare_calib_load(const char *path, struct conc_calib **out)
{
    json_error_t jerr;
    json_t *doc, *cells;
    const json_t *schema, *floor, *host, *metric;
    struct conc_calib *k;
    FILE *fp;
    int err = 0;

    *out = NULL;
    if (!(fp = fopen(path, "rb")))
        return conc_error(-errno, "cannot read calibration '%s'", path);
    doc = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
    fclose(fp);
    if (!doc)
        return conc_error_msg(-EINVAL, "cannot read calibration '%s': %s "
                              "(line %d)", path, jerr.text, jerr.line);
    schema = json_object_get(doc, "schema");
    floor = json_object_get(doc, "floor_pct");
    host = json_object_get(doc, "host");
    metric = json_object_get(doc, "metric");
    cells = json_object_get(doc, "cells");
    if (!json_is_string(schema) ||
        strcmp(json_string_value(schema), CONC_CALIB_SCHEMA) != 0)
        err = compare_calib_bad(path, "its schema is not '" CONC_CALIB_SCHEMA
                                      "'");
    else if (!json_is_number(floor) || !(json_number_value(floor) >= 0))
        err = compare_calib_bad(path, "no 'floor_pct' of 0 or more");
    else if (!json_is_array(cells))
        err = compare_calib_bad(path, "no 'cells' array");
    if (err) {
        json_decref(doc);
        return err;
    }
    k = conc_xcalloc(1, sizeof(*k));
    k->path = conc_xstrdup(path);
    k->floor_pct = json_number_value(floor);
    k->metric = conc_xstrdup(json_is_string(metric)
                                 ? json_string_value(metric) : "wall_ns");
    k->cpu_model = conc_xstrdup(
        json_is_string(json_object_get(host, "cpu_model"))
            ? json_string_value(json_object_get(host, "cpu_model")) : "");
    k->cpus = json_is_integer(json_object_get(host, "cpus"))
                  ? json_integer_value(json_object_get(host, "cpus")) : -1;
    k->ids = conc_xcalloc(json_array_size(cells) + 1, sizeof(*k->ids));
    k->floors = conc_xcalloc(json_array_size(cells) + 1, sizeof(*k->floors));
    for (size_t i = 0; i < json_array_size(cells); i++) {
        const json_t *cell = json_array_get(cells, i),
                     *id = json_object_get(cell, "id"),
                     *f = json_object_get(cell, "floor_pct");

        if (!json_is_string(id) || !(json_is_null(f) ||
                                     (json_is_number(f) &&
                                      json_number_value(f) >= 0))) {
            err = compare_calib_bad(path, "a cell without 'id' and "
                                          "'floor_pct'");
            break;
        }
        k->ids[k->ncells] = conc_xstrdup(json_string_value(id));
        k->floors[k->ncells++] = json_is_null(f) ? NAN : json_number_value(f);
    }
    json_decref(doc);
    if (err) {
        compare_calib_free(k);
        return err;
    }
    *out = k;
    return 0;
}

double compare_calib_floor(const struct conc_calib *k,
                           const struct conc_rcell *c)
{
    for (size_t i = 0; i < k->ncells; i++)
        if (strcmp(k->ids[i], c->id) == 0 && !isnan(k->floors[i]))
            return k->floors[i];
    return k->floor_pct;
}
