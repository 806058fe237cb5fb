/*
 * sleep: each task waits until an absolute CLOCK_MONOTONIC deadline, `count`
 * times, and records how late it woke. The purest I/O-bound work: a model
 * that overlaps waits finishes T tasks in about the time of one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "workloads/workload.h"

/* Bounds the per-task lateness array (8 bytes a wake). */
#define SLEEP_COUNT_MAX 1000000

static const struct conc_opt sleep_opts[] = {
    { "ms", CONC_OPT_DURATION, "100ms", "how long each wait lasts", NULL, 0,
      3600 * CONC_NS_PER_S },
    { "count", CONC_OPT_COUNT, "1", "waits per task", NULL, 1,
      SLEEP_COUNT_MAX },
    { "jitter", CONC_OPT_DURATION, "0", "adds a uniform random [0, jitter) "
      "to each wait", NULL, 0, 3600 * CONC_NS_PER_S },
    { "seed", CONC_OPT_COUNT, "1", "seed of the jitter", NULL, 0, 0 },
    { NULL },
};

struct sleep_shared {
    uint64_t wait_ns, jitter_ns, seed;
    unsigned count;
};

struct sleep_task {
    const struct sleep_shared *sh;
    uint64_t rng;         /* splitmix64 state, seeded per task */
    uint64_t deadline_ns; /* the current wait's deadline, 0 before the first */
    unsigned woken;       /* waits completed */
    unsigned early;       /* wake-ups before their deadline (a model bug) */
    uint64_t *late_ns;    /* [count] lateness of each wake: late_one, or
                             made by task_init when count > 1 */
    uint64_t late_one;    /* the one wake's, spared a malloc a task */
};

static uint64_t sleep_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int sleep_setup(void **shared, const struct conc_params *p,
                       unsigned tasks)
{
    struct sleep_shared *sh = conc_xcalloc(1, sizeof(*sh));

    (void)tasks;
    sh->wait_ns = conc_param_u64(p, "ms");
    sh->jitter_ns = conc_param_u64(p, "jitter");
    sh->seed = conc_param_u64(p, "seed");
    sh->count = (unsigned)conc_param_u64(p, "count");
    *shared = sh;
    return 0;
}

static int sleep_task_init(void *task, void *shared, unsigned index,
                           unsigned tasks)
{
    struct sleep_task *t = task;
    const struct sleep_shared *sh = shared;

    (void)tasks;
    t->sh = sh;
    t->rng = sh->seed * 0x100000001b3ull + index;
    if (sh->count == 1) {
        t->late_ns = &t->late_one;
        return 0;
    }
    t->late_ns = malloc(sh->count * sizeof(*t->late_ns));
    return t->late_ns ? 0 : -ENOMEM;
}

/* The deadline after `from`: a periodic schedule, so lateness never adds up. */
static uint64_t sleep_next_deadline(struct sleep_task *t, uint64_t from)
{
    uint64_t d = from + t->sh->wait_ns;

    if (t->sh->jitter_ns)
        d += sleep_splitmix(&t->rng) % t->sh->jitter_ns;
    return d;
}

static int sleep_step(void *task, struct conc_wait *w)
{
    struct sleep_task *t = task;
    /* The first step's "now" is the task's start (one clock read). */
    uint64_t now = w->start_ns ? w->start_ns : conc_now_ns();

    if (t->deadline_ns) {
        if (now < t->deadline_ns)
            t->early++; /* counted as an error: a model must not wake early */
        else
            t->late_ns[t->woken - t->early] = now - t->deadline_ns;
        t->woken++;
        if (t->woken == t->sh->count) {
            w->want = CONC_DONE;
            w->end_ns = now; /* the task ends at its last wake */
            return 0;
        }
    }
    t->deadline_ns = sleep_next_deadline(t, t->deadline_ns ? t->deadline_ns
                                                           : now);
    w->want = CONC_WAIT_UNTIL;
    w->deadline_ns = t->deadline_ns;
    return 0;
}

static int sleep_task_result(const void *task, struct conc_task_out *out)
{
    const struct sleep_task *t = task;

    out->result = t->woken - t->early;
    out->ops = t->woken;
    out->errors[CONC_ERR_OTHER] += t->early;
    for (unsigned i = 0; i < t->woken - t->early; i++)
        conc_hist_add_atomic(out->op_ns, t->late_ns[i]);
    return 0;
}

static void sleep_task_fini(void *task)
{
    struct sleep_task *t = task;

    if (t->late_ns != &t->late_one)
        free(t->late_ns);
    t->late_ns = NULL;
}

static int sleep_verify(void *shared, const struct conc_totals *tot, char *why,
                        size_t len)
{
    const struct sleep_shared *sh = shared;
    uint64_t want = (uint64_t)tot->tasks * sh->count;

    if (tot->ops != want || tot->result != want) {
        snprintf(why, len, "%llu of %llu wake-ups on time (%llu early)",
                 (unsigned long long)tot->result, (unsigned long long)want,
                 (unsigned long long)(tot->ops - tot->result));
        return -EINVAL;
    }
    return 0;
}

static void sleep_teardown(void *shared)
{
    free(shared);
}

const struct conc_workload conc_workload_sleep = {
    .name = "sleep",
    .summary = "each task waits until a deadline (I/O-bound, no CPU)",
    .op_name = "lateness_ns",
    .opts = sleep_opts,
    .task_size = sizeof(struct sleep_task),
    .setup = sleep_setup,
    .task_init = sleep_task_init,
    .step = sleep_step,
    .task_result = sleep_task_result,
    .task_fini = sleep_task_fini,
    .verify = sleep_verify,
    .teardown = sleep_teardown,
};
