/*
 * compare's statistics (Mann-Whitney U, Hodges-Lehmann with Moses'
 * interval) against known values and brute force, their false-positive
 * rate over many seeds, the report loader on good and bad input, and the
 * verdict table of compare-verdict.c walked row by row with crafted runs.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd/compare.h"
#include "cmd/exit.h"
#include "cmd/report.h"
#include "cmd/stats.h"

/* xorshift64* and Box-Muller: deterministic normal noise per seed. */
static uint64_t rng_state;

static double rng_uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) * 0x1p-53;
}

static double rng_normal(void)
{
    double u = rng_uniform(), v = rng_uniform();
    return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

static void rng_seed(uint64_t seed)
{
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int i = 0; i < 4; i++)
        rng_uniform();
}

/* n samples of mean * (1 + sd * N(0,1)). */
static void rng_fill(double *x, size_t n, double mean, double sd)
{
    for (size_t i = 0; i < n; i++)
        x[i] = mean * (1 + sd * rng_normal());
}

Test(mann_whitney, complete_separation_is_exact, .timeout = 10)
{
    const double x[] = { 1, 2, 3, 4, 5 }, y[] = { 6, 7, 8, 9, 10 };
    bool exact;

    /* The one most extreme ordering per tail of C(10,5) = 252. */
    cr_assert_float_eq(conc_mann_whitney(x, 5, y, 5, &exact), 2.0 / 252,
                       1e-12);
    cr_assert(exact);
    cr_assert_float_eq(conc_mann_whitney(y, 5, x, 5, NULL), 2.0 / 252, 1e-12);
    cr_assert_float_eq(conc_mw_min_p(5, 5), 2.0 / 252, 1e-12);
    cr_assert_float_eq(conc_mw_min_p(4, 4), 2.0 / 70, 1e-12);
    cr_assert(conc_mw_min_p(4, 4) > 0.01 && conc_mw_min_p(5, 5) < 0.01);
    cr_assert_eq(conc_mann_whitney(x, 0, y, 5, NULL), 1);
}

/* Brute force: every way to pick m of the pooled values as "x". */
static double brute_p(const double *x, size_t m, const double *y, size_t n)
{
    double v[16], r[16], w = 0;
    size_t N = m + n, le = 0, ge = 0, total = 0;

    for (size_t i = 0; i < N; i++)
        v[i] = i < m ? x[i] : y[i - m];
    for (size_t i = 0; i < N; i++) {
        double below = 0, same = 0;
        for (size_t j = 0; j < N; j++) {
            below += v[j] < v[i];
            same += v[j] == v[i];
        }
        r[i] = below + (same + 1) / 2; /* midrank */
    }
    for (size_t i = 0; i < m; i++)
        w += r[i];
    for (unsigned mask = 0; mask < (1u << N); mask++) {
        double s = 0;
        if ((size_t)__builtin_popcount(mask) != m)
            continue;
        for (size_t i = 0; i < N; i++)
            if (mask & (1u << i))
                s += r[i];
        total++;
        le += s <= w + 1e-9;
        ge += s >= w - 1e-9;
    }
    double p = 2.0 * (double)(le < ge ? le : ge) / (double)total;
    return p > 1 ? 1 : p;
}

Test(mann_whitney, ties_match_brute_force, .timeout = 10)
{
    const double x[] = { 1, 2, 2, 3, 3, 3, 7 }, y[] = { 2, 3, 4, 4, 5, 8, 8, 9 };

    /* 0.039160839... from an independent big-integer count. */
    cr_assert_float_eq(conc_mann_whitney(x, 7, y, 8, NULL), 0.0391608391608,
                       1e-10);
    cr_assert_float_eq(conc_mann_whitney(x, 7, y, 8, NULL),
                       brute_p(x, 7, y, 8), 1e-12);
    for (uint64_t seed = 1; seed <= 30; seed++) {
        double a[6], b[7];
        rng_seed(seed);
        /* Coarse values, so ties are common. */
        for (int i = 0; i < 6; i++)
            a[i] = floor(4 * rng_uniform());
        for (int i = 0; i < 7; i++)
            b[i] = floor(4 * rng_uniform() + 0.8);
        cr_assert_float_eq(conc_mann_whitney(a, 6, b, 7, NULL),
                           brute_p(a, 6, b, 7), 1e-12, "seed %llu",
                           (unsigned long long)seed);
    }
}

