/*
 * concbench run: one cell (a model, a workload, a task count), timed over
 * --runs runs after --warmup untimed ones, printed like hyperfine and
 * optionally written as JSON, CSV and Markdown.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
#include "lib/term.h"

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

/* Columns text takes on a terminal: UTF-8 continuation bytes take none. */
static size_t run_columns(const char *text)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

/* The column every value of the summary starts at, after "  label:". */
#define RUN_VALUE_COLUMN 24

/* "  Label:" padded so that what follows starts at RUN_VALUE_COLUMN. */
static void run_label(FILE *f, const char *label)
{
    size_t n = 2 + run_columns(label);

    fprintf(f, "  %s", label);
    do
        fputc(' ', f);
    while (++n < RUN_VALUE_COLUMN);
}

/*
 * A workload's or model's note ("Overload:   0.0 of 100 req/s; ..."): a
 * leading "Label:" and its padding are laid out as the summary's own
 * lines, so that its value starts in the same column.
 */
static void run_note(FILE *f, const char *note)
{
    const char *colon = strchr(note, ':'), *value;
    char label[64];

    if (!colon || colon[1] != ' ' ||
        (size_t)(colon - note) + 2 > sizeof(label) || strchr(note, '\n')) {
        fprintf(f, "  %s\n", note);
        return;
    }
    snprintf(label, sizeof(label), "%.*s", (int)(colon - note + 1), note);
    for (value = colon + 1; *value == ' '; value++)
        ;
    run_label(f, label);
    fprintf(f, "%s\n", value);
}

static void run_print_summary(FILE *f, const struct conc_cell *cell,
                              const struct conc_cell_result *res)
{
    const struct conc_summary *w = &res->wall;
    char a[32], b[32], c[32], d[32];
    double user = 0, sys = 0, rss = 0, total = 0;
    const struct conc_run_stats *last;
    struct conc_paint p;

    conc_term_paint(&p, fileno(f));
    fprintf(f, "%s%s under %s, %u task%s", p.bold, cell->workload->name,
            cell->model->name, cell->tasks, cell->tasks == 1 ? "" : "s");
    /* The options the user gave, as they were meant (gil=on for gil=yes):
       a default, or an option this run does not use, says nothing here
       (the report has them all). */
    for (int pass = 0; pass < 2; pass++) {
        const struct conc_params *o = pass ? &cell->wp : &cell->mp;
        for (int i = 0; o->opts && o->opts[i].key; i++) {
            char val[256], *safe;
            if (!o->v[i].set)
                continue;
            safe = conc_sanitize_dup(conc_cell_opt_text(o, i, val,
                                                        sizeof(val)));
            fprintf(f, ", %s=%s", o->opts[i].key, safe);
            free(safe);
        }
    }
    fprintf(f, "%s\n", p.reset);
    if (res->nruns == 0)
        return;
    last = &res->runs[res->nruns - 1];
    for (unsigned i = 0; i < res->nruns; i++) {
        const struct conc_run_stats *r = &res->runs[i];
        user += (double)r->user_ns / res->nruns;
        sys += (double)r->sys_ns / res->nruns;
        rss = rss > (double)r->max_rss_kib ? rss : (double)r->max_rss_kib;
        total = total > (double)r->total_rss_kib ? total
                                                  : (double)r->total_rss_kib;
    }
    run_label(f, "Result:");
    fprintf(f, "%llu %s%s%s\n", (unsigned long long)last->totals.result,
            res->failed ? p.red : p.green,
            res->failed ? "\xe2\x9c\x97" : "\xe2\x9c\x93", p.reset);
    if (w->n >= 2) {
        run_label(f, "Time (mean \xc2\xb1 \xcf\x83):");
        fprintf(f, "%s%s%s \xc2\xb1 %s%s%s    [User: %s%s%s, System: %s%s%s]"
                   "\n", p.green, conc_fmt_ns(a, sizeof(a), w->mean), p.reset,
                p.green, conc_fmt_ns(b, sizeof(b), w->stddev), p.reset,
                p.cyan, conc_fmt_ns(c, sizeof(c), user), p.reset, p.cyan,
                conc_fmt_ns(d, sizeof(d), sys), p.reset);
        run_label(f, "Range (min \xe2\x80\xa6 max):");
        fprintf(f, "%s%s%s \xe2\x80\xa6 %s%s%s    %zu runs", p.cyan,
                conc_fmt_ns(a, sizeof(a), w->min), p.reset, p.magenta,
                conc_fmt_ns(b, sizeof(b), w->max), p.reset, w->n);
        /* MAD over fewer runs calls almost any spread an outlier. */
        if (w->outliers && w->n >= CONC_OUTLIER_MIN_RUNS)
            fprintf(f, " (%zu outlier%s)", w->outliers,
                    w->outliers == 1 ? "" : "s");
        fprintf(f, "\n");
        run_label(f, "95% CI of the mean:");
        fprintf(f, "%s \xe2\x80\xa6 %s\n",
                conc_fmt_ns(a, sizeof(a), w->ci95_lo > 0 ? w->ci95_lo : 0),
                conc_fmt_ns(b, sizeof(b), w->ci95_hi));
    } else if (w->n == 1) {
        /* One run has no spread and no interval: none is shown. */
        run_label(f, "Time (1 run):");
        fprintf(f, "%s%s%s    [User: %s%s%s, System: %s%s%s]\n", p.green,
                conc_fmt_ns(a, sizeof(a), w->mean), p.reset, p.cyan,
                conc_fmt_ns(c, sizeof(c), user), p.reset, p.cyan,
                conc_fmt_ns(d, sizeof(d), sys), p.reset);
    }
    run_label(f, "Task (p50 \xe2\x80\xa6 p99):");
    fprintf(f, "%s \xe2\x80\xa6 %s\n",
            conc_fmt_ns(a, sizeof(a), (double)last->task_ns.p50),
            conc_fmt_ns(b, sizeof(b), (double)last->task_ns.p99));
    if (cell->workload->op_name && last->op_count) {
        char label[64], op[32];
        run_op_label(cell->workload->op_name, op, sizeof(op));
        snprintf(label, sizeof(label), "%s (p50 \xe2\x80\xa6 p99):", op);
        run_label(f, label);
        fprintf(f, "%s \xe2\x80\xa6 %s\n",
                conc_fmt_ns(a, sizeof(a), (double)last->op_ns.p50),
                conc_fmt_ns(b, sizeof(b), (double)last->op_ns.p99));
    }
    run_label(f, "Peak RSS:");
    fprintf(f, "%.1f MiB\n", rss / 1024);
    /* Child processes: what they all took, not only the largest. */
    if (total > rss) {
        run_label(f, "All processes:");
        fprintf(f, "%.1f MiB (this process's peak RSS and each child's own "
                   "pages)\n", total / 1024);
    }
    if (last->note[0]) {
        char *note = conc_sanitize_dup(last->note);
        run_note(f, note);
        free(note);
    }
}

