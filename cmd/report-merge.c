/*
 * Joining reports (concbench merge): a copy of the first report's document
 * that takes the results of each input, whole or, for the same cell run
 * again, as more runs of one result.
 */
#include <jansson.h>
#include <stdlib.h>

#include "cmd/report-internal.h"
#include "cmd/report.h"
#include "cmd/stats.h"
#include "lib/err.h"

struct conc_report *conc_report_merge_new(const struct conc_rfile *first,
                                          int argc, char **argv)
{
    struct conc_report *rep = conc_xcalloc(1, sizeof(*rep));
    json_t *args = json_array();

    rep->root = json_deep_copy(first->root);
    rep->results = json_array();
    json_object_set_new(rep->root, "results", rep->results);
    json_array_append_new(args, json_string("concbench"));
    for (int i = 0; i < argc; i++)
        json_array_append_new(args, json_string(argv[i]));
    json_object_set_new(rep->root, "argv", args);
    json_object_set_new(rep->root, "merged_from", json_array());
    return rep;
}

void conc_report_merge_add(struct conc_report *rep,
                           const struct conc_rfile *src, size_t i,
                           bool with_host)
{
    const struct conc_rcell *c = &src->cells[i];
    json_t *o = json_deep_copy(c->json);

    if (with_host && !c->own_host)
        json_object_set(o, "host", json_object_get(src->root, "host"));
    json_array_append_new(rep->results, o);
}

void conc_report_merge_join(struct conc_report *rep, size_t at,
                            const struct conc_rfile *src, size_t i)
{
    json_t *o = json_array_get(rep->results, at), *runs, *r, *w;
    const json_t *add = json_object_get(src->cells[i].json, "runs");
    double *x;
    size_t n = 0, k;
    struct conc_summary s;

    runs = json_object_get(o, "runs");
    if (!json_is_array(runs)) {
        runs = json_array();
        json_object_set_new(o, "runs", runs);
    }
    json_array_foreach(add, k, r)
        json_array_append_new(runs, json_deep_copy(r));
    if (src->cells[i].failed)
        json_object_set_new(o, "failed", json_true());
    /* The summary over the passed runs, as the cell runner writes it. */
    x = conc_xmalloc((json_array_size(runs) + 1) * sizeof(*x));
    json_array_foreach(runs, k, r) {
        w = json_object_get(r, "wall_ns");
        if (!json_is_true(json_object_get(r, "failed")) &&
            !json_is_false(json_object_get(r, "result_ok")) &&
            json_is_number(w))
            x[n++] = json_number_value(w);
    }
    conc_summarize(x, n, &s);
    free(x);
    json_object_set_new(o, "summary",
                        report_summary_json(&s, n, json_array_size(runs) - n));
    /* A speedup was paired within one sweep: the joined runs no longer
       match it, and it is not recomputed across reports. */
    json_object_del(o, "speedup");
}

void conc_report_merge_source(struct conc_report *rep,
                              const struct conc_rfile *src, size_t ncells)
{
    json_t *from = json_object_get(rep->root, "merged_from"),
           *earlier = json_object_get(src->root, "merged_from");

    /* A merged input contributes its own sources, so merges compose. */
    if (json_is_array(earlier) && json_array_size(earlier) > 0) {
        json_array_extend(from, earlier);
        return;
    }
    json_array_append_new(
        from, json_pack("{s:s,s:s,s:s,s:O,s:O,s:I}", "file", src->path,
                        "started_at", src->started_at, "version",
                        src->version, "host",
                        json_object_get(src->root, "host"), "argv",
                        json_object_get(src->root, "argv") ?
                            json_object_get(src->root, "argv") : json_null(),
                        "cells", (json_int_t)ncells));
}

void conc_report_merge_plan(struct conc_report *rep,
                            const struct conc_rplan *held,
                            const unsigned *missing, size_t nmissing,
                            char *const *gone, size_t ngone)
{
    json_t *shards = json_array(), *lost = json_array(), *cells = json_array(),
           *all = json_array(), *gone_ids = json_array();

    for (size_t i = 0; i < held->nshards; i++)
        json_array_append_new(shards, json_integer(held->shards[i]));
    for (size_t i = 0; i < nmissing; i++)
        json_array_append_new(lost, json_integer(missing[i]));
    for (size_t i = 0; i < ngone; i++)
        json_array_append_new(gone_ids, json_string(gone[i]));
    for (size_t i = 0; i < held->ncells; i++)
        json_array_append_new(cells, json_string(held->cells[i]));
    for (size_t i = 0; i < held->nplan; i++)
        json_array_append_new(all, json_pack("{s:s,s:I}", "id",
                                             held->plan_ids[i], "shard",
                                             (json_int_t)held->plan_shard[i]));
    /* The first input's "K/N" no longer describes the merged report. */
    json_object_del(rep->root, "shard");
    json_object_set_new(
        rep->root, "shard_manifest",
        json_pack("{s:s,s:I,s:o,s:b,s:o,s:o,s:o,s:o}", "plan", held->hash,
                  "n", (json_int_t)held->n, "shards", shards, "partial",
                  nmissing > 0 || ngone > 0, "missing_shards", lost,
                  "missing_cells", gone_ids, "cells", cells, "plan_cells",
                  all));
}