Test(mann_whitney, forty_and_thirty_five_runs_are_exact, .timeout = 10)
{
    double x[40], y[35];
    bool exact = false;

    for (int i = 0; i < 40; i++)
        x[i] = i;
    for (int i = 0; i < 35; i++)
        y[i] = i + 9.5;
    /* The exact p, counted with big integers elsewhere, is 0.0121656; the
       counts are affordable here, so it is counted, not approximated (the
       approximation is tests/unit/test_stats.c's to check). */
    double p = conc_mann_whitney(x, 40, y, 35, &exact);
    cr_assert(exact);
    cr_assert(fabs(p - 0.0121656) < 1e-7, "p = %.9g", p);
    /* Every value tied: no evidence. */
    for (int i = 0; i < 40; i++)
        x[i] = 1;
    for (int i = 0; i < 35; i++)
        y[i] = 1;
    cr_assert_eq(conc_mann_whitney(x, 40, y, 35, NULL), 1);
}

/*
 * The false-positive rate: identical distributions over 400 seeds reject
 * at alpha about alpha of the time (the exact test is conservative). The
 * bounds are binomial 99.9% limits, so a calibrated test fails this once
 * in a thousand seeds sets, and these seeds are fixed.
 */
Test(mann_whitney, false_positive_rate_is_about_alpha, .timeout = 30)
{
    static const size_t sizes[][2] = { { 10, 10 }, { 7, 9 }, { 40, 40 } };

    for (size_t s = 0; s < 3; s++) {
        size_t m = sizes[s][0], n = sizes[s][1], hits05 = 0, hits01 = 0;
        for (uint64_t seed = 1; seed <= 400; seed++) {
            double a[40], b[40];
            rng_seed(seed * 7 + s);
            rng_fill(a, m, 100, 0.02);
            rng_fill(b, n, 100, 0.02);
            double p = conc_mann_whitney(a, m, b, n, NULL);
            hits05 += p < 0.05;
            hits01 += p < 0.01;
        }
        /* 400 * 0.05 = 20 expected; 400 * 0.01 = 4. */
        cr_assert(hits05 <= 33, "%zu vs %zu: %zu of 400 below 0.05", m, n,
                  hits05);
        cr_assert(hits01 <= 11, "%zu vs %zu: %zu of 400 below 0.01", m, n,
                  hits01);
        /* And it is not vacuous: some do reject at 0.05. */
        cr_assert(hits05 >= 6, "%zu vs %zu: only %zu of 400 below 0.05", m, n,
                  hits05);
    }
}

Test(mann_whitney, power_on_a_ten_percent_slowdown, .timeout = 10)
{
    for (uint64_t seed = 1; seed <= 50; seed++) {
        double a[10], b[10];
        rng_seed(seed);
        rng_fill(a, 10, 100, 0.02);
        rng_fill(b, 10, 110, 0.02);
        cr_assert(conc_mann_whitney(a, 10, b, 10, NULL) < 0.01, "seed %llu",
                  (unsigned long long)seed);
    }
}

Test(hodges_lehmann, shift_and_interval, .timeout = 10)
{
    const double x[] = { 1, 2, 3, 4, 5 }, y[] = { 4, 5, 6, 7, 8 };
    double est, lo, hi;

    cr_assert_eq(conc_hodges_lehmann(x, 5, y, 5, 0.95, &est, &lo, &hi), 0);
    cr_assert_float_eq(est, 3, 1e-12);
    /* 5 and 5: P(U <= 2) = 4/252 <= 0.025 < P(U <= 3), so k = 3 and the
       interval is the 3rd smallest and 3rd largest of the 25 differences,
       which are 0 and 6 here. */
    cr_assert_float_eq(lo, 0, 1e-12);
    cr_assert_float_eq(hi, 6, 1e-12);
    /* 3 and 3 cannot give 95%: the smallest tail is 1/20. */
    cr_assert_eq(conc_hodges_lehmann(x, 3, y, 3, 0.95, &est, &lo, &hi),
                 -EDOM);
    cr_assert(isinf(lo) && isinf(hi) && lo < 0);
    cr_assert_float_eq(est, 3, 1e-12);
}

