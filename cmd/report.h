/*
 * The JSON report of DESIGN.md. This file pair is the only jansson user.
 */
#ifndef CONC_REPORT_H
#define CONC_REPORT_H

#include "cmd/cell.h"

#define CONC_SCHEMA "concbench/1"

struct conc_report;

/* A new report stamped with the version, build, host, time and argv. */
struct conc_report *conc_report_new(int argc, char **argv);

/* Appends one cell's result (a skipped cell records its reason). */
void conc_report_add(struct conc_report *rep, const struct conc_cell *cell,
                     const struct conc_cell_result *res);

/* Adds a top-level key with an integer value (e.g. the sweep seed). */
void conc_report_set_u64(struct conc_report *rep, const char *key,
                         uint64_t value);

/* Adds a top-level key with a string value (e.g. the sweep's "shard"). */
void conc_report_set_str(struct conc_report *rep, const char *key,
                         const char *value);

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

void conc_report_free(struct conc_report *rep);

#endif
