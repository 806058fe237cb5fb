/*
 * Mixed cells driven by hand, without a model: each part gets its own
 * tasks, options and answer check, so a wrong answer in either part fails
 * the run and says which; the per-kind metrics come from each part's own
 * tasks and operations.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/mix.h"
#include "lib/clock.h"
#include "lib/hist.h"
#include "lib/opts.h"

#define TASKS 4 /* sleep:2+primes:2 */

struct fixture {
    const struct conc_workload *w;
    struct conc_params p;
    void *shared;
    void *task[TASKS];
    struct conc_task_out out[TASKS];
    struct conc_hist hist;
};

static void fixture_init(struct fixture *f, const char *spec)
{
    memset(f, 0, sizeof(*f));
    f->w = conc_mix_find(spec);
    cr_assert_not_null(f->w);
    cr_assert_eq(conc_params_init(&f->p, f->w->opts), 0);
    cr_assert_eq(conc_params_set(&f->p, "ms", "1"), 0);
    cr_assert_eq(conc_params_set(&f->p, "sleep.count", "2"), 0);
    cr_assert_eq(conc_params_set(&f->p, "primes.n", "1e5"), 0);
    cr_assert_eq(f->w->check(&f->p, TASKS), 0);
    cr_assert_eq(f->w->setup(&f->shared, &f->p, TASKS), 0);
    f->w->run_start(f->shared);
}

/* Runs task i to its end, sleeping through its waits. */
static void fixture_task(struct fixture *f, unsigned i)
{
    struct conc_wait cw;

    /* Zeroed, as every model hands a task its memory. */
    f->task[i] = aligned_alloc(16, (f->w->task_size + 15) & ~(size_t)15);
    memset(f->task[i], 0, f->w->task_size);
    cr_assert_eq(f->w->task_init(f->task[i], f->shared, i, TASKS), 0);
    f->out[i].op_ns = &f->hist;
    f->out[i].start_ns = conc_now_ns();
    do {
        memset(&cw, 0, sizeof(cw));
        cr_assert_eq(f->w->step(f->task[i], &cw), 0);
        cr_assert(cw.want == CONC_DONE || cw.want == CONC_YIELD ||
                  cw.want == CONC_WAIT_UNTIL);
        while (cw.want == CONC_WAIT_UNTIL && conc_now_ns() < cw.deadline_ns) {
            struct timespec ts = { 0, 100000 };
            nanosleep(&ts, NULL);
        }
    } while (cw.want != CONC_DONE);
    f->out[i].end_ns = conc_now_ns();
}

/* Ends every task, the results of those in skip left out; then verify. */
static int fixture_verify(struct fixture *f, unsigned skip, char *why,
                          size_t len)
{
    struct conc_totals tot = { .tasks = TASKS };

    for (unsigned i = 0; i < TASKS; i++) {
        fixture_task(f, i);
        if (!(skip & (1u << i))) {
            cr_assert_eq(f->w->task_result(f->task[i], &f->out[i]), 0);
            tot.result += f->out[i].result;
            tot.ops += f->out[i].ops;
        }
        f->w->task_fini(f->task[i]);
        free(f->task[i]);
    }
    return f->w->verify(f->shared, &tot, why, len);
}

static void fixture_fini(struct fixture *f)
{
    f->w->teardown(f->shared);
    conc_params_fini(&f->p);
}

static double metric(const struct conc_metric *m, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0)
            return m[i].value;
    cr_assert_fail("no metric %s", name);
    return -1;
}

Test(mix, both_parts_right_pass_with_each_kinds_numbers)
{
    struct fixture f;
    struct conc_metric m[CONC_METRICS_MAX];
    char why[160] = "", note[160];
    size_t n;

    fixture_init(&f, "sleep:2+primes:2");
    cr_assert_eq(fixture_verify(&f, 0, why, sizeof(why)), 0, "%s", why);
    n = f.w->run_metrics(f.shared, NULL, f.out, TASKS, m, CONC_METRICS_MAX,
                         note, sizeof(note));
    cr_assert_eq(metric(m, n, "sleep.tasks"), 2);
    cr_assert_eq(metric(m, n, "primes.tasks"), 2);
    /* sleep owns the common histogram: its 4 wakes, primes' none. */
    cr_assert_eq(f.hist.count, 4);
    cr_assert_eq(metric(m, n, "sleep.lateness_ns.p50"),
                 (double)conc_hist_percentile(&f.hist, 50));
    cr_assert_geq(metric(m, n, "sleep.task_ns.p50"), 2e6);
    cr_assert_gt(metric(m, n, "primes.ops_per_s"), 0);
    cr_assert_str_eq(note, "");
    fixture_fini(&f);
}

Test(mix, a_wrong_answer_of_the_cpu_part_fails_and_names_it)
{
    struct fixture f;
    char why[160] = "";

    fixture_init(&f, "sleep:2+primes:2");
    /* Task 3 sieves the upper half of [2, 1e5]: its primes go missing. */
    cr_assert_eq(fixture_verify(&f, 1u << 3, why, sizeof(why)), -EINVAL);
    cr_assert(strncmp(why, "primes: ", 8) == 0, "%s", why);
    cr_assert(strstr(why, "expected 9592"), "%s", why);
    fixture_fini(&f);
}

Test(mix, a_wrong_answer_of_the_io_part_fails_and_names_it)
{
    struct fixture f;
    char why[160] = "";

    fixture_init(&f, "sleep:2+primes:2");
    cr_assert_eq(fixture_verify(&f, 1u << 0, why, sizeof(why)), -EINVAL);
    cr_assert_str_eq(why, "sleep: 2 of 4 wake-ups on time (0 early)");
    fixture_fini(&f);
}

Test(mix, both_wrong_gives_both_reasons)
{
    struct fixture f;
    char why[160] = "";

    fixture_init(&f, "sleep:2+primes:2");
    cr_assert_eq(fixture_verify(&f, 1u << 1 | 1u << 2, why, sizeof(why)),
                 -EINVAL);
    cr_assert(strncmp(why, "sleep: 2 of 4 wake-ups on time (0 early); "
                           "primes: ", 50) == 0, "%s", why);
    fixture_fini(&f);
}

Test(mix, equal_specs_give_one_workload_and_counts_resolve)
{
    const struct conc_workload *a = conc_mix_find("sleep:2+primes:2");

    cr_assert_eq(a, conc_mix_find("sleep:2+primes:2"));
    cr_assert_eq(a, conc_mix_find("sleep:2e0+primes:2"));
    cr_assert_neq(a, conc_mix_find("sleep+primes:2"));
    cr_assert_str_eq(conc_mix_find("sleep+primes:2")->name, "sleep+primes:2");
    cr_assert_str_eq(a->op_name, "lateness_ns");
    cr_assert(conc_mix_is("a+b"));
    cr_assert(!conc_mix_is("sleep"));
}
