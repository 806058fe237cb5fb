/*
 * Exports besides JSON, as hyperfine offers them: CSV (one row per run) and
 * a Markdown summary table. Files are written whole or not at all.
 */
#ifndef CONC_EXPORT_H
#define CONC_EXPORT_H

#include <stddef.h>

#include "cmd/cell.h"
#include "cmd/output.h" /* conc_write_atomic */
#include "cmd/paired.h"

/* CSV, one row per timed run of each cell (columns in docs/report.md). */
int conc_export_csv(const char *path, const struct conc_cell *cells,
                    const struct conc_cell_result *results, size_t n);

/* A sweep's speedups, one per cell, for the Markdown table. */
struct conc_export_speedups {
    const struct conc_speedup *sp; /* [n]; pairs 0: none */
    const bool *baseline;          /* [n]: the cell is its own baseline */
};

/*
 * A Markdown table, one row per cell, its times in one unit for the whole
 * table; with speedups (a sweep; NULL for a run), a speedup column.
 */
int conc_export_markdown(const char *path, const struct conc_cell *cells,
                         const struct conc_cell_result *results,
                         const struct conc_export_speedups *speedups,
                         size_t n);

#endif
