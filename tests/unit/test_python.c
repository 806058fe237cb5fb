/*
 * The python model's C side without an interpreter: the script's answer
 * parsed into task outputs and the self-timed section (and refused when it
 * is malformed), the arguments the script is given, and the cell's hooks
 * the model relies on (self timing, facts, unavailable and refused cells).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cell.h"
#include "cmd/exit.h"
#include "lib/hist.h"
#include "models/python.h"

extern const struct conc_workload conc_workload_primes, conc_workload_sleep,
    conc_workload_counter;

/* A run of `tasks` tasks with a fresh histogram and outputs. */
struct fixture {
    struct conc_run r;
    struct conc_task_out out[4];
    struct conc_hist hist;
};

static void fixture_init(struct fixture *f, unsigned tasks)
{
    memset(f, 0, sizeof(*f));
    f->r.tasks = tasks;
    f->r.out = f->out;
    f->r.w = &conc_workload_sleep;
    for (unsigned i = 0; i < 4; i++)
        f->out[i].op_ns = &f->hist;
}

static const char good[] =
    "run 1000 5000000 300 200 14000 3 4\n"
    "task 1 2000 4000 0 5 5 0 0 0 0 0 0 0 0\n"
    "task 0 1500 3500 0 7 7 64 1 0 2 0 0 0 3\n"
    "ops 0 10 20 30\n"
    "ops 1 40 50\n"
    "python 51053296 1 0 cpython 3.11.2 (main, Apr 28 2025) [GCC 12.2.0]\n"
    "end\n";

/* parse: the text is changed in place, so each test has its own copy. */
static int parse(struct fixture *f, const char *text)
{
    char *copy = strdup(text);
    int err = python_report_parse(&f->r, copy);

    free(copy);
    return err;
}

Test(python_report, fills_tasks_timing_and_facts)
{
    struct fixture f;

    fixture_init(&f, 2);
    cr_assert_eq(parse(&f, good), 0);
    cr_assert(f.r.self.set);
    cr_assert_eq(f.r.self.start_ns, 1000);
    cr_assert_eq(f.r.self.wall_ns, 5000000);
    cr_assert_eq(f.r.self.user_ns, 300);
    cr_assert_eq(f.r.self.sys_ns, 200);
    cr_assert_eq(f.r.self.max_rss_kib, 14000);
    cr_assert_eq(f.r.self.ctxsw_voluntary, 3);
    cr_assert_eq(f.r.self.ctxsw_involuntary, 4);
    cr_assert_eq(f.out[0].start_ns, 1500);
    cr_assert_eq(f.out[0].end_ns, 3500);
    cr_assert_eq(f.out[0].result, 7);
    cr_assert_eq(f.out[0].bytes, 64);
    cr_assert_eq(f.out[0].errors[CONC_ERR_REFUSED], 1);
    cr_assert_eq(f.out[0].errors[CONC_ERR_TIMEOUT], 2);
    cr_assert_eq(f.out[1].ops, 5);
    /* 5 values and the 3 zeros of task 0 (uncontended acquires). */
    cr_assert_eq(f.hist.count, 8);
    cr_assert_eq(f.hist.max, 50);
    cr_assert_eq(f.r.self.nfacts, 3);
    cr_assert_str_eq(f.r.self.facts[0].name, "python_hexversion");
    cr_assert_eq(f.r.self.facts[0].value, 51053296.0);
    cr_assert_str_eq(f.r.self.facts[1].name, "python_gil");
    cr_assert_eq(f.r.self.facts[1].value, 1.0);
    cr_assert_str_eq(f.r.self.facts[2].name, "python_free_threaded");
    cr_assert_eq(f.r.self.facts[2].value, 0.0);
    cr_assert_str_eq(f.r.self.note, "Interpreter:         CPython 3.11.2 "
                     "(main, Apr 28 2025) [GCC 12.2.0], GIL on");
}

Test(python_report, a_failed_task_keeps_its_status)
{
    struct fixture f;

    fixture_init(&f, 1);
    cr_assert_eq(parse(&f, "run 1 2 3 4 5 6 7\n"
                           "task 0 10 20 -5 0 0 0 0 0 0 0 0 0 0\n"
                           "python 51053296 0 1 cpython 3.13.0\nend\n"),
                 0);
    cr_assert_eq(f.out[0].status, -EIO);
    cr_assert_eq(f.r.self.facts[1].value, 0.0);
    cr_assert_eq(f.r.self.facts[2].value, 1.0);
    cr_assert(strstr(f.r.self.note, "GIL off"));
}

