/*
 * CSV and Markdown exports, written through cmd/output.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/export.h"
#include "cmd/output.h"
#include "lib/err.h"

/* A growing string for building a file in memory before one atomic write. */
struct export_buf {
    char *s;
    size_t len, cap;
};

static void export_printf(struct export_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void export_printf(struct export_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len)
            break;
        b->cap = b->cap * 2 + (size_t)n + 256;
        b->s = conc_xrealloc(b->s, b->cap);
    }
    b->len += (size_t)n;
}

/*
 * A CSV field as RFC 4180 has it: quoted, with each quote doubled, when it
 * holds a quote, a comma or a line break, or when `quote` asks (the options
 * column always is: it holds spaces); as it is otherwise.
 */
static void export_csv_field(struct export_buf *b, const char *text,
                             bool quote)
{
    if (!quote && !text[strcspn(text, "\",\r\n")]) {
        export_printf(b, "%s", text);
        return;
    }
    export_printf(b, "\"");
    for (const char *p = text; *p; p++)
        export_printf(b, *p == '"' ? "\"\"" : "%c", *p);
    export_printf(b, "\"");
}

/*
 * Text for a Markdown table cell: '|' would end the cell and a line break
 * the row, so '|' is escaped (GitHub's table syntax honours "\|" even in
 * code spans), line breaks become spaces and '\' is escaped too.
 */
static void export_md_text(struct export_buf *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|' || *p == '\\')
            export_printf(b, "\\%c", *p);
        else if (*p == '\n' || *p == '\r')
            export_printf(b, " ");
        else
            export_printf(b, "%c", *p);
    }
}

int conc_export_csv(const char *path, const struct conc_cell *cells,
                    const struct conc_cell_result *results, size_t n)
{
    struct export_buf b = { conc_xmalloc(256), 0, 256 };
    int err;

    export_printf(&b, "model,workload,options,tasks,run,wall_ns,user_ns,"
                      "sys_ns,max_rss_kib,ctxsw_voluntary,ctxsw_involuntary,"
                      "task_p50_ns,task_p99_ns,op_p50_ns,op_p99_ns,ops,bytes,"
                      "errors,result,result_ok,total_rss_kib\n");
    for (size_t c = 0; c < n; c++) {
        for (unsigned r = 0; r < results[c].nruns; r++) {
            const struct conc_run_stats *s = &results[c].runs[r];
            char *opts = conc_cell_opts_given(&cells[c]);
            export_csv_field(&b, cells[c].model->name, false);
            export_printf(&b, ",");
            export_csv_field(&b, cells[c].workload->name, false);
            export_printf(&b, ",");
            export_csv_field(&b, opts, true);
            free(opts);
            export_printf(&b, ",%u,%u,%llu,%llu,%llu,%llu,%llu,%llu,%llu,"
                              "%llu,%llu,%llu,%llu,%llu,%llu,%llu,%s,%llu\n",
                          cells[c].tasks, r + 1,
                          (unsigned long long)s->wall_ns,
                          (unsigned long long)s->user_ns,
                          (unsigned long long)s->sys_ns,
                          (unsigned long long)s->max_rss_kib,
                          (unsigned long long)s->ctxsw_voluntary,
                          (unsigned long long)s->ctxsw_involuntary,
                          (unsigned long long)s->task_ns.p50,
                          (unsigned long long)s->task_ns.p99,
                          (unsigned long long)s->op_ns.p50,
                          (unsigned long long)s->op_ns.p99,
                          (unsigned long long)s->totals.ops,
                          (unsigned long long)s->totals.bytes,
                          (unsigned long long)s->totals.errors,
                          (unsigned long long)s->totals.result,
                          s->result_ok ? "true" : "false",
                          (unsigned long long)s->total_rss_kib);
        }
    }
    err = conc_write_atomic(path, b.s, b.len);
    free(b.s);
    return err;
}

/*
 * The one unit of a table's times: ms, or us when every mean is under
 * 1 ms, or s when every one is 10 s or more.
 */
