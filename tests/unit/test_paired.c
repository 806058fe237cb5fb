/*
 * Speedups from paired runs: the pairing by start time, the bootstrap
 * interval of the median against its exact distribution, the physical
 * limit, and a sweep crafted to pass it, in the table and the report.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/paired.h"
#include "cmd/report.h"
#include "cmd/sweep.h"

Test(paired, each_run_meets_the_nearest_baseline_run, .timeout = 10)
{
    /* Given out of order; the 600 run is the nearest to two cell runs. */
    const struct conc_timed base[] = {
        { 600, 60 }, { 0, 10 }, { 300, 30 },
    };
    const struct conc_timed cell[] = {
        { 100, 10 },  /* nearest 0 */
        { 250, 10 },  /* nearest 300 */
        { 450, 10 },  /* 300 and 600 equally near: the earlier */
        { 700, 10 },  /* past the last: 600 */
        { 590, 10 },  /* 600 */
        { 5, 0 },     /* no wall time: left out */
    };
    double r[6];
    size_t n = conc_pair_ratios(base, 3, cell, 6, r);

    cr_assert_eq(n, 5);
    cr_assert_float_eq(r[0], 1.0, 1e-12);
    cr_assert_float_eq(r[1], 3.0, 1e-12);
    cr_assert_float_eq(r[2], 3.0, 1e-12);
    cr_assert_float_eq(r[3], 6.0, 1e-12);
    cr_assert_float_eq(r[4], 6.0, 1e-12);
    cr_assert_eq(conc_pair_ratios(base, 0, cell, 6, r), 0);
}

Test(paired, drift_cancels_in_pairs, .timeout = 10)
{
    /* The machine slows by 3x over the sweep, both models alike: each
       pair's ratio stays 2, whereas medians of the two cells taken apart
       would depend on where their runs fell. */
    struct conc_timed base[8], cell[8];
    struct conc_speedup sp;

    for (int i = 0; i < 8; i++) {
        double speed = 1 + 2.0 * i / 7;
        base[i] = (struct conc_timed){ (uint64_t)i * 1000, 100 * speed };
        cell[i] = (struct conc_timed){ (uint64_t)i * 1000 + 10, 50 * speed };
    }
    cr_assert_eq(conc_speedup_paired(base, 8, cell, 8, &sp), 0);
    cr_assert_eq(sp.pairs, 8);
    cr_assert_float_eq(sp.value, 2.0, 1e-12);
    cr_assert_float_eq(sp.lo, 2.0, 1e-12);
    cr_assert_float_eq(sp.hi, 2.0, 1e-12);
    cr_assert_eq(conc_speedup_paired(base, 0, cell, 8, &sp), -EDOM);
    cr_assert_eq(sp.pairs, 0);
}

/* xorshift64*: the tests' own random numbers, apart from paired.c's. */
static uint64_t rng_state = 88172645463325252ull;

static double rng_uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) * 0x1p-53;
}

/* P(Binomial(n, p) >= k), summed directly. */
static double binom_tail(int n, double p, int k)
{
    double sum = 0;

    if (p >= 1)
        return k <= n;
    for (int j = k; j <= n; j++)
        sum += exp(lgamma(n + 1) - lgamma(j + 1) - lgamma(n - j + 1) +
                   j * log(p) + (n - j) * log1p(-p));
    return sum;
}

Test(paired, bootstrap_matches_the_exact_distribution, .timeout = 20)
{
    /* For n odd distinct values s_1 < ... < s_n, a resample's median is at
       most s_k exactly when at least (n + 1) / 2 of its n draws are among
       the k smallest: P = P(Binomial(n, k / n) >= (n + 1) / 2). The 2.5th
       percentile is the smallest s_k whose probability reaches 0.025 (and
       the 97.5th likewise); 2000 resamples find it unless that probability
       lies within sampling error (sd 0.0035) of the level, which these
       sizes avoid (n = 9, 13 or 15 would not). */
    const int sizes[] = { 5, 7, 11 };

    for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
        int n = sizes[t];
        double x[13], med, lo, hi, exact_lo = NAN, exact_hi = NAN;
        bool clear_lo = true, clear_hi = true;

        for (int i = 0; i < n; i++)
            x[i] = 10 + i; /* s_k = 9 + k, given out of order below */
        for (int i = n - 1; i > 0; i--) {
            int j = (int)(rng_uniform() * (i + 1));
            double tmp = x[i];
            x[i] = x[j];
            x[j] = tmp;
        }
        for (int k = 1; k <= n; k++) {
            double cdf = binom_tail(n, (double)k / n, (n + 1) / 2);
            if (isnan(exact_lo) && cdf >= 0.025) {
                exact_lo = 9 + k;
                clear_lo = cdf - 0.025 > 0.012 &&
                           (k == 1 || 0.025 - binom_tail(n, (k - 1.0) / n,
                                                         (n + 1) / 2) > 0.012);
            }
            if (isnan(exact_hi) && cdf >= 0.975) {
                exact_hi = 9 + k;
                clear_hi = cdf - 0.975 > 0.012 &&
                           0.975 - binom_tail(n, (k - 1.0) / n,
                                              (n + 1) / 2) > 0.012;
            }
        }
        cr_assert_eq(conc_bootstrap_median(x, (size_t)n, 2000, 7, &med, &lo,
                                           &hi), 0);
        cr_assert_float_eq(med, 9 + (n + 1) / 2, 1e-12, "n=%d", n);
        cr_assert(clear_lo && clear_hi, "n=%d is too near a level", n);
        cr_assert_float_eq(lo, exact_lo, 1e-12, "n=%d lo %g, exact %g", n,
                           lo, exact_lo);
        cr_assert_float_eq(hi, exact_hi, 1e-12, "n=%d hi %g, exact %g", n,
                           hi, exact_hi);
    }
}