Test(python_report, refuses_what_does_not_parse)
{
    static const char *const bad[] = {
        /* no end line; no run line; no python line; a task missing */
        "run 1 2 3 4 5 6 7\ntask 0 1 2 0 0 0 0 0 0 0 0 0 0 0\n"
        "python 1 1 0 cpython 3\n",
        "task 0 1 2 0 0 0 0 0 0 0 0 0 0 0\npython 1 1 0 cpython 3\nend\n",
        "run 1 2 3 4 5 6 7\ntask 0 1 2 0 0 0 0 0 0 0 0 0 0 0\nend\n",
        "run 1 2 3 4 5 6 7\npython 1 1 0 cpython 3\nend\n",
        /* a task out of range, told twice, a positive status, short */
        "run 1 2 3 4 5 6 7\ntask 1 1 2 0 0 0 0 0 0 0 0 0 0 0\n"
        "python 1 1 0 cpython 3\nend\n",
        "run 1 2 3 4 5 6 7\ntask 0 1 2 0 0 0 0 0 0 0 0 0 0 0\n"
        "task 0 1 2 0 0 0 0 0 0 0 0 0 0 0\npython 1 1 0 cpython 3\nend\n",
        "run 1 2 3 4 5 6 7\ntask 0 1 2 5 0 0 0 0 0 0 0 0 0 0\n"
        "python 1 1 0 cpython 3\nend\n",
        "run 1 2 3 4 5 6 7\ntask 0 1 2 0 0 0 0 0 0 0 0 0 0\n"
        "python 1 1 0 cpython 3\nend\n",
        /* garbage, a negative op value, a run line too long */
        "hello\n",
        "run 1 2 3 4 5 6 7\ntask 0 1 2 0 0 0 0 0 0 0 0 0 0 0\nops 0 -3\n"
        "python 1 1 0 cpython 3\nend\n",
        "run 1 2 3 4 5 6 7 8\ntask 0 1 2 0 0 0 0 0 0 0 0 0 0 0\n"
        "python 1 1 0 cpython 3\nend\n",
        "",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fixture f;
        fixture_init(&f, 1);
        cr_assert_eq(parse(&f, bad[i]), -EPROTO, "accepted #%zu: %s", i,
                     bad[i]);
    }
}

Test(python_report, facts_line)
{
    struct python_facts f;

    cr_assert_eq(python_facts_parse("51446000 0 1 cpython 3.13.0 "
                                    "experimental free-threading build", &f),
                 0);
    cr_assert_eq(f.hexversion, 51446000);
    cr_assert(!f.gil);
    cr_assert(f.free_threaded);
    cr_assert_str_eq(f.impl, "cpython");
    cr_assert_str_eq(f.version, "3.13.0 experimental free-threading build");
    cr_assert_eq(python_facts_parse("3.11", &f), -EPROTO);
}

/* The arguments after "run FD API" for workload w with options kv. */
static int args_for(const struct conc_workload *w, const char *const *kv,
                    unsigned tasks, unsigned workers, char **argv, char *buf,
                    size_t len, struct conc_params *wp)
{
    struct conc_run r = { .w = w, .tasks = tasks, .wp = wp };
    int argc = 0;

    cr_assert_eq(conc_params_init(wp, w->opts), 0);
    for (; kv && *kv; kv += 2)
        cr_assert_eq(conc_params_set(wp, kv[0], kv[1]), 0);
    argv[0] = NULL;
    cr_assert_eq(python_run_args(&r, workers, argv, &argc, buf, len), 0);
    return argc;
}

