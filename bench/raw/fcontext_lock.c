/*
 * The floor of a lock handoff between two coroutines driven through
 * step(), for bench/locks.sh: what the green handoff row (counter
 * fair=on yield_inside=on, 2 tasks) must do under the step contract, and
 * nothing else.
 *
 * Two contexts, each a task loop: a zeroed struct conc_wait, a call
 * through a function pointer to a step, and what the step said. The step
 * is counter's with a yield inside, on a FIFO ticket lock of its own: a
 * task that holds the lock writes the count it read plus one, releases
 * (the lock goes to the next ticket, whose parked task is marked
 * runnable), and takes a ticket for its next update; if the ticket is
 * not served, it says CONC_WAIT_SYNC; if it is, it reads the count and
 * says CONC_YIELD. A yield with the other task parked runs on; a park
 * notes the task as the lock's waiter and jumps to the other task, which
 * the release made runnable. So each update is two steps, a yield that
 * runs on, a release's wake, a park and one switch, as in the green row;
 * no run queue, no scheduler, no poll, no timing of the waits.
 *
 * Checks the count (2N) and prints the wall time per update in ns.
 * Usage: fcontext_lock [N]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "models/fcontext.h"
#include "workloads/workload.h"

#define LOCK_STACK (64 * 1024)

struct lock_floor {
    unsigned next, serving; /* tickets handed out, the one served */
    struct lock_task *waiter; /* the parked task, if any */
    long count;
};

struct lock_task {
    struct lock_floor *l;
    fcontext_t ctx;           /* where it was left, while it is not running */
    struct lock_task *other;
    long updates, done, seen;
    unsigned ticket;
    bool queued, holding, runnable, finished;
};

/* counter's yield-inside step, on the ticket lock above. */
static int step_lock(void *task, struct conc_wait *w)
{
    struct lock_task *t = task;
    struct lock_floor *l = t->l;

    if (t->holding) {
        l->count = t->seen + 1;
        t->holding = false;
        l->serving++;
        if (l->waiter) { /* a FIFO lock: the head is the next ticket */
            l->waiter->runnable = true;
            l->waiter = NULL;
        }
        if (++t->done == t->updates) {
            w->want = CONC_DONE;
            return 0;
        }
    }
    if (!t->queued) {
        t->ticket = l->next++;
        t->queued = true;
    }
    if (l->serving != t->ticket) {
        w->want = CONC_WAIT_SYNC;
        w->seq = l->serving;
        return 0;
    }
    t->queued = false;
    t->seen = l->count;
    t->holding = true;
    w->want = CONC_YIELD; /* between the read and the write */
    return 0;
}

/* Not static, so not known here: called through memory, as a model calls
   r->w->step. */
int (*lock_step_fn)(void *task, struct conc_wait *w) = step_lock;

static struct lock_floor lock_floor;
static struct lock_task lock_tasks[2];
static fcontext_t lock_main;

/* Leaves t for the context to; returns when a task jumps back to t, and
   keeps where the leaver went (each jump passes where the leaver keeps
   its context, as green's do). */
static inline void lock_switch(struct lock_task *t, fcontext_t to)
{
    transfer_t x = jump_fcontext(to, &t->ctx);

    *(fcontext_t *)x.data = x.fctx;
}

/* A task's loop, until its step says CONC_DONE; then on to the other
   task, or to main once both are done. */
static void lock_run(struct lock_task *t)
{
    struct conc_wait w;

    for (;;) {
        memset(&w, 0, sizeof(w));
        if (lock_step_fn(t, &w))
            abort();
        if (w.want == CONC_DONE)
            break;
        if (w.want == CONC_YIELD) {
            if (t->other->runnable && !t->other->finished)
                lock_switch(t, t->other->ctx);
            continue;
        }
        if (t->l->serving != w.seq)
            continue; /* the number moved: step again */
        t->runnable = false;
        t->l->waiter = t;
        if (!t->other->runnable || t->other->finished)
            abort(); /* both parked: cannot happen with this step */
        lock_switch(t, t->other->ctx);
    }
    t->finished = true;
    if (!t->other->finished)
        lock_switch(t, t->other->ctx);
    lock_switch(t, lock_main);
}

/* A task's first arrival: keeps where the leaver went, as lock_switch
   does, then runs the task. */
static void lock_entry(transfer_t x, struct lock_task *t)
{
    *(fcontext_t *)x.data = x.fctx;
    lock_run(t);
    abort(); /* a finished task is never resumed */
}

static void lock_entry0(transfer_t x) { lock_entry(x, &lock_tasks[0]); }
static void lock_entry1(transfer_t x) { lock_entry(x, &lock_tasks[1]); }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    char *stacks = malloc(2 * LOCK_STACK);
    uint64_t t0, t1;

    if (!stacks || n <= 0)
        return 2;
    for (int i = 0; i < 2; i++) {
        lock_tasks[i].l = &lock_floor;
        lock_tasks[i].other = &lock_tasks[1 - i];
        lock_tasks[i].updates = n;
        lock_tasks[i].runnable = true;
    }
    lock_tasks[0].ctx = make_fcontext(stacks + LOCK_STACK, LOCK_STACK,
                                      lock_entry0);
    lock_tasks[1].ctx = make_fcontext(stacks + 2 * LOCK_STACK, LOCK_STACK,
                                      lock_entry1);
    t0 = conc_now_ns();
    /* Back here once both tasks are done. */
    jump_fcontext(lock_tasks[0].ctx, &lock_main);
    t1 = conc_now_ns();
    free(stacks);
    if (lock_floor.count != 2 * n) {
        fprintf(stderr, "fcontext_lock: count %ld, expected %ld\n",
                lock_floor.count, 2 * n);
        return 1;
    }
    printf("%.2f\n", (double)(t1 - t0) / (2.0 * (double)n));
    return 0;
}
