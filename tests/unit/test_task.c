/*
 * The task bookkeeping every model shares (models/task.c) and the clock
 * reading a step shares with its model (struct conc_wait's start_ns and
 * end_ns): under every model, a task's first step is handed the reading
 * its start was stamped with (none where the GIL may wait between the
 * two), no later step gets one, and a step's end_ns with CONC_DONE is the
 * end the run records; a run leaves no fd open; and a model calls a
 * task's own step (task_step) where it says it does.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "cmd/registry.h"
#include "lib/clock.h"
#include "models/model.h"
#include "tests/unit/harness.h"

#define STAMP_END_OFFSET 12345 /* an end no clock read would give */

struct stamp_task {
    unsigned steps;
    uint64_t first_start, end_ns;
    uint64_t later_dirty; /* start_ns, deadline_ns, end_ns and wake or'd
                             over the later steps: 0 by the contract */
};

static int stamp_task_init(void *task, void *shared, unsigned index,
                           unsigned tasks)
{
    struct stamp_task *t = task;

    (void)shared;
    (void)index;
    (void)tasks;
    t->steps = 0;
    t->first_start = t->later_dirty = t->end_ns = 0;
    return 0;
}

/* Three steps: a yield, a 1 ms sleep, then the end, stamped by hand.
   Each later step is handed no start_ns, and deadline_ns, end_ns and
   wake 0 (after the sleep's deadline too). */
static int stamp_step(void *task, struct conc_wait *w)
{
    struct stamp_task *t = task;

    if (t->steps++ == 0) {
        t->first_start = w->start_ns;
        w->want = CONC_YIELD;
        return 0;
    }
    t->later_dirty |= w->start_ns | w->deadline_ns | w->end_ns |
                      (uintptr_t)w->wake;
    if (t->steps == 2) {
        w->want = CONC_WAIT_UNTIL;
        w->deadline_ns = conc_now_ns() + 1000000;
        return 0;
    }
    t->end_ns = conc_now_ns() + STAMP_END_OFFSET;
    w->end_ns = t->end_ns;
    w->want = CONC_DONE;
    return 0;
}

/*
 * 1 when the stamps are as the contract says; 2 when the model handed the
 * first step no reading (allowed: the step then reads the clock).
 */
static int stamp_task_result(const void *task, struct conc_task_out *out)
{
    const struct stamp_task *t = task;
    bool end_ok = out->end_ns == t->end_ns && t->later_dirty == 0;

    if (!end_ok)
        out->result = 0;
    else if (t->first_start == 0)
        out->result = 2;
    else
        out->result = t->first_start == out->start_ns;
    return 0;
}

static const struct conc_workload stamp_workload = {
    .name = "stamp",
    .summary = "checks the clock readings a model shares with its steps",
    .opts = harness_no_opts,
    .task_size = sizeof(struct stamp_task),
    .setup = harness_nop_setup,
    .task_init = stamp_task_init,
    .step = stamp_step,
    .task_result = stamp_task_result,
    .task_fini = harness_nop_teardown,
    .verify = harness_nop_verify,
    .teardown = harness_nop_teardown,
};

struct task_cfg {
    const char *model, *opts;
    unsigned want; /* every task's result (as its workload says) */
};

/*
 * Runs w under c's model with tasks tasks and checks every task's result
 * is c->want. false, and nothing run, when the model is not in this build
 * or the kernel refuses it.
 */
static bool task_check_cfg(const struct task_cfg *c,
                           const struct conc_workload *w, unsigned tasks)
{
    const struct conc_model *m = conc_model_find(c->model);
    struct harness_result r;

    if (!m || m->unavailable)
        return false;
    r = harness_run(c->model, w, NULL, c->opts, tasks);
    cr_assert_eq(r.check_err, 0, "%s %s", c->model, c->opts);
    cr_assert_eq(r.run_err, 0, "%s %s", c->model, c->opts);
    cr_assert_eq(r.result, (uint64_t)tasks * c->want, "%s %s: %llu",
                 c->model, c->opts, (unsigned long long)r.result);
    harness_result_fini(&r);
    return true;
}