Test(python_args, workload_options_as_concbench_parsed_them)
{
    static const char *const primes[] = { "n", "1e7", NULL };
    static const char *const counter[] = { "lock", "none", "hold", "2us",
                                           NULL };
    char *argv[PYTHON_ARGV_MAX], buf[4096];
    struct conc_params wp;
    int argc;

    argc = args_for(&conc_workload_primes, primes, 2, 0, argv, buf,
                    sizeof(buf), &wp);
    /* segment has no default and was not given: not passed. */
    cr_assert_eq(argc, 4);
    cr_assert_str_eq(argv[0], "primes");
    cr_assert_str_eq(argv[1], "2");
    cr_assert_str_eq(argv[2], "0");
    cr_assert_str_eq(argv[3], "n=10000000");
    cr_assert_null(argv[4]);
    conc_params_fini(&wp);

    argc = args_for(&conc_workload_counter, counter, 4, 3, argv, buf,
                    sizeof(buf), &wp);
    cr_assert_str_eq(argv[2], "3");
    bool lock = false, hold = false, yield = false;
    for (int i = 3; i < argc; i++) {
        lock |= strcmp(argv[i], "lock=none") == 0;
        hold |= strcmp(argv[i], "hold=2000") == 0;
        yield |= strcmp(argv[i], "yield_inside=0") == 0;
    }
    cr_assert(lock && hold && yield);
    conc_params_fini(&wp);
}

/* ---- the cell's hooks, with a stand-in model (no interpreter) */

static int fake_supports_rc;

static int fake_supports(const struct conc_params *mp,
                         const struct conc_workload *w,
                         const struct conc_params *wp, const char **missing)
{
    (void)mp;
    (void)w;
    (void)wp;
    *missing = "a stand-in interpreter";
    return fake_supports_rc;
}

/* Runs nothing, answers like the script: one wake a task, self-timed. */
static int fake_run(struct conc_run *r)
{
    for (unsigned i = 0; i < r->tasks; i++) {
        r->out[i].start_ns = 100;
        r->out[i].end_ns = 200;
        r->out[i].result = r->out[i].ops = 1;
        conc_hist_add_atomic(r->out[i].op_ns, 7);
    }
    r->self.set = true;
    r->self.start_ns = 42;
    r->self.wall_ns = 123456789;
    r->self.user_ns = 11;
    r->self.sys_ns = 22;
    r->self.max_rss_kib = 33;
    r->self.facts[0] = (struct conc_metric){ "python_gil", 1 };
    r->self.nfacts = 1;
    snprintf(r->self.note, sizeof(r->self.note), "Interpreter: stand-in");
    return 0;
}

static const struct conc_opt fake_opts[] = { { NULL } };

static const struct conc_model fake = {
    .name = "fake", .summary = "", .opts = fake_opts,
    .supports = fake_supports, .run = fake_run,
};

static int fake_cell(struct conc_cell_result *res)
{
    struct conc_cell cell;
    int rc;

    cr_assert_eq(conc_cell_init(&cell, &fake, &conc_workload_sleep, 3, 2, 0),
                 0);
    cr_assert_eq(conc_cell_set(&cell, "count=1"), 0);
    rc = conc_cell_run(&cell, res);
    conc_cell_fini(&cell);
    return rc;
}

Test(python_cell, a_self_timed_run_replaces_the_cells_numbers)
{
    struct conc_cell_result res;

    fake_supports_rc = 0;
    cr_assert_eq(fake_cell(&res), CONC_EXIT_OK);
    cr_assert_eq(res.nruns, 2);
    for (unsigned i = 0; i < res.nruns; i++) {
        const struct conc_run_stats *s = &res.runs[i];
        cr_assert(!s->failed, "%s", s->why);
        cr_assert_eq(s->start_ns, 42);
        cr_assert_eq(s->wall_ns, 123456789);
        cr_assert_eq(s->user_ns, 11);
        cr_assert_eq(s->sys_ns, 22);
        cr_assert_eq(s->max_rss_kib, 33);
        cr_assert_eq(s->runqueue_threads, 0);
        cr_assert_eq(s->nextra, 1);
        cr_assert_str_eq(s->extra[0].name, "python_gil");
        cr_assert_str_eq(s->note, "Interpreter: stand-in");
        cr_assert_eq(s->op_count, 3);
    }
    conc_cell_result_fini(&res);
}

Test(python_cell, missing_is_unavailable_and_refused_is_usage)
{
    struct conc_cell_result res;

    fake_supports_rc = -ENOENT;
    cr_assert_eq(fake_cell(&res), CONC_EXIT_UNAVAILABLE);
    cr_assert_str_eq(res.skipped, "a stand-in interpreter");
    conc_cell_result_fini(&res);
    fake_supports_rc = -ENOTSUP;
    cr_assert_eq(fake_cell(&res), CONC_EXIT_USAGE);
    cr_assert_eq(res.err, -ENOTSUP);
    conc_cell_result_fini(&res);
}