Test(hodges_lehmann, interval_covers_the_true_shift, .timeout = 30)
{
    size_t covered = 0;

    for (uint64_t seed = 1; seed <= 400; seed++) {
        double a[12], b[9], est, lo, hi;
        rng_seed(seed);
        rng_fill(a, 12, 100, 0.03);
        rng_fill(b, 9, 105, 0.03 * 100 / 105.0);
        cr_assert_eq(conc_hodges_lehmann(a, 12, b, 9, 0.95, &est, &lo, &hi),
                     0);
        covered += lo <= 5 && 5 <= hi;
    }
    /* At least 95% by construction; 99.9% binomial lower limit is 366. */
    cr_assert(covered >= 366, "covered %zu of 400", covered);
}

static const char good_report[] =
    "{\"schema\":\"concbench/1\",\"concbench\":{\"version\":\"v1\"},"
    "\"host\":{\"cpu_model\":\"CPU X\",\"cpus\":4,\"mem_bytes\":1024,"
    "\"kernel\":\"Linux 6\"},\"started_at\":\"2024-01-01T00:00:00Z\","
    "\"results\":[{\"model\":\"threads\",\"model_options\":{\"workers\":2,"
    "\"gil\":\"off\"},\"workload\":\"primes\",\"workload_options\":{\"n\":"
    "1000},\"tasks\":4,\"warmup\":1,\"runs\":[{\"wall_ns\":10,\"user_ns\":3,"
    "\"task_ns\":{\"p50\":7,\"p99\":9},\"result\":168,\"result_ok\":true,"
    "\"failed\":false},{\"wall_ns\":12,\"result_ok\":true,\"failed\":true,"
    "\"why\":\"errors\"}],\"failed\":true},{\"model\":\"fork\","
    "\"model_options\":{},\"workload\":\"sleep\",\"workload_options\":{},"
    "\"tasks\":1,\"skipped\":\"unavailable\",\"failed\":false,\"host\":{"
    "\"cpu_model\":\"CPU Y\",\"cpus\":8}}]}";

Test(report_load, reads_cells_runs_and_metrics, .timeout = 10)
{
    struct conc_rfile *f;

    cr_assert_eq(conc_report_parse("good", good_report, strlen(good_report),
                                   &f), 0);
    cr_assert_eq(f->ncells, 2);
    cr_assert_str_eq(f->host.cpu_model, "CPU X");
    cr_assert_eq(f->host.cpus, 4);
    const struct conc_rcell *c = &f->cells[0];
    cr_assert_str_eq(c->model, "threads");
    cr_assert_eq(c->tasks, 4);
    /* Options sorted by key, so the id does not depend on their order. */
    cr_assert_str_eq(c->id, "threads{gil=off,workers=2} primes{n=1000} "
                            "tasks=4");
    cr_assert_eq(c->nruns, 2);
    cr_assert(!c->runs[0].failed && c->runs[1].failed);
    cr_assert_eq(conc_rrun_metric(&c->runs[0], "wall_ns"), 10);
    cr_assert_eq(conc_rrun_metric(&c->runs[0], "task_ns.p99"), 9);
    cr_assert(isnan(conc_rrun_metric(&c->runs[1], "task_ns.p99")));
    cr_assert_str_eq(c->host.fingerprint, f->host.fingerprint);
    /* The second cell carries its own host, as a merged report does. */
    cr_assert(f->cells[1].own_host);
    cr_assert_str_eq(f->cells[1].host.cpu_model, "CPU Y");
    cr_assert_str_eq(f->cells[1].skipped, "unavailable");
    cr_assert_eq(f->cells[1].nruns, 0);
    cr_assert_str_neq(f->cells[1].host.fingerprint, f->host.fingerprint);
    conc_rfile_free(f);
}

Test(report_load, rejects_every_truncation, .timeout = 30,
     .init = cr_redirect_stderr)
{
    size_t len = strlen(good_report);

    /* Every proper prefix is malformed JSON (the document is one object),
       and none may crash or be accepted. */
    for (size_t cut = 0; cut < len; cut++) {
        struct conc_rfile *f = (void *)1;
        cr_assert_eq(conc_report_parse("cut", good_report, cut, &f), -EINVAL,
                     "prefix of %zu bytes accepted", cut);
        cr_assert_null(f);
    }
}

