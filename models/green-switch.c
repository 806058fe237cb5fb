/*
 * green's stack switches: the fcontext (Boost.Context) and ucontext back-ends
 * behind -o switch, and the scheduler's own context. The switch of the hot
 * path, and telling TSan and valgrind about a task's stack, are inline in
 * green.h.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lib/err.h"
#include "models/green.h"

#ifdef CONC_HAVE_BOOST_CONTEXT
/* A task's first arrival: from its scheduler (a new task is only ever
   started from there), which jumped with where it keeps its context. */
static void green_fc_entry(transfer_t t)
{
    *(fcontext_t *)t.data = t.fctx;
    green_co_main(green_cur);
}

static void green_fc_make(struct green_co *co, char *lo, size_t size)
{
    co->stack_lo = lo;
    co->stack_size = size;
    co->fctx = make_fcontext(lo + size, size, green_fc_entry);
}
#endif

static void green_uc_entry(void)
{
    green_co_main(green_cur);
}

/* The ucontext_t lives at the top of the task's own stack. */
static void green_uc_make(struct green_co *co, char *lo, size_t size)
{
    uintptr_t top = (uintptr_t)(lo + size) - sizeof(ucontext_t);
    ucontext_t *uc = (ucontext_t *)(top & ~(uintptr_t)63);

    getcontext(uc);
    uc->uc_stack.ss_sp = lo;
    uc->uc_stack.ss_size = (size_t)((char *)uc - lo);
    uc->uc_link = NULL;
    makecontext(uc, green_uc_entry, 0);
    co->uc = uc;
    co->stack_lo = lo;
    co->stack_size = uc->uc_stack.ss_size;
}

static void green_uc_jump(struct green_sched *s, struct green_co *from,
                          struct green_co *to)
{
    swapcontext(from ? from->uc : s->uc, to ? to->uc : s->uc);
}

const struct green_switch green_switches[] = {
#ifdef CONC_HAVE_BOOST_CONTEXT
    [GREEN_SWITCH_FCONTEXT] = { "fcontext", green_fc_make, green_fc_jump },
#else
    /* refused by green_check */
    [GREEN_SWITCH_FCONTEXT] = { "fcontext", NULL, NULL },
#endif
    [GREEN_SWITCH_UCONTEXT] = { "ucontext", green_uc_make, green_uc_jump },
};

/* fcontext needs nothing: the first jump to a task gives s->fctx. */
void green_switch_init(struct green_sched *s)
{
    if (s->g->sw->make == green_uc_make)
        s->uc = conc_xcalloc(1, sizeof(*s->uc));
}

void green_switch_fini(struct green_sched *s)
{
    if (s->g->sw->make == green_uc_make)
        free(s->uc);
}