/*
 * The progress line of a long `run` on a terminal: once a second has
 * passed since the first run began, a thread redraws "run 2/5 · 3.1 s" on
 * stderr four times a second until the last run ends. It writes with
 * write(2) alone (no stdio lock a forked child could inherit held) and
 * blocks every signal, which the thread running the model must get.
 */
struct run_ticker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool started, stop, shown, busy, warm;
    unsigned run, of;
    uint64_t first_ns, run_ns, last_wall_ns;
};

#define RUN_TICK_AFTER_NS CONC_NS_PER_S
#define RUN_TICK_NS (250 * CONC_NS_PER_MS)

/* "  run 2/5 · 3.1 s (the last took 6.0 s)" fitted to the terminal. */
static void run_ticker_draw(struct run_ticker *t, uint64_t now)
{
    char line[256], el[32], last[32];
    unsigned width = conc_term_width(STDERR_FILENO);
    int n;

    conc_fmt_ns(el, sizeof(el), (double)(now - t->run_ns));
    conc_fmt_ns(last, sizeof(last), (double)t->last_wall_ns);
    n = snprintf(line, sizeof(line), "\r\033[K  %s %u/%u \xc2\xb7 %s%s%s%s",
                 t->warm ? "warmup" : "run", t->run, t->of, el,
                 t->last_wall_ns ? " (the last took " : "",
                 t->last_wall_ns ? last : "", t->last_wall_ns ? ")" : "");
    if (n < 0)
        return;
    /* 4 bytes of "\r\033[K" and 1 extra byte of the middle dot take no
       column; stop a column short of the edge, so nothing wraps. */
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    if ((unsigned)n - 5 > width - 1)
        n = (int)(width - 1 + 5);
    line[n++] = '\r';
    if (write(STDERR_FILENO, line, (size_t)n) > 0)
        t->shown = true;
}

static void *run_ticker_main(void *arg)
{
    struct run_ticker *t = arg;

    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        struct timespec ts;
        uint64_t now = conc_now_ns();

        if (t->busy && t->first_ns && now - t->first_ns >= RUN_TICK_AFTER_NS)
            run_ticker_draw(t, now);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)RUN_TICK_NS;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->wake, &t->lock, &ts);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* The cell's watcher: a run begins (wall 0) or ends. */
