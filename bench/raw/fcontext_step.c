/*
 * The floor of any scheduler that drives tasks through step(), for
 * bench/green.sh: fcontext_pingpong's two contexts, each of which, before
 * each jump, calls a step through a function pointer (as a model calls
 * its workload's) that counts a yield and says CONC_YIELD in a zeroed
 * struct conc_wait, and checks what it said, as the yield workload and a
 * model's task loop do. No run queue, no scheduler: what a green yield
 * costs over this is the scheduler's. Prints the wall time per switch in
 * ns. Usage: fcontext_step [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "models/fcontext.h"
#include "workloads/workload.h"

#define STEP_STACK (64 * 1024)

struct step_task {
    long yields, count;
};

/* yield's step: the same test, count and answer. */
static int step_yield(void *task, struct conc_wait *w)
{
    struct step_task *t = task;

    if (t->yields == t->count) {
        w->want = CONC_DONE;
        return 0;
    }
    t->yields++;
    w->want = CONC_YIELD;
    return 0;
}

/* Not static, so not known here: called through memory, as a model calls
   r->w->step. */
int (*step_fn)(void *task, struct conc_wait *w) = step_yield;

static struct step_task step_tasks[2];

/* One task's step; false once it is done (or failed). */
static inline int step_once(struct step_task *t)
{
    struct conc_wait w;

    memset(&w, 0, sizeof(w));
    return !step_fn(t, &w) && w.want == CONC_YIELD;
}

/* The second task: steps, jumps back, forever (main ends first). */
static void step_entry(transfer_t t)
{
    for (;;) {
        if (!step_once(&step_tasks[1]))
            abort();
        t = jump_fcontext(t.fctx, t.data);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    char *stack = malloc(STEP_STACK);
    fcontext_t ctx;
    transfer_t t;
    uint64_t t0, t1;
    long i;

    if (!stack || n <= 0)
        return 2;
    step_tasks[0].count = n + 1000;
    step_tasks[1].count = n + 1001; /* its last step comes after main's */
    ctx = make_fcontext(stack + STEP_STACK, STEP_STACK, step_entry);
    for (i = 0; i < 1000; i++) { /* warm up caches and predictors */
        if (!step_once(&step_tasks[0]))
            return 1;
        t = jump_fcontext(ctx, NULL);
        ctx = t.fctx;
    }
    t0 = conc_now_ns();
    for (i = 0; i < n; i++) {
        if (!step_once(&step_tasks[0]))
            return 1;
        t = jump_fcontext(ctx, NULL);
        ctx = t.fctx;
    }
    t1 = conc_now_ns();
    printf("%.2f\n", (double)(t1 - t0) / (2.0 * (double)n));
    free(stack);
    return 0;
}
