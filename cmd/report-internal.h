/*
 * What the jansson users share and nothing else sees: the writer's document
 * and three helpers, for report.c, report-read.c, report-merge.c and
 * compare-json.c.
 */
#ifndef CONC_REPORT_INTERNAL_H
#define CONC_REPORT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/report.h"
#include "cmd/stats.h"

/* A report being written: its document and that document's "results". */
struct conc_report {
    json_t *root, *results;
    uint64_t steal0_ns;  /* /proc/stat's steal when the report began */
    bool steal_ok;
};

/*
 * doc as the report module prints JSON (two-space indent, keys in order,
 * 12 significant digits) with a final newline; *len is its length. NULL
 * when jansson cannot encode it. Caller frees.
 */
char *report_json_text(const json_t *doc, size_t *len);

/*
 * A result's "summary": the wall-time statistics of its passed runs and
 * how many runs passed and failed, in the shape the cell runner writes.
 */
json_t *report_summary_json(const struct conc_summary *wall, size_t passed,
                            size_t failed);

/*
 * The id of a result object, from its model, workload, options and tasks,
 * as the reader computes struct conc_rcell's (report-read.c). NULL when a
 * field is missing or of the wrong type. Caller frees.
 */
char *report_result_id(const json_t *result);

#endif