Test(report_load, rejects_wrong_schema_and_types, .timeout = 10,
     .init = cr_redirect_stderr)
{
    static const char *const bad[] = {
        "[]",
        "{\"results\":[]}",
        "{\"schema\":\"concbench/9\",\"results\":[]}",
        "{\"schema\":1}",
        "{\"schema\":\"concbench/1\",\"host\":{\"cpu_model\":\"x\","
        "\"cpus\":1}}",
        "{\"schema\":\"concbench/1\",\"host\":{\"cpu_model\":\"x\","
        "\"cpus\":\"1\"},\"results\":[]}",
        "{\"schema\":\"concbench/1\",\"host\":{\"cpu_model\":\"x\","
        "\"cpus\":1},\"results\":[{\"model\":\"m\",\"workload\":\"w\","
        "\"tasks\":1,\"model_options\":{},\"workload_options\":{},"
        "\"runs\":[{\"wall_ns\":\"fast\"}]}]}",
        "{\"schema\":\"concbench/1\",\"host\":{\"cpu_model\":\"x\","
        "\"cpus\":1},\"results\":[{\"model\":\"m\",\"workload\":\"w\","
        "\"tasks\":0,\"model_options\":{},\"workload_options\":{},"
        "\"runs\":[]}]}",
        "{\"schema\":\"concbench/1\",\"host\":{\"cpu_model\":\"x\","
        "\"cpus\":1},\"results\":[{\"model\":\"m\",\"workload\":\"w\","
        "\"tasks\":1,\"model_options\":{\"a\":[1]},\"workload_options\":{},"
        "\"runs\":[]}]}",
        "{\"schema\":\"concbench/1\",\"schema\":\"concbench/1\"}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct conc_rfile *f = (void *)1;
        int err = conc_report_parse("bad", bad[i], strlen(bad[i]), &f);
        cr_assert(err == -EINVAL || err == -EPROTO, "case %zu: %d", i, err);
        cr_assert_null(f);
    }
}

/*
 * The verdict table (compare-verdict.c), one test a row, on cells made
 * here: each run carries one metric, wall_ns, unless told otherwise.
 */
#define CELL_MAX 64

struct fixture {
    struct conc_rcell cell;
    struct conc_rrun runs[CELL_MAX];
    double values[CELL_MAX];
};

static char *wall_name[] = { "wall_ns" };
static char *user_name[] = { "user_ns" };

/* f's cell with runs x[0..n), all failed or all passed. */
static const struct conc_rcell *mkcell(struct fixture *f, const double *x,
                                       size_t n, bool failed)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < n; i++) {
        f->values[i] = x[i];
        f->runs[i].failed = failed;
        f->runs[i].nmetrics = 1;
        f->runs[i].names = wall_name;
        f->runs[i].values = &f->values[i];
    }
    f->cell.runs = f->runs;
    f->cell.nruns = n;
    return &f->cell;
}

/* x[i] = start + i * step, i < n. */
static const double *ramp(double *x, size_t n, double start, double step)
{
    for (size_t i = 0; i < n; i++)
        x[i] = start + (double)i * step;
    return x;
}

static struct fixture fb, fn;

/* compare_row on base x[0..m) and new y[0..n) at threshold thr, alpha. */
static int verdict(struct conc_cmp_row *row, const double *x, size_t m,
                   const double *y, size_t n, double thr, double alpha,
                   double floor_pct)
{
    struct conc_cmp c = { .metric = "wall_ns", .unit = "ns",
                          .threshold_pct = thr, .alpha = alpha };

    memset(row, 0, sizeof(*row));
    row->base = mkcell(&fb, x, m, false);
    row->new = mkcell(&fn, y, n, false);
    row->label = "test";
    row->floor_pct = floor_pct;
    return compare_row(row, &c);
}

/* The note's interval as the table prints it, "[-3.1%, +12.0%]". */
static void ci_text(char *buf, size_t len, const struct conc_cmp_row *r)
{
    snprintf(buf, len, "[%+.1f%%, %+.1f%%]", r->ci_lo_pct, r->ci_hi_pct);
}

Test(verdict_table, row1_skipped, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[5];

    verdict(&row, ramp(x, 5, 100, 1), 5, x, 5, 5, 0.01, 0);
    fb.cell.skipped = "unavailable in this build";
    cr_assert_eq(compare_row(&row, &(struct conc_cmp){ .metric = "wall_ns",
                 .threshold_pct = 5, .alpha = 0.01 }), 0);
    cr_assert_str_eq(row.verdict, "skipped");
    cr_assert_str_eq(row.note, "skipped in base: unavailable in this build");
}