Test(paired, bootstrap_interval_holds_its_median, .timeout = 20)
{
    double x[40], med, lo, hi, lo2, hi2, med2;

    /* Any sample: the interval holds the median and lies within the
       sample; the same seed gives the same interval. */
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + (size_t)(rng_uniform() * 40);
        for (size_t i = 0; i < n; i++)
            x[i] = 0.5 + 2 * rng_uniform() * rng_uniform();
        cr_assert_eq(conc_bootstrap_median(x, n, 2000, 3, &med, &lo, &hi), 0);
        cr_assert(lo <= med && med <= hi, "n=%zu: %g not in [%g, %g]", n,
                  med, lo, hi);
        conc_bootstrap_median(x, n, 2000, 3, &med2, &lo2, &hi2);
        cr_assert(lo == lo2 && hi == hi2 && med == med2);
    }
    x[0] = 4;
    cr_assert_eq(conc_bootstrap_median(x, 1, 2000, 3, &med, &lo, &hi), 0);
    cr_assert(med == 4 && lo == 4 && hi == 4);
    cr_assert_eq(conc_bootstrap_median(x, 0, 2000, 3, &med, &lo, &hi), -EDOM);
}

Test(paired, the_physical_limit, .timeout = 10)
{
    struct conc_speedup sp = { .value = 2.2, .lo = 2.11, .hi = 2.3,
                               .pairs = 5 };
    char why[128];

    conc_speedup_check(&sp, 2, 2.0);
    cr_assert_float_eq(sp.limit, 2.0, 1e-12);
    cr_assert(sp.impossible); /* 2.11 > 2 * 1.05 */
    conc_speedup_why(&sp, why, sizeof(why));
    cr_assert_str_eq(why, "above min(tasks, usable CPUs) = 2: the baseline "
                          "was disturbed");

    sp.lo = 2.09; /* within the tolerance */
    sp.impossible = false;
    conc_speedup_check(&sp, 2, 2.0);
    cr_assert(!sp.impossible);

    /* A quota of 1.5 CPUs caps 4 tasks at 1.5. */
    sp.lo = 1.6;
    conc_speedup_check(&sp, 4, 1.5);
    cr_assert_float_eq(sp.limit, 1.5, 1e-12);
    cr_assert(sp.impossible);
    /* Fewer tasks than CPUs: the tasks are the limit. */
    sp = (struct conc_speedup){ .value = 1.3, .lo = 1.2, .hi = 1.4,
                                .pairs = 3 };
    conc_speedup_check(&sp, 1, 8);
    cr_assert(sp.impossible);
    /* Unknown CPUs check nothing. */
    sp = (struct conc_speedup){ .value = 9, .lo = 9, .hi = 9, .pairs = 3 };
    conc_speedup_check(&sp, 2, 0);
    cr_assert(!sp.impossible && sp.limit == 0);
}

/*
 * A sweep of primes (sequential, threads) x tasks 2 whose runs are written
 * by hand: the sequential runs were disturbed (three times slower), so
 * threads shows 3x on 2 CPUs.
 */
static void crafted_sweep(struct sweep *sw, double base_ms, double cell_ms)
{
    memset(sw, 0, sizeof(*sw));
    cr_assert_eq(sweep_select(sw, "sequential,threads", "primes", "2"), 0);
    sw->runs = 5;
    sw->warmup = 0;
    cr_assert_eq(sweep_build(sw), 0);
    cr_assert_eq(sweep_shard(sw, 1, 1), 2);
    for (size_t i = 0; i < sw->ncells; i++) {
        struct sweep_cell *sc = &sw->cells[i];
        bool seq = strcmp(sc->cell.model->name, "sequential") == 0;
        double walls[5];

        sc->begun = true;
        sc->res.runs = calloc(5, sizeof(*sc->res.runs));
        sc->res.nruns = 5;
        for (unsigned k = 0; k < 5; k++) {
            struct conc_run_stats *r = &sc->res.runs[k];
            /* Interleaved: sequential at 0, 2, 4 ... s; threads between. */
            r->start_ns = (2 * k + !seq) * 1000000000ull;
            walls[k] = (seq ? base_ms : cell_ms) * (1 + 0.01 * k) * 1e6;
            r->wall_ns = (uint64_t)walls[k];
            r->result_ok = true;
        }
        conc_summarize(walls, 5, &sc->res.wall);
    }
}

