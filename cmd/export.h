/*
 * Exports besides JSON, as hyperfine offers them: CSV (one row per run) and
 * a Markdown summary table. Files are written whole or not at all.
 */
#ifndef CONC_EXPORT_H
#define CONC_EXPORT_H

#include <stddef.h>

#include "cmd/cell.h"
#include "cmd/output.h" /* conc_write_atomic */


/* CSV, one row per timed run of each cell (columns in docs/report.md). */
int conc_export_csv(const char *path, const struct conc_cell *cells,
                    const struct conc_cell_result *results, size_t n);

/* A Markdown table, one row per cell. */
int conc_export_markdown(const char *path, const struct conc_cell *cells,
                         const struct conc_cell_result *results, size_t n);

#endif