static void export_unit(const struct conc_cell_result *results, size_t n,
                        double *scale, const char **unit)
{
    double lo = -1, hi = 0;

    for (size_t c = 0; c < n; c++) {
        double m = results[c].wall.mean;
        if (results[c].skipped || !results[c].wall.n)
            continue;
        lo = lo < 0 || m < lo ? m : lo;
        hi = m > hi ? m : hi;
    }
    *scale = 1e6;
    *unit = "ms";
    if (lo >= 0 && hi < 1e6) {
        *scale = 1e3;
        *unit = "\xc2\xb5s";
    } else if (lo >= 10e9) {
        *scale = 1e9;
        *unit = "s";
    }
}

/* A time of the table in its unit, to about 3 significant digits. */
static void export_md_time(struct export_buf *b, double v)
{
    export_printf(b, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : v >= 1 ? "%.2f"
                                                              : "%.3f", v);
}

/* A speedup cell: "1.95× (1.90–2.01)", ✗ when impossible, "1.00×". */
static void export_md_speedup(struct export_buf *b,
                              const struct conc_speedup *sp, bool baseline)
{
    if (sp->pairs > 1)
        export_printf(b, " %.2f\xc3\x97 (%.2f\xe2\x80\x93%.2f)%s |", sp->value,
                      sp->lo, sp->hi, sp->impossible ? " \xe2\x9c\x97" : "");
    else if (sp->pairs)
        export_printf(b, " %.2f\xc3\x97%s |", sp->value,
                      sp->impossible ? " \xe2\x9c\x97" : "");
    else
        export_printf(b, " %s |", baseline ? "1.00\xc3\x97" : "\xe2\x80\x93");
}

int conc_export_markdown(const char *path, const struct conc_cell *cells,
                         const struct conc_cell_result *results,
                         const struct conc_export_speedups *speedups,
                         size_t n)
{
    struct export_buf b = { conc_xmalloc(256), 0, 256 };
    const char *unit;
    double scale;
    int err;

    export_unit(results, n, &scale, &unit);
    export_printf(&b, "| Model | Workload | Options | Tasks | Mean [%s] | "
                      "Min [%s] | Max [%s] | Runs | Result |%s\n"
                      "|:---|:---|:---|---:|---:|---:|---:|---:|:---:|%s\n",
                  unit, unit, unit, speedups ? " Speedup |" : "",
                  speedups ? ":---|" : "");
    for (size_t c = 0; c < n; c++) {
        const struct conc_summary *w = &results[c].wall;
        char *opts = conc_cell_opts_given(&cells[c]);
        export_printf(&b, "| `");
        export_md_text(&b, cells[c].model->name);
        export_printf(&b, "` | `");
        export_md_text(&b, cells[c].workload->name);
        export_printf(&b, "` | ");
        export_md_text(&b, opts);
        free(opts);
        if (results[c].skipped) {
            export_printf(&b, " | %u | | | | 0 | skipped: ", cells[c].tasks);
            export_md_text(&b, results[c].skipped);
            export_printf(&b, " |%s\n", speedups ? " |" : "");
            continue;
        }
        export_printf(&b, " | %u | ", cells[c].tasks);
        /* One run has no spread to show. */
        if (w->n)
            export_md_time(&b, w->mean / scale);
        if (w->n >= 2) {
            export_printf(&b, " \xc2\xb1 ");
            export_md_time(&b, w->stddev / scale);
        }
        if (w->n) {
            export_printf(&b, " | ");
            export_md_time(&b, w->min / scale);
            export_printf(&b, " | ");
            export_md_time(&b, w->max / scale);
            export_printf(&b, " | %zu | %s |", w->n,
                          results[c].failed ? "\xe2\x9c\x97" : "\xe2\x9c\x93");
        } else
            export_printf(&b, " | | | 0 | \xe2\x9c\x97 |");
        if (speedups)
            export_md_speedup(&b, &speedups->sp[c], speedups->baseline[c]);
        export_printf(&b, "\n");
    }
    err = conc_write_atomic(path, b.s, b.len);
    free(b.s);
    return err;
}