Test(verdict_table, row2_no_passed_run_in_new_is_a_regression, .timeout = 10)
{
    struct conc_cmp_row row = { .label = "test" };
    struct conc_cmp c = { .metric = "wall_ns", .threshold_pct = 5,
                          .alpha = 0.01 };
    double x[3];

    row.base = mkcell(&fb, ramp(x, 3, 100, 1), 3, false);
    row.new = mkcell(&fn, x, 3, true);
    cr_assert_eq(compare_row(&row, &c), 1);
    cr_assert_str_eq(row.verdict, "failed");
    cr_assert_str_eq(row.note, "no passed run in new (3 failed)");
}

Test(verdict_table, row3_no_passed_run_in_base_is_not, .timeout = 10)
{
    struct conc_cmp_row row = { .label = "test" };
    struct conc_cmp c = { .metric = "wall_ns", .threshold_pct = 5,
                          .alpha = 0.01 };
    double x[3];

    row.base = mkcell(&fb, ramp(x, 3, 100, 1), 3, true);
    row.new = mkcell(&fn, x, 3, false);
    cr_assert_eq(compare_row(&row, &c), 0);
    cr_assert_str_eq(row.verdict, "failed");
    cr_assert_str_eq(row.note, "no passed run in base (3 failed)");
}

Test(verdict_table, row4a_every_run_disturbed_is_noisy, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[10], y[10];
    struct conc_cmp c = { .metric = "wall_ns", .threshold_pct = 5,
                          .alpha = 0.01 };

    /* 10% slower, but every run of new was disturbed: not a verdict. */
    verdict(&row, ramp(x, 10, 100, 0.1), 10, ramp(y, 10, 110, 0.1), 10, 5,
            0.01, 0);
    for (size_t i = 0; i < 10; i++)
        fn.runs[i].disturbed = true;
    cr_assert_eq(compare_row(&row, &c), 0);
    cr_assert_str_eq(row.verdict, "noisy");
    cr_assert_str_eq(row.note, "every passed run in new was disturbed (10)");
    cr_assert_eq(row.disturbed_new, 10);
    /* Counted when asked: the slowdown shows. */
    c.keep_disturbed = true;
    cr_assert_eq(compare_row(&row, &c), 1);
    cr_assert_str_eq(row.verdict, "slower");
    cr_assert_eq(row.disturbed_new, 0);
}

Test(verdict_table, disturbed_runs_are_left_out_and_counted, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[12], y[12];
    struct conc_cmp c = { .metric = "wall_ns", .threshold_pct = 5,
                          .alpha = 0.01 };

    /* Two runs of new took twice as long while others ran: left out, the
       other ten show no change. */
    verdict(&row, ramp(x, 10, 100, 0.1), 10, ramp(y, 12, 100, 0.1), 12, 5,
            0.01, 0);
    fn.values[10] = fn.values[11] = 200;
    fn.runs[10].disturbed = fn.runs[11].disturbed = true;
    cr_assert_eq(compare_row(&row, &c), 0);
    cr_assert_str_eq(row.verdict, "unchanged");
    cr_assert_eq(row.n_new, 10);
    cr_assert_eq(row.disturbed_new, 2);
    cr_assert_str_eq(row.note, "95% CI within \xc2\xb1" "5%; 0+2 disturbed "
                     "runs left out");
}

Test(verdict_table, row4b_metric_absent_is_na, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[5];

    verdict(&row, ramp(x, 5, 100, 1), 5, x, 5, 5, 0.01, 0);
    for (size_t i = 0; i < 5; i++)
        fb.runs[i].names = user_name;
    cr_assert_eq(compare_row(&row, &(struct conc_cmp){ .metric = "wall_ns",
                 .threshold_pct = 5, .alpha = 0.01 }), 0);
    cr_assert_str_eq(row.verdict, "n/a");
    cr_assert_str_eq(row.note, "no 'wall_ns' in base");
}

Test(verdict_table, row5_slower, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[10], y[10];

    cr_assert_eq(verdict(&row, ramp(x, 10, 100, 0.1), 10,
                         ramp(y, 10, 110, 0.1), 10, 5, 0.01, 0), 1);
    cr_assert_str_eq(row.verdict, "slower");
    cr_assert(row.significant && row.p < 0.01 && row.ci_lo_pct > 5);
    cr_assert_float_eq(row.change_pct, 10 / 100.45 * 100, 1e-9);
    cr_assert_str_eq(row.note, "");
}

