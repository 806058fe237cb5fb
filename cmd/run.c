/*
 * concbench run: one cell (a model, a workload, a task count), timed over
 * --runs runs after --warmup untimed ones, printed like hyperfine and
 * optionally written as JSON, CSV and Markdown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cell.h"
#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/flags.h"
#include "cmd/mix.h"
#include "cmd/output.h"
#include "cmd/export.h"
#include "cmd/registry.h"
#include "cmd/report.h"
#include "lib/clock.h"
#include "lib/err.h"

#define RUN_TASKS_MAX 1000000u

static const char run_synopsis[] =
    "[run] --model M --workload W [--tasks T] [--runs R]\n"
    "                 [--warmup N] [-o key=value]... [--json FILE|-]\n"
    "                 [--export-csv FILE] [--export-markdown FILE]";

static const char *run_names(const char **names, size_t *n, int models)
{
    *n = 0;
    if (models)
        for (size_t i = 0; conc_models[i]; i++)
            names[(*n)++] = conc_models[i]->name;
    else
        for (size_t i = 0; conc_workloads[i]; i++)
            names[(*n)++] = conc_workloads[i]->name;
    return NULL;
}

/* "unknown model 'thread'; did you mean 'threads'?" and exit 2. */
static int run_unknown(const char *what, const char *name)
{
    const char *names[32];
    size_t n;
    const char *hint;

    run_names(names, &n, strcmp(what, "model") == 0);
    hint = conc_suggest(name, names, n);
    if (hint)
        return conc_usage_error("unknown %s '%s'; did you mean '%s'?", what,
                                name, hint);
    return conc_usage_error("unknown %s '%s' (see 'concbench list')", what,
                            name);
}

/* "Lateness" from "lateness_ns". */
static void run_op_label(const char *op_name, char *buf, size_t len)
{
    snprintf(buf, len, "%s", op_name);
    buf[strcspn(buf, "_")] = '\0';
    if (buf[0] >= 'a' && buf[0] <= 'z')
        buf[0] = (char)(buf[0] - 'a' + 'A');
}

static void run_print_summary(FILE *f, const struct conc_cell *cell,
                              const struct conc_cell_result *res)
{
    const struct conc_summary *w = &res->wall;
    char a[32], b[32], c[32], d[32];
    double user = 0, sys = 0, rss = 0;
    const struct conc_run_stats *last;

    fprintf(f, "%s under %s, %u task%s", cell->workload->name,
            cell->model->name, cell->tasks, cell->tasks == 1 ? "" : "s");
    for (int pass = 0; pass < 2; pass++) {
        const struct conc_params *p = pass ? &cell->wp : &cell->mp;
        for (int i = 0; p->opts && p->opts[i].key; i++)
            if (p->v[i].present)
                fprintf(f, ", %s=%s", p->opts[i].key, p->v[i].s);
    }
    fputc('\n', f);
    if (res->nruns == 0)
        return;
    last = &res->runs[res->nruns - 1];
    for (unsigned i = 0; i < res->nruns; i++) {
        user += (double)res->runs[i].user_ns / res->nruns;
        sys += (double)res->runs[i].sys_ns / res->nruns;
        rss = rss > (double)res->runs[i].max_rss_kib
                  ? rss : (double)res->runs[i].max_rss_kib;
    }
    fprintf(f, "  Result:              %llu %s\n",
            (unsigned long long)last->totals.result,
            res->failed ? "\xe2\x9c\x97" : "\xe2\x9c\x93");
    if (w->n) {
        fprintf(f, "  Time (mean \xc2\xb1 \xcf\x83):     %s \xc2\xb1 %s"
                   "    [User: %s, System: %s]\n",
                conc_fmt_ns(a, sizeof(a), w->mean),
                conc_fmt_ns(b, sizeof(b), w->stddev),
                conc_fmt_ns(c, sizeof(c), user),
                conc_fmt_ns(d, sizeof(d), sys));
        fprintf(f, "  Range (min \xe2\x80\xa6 max):   %s \xe2\x80\xa6 %s"
                   "    %zu run%s", conc_fmt_ns(a, sizeof(a), w->min),
                conc_fmt_ns(b, sizeof(b), w->max), w->n, w->n == 1 ? "" : "s");
        if (w->outliers)
            fprintf(f, " (%zu outlier%s)", w->outliers,
                    w->outliers == 1 ? "" : "s");
        fprintf(f, "\n");
        fprintf(f, "  95%% CI of the mean:  %s \xe2\x80\xa6 %s\n",
                conc_fmt_ns(a, sizeof(a), w->ci95_lo),
                conc_fmt_ns(b, sizeof(b), w->ci95_hi));
    }
    fprintf(f, "  Task (p50 \xe2\x80\xa6 p99):    %s \xe2\x80\xa6 %s\n",
            conc_fmt_ns(a, sizeof(a), (double)last->task_ns.p50),
            conc_fmt_ns(b, sizeof(b), (double)last->task_ns.p99));
    if (cell->workload->op_name && last->op_count) {
        char label[32];
        run_op_label(cell->workload->op_name, label, sizeof(label));
        fprintf(f, "  %-9s (p50 \xe2\x80\xa6 p99): %s \xe2\x80\xa6 %s\n", label,
                conc_fmt_ns(a, sizeof(a), (double)last->op_ns.p50),
                conc_fmt_ns(b, sizeof(b), (double)last->op_ns.p99));
    }
    fprintf(f, "  Peak RSS:            %.1f MiB\n", rss / 1024);
    if (last->note[0])
        fprintf(f, "  %s\n", last->note);
}

