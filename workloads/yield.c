/*
 * yield: each task returns CONC_YIELD `count` times and does nothing else.
 * It measures what one cooperative switch (or one trip round a model's
 * scheduler) costs, so wall / (tasks * count) is the price of a yield.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "workloads/workload.h"

#define YIELD_COUNT_MAX 1000000000ull  /* 1e9 yields a task */
#define YIELD_STACK_MAX (64ull << 20)  /* deepest stack_use: 64 MiB */
#define YIELD_FRAME 1024               /* stack bytes one recursion touches */

static const struct conc_opt yield_opts[] = {
    { "count", CONC_OPT_COUNT, "1000", "yields per task", NULL, 0,
      YIELD_COUNT_MAX },
    { "stack_use", CONC_OPT_SIZE, "0", "each step first touches this much "
      "stack (for testing how a model reports an overflow)", NULL, 0,
      YIELD_STACK_MAX },
    { NULL },
};

struct yield_shared {
    uint64_t count, stack_use;
};

struct yield_task {
    const struct yield_shared *sh;
    uint64_t yields;  /* CONC_YIELDs returned so far */
    uint64_t touched; /* stack bytes folded in, a store the compiler keeps */
};

static uint64_t yield_stack_need(const struct conc_params *p)
{
    return conc_param_u64(p, "stack_use");
}

static int yield_setup(void **shared, const struct conc_params *p,
                       unsigned tasks)
{
    struct yield_shared *sh = malloc(sizeof(*sh));

    (void)tasks;
    if (!sh)
        return -ENOMEM;
    sh->count = conc_param_u64(p, "count");
    sh->stack_use = conc_param_u64(p, "stack_use");
    *shared = sh;
    return 0;
}

static int yield_task_init(void *task, void *shared, unsigned index,
                           unsigned tasks)
{
    struct yield_task *t = task;

    (void)index;
    (void)tasks;
    t->sh = shared;
    t->yields = 0;
    t->touched = 0;
    return 0;
}

/*
 * Touches `bytes` of stack below the caller, a frame of YIELD_FRAME bytes
 * per call: every byte is written, so every page on the way down is, and a
 * guard page below a too-small stack is hit. noinline and the volatile
 * array keep the compiler from turning the recursion into a loop.
 */
__attribute__((noinline)) static uint64_t yield_touch_stack(uint64_t bytes)
{
    volatile unsigned char frame[YIELD_FRAME];
    uint64_t sum = 0;

    for (size_t i = 0; i < sizeof(frame); i++)
        frame[i] = (unsigned char)(i + bytes);
    if (bytes > sizeof(frame))
        sum = yield_touch_stack(bytes - sizeof(frame));
    return sum + frame[bytes % sizeof(frame)];
}

static int yield_step(void *task, struct conc_wait *w)
{
    struct yield_task *t = task;

    if (t->sh->stack_use)
        t->touched += yield_touch_stack(t->sh->stack_use);
    if (t->yields == t->sh->count) {
        w->want = CONC_DONE;
        return 0;
    }
    t->yields++;
    w->want = CONC_YIELD;
    return 0;
}

static int yield_task_result(const void *task, struct conc_task_out *out)
{
    const struct yield_task *t = task;

    out->result = t->yields;
    out->ops = t->yields;
    return 0;
}

static void yield_task_fini(void *task)
{
    (void)task;
}

static int yield_verify(void *shared, const struct conc_totals *tot,
                        char *why, size_t len)
{
    const struct yield_shared *sh = shared;
    uint64_t want = (uint64_t)tot->tasks * sh->count;

    if (tot->result != want) {
        snprintf(why, len, "%llu yields, expected %llu",
                 (unsigned long long)tot->result, (unsigned long long)want);
        return -EINVAL;
    }
    return 0;
}

static void yield_teardown(void *shared)
{
    free(shared);
}

const struct conc_workload conc_workload_yield = {
    .name = "yield",
    .summary = "each task yields count times and does nothing else (the "
               "cost of a switch)",
    .opts = yield_opts,
    .task_size = sizeof(struct yield_task),
    .stack_need = yield_stack_need,
    .setup = yield_setup,
    .task_init = yield_task_init,
    .step = yield_step,
    .task_result = yield_task_result,
    .task_fini = yield_task_fini,
    .verify = yield_verify,
    .teardown = yield_teardown,
};
