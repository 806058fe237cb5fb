/*
 * Shared timeouts: the sleeps of a ring whose deadlines fall in the same
 * slot of `slack` nanoseconds wait on one timeout request, for the end of
 * their slot. A task wakes at most `slack` after its deadline and never
 * before it: what the kernel's default timer slack (50 us) already allows
 * a thread's own clock_nanosleep, poll or epoll_wait, which the threads
 * and eventloop models wait in. Without it, every sleep is a request of
 * its own: 100,000 sleeps cost the kernel 100,000 timeout requests to copy
 * in, allocate, queue on an hrtimer and complete, over half of such a run
 * (perf, docs/models.md). slack=0 keeps a request per sleep.
 *
 * The slots in flight are a chained hash table keyed by slot number. A
 * slot is freed when its timeout completes; those a stop leaves in the
 * ring, which the kernel may still name, when the ring is closed.
 */
#include <errno.h>
#include <stdlib.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "models/uring.h"

#ifdef CONC_HAVE_URING
/* The table starts with this many chains. */
#define URING_TIMER_CHAINS 1024

struct uring_timer {
    uint64_t slot;                 /* the deadline's slot: its end is slot * slack */
    struct uring_timer *hnext;     /* its chain */
    struct uring_task *head, *tail; /* its tasks, through their next */
    struct __kernel_timespec ts;   /* read by the kernel at submission */
};

static size_t uring_timer_hash(uint64_t slot, size_t mask)
{
    return (size_t)((slot * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* Doubles the table when its chains grow past two timers on average. */
static void uring_timer_grow(struct uring_ring *rg)
{
    size_t n = rg->tmask + 1, m = 2 * n - 1;
    struct uring_timer **tbl;

    if (rg->ntimers <= 2 * n)
        return;
    tbl = conc_xcalloc(2 * n, sizeof(*tbl));
    for (size_t i = 0; i < n; i++) {
        struct uring_timer *tm = rg->ttbl[i], *next;
        for (; tm; tm = next) {
            size_t h = uring_timer_hash(tm->slot, m);
            next = tm->hnext;
            tm->hnext = tbl[h];
            tbl[h] = tm;
        }
    }
    free(rg->ttbl);
    rg->ttbl = tbl;
    rg->tmask = m;
}

int uring_timer_add(struct uring_task *t, uint64_t deadline_ns)
{
    struct uring_ring *rg = t->rg;
    uint64_t slot = deadline_ns / rg->slack_ns +
                    (deadline_ns % rg->slack_ns != 0);
    struct uring_timer *tm;
    struct io_uring_sqe *sqe;
    size_t h;
    int err = 0;

    if (!rg->ttbl) {
        rg->ttbl = conc_xcalloc(URING_TIMER_CHAINS, sizeof(*rg->ttbl));
        rg->tmask = URING_TIMER_CHAINS - 1;
    }
    h = uring_timer_hash(slot, rg->tmask);
    for (tm = rg->ttbl[h]; tm; tm = tm->hnext)
        if (tm->slot == slot)
            goto join;
    if (!(sqe = uring_get_sqe(rg, 1, &err)))
        return err;
    tm = conc_xmalloc(sizeof(*tm));
    tm->slot = slot;
    tm->head = tm->tail = NULL;
    tm->ts = uring_timespec(slot * rg->slack_ns);
    io_uring_prep_timeout(sqe, &tm->ts, 0, IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)tm | URING_UD_TIMER);
    tm->hnext = rg->ttbl[h];
    rg->ttbl[h] = tm;
    rg->ntimers++;
    uring_timer_grow(rg);
join:
    t->next = NULL;
    if (tm->tail)
        tm->tail->next = t;
    else
        tm->head = t;
    tm->tail = t;
    return 0;
}

void uring_timer_fire(struct uring_ring *rg, uint64_t ud, int res)
{
    struct uring_timer *tm = (struct uring_timer *)(uintptr_t)(ud &
                                                             ~URING_UD_TIMER);
    struct uring_timer **pp = &rg->ttbl[uring_timer_hash(tm->slot,
                                                         rg->tmask)];
    struct uring_task *t = tm->head, *next;

    while (*pp != tm)
        pp = &(*pp)->hnext;
    *pp = tm->hnext;
    rg->ntimers--;
    free(tm);
    /* Each task's next is read before its step, which may queue it again
       (on the ready queue, or on a timer, even this slot's new one). */
    for (; t; t = next) {
        next = t->next;
        if (t->state != URING_WAIT)
            continue; /* ended by a stop meanwhile */
        uring_wait_over(t, res);
    }
}

void uring_timers_free(struct uring_ring *rg)
{
    for (size_t i = 0; rg->ttbl && i <= rg->tmask; i++) {
        struct uring_timer *tm = rg->ttbl[i], *next;
        for (; tm; tm = next) {
            next = tm->hnext;
            free(tm);
        }
    }
    free(rg->ttbl);
    rg->ttbl = NULL;
    rg->ntimers = 0;
}
#endif