static char *table_of(const struct sweep *sw)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    cr_assert(f);
    sweep_print_table(f, sw);
    fclose(f);
    return text;
}

/* The report of sw, as the sweep writes it, read back. */
static json_t *report_of(const struct sweep *sw)
{
    char path[] = "/tmp/test_paired.XXXXXX";
    char *argv[] = { "concbench", "sweep" };
    struct conc_report *rep = conc_report_new(2, argv);
    int fd = mkstemp(path);
    json_error_t err;
    json_t *doc;

    cr_assert(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sw->ncells; i++) {
        conc_report_add(rep, &sw->cells[i].cell, &sw->cells[i].res);
        if (sw->cells[i].speedup.pairs)
            conc_report_add_speedup(rep, &sw->cells[i].speedup);
    }
    cr_assert_eq(conc_report_write(rep, path), 0);
    conc_report_free(rep);
    doc = json_load_file(path, 0, &err);
    unlink(path);
    cr_assert(doc, "%s", err.text);
    return doc;
}

Test(paired, the_impossible_flag_trips_on_a_crafted_sweep, .timeout = 10)
{
    struct sweep sw;
    char *text;
    json_t *doc, *sp;

    crafted_sweep(&sw, 300, 100);
    sweep_speedups(&sw, 2.0);
    cr_assert_eq(sw.cells[0].speedup.pairs, 0); /* the baseline itself */
    cr_assert_eq(sw.cells[1].speedup.pairs, 5);
    cr_assert(sw.cells[1].speedup.impossible);

    text = table_of(&sw);
    cr_assert(strstr(text, "speedup (95% CI)"), "%s", text);
    cr_assert(strstr(text, "3.00x (3.00\xe2\x80\xa6" "3.00) \xe2\x9c\x97\n"),
              "%s", text);
    cr_assert(strstr(text, "\n\xe2\x9c\x97 impossible: the speedup's 95% CI "
                           "lies wholly above min(tasks, usable CPUs) = 2, "
                           "more than CPU-bound work can gain: the baseline "
                           "was disturbed\n"), "%s", text);
    free(text);

    doc = report_of(&sw);
    cr_assert(json_object_get(json_array_get(json_object_get(doc, "results"),
                                             0), "speedup") == NULL);
    sp = json_object_get(json_array_get(json_object_get(doc, "results"), 1),
                         "speedup");
    cr_assert(json_is_object(sp));
    cr_assert_float_eq(json_real_value(json_object_get(sp, "value")), 3.0,
                       1e-9);
    cr_assert_eq(json_integer_value(json_object_get(sp, "pairs")), 5);
    cr_assert_str_eq(json_string_value(json_object_get(sp, "baseline")),
                     "sequential");
    cr_assert_str_eq(json_string_value(json_object_get(sp, "method")),
                     "median of ratios of runs paired nearest in time; "
                     "bootstrap 95% CI");
    cr_assert(json_is_true(json_object_get(sp, "impossible")));
    cr_assert_str_eq(json_string_value(json_object_get(sp, "why")),
                     "above min(tasks, usable CPUs) = 2: the baseline was "
                     "disturbed");
    json_decref(doc);
    sweep_fini(&sw);
}

Test(paired, a_believable_speedup_is_not_flagged, .timeout = 10)
{
    struct sweep sw;
    char *text;
    json_t *doc, *sp;

    crafted_sweep(&sw, 200, 105);
    sweep_speedups(&sw, 2.0);
    cr_assert_eq(sw.cells[1].speedup.pairs, 5);
    cr_assert(!sw.cells[1].speedup.impossible);
    text = table_of(&sw);
    cr_assert(strstr(text, "1.90x (1.90\xe2\x80\xa6" "1.90)\n"), "%s", text);
    cr_assert(!strstr(text, "impossible"), "%s", text);
    free(text);
    doc = report_of(&sw);
    sp = json_object_get(json_array_get(json_object_get(doc, "results"), 1),
                         "speedup");
    cr_assert(json_is_false(json_object_get(sp, "impossible")));
    cr_assert(json_object_get(sp, "why") == NULL);
    cr_assert_float_eq(json_real_value(json_object_get(sp, "limit")), 2.0,
                       1e-12);
    json_decref(doc);
    sweep_fini(&sw);

    /* 3x with 2 tasks stays impossible on 4 usable CPUs: the tasks are
       the limit then. */
    crafted_sweep(&sw, 300, 100);
    sweep_speedups(&sw, 4.0);
    cr_assert(sw.cells[1].speedup.impossible);
    cr_assert_float_eq(sw.cells[1].speedup.limit, 2.0, 1e-12);
    sweep_fini(&sw);
}