Test(verdict_table, row6_faster, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[10], y[10];

    cr_assert_eq(verdict(&row, ramp(x, 10, 100, 0.1), 10,
                         ramp(y, 10, 90, 0.1), 10, 5, 0.01, 0), 0);
    cr_assert_str_eq(row.verdict, "faster");
    cr_assert(row.significant && row.ci_hi_pct < -5);
}

Test(verdict_table, row7_significant_but_within_the_threshold, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[10], y[10];

    cr_assert_eq(verdict(&row, ramp(x, 10, 100, 0.1), 10,
                         ramp(y, 10, 102, 0.1), 10, 5, 0.01, 0), 0);
    cr_assert_str_eq(row.verdict, "unchanged");
    cr_assert(row.significant && row.ci_lo_pct > 0);
    cr_assert_str_eq(row.note, "significant but within the 5% threshold");
}

Test(verdict_table, row8_interval_within_the_threshold, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[10];

    /* The same runs on both sides: p = 1, the interval about 0. */
    cr_assert_eq(verdict(&row, ramp(x, 10, 100, 0.1), 10, x, 10, 5, 0.01,
                         0), 0);
    cr_assert_str_eq(row.verdict, "unchanged");
    cr_assert(!row.significant && row.p == 1);
    cr_assert(row.ci_lo_pct >= -5 && row.ci_hi_pct <= 5);
    cr_assert_str_eq(row.note, "95% CI within \xc2\xb1" "5%");
}

Test(verdict_table, row9a_too_few_runs_for_the_test, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[3], y[3];

    cr_assert_eq(verdict(&row, ramp(x, 3, 100, 1), 3, ramp(y, 3, 110, 1), 3,
                         5, 0.01, 0), 0);
    cr_assert_str_eq(row.verdict, "noisy");
    cr_assert_str_eq(row.note, "too few runs: 3 and 3 cannot reach p < 0.01 "
                               "(best 0.1)");
}

Test(verdict_table, row9b_too_few_runs_for_the_interval, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[3], y[4];

    /* At alpha 0.1, 3 and 4 runs can reach p = 2/35 = 0.057, but no 95%
       interval: its smallest tail is 1/35 > 0.025. */
    cr_assert_eq(verdict(&row, ramp(x, 3, 100, 1), 3, ramp(y, 4, 110, 1), 4,
                         5, 0.1, 0), 0);
    cr_assert_float_eq(row.p, 2.0 / 35, 1e-12);
    cr_assert(isinf(row.ci_lo_pct) && isinf(row.ci_hi_pct));
    cr_assert(!row.significant);
    cr_assert_str_eq(row.verdict, "noisy");
    cr_assert_str_eq(row.note, "too few runs for a 95% CI: 3 and 4");
}

Test(verdict_table, row9c_p_below_alpha_but_the_interval_holds_zero,
     .timeout = 10)
{
    struct conc_cmp_row row;
    double x[6], y[6] = { 99.5, 110, 111, 112, 113, 114 };
    char ci[64], want[160];

    /* New's smallest run is below every base run: U = 6, p = 60/924 =
       0.065 < 0.1, while the 95% interval's lower end (the 6th smallest
       difference) is 99.5 - 100 < 0. Before the table this was "slower". */
    cr_assert_eq(verdict(&row, ramp(x, 6, 100, 1), 6, y, 6, 5, 0.1, 0), 0);
    cr_assert(row.p < 0.1 && row.ci_lo_pct < 0 && row.ci_hi_pct > 0,
              "p %g ci %g %g", row.p, row.ci_lo_pct, row.ci_hi_pct);
    cr_assert(row.change_pct > 5 && !row.significant);
    cr_assert_str_eq(row.verdict, "noisy");
    ci_text(ci, sizeof(ci), &row);
    snprintf(want, sizeof(want), "p = %.2g < 0.1 but the 95%% CI %s "
             "includes 0", row.p, ci);
    cr_assert_str_eq(row.note, want);
}

