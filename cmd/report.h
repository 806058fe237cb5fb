/*
 * The JSON report of docs/report.md: writing it (report.c), reading it back
 * (report-read.c) and joining reports (report-merge.c). Those files and
 * compare-json.c are the only ones that include jansson.
 */
#ifndef CONC_REPORT_H
#define CONC_REPORT_H

#include "cmd/cell.h"

/*
 * The schema written. concbench/2 names every time field by its unit: a
 * duration option is "<key>_ns" ("ms_ns": 20000000), where concbench/1
 * wrote "ms". Readers take both (CONC_SCHEMA_V1 is read as if written
 * /2: its duration options renamed by the option tables).
 */
#define CONC_SCHEMA "concbench/2"
#define CONC_SCHEMA_V1 "concbench/1"

/* Writing a report (run, sweep; report.c). */
struct conc_report;

/* A new report stamped with the version, build, host, time and argv. */
struct conc_report *conc_report_new(int argc, char **argv);

/* Appends one cell's result (a skipped cell records its reason). */
void conc_report_add(struct conc_report *rep, const struct conc_cell *cell,
                     const struct conc_cell_result *res);

struct conc_speedup;

/*
 * Sets the "speedup" of the result last added (sweep): value, ci95, pairs,
 * the baseline and the method; "impossible" and, when it is, "why".
 */
void conc_report_add_speedup(struct conc_report *rep,
                             const struct conc_speedup *sp);

/* Adds a top-level key with an integer value (e.g. the sweep seed). */
void conc_report_set_u64(struct conc_report *rep, const char *key,
                         uint64_t value);

/* Adds a top-level key with a string value (e.g. the sweep's "shard"). */
void conc_report_set_str(struct conc_report *rep, const char *key,
                         const char *value);

/*
 * The id compare and merge match cell by ("model{k=v} workload{k=v}
 * tasks=T", struct conc_rcell's id), computed from the JSON the report
 * writes for it, so writer and reader agree. Caller frees.
 */
char *conc_report_cell_id(const struct conc_cell *cell);

/*
 * Adds "shard_manifest" (sweep --shard K/N): the plan's hash, n, k, every
 * cell of the plan in order with the shard it belongs to (plan_ids and
 * plan_shard, [nplan]), and the ids of the results added so far, which
 * must be all of the shard's.
 */
void conc_report_set_shard_manifest(struct conc_report *rep, const char *plan,
                                    char *const *plan_ids,
                                    const unsigned *plan_shard, size_t nplan,
                                    unsigned k, unsigned n);

/*
 * Writes rep to path ("-" for stdout). A file is written to a temporary
 * name beside it and renamed, so a failure never leaves half a file.
 * 0 or -errno (message printed).
 */
int conc_report_write(struct conc_report *rep, const char *path);

/*
 * Checks up front that path can be written (its directory exists and is
 * writable), so a bad --json fails before any run. 0 or -errno (printed).
 */
int conc_report_check_path(const char *path);

/* Frees rep (a written one, or one to merge into); NULL does nothing. */
void conc_report_free(struct conc_report *rep);

/*
 * Reading reports back (compare, merge; report-read.c). A loaded report is
 * plain C: its cells, keyed by model, workload, options and tasks, with
 * every numeric field of every run as a named metric ("wall_ns",
 * "task_ns.p99").
 */

/* The machine a cell was measured on. */
struct conc_rhost {
    char *cpu_model, *kernel;   /* "" when absent */
    long long cpus, mem_bytes;  /* -1 when absent */
    char *fingerprint;          /* equal strings: the same kind of machine */
};

/*
 * One option of a cell: its name as the option tables declare it ("ms",
 * written "ms_ns" in the report: a duration's value is in ns) and its JSON
 * value as text (5000000, on).
 */
struct conc_rkv {
    char *key, *val;
};

/* One run: failed or not, and its numeric fields by name. */
struct conc_rrun {
    bool failed;
    bool disturbed; /* its "disturbed" names a cause: others took >5% */
    size_t nmetrics;
    char **names;   /* "wall_ns", "task_ns.p50", "errors_by_kind.reset" */
    double *values;
};