static void run_ticker_run(void *arg, bool warm, unsigned run, unsigned of,
                           uint64_t wall_ns)
{
    struct run_ticker *t = arg;
    uint64_t now = conc_now_ns();

    pthread_mutex_lock(&t->lock);
    if (!wall_ns) {
        t->busy = true;
        t->warm = warm;
        t->run = run;
        t->of = of;
        t->run_ns = now;
        if (!t->first_ns)
            t->first_ns = now;
    } else {
        t->busy = false;
        t->last_wall_ns = wall_ns;
    }
    pthread_mutex_unlock(&t->lock);
}

/* Starts the ticker when stderr is a terminal; false when it is not. */
static bool run_ticker_start(struct run_ticker *t)
{
    sigset_t all, old;

    memset(t, 0, sizeof(*t));
    if (!isatty(STDERR_FILENO))
        return false;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    t->started = pthread_create(&t->thread, NULL, run_ticker_main, t) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!t->started) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
    }
    return t->started;
}

/* Stops the ticker and erases its line. */
static void run_ticker_stop(struct run_ticker *t)
{
    if (!t->started)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    if (t->shown && write(STDERR_FILENO, "\r\033[K", 4) < 0)
        t->shown = false;
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    t->started = false;
}

/*
 * Off a terminal (a CI log), a long `run` is not silent: after a run ends,
 * once RUN_LOG_NS have gone by since the command began or since the last
 * line, a line says which run it was, what it took and the ETA.
 */
struct run_log {
    uint64_t start_ns, logged_ns, timed_ns;
    unsigned timed;
};

#define RUN_LOG_NS (5 * CONC_NS_PER_S)

static void run_log_run(void *arg, bool warm, unsigned run, unsigned of,
                        uint64_t wall_ns)
{
    struct run_log *l = arg;
    uint64_t now = conc_now_ns();
    char took[32], eta[32];

    if (!wall_ns)
        return;
    if (!warm) {
        l->timed++;
        l->timed_ns += wall_ns;
    }
    if (now - (l->logged_ns ? l->logged_ns : l->start_ns) < RUN_LOG_NS)
        return;
    l->logged_ns = now;
    conc_fmt_ns(took, sizeof(took), (double)wall_ns);
    if (warm || run >= of) {
        fprintf(stderr, "run: %s %u/%u took %s\n", warm ? "warmup" : "run",
                run, of, took);
    } else {
        conc_fmt_ns(eta, sizeof(eta),
                    (double)l->timed_ns / l->timed * (of - run));
        fprintf(stderr, "run: run %u/%u took %s; ETA %s\n", run, of, took,
                eta);
    }
    fflush(stderr);
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
    struct run_ticker ticker;
    struct run_log log = { conc_now_ns(), 0, 0, 0 };
    struct conc_cell_watch watch = { run_ticker_run, &ticker },
                           logwatch = { run_log_run, &log };
    FILE *human;
    char *label;
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

    if (run_ticker_start(&ticker))
        cell.watch = &watch;
    else
        cell.watch = &logwatch;
    rc = conc_cell_run(&cell, &res);
    run_ticker_stop(&ticker);
    cell.watch = NULL;
    /* Interrupted: no summary and no file, only the exit code 128+sig. */
    if (rc == CONC_EXIT_UNAVAILABLE || rc == CONC_EXIT_USAGE || rc >= 128) {
        conc_cell_result_fini(&res);
        goto out_cell;
    }
    human = conc_output_is_stdout(json) || conc_output_is_stdout(csv) ||
                    conc_output_is_stdout(md)
                ? stderr : stdout;
    run_print_summary(human, &cell, &res);
    fflush(human);
    label = conc_cell_label(&cell, NULL);
    conc_cell_warn_print(&res, label);
    free(label);
    if (json) {
        struct conc_report *rep = conc_report_new(argc, argv);
        conc_report_add(rep, &cell, &res);
        if (conc_report_write(rep, json))
            rc = CONC_EXIT_FAILED;
        conc_report_free(rep);
    }
    if (csv && conc_export_csv(csv, &cell, &res, 1))
        rc = CONC_EXIT_FAILED;
    if (md && conc_export_markdown(md, &cell, &res, NULL, 1))
        rc = CONC_EXIT_FAILED;
    conc_cell_result_fini(&res);
out_cell:
    conc_cell_fini(&cell);
out:
    conc_flags_fini(&ops);
    return rc;
}