Test(verdict_table, row9d_interval_beyond_zero_but_p_not_below_alpha,
     .timeout = 10)
{
    struct conc_cmp_row row;
    double x[6], y[6] = { 102.5, 110, 111, 112, 113, 114 };
    char ci[64], want[160];

    /* Three inversions: U = 3, p = 14/924 = 0.015 >= 0.01, while the 95%
       interval (6th smallest difference up) lies wholly above 0 and here
       wholly beyond the 2% threshold: the note must not call it wide. */
    cr_assert_eq(verdict(&row, ramp(x, 6, 100, 1), 6, y, 6, 2, 0.01, 0), 0);
    cr_assert_float_eq(row.p, 14.0 / 924, 1e-12);
    cr_assert(row.ci_lo_pct > 2, "ci %g", row.ci_lo_pct);
    cr_assert_str_eq(row.verdict, "noisy");
    ci_text(ci, sizeof(ci), &row);
    snprintf(want, sizeof(want), "p = 0.015 is not below 0.01, though the "
             "95%% CI %s excludes 0", ci);
    cr_assert_str_eq(row.note, want);
    cr_assert_null(strstr(row.note, "wider"));
}

Test(verdict_table, row9e_interval_reaches_beyond_the_threshold,
     .timeout = 10)
{
    struct conc_cmp_row row;
    double x[10], y[10];
    char ci[64], want[160];

    /* Wide spreads that overlap: no evidence either way. */
    cr_assert_eq(verdict(&row, ramp(x, 10, 70, 7), 10, ramp(y, 10, 72, 7),
                         10, 5, 0.01, 0), 0);
    cr_assert(row.p >= 0.01 && row.ci_lo_pct < -5 && row.ci_hi_pct > 5);
    cr_assert_str_eq(row.verdict, "noisy");
    ci_text(ci, sizeof(ci), &row);
    snprintf(want, sizeof(want), "95%% CI %s reaches beyond \xc2\xb1" "5%%",
             ci);
    cr_assert_str_eq(row.note, want);
}

Test(verdict_table, the_floor_raises_the_threshold, .timeout = 10)
{
    struct conc_cmp_row row;
    double x[10], y[10];

    /* +10% is slower at 5%, but not under a 15% noise floor. */
    cr_assert_eq(verdict(&row, ramp(x, 10, 100, 0.1), 10,
                         ramp(y, 10, 110, 0.1), 10, 5, 0.01, 15), 0);
    cr_assert_eq(row.threshold_pct, 15);
    cr_assert_str_eq(row.verdict, "unchanged");
    cr_assert_str_eq(row.note, "significant but within the 15% threshold");
    /* A floor under the threshold changes nothing. */
    cr_assert_eq(verdict(&row, x, 10, y, 10, 5, 0.01, 2.5), 1);
    cr_assert_eq(row.threshold_pct, 5);
    cr_assert_str_eq(row.verdict, "slower");
}

/*
 * Over many random cells, sizes and alphas, the verdicts keep the table's
 * promises: significant exactly when p < alpha and the interval shown
 * excludes 0, and slower/faster/unchanged only when the table allows.
 */
Test(verdict_table, invariants_over_random_cells, .timeout = 60)
{
    static const double alphas[] = { 0.01, 0.05, 0.1 };
    static const size_t sizes[][2] = { { 3, 3 }, { 4, 5 }, { 6, 6 },
                                       { 10, 10 }, { 7, 12 }, { 30, 30 } };

    for (uint64_t seed = 1; seed <= 600; seed++) {
        struct conc_cmp_row row;
        double x[30], y[30], alpha = alphas[seed % 3], thr = seed % 4 * 2.5;
        size_t m = sizes[seed % 6][0], n = sizes[seed % 6][1];

        rng_seed(seed);
        rng_fill(x, m, 100, 0.05);
        rng_fill(y, n, 100 + (double)(seed % 7) * 2, 0.05);
        int reg = verdict(&row, x, m, y, n, thr, alpha, 0);
        bool excl = row.ci_lo_pct > 0 || row.ci_hi_pct < 0;

        cr_assert_eq(row.significant, row.p < alpha && excl, "seed %llu",
                     (unsigned long long)seed);
        if (strcmp(row.verdict, "slower") == 0)
            cr_assert(row.significant && row.change_pct > thr && reg == 1);
        else
            cr_assert_eq(reg, 0);
        if (strcmp(row.verdict, "faster") == 0)
            cr_assert(row.significant && row.change_pct < -thr);
        if (strcmp(row.verdict, "unchanged") == 0)
            cr_assert(row.significant ||
                      (row.ci_lo_pct >= -thr && row.ci_hi_pct <= thr));
        if (strcmp(row.verdict, "noisy") == 0) {
            cr_assert(!row.significant);
            cr_assert(!(row.ci_lo_pct >= -thr && row.ci_hi_pct <= thr));
            cr_assert_null(strstr(row.note, "wider"));
        }
        cr_assert(row.ci_lo_pct <= row.change_pct &&
                  row.change_pct <= row.ci_hi_pct);
    }
}

