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
 * "n=1e8 segment=32KiB": the options the user set, as given, model's then
 * workload's, one space between each. Caller frees.
 */
static char *export_options(const struct conc_cell *cell)
{
    struct export_buf b = { conc_xmalloc(64), 0, 64 };

    b.s[0] = '\0';
    for (int pass = 0; pass < 2; pass++) {
        const struct conc_params *p = pass ? &cell->wp : &cell->mp;
        for (int i = 0; p->opts && p->opts[i].key; i++)
            if (p->v[i].set)
                export_printf(&b, "%s%s=%s", b.len ? " " : "",
                              p->opts[i].key, p->v[i].s);
    }
    return b.s;
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
                      "errors,result,result_ok\n");
    for (size_t c = 0; c < n; c++) {
        for (unsigned r = 0; r < results[c].nruns; r++) {
            const struct conc_run_stats *s = &results[c].runs[r];
            char *opts = export_options(&cells[c]);
            export_csv_field(&b, cells[c].model->name, false);
            export_printf(&b, ",");
            export_csv_field(&b, cells[c].workload->name, false);
            export_printf(&b, ",");
            export_csv_field(&b, opts, true);
            free(opts);
            export_printf(&b, ",%u,%u,%llu,%llu,%llu,%llu,%llu,%llu,%llu,"
                              "%llu,%llu,%llu,%llu,%llu,%llu,%llu,%s\n",
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
                          s->result_ok ? "true" : "false");
        }
    }
    err = conc_write_atomic(path, b.s, b.len);
    free(b.s);
    return err;
}

int conc_export_markdown(const char *path, const struct conc_cell *cells,
                         const struct conc_cell_result *results, size_t n)
{
    struct export_buf b = { conc_xmalloc(256), 0, 256 };
    int err;

    export_printf(&b, "| Model | Workload | Options | Tasks | Mean [ms] | "
                      "Min [ms] | Max [ms] | Runs | Result |\n"
                      "|:---|:---|:---|---:|---:|---:|---:|---:|:---:|\n");
    for (size_t c = 0; c < n; c++) {
        const struct conc_summary *w = &results[c].wall;
        char *opts = export_options(&cells[c]);
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
            export_printf(&b, " |\n");
        }
        else
            export_printf(&b, " | %u | %.1f ± %.1f | %.1f | %.1f | %zu | %s |\n",
                          cells[c].tasks, w->mean / 1e6, w->stddev / 1e6,
                          w->min / 1e6, w->max / 1e6, w->n,
                          results[c].failed ? "✗" : "✓");
    }
    err = conc_write_atomic(path, b.s, b.len);
    free(b.s);
    return err;
}