Test(task, a_step_shares_its_models_clock_readings, .timeout = 60)
{
    static const struct task_cfg cfgs[] = {
        { "sequential", "", 1 },
        { "threads", "", 1 },
        { "threads", "gil=on", 2 }, /* the GIL is taken between the two */
        { "fork", "", 1 },
        { "green", "workers=1", 1 },
        { "green", "workers=2", 1 },
#ifdef CONC_HAVE_UV
        { "eventloop", "workers=1", 1 },
        { "eventloop", "workers=2", 1 },
#endif
#ifdef CONC_HAVE_URING
        { "uring", "workers=1", 1 },
#endif
    };
    const unsigned tasks = 8;

    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        const struct task_cfg *c = &cfgs[i];

        /* Twice: the second run leaves as many fds open as the first (a
           model keeps what it makes for the process on its first run). */
        for (int k = 0, fds = 0; k < 2; k++) {
            if (!task_check_cfg(c, &stamp_workload, tasks))
                break; /* not in this build, or refused by the kernel */
            if (k)
                cr_assert_eq(harness_count_fds(), fds, "%s %s", c->model,
                             c->opts);
            fds = harness_count_fds();
        }
    }
}

/*
 * A workload's own step for a task (task_step): the models whose hot path
 * is a step call (the blocking driver's, green's) take it once and call
 * it; the others call step, which must have the same effect.
 */
struct own_task {
    unsigned steps, via_step;
};

static int own_task_init(void *task, void *shared, unsigned index,
                         unsigned tasks)
{
    (void)shared;
    (void)index;
    (void)tasks;
    *(struct own_task *)task = (struct own_task){ 0 };
    return 0;
}

/* Three steps: two yields, then the end. */
static int own_step(void *task, struct conc_wait *w)
{
    struct own_task *t = task;

    w->want = ++t->steps < 3 ? CONC_YIELD : CONC_DONE;
    return 0;
}

/* The workload's step: counts itself, then does what the task's does. */
static int own_generic_step(void *task, struct conc_wait *w)
{
    ((struct own_task *)task)->via_step++;
    return own_step(task, w);
}

static conc_step_fn *own_task_step(void *task)
{
    (void)task;
    return own_step;
}

/* 1: every step was the task's own, called directly; 2: through step; 0:
   not three steps. */
static int own_task_result(const void *task, struct conc_task_out *out)
{
    const struct own_task *t = task;

    out->result = t->steps != 3 ? 0 : t->via_step == 0 ? 1 : 2;
    return 0;
}

static const struct conc_workload own_workload = {
    .name = "own",
    .summary = "checks a model calls a task's own step where it can",
    .opts = harness_no_opts,
    .task_size = sizeof(struct own_task),
    .setup = harness_nop_setup,
    .task_init = own_task_init,
    .step = own_generic_step,
    .task_step = own_task_step,
    .task_result = own_task_result,
    .task_fini = harness_nop_teardown,
    .verify = harness_nop_verify,
    .teardown = harness_nop_teardown,
};

Test(task, a_model_calls_a_tasks_own_step, .timeout = 60)
{
    static const struct task_cfg cfgs[] = {
        { "sequential", "", 1 },
        { "threads", "", 1 },
        { "threads", "gil=on", 1 },
        { "fork", "", 1 },
        { "green", "workers=1", 1 },
        { "green", "workers=2", 1 },
#ifdef CONC_HAVE_UV
        { "eventloop", "workers=1", 2 }, /* step: to the same effect */
#endif
#ifdef CONC_HAVE_URING
        { "uring", "workers=1", 2 },
#endif
    };
    const unsigned tasks = 4;

    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++)
        task_check_cfg(&cfgs[i], &own_workload, tasks);
}