int cmd_run(int argc, char **argv)
{
    const char *model = NULL, *workload = NULL, *json = NULL, *csv = NULL,
               *md = NULL;
    unsigned long long tasks = 1, runs = 5, warmup = 1;
    struct conc_flag_list opts;
    const struct conc_flag flags[] = {
        { CONC_FLAG_STRING, 'm', "model", &model, "M",
          "how tasks run: see the models below", 0, 0 },
        { CONC_FLAG_STRING, 'w', "workload", &workload, "W",
          "what each task does: see the workloads below", 0, 0 },
        { CONC_FLAG_COUNT, 't', "tasks", &tasks, "T",
          "how many tasks (default 1, at most 1e6)", 1, RUN_TASKS_MAX },
        { CONC_FLAG_COUNT, 'r', "runs", &runs, "R", "timed runs (default 5)",
          1, 10000 },
        { CONC_FLAG_COUNT, 0, "warmup", &warmup, "N",
          "untimed runs first (default 1)", 0, 1000 },
        { CONC_FLAG_LIST, 'o', NULL, &opts, "key=value",
          "a model or workload option (repeatable; each key once)", 0, 0 },
        { CONC_FLAG_STRING, 0, "json", &json, "FILE",
          "write the JSON report ('-': stdout)", 0, 0 },
        { CONC_FLAG_STRING, 0, "export-csv", &csv, "FILE",
          "one CSV row per run", 0, 0 },
        { CONC_FLAG_STRING, 0, "export-markdown", &md, "FILE",
          "the summary as a Markdown table", 0, 0 },
        { CONC_FLAG_END },
    };
    const struct conc_command cmd = {
        .name = "run", .synopsis = run_synopsis, .flags = flags,
        .more_help = conc_list_print,
    };
    struct conc_operands ops;
    const struct conc_model *m;
    const struct conc_workload *w;
    struct conc_cell cell;
    struct conc_cell_result res;
    int rc = conc_flags_parse(&cmd, argc, argv, &ops);

    if (rc != CONC_FLAGS_OK) {
        rc = rc == CONC_FLAGS_HELP ? CONC_EXIT_OK : rc;
        goto out;
    }
    rc = CONC_EXIT_USAGE;
    if (!model || !workload) {
        conc_flags_error(&cmd, "missing %s", !model ? "--model"
                                                   : "--workload");
        goto out;
    }
    if (!(m = conc_model_find(model))) {
        rc = run_unknown("model", model);
        goto out;
    }
    if (!(w = conc_workload_find(workload))) {
        if (!conc_mix_is(workload)) /* a mix said why already */
            rc = run_unknown("workload", workload);
        goto out;
    }
    if (conc_cell_init(&cell, m, w, (unsigned)tasks, (unsigned)runs,
                       (unsigned)warmup)) {
        rc = CONC_EXIT_FAILED;
        goto out_cell;
    }
    for (size_t i = 0; i < opts.n; i++)
        if (conc_cell_set(&cell, opts.v[i]))
            goto out_cell;
    /* Every output path is checked before the first run, so a typo in
       --json does not cost a whole benchmark. */
    {
        const struct conc_output outs[] = {
            { "--json", json }, { "--export-csv", csv },
            { "--export-markdown", md },
        };
        if (conc_outputs_check(outs, 3))
            goto out_cell;
    }

    rc = conc_cell_run(&cell, &res);
    /* Interrupted: no summary and no file, only the exit code 128+sig. */
    if (rc == CONC_EXIT_UNAVAILABLE || rc == CONC_EXIT_USAGE || rc >= 128) {
        conc_cell_result_fini(&res);
        goto out_cell;
    }
    run_print_summary(conc_output_is_stdout(json) ||
                              conc_output_is_stdout(csv) ||
                              conc_output_is_stdout(md)
                          ? stderr : stdout,
                      &cell, &res);
    if (json) {
        struct conc_report *rep = conc_report_new(argc, argv);
        conc_report_add(rep, &cell, &res);
        if (conc_report_write(rep, json))
            rc = CONC_EXIT_FAILED;
        conc_report_free(rep);
    }
    if (csv && conc_export_csv(csv, &cell, &res, 1))
        rc = CONC_EXIT_FAILED;
    if (md && conc_export_markdown(md, &cell, &res, 1))
        rc = CONC_EXIT_FAILED;
    conc_cell_result_fini(&res);
out_cell:
    conc_cell_fini(&cell);
out:
    conc_flags_fini(&ops);
    return rc;
}