/* A comparison of rows with the given verdicts (only they matter here). */
static void conclude(struct conc_cmp *c, struct conc_cmp_row *rows,
                     const char *const *verdicts, size_t n)
{
    c->regressions = 0;
    for (size_t i = 0; i < n; i++) {
        rows[i].verdict = verdicts[i];
        c->regressions += strcmp(verdicts[i], "slower") == 0;
    }
    c->rows = rows;
    c->nrows = n;
    compare_conclude(c);
}

Test(verdict_table, the_comparison, .timeout = 10)
{
    struct conc_cmp_row rows[4];
    struct conc_cmp c = { .threshold_pct = 5, .alpha = 0.01 };
    static const char *const noisy2[] = { "noisy", "noisy", "unchanged" };
    static const char *const half[] = { "noisy", "unchanged" };
    static const char *const slow[] = { "slower", "noisy", "noisy" };
    static const char *const skip[] = { "skipped", "n/a", "noisy" };
    char closing[512];

    conclude(&c, rows, NULL, 0);
    cr_assert_str_eq(c.outcome, "fail");
    cr_assert_eq(c.exit_code, CONC_EXIT_FAILED);
    cr_assert_str_eq(c.why, "no cell of base is in new: nothing was "
                            "compared");

    conclude(&c, rows, noisy2, 3);
    cr_assert_str_eq(c.outcome, "inconclusive");
    cr_assert_eq(c.exit_code, CONC_EXIT_INCONCLUSIVE);
    cr_assert_eq(CONC_EXIT_INCONCLUSIVE, 4);
    cr_assert_str_eq(c.why, "2 of 3 compared cells noisy");
    c.accept_noisy = true;
    conclude(&c, rows, noisy2, 3);
    cr_assert_eq(c.exit_code, CONC_EXIT_OK);
    cr_assert_str_eq(c.why, "2 of 3 compared cells noisy (accepted)");
    c.accept_noisy = false;

    /* Half is not most. */
    conclude(&c, rows, half, 2);
    cr_assert_eq(c.exit_code, CONC_EXIT_OK);
    cr_assert_str_eq(c.outcome, "pass");
    cr_assert_str_eq(c.why, "");
    compare_closing(&c, closing, sizeof(closing));
    cr_assert_str_eq(closing, "verdict: pass");

    /* A regression wins over inconclusive. */
    conclude(&c, rows, slow, 3);
    cr_assert_eq(c.exit_code, CONC_EXIT_FAILED);
    cr_assert_str_eq(c.why, "1 regression; 2 of 3 compared cells noisy");

    /* Only cells with a statistical verdict count. */
    conclude(&c, rows, skip, 3);
    cr_assert(c.compared == 1 && c.noisy == 1);
    cr_assert_eq(c.exit_code, CONC_EXIT_INCONCLUSIVE);

    /* Missing cells fail unless allowed. */
    c.nonly_base = 2;
    conclude(&c, rows, half, 2);
    cr_assert_eq(c.exit_code, CONC_EXIT_FAILED);
    cr_assert_str_eq(c.why, "2 cells of base missing from new");
    c.allow_missing = true;
    conclude(&c, rows, half, 2);
    cr_assert_eq(c.exit_code, CONC_EXIT_OK);
    cr_assert_str_eq(c.why, "2 cells of base missing from new (allowed)");

    /* The calibration's floor in the closing line. */
    struct conc_calib k = { .path = "cal.json", .floor_pct = 6.2 };
    c.calib = &k;
    compare_closing(&c, closing, sizeof(closing));
    cr_assert_str_eq(closing, "verdict: pass: 2 cells of base missing from "
                     "new (allowed); on this machine changes under 6.2% "
                     "cannot be told from noise (calibration 'cal.json')");
}