struct conc_rcell {
    char *model, *workload;
    struct conc_rkv *mopts, *wopts; /* sorted by key */
    size_t nmopts, nwopts;
    unsigned long long tasks;
    char *id;                /* model, workload, options, tasks: the match
                                key */
    struct conc_rhost host;  /* its own "host" (a merged report's) or the
                                file's */
    bool own_host;           /* the result carried its own "host" */
    bool failed;             /* the report's verdict on the cell */
    char *skipped;           /* why it was not run; NULL when it was */
    struct conc_rrun *runs;
    size_t nruns;
    void *json;              /* the result object (the report module's) */
};

/*
 * The plan a report is part of ("shard_manifest"): a shard's, or a merge
 * of shards'. Checked on load: the plan's cells are distinct, each in a
 * shard 1 to n; the report's cells are among its results and are cells
 * of the plan in the report's shards. Whether they are all of those
 * shards' cells is merge's question (a missing cell).
 */
struct conc_rplan {
    char *hash;             /* equal strings: the same plan */
    unsigned n;             /* the plan's shards */
    char **plan_ids;        /* [nplan]: every cell of the plan, in order */
    unsigned *plan_shard;   /* [nplan]: the shard each belongs to */
    size_t nplan;
    unsigned *shards;       /* [nshards]: the ones this report holds, each
                               1 to n, ascending, none twice */
    size_t nshards;
    char **cells;           /* [ncells]: the cells it holds, by id */
    size_t ncells;
};

struct conc_rfile {
    char *path, *version, *started_at;
    struct conc_rhost host;
    struct conc_rcell *cells;
    size_t ncells;
    struct conc_rplan *plan; /* NULL: no "shard_manifest" */
    void *root;              /* the document (the report module's) */
};

/*
 * Loads the report at path into *out (free with conc_rfile_free). Returns
 * 0, or -errno / -EINVAL with one line printed naming the file: unreadable,
 * not JSON, truncated, not a concbench report, another schema, or a field
 * of the wrong type.
 */
int conc_report_load(const char *path, struct conc_rfile **out);

/* The same from a buffer; name is used in messages (the fuzz target's way
   in). */
int conc_report_parse(const char *name, const char *text, size_t len,
                      struct conc_rfile **out);

/* Frees a loaded report; NULL does nothing. */
void conc_rfile_free(struct conc_rfile *f);

/* The value of metric in run, or NaN when the run has no such field. */
double conc_rrun_metric(const struct conc_rrun *run, const char *metric);

/*
 * Joining reports (merge; report-merge.c).
 *
 * A report to merge into: a copy of first's document (schema, build, host,
 * time) with no results, "argv" set to the merge command line. Free with
 * conc_report_free.
 */
struct conc_report *conc_report_merge_new(const struct conc_rfile *first,
                                          int argc, char **argv);

/*
 * Appends a copy of cell i of src to rep; with_host stores the cell's host
 * in the result, so cells from different machines stay apart.
 */
void conc_report_merge_add(struct conc_report *rep,
                           const struct conc_rfile *src, size_t i,
                           bool with_host);

/*
 * Appends the runs of cell i of src to result `at` of rep (the same cell
 * from the same machine, run again later) and recomputes its summary over
 * all the passed runs; "failed" becomes true if either was.
 */
void conc_report_merge_join(struct conc_report *rep, size_t at,
                            const struct conc_rfile *src, size_t i);

/* Records src under "merged_from": file, time, version, host, cells. */
void conc_report_merge_source(struct conc_report *rep,
                              const struct conc_rfile *src, size_t ncells);

/*
 * Sets the merged report's "shard_manifest" to held (the plan, the shards
 * merged and the cells they hold) with "partial" and what is still
 * missing: the shards missing[nmissing] and the plan's cells that no
 * input holds, by id (gone[ngone]). Drops the "shard" copied from the
 * first input.
 */
void conc_report_merge_plan(struct conc_report *rep,
                            const struct conc_rplan *held,
                            const unsigned *missing, size_t nmissing,
                            char *const *gone, size_t ngone);

#endif
