/*
 * The sync layer (lib/sync.h) under every model: a lock that loses no
 * update, a lock handed back and forth, a deadlock, a holder that fails,
 * an event, and SIGINT while tasks wait on a lock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/registry.h"
#include "lib/clock.h"
#include "lib/sync.h"
#include "models/model.h"
#include "tests/unit/harness.h"

/* Every model, and the options that change how a task waits. */
struct sync_cfg {
    const char *model, *opts;
};

static const struct sync_cfg sync_cfgs[] = {
    { "sequential", "" },
    { "threads", "" },
    { "threads", "gil=on" },
    { "fork", "" },
    { "green", "workers=1" },
    { "green", "workers=2" },
#ifdef CONC_HAVE_UV
    { "eventloop", "workers=1" },
    { "eventloop", "workers=2" },
    { "eventloop", "offload=on" },
#endif
};
#define SYNC_NCFGS (sizeof(sync_cfgs) / sizeof(sync_cfgs[0]))

/* A cell of c, whose check must accept it. */
static struct harness_result sync_run(const struct sync_cfg *c,
                                      const struct conc_workload *w,
                                      unsigned tasks)
{
    struct harness_result r = harness_run(c->model, w, NULL, c->opts, tasks);

    cr_assert_eq(r.check_err, 0, "%s %s", c->model, c->opts);
    return r;
}

/*
 * The fds open now, once c's model has made what it keeps for the process
 * (libuv's signal pipe, its thread pool), as the cell runner has before
 * it counts.
 */
static int sync_count_fds(const struct sync_cfg *c)
{
    const struct conc_model *m = conc_model_find(c->model);
    struct conc_params mp;

    cr_assert_not_null(m);
    if (m->check) {
        cr_assert_eq(conc_params_init(&mp, m->opts), 0);
        harness_set(&mp, c->opts);
        cr_assert_eq(m->check(&mp, 2), 0);
        conc_params_fini(&mp);
    }
    return harness_count_fds();
}

/* Waits on q with the number seq: what a step returns when it cannot go
   on. */
static int sync_wait(struct conc_wait *w, struct conc_waitq *q, uint32_t seq)
{
    w->want = CONC_WAIT_SYNC;
    w->q = q;
    w->seq = seq;
    return 0;
}

static void sync_nop_fini(void *task)
{
    (void)task;
}

/* ---- the wait queue and the lock, without a model */

struct sync_probe {
    struct conc_waiter w;
    unsigned woken;
};

static void sync_probe_wake(struct conc_waiter *w)
{
    ((struct sync_probe *)w)->woken++;
}

/* A waiter leaves from anywhere in the list; one a wake took is gone. */
Test(sync, unlink_takes_a_waiter_out, .timeout = 10)
{
    struct conc_waitq q;
    struct sync_probe p[4];
    uint32_t seq;

    conc_waitq_init(&q);
    memset(p, 0, sizeof(p));
    seq = conc_waitq_seq(&q);
    for (int i = 0; i < 4; i++) {
        p[i].w.wake = sync_probe_wake;
        cr_assert(conc_waitq_link(&q, seq, &p[i].w));
    }
    cr_assert(conc_waitq_unlink(&q, &p[1].w));  /* the middle */
    cr_assert(conc_waitq_unlink(&q, &p[3].w));  /* the tail */
    cr_assert_not(conc_waitq_unlink(&q, &p[1].w));
    conc_waitq_wake(&q, 1);
    cr_assert_eq(p[0].woken, 1);
    cr_assert_not(conc_waitq_unlink(&q, &p[0].w)); /* the wake took it */
    cr_assert(conc_waitq_link(&q, conc_waitq_seq(&q), &p[3].w));
    cr_assert_not(conc_waitq_link(&q, seq, &p[1].w)); /* a stale number */
    conc_waitq_wake(&q, CONC_WAKE_ALL);
    cr_assert_eq(p[1].woken + p[2].woken + p[3].woken, 2);
    cr_assert_eq(p[2].woken, 1);
    cr_assert_eq(p[3].woken, 1);
    cr_assert_null(q.head);
}

/*
 * A semaphore wakes only for failed tries: posts nobody waits for leave
 * the number alone (no wake syscall), and two parked waiters are each
 * woken by a post of their own, the second with no new failed try.
 */
Test(sync, a_semaphore_wakes_only_for_its_waiters, .timeout = 10)
{
    struct conc_sem s;
    struct sync_probe p[2];
    uint32_t seq, seq2;

    conc_sem_init(&s, 1);
    memset(p, 0, sizeof(p));
    seq = conc_waitq_seq(&s.q);
    cr_assert(conc_sem_try(&s, &seq2));
    conc_sem_post(&s, 1);
    conc_sem_post(&s, 1);
    cr_assert_eq(conc_waitq_seq(&s.q), seq);
    cr_assert(conc_sem_try(&s, &seq2));
    cr_assert(conc_sem_try(&s, &seq2));
    for (int i = 0; i < 2; i++) {
        p[i].w.wake = sync_probe_wake;
        cr_assert_not(conc_sem_try(&s, &seq2));
        cr_assert(conc_waitq_link(&s.q, seq2, &p[i].w));
    }
    cr_assert_eq(atomic_load(&s.waiters), 2);
    conc_sem_post(&s, 1);
    cr_assert_eq(p[0].woken, 1);
    cr_assert_eq(p[1].woken, 0);
    conc_sem_post(&s, 1);
    cr_assert_eq(p[1].woken, 1);
    cr_assert_eq(atomic_load(&s.waiters), 0);
    seq = conc_waitq_seq(&s.q);
    conc_sem_post(&s, 1);
    cr_assert_eq(conc_waitq_seq(&s.q), seq);
    cr_assert_eq(atomic_load(&s.count), 3);
}

/*
 * Two waiters; a release wakes one, which takes the free lock as a waiter
 * does, marked awaited, so its release wakes the other. A newcomer takes a
 * free lock unmarked, and its release wakes no one.
 */
Test(sync, a_woken_waiter_leaves_the_lock_awaited, .timeout = 10)
{
    struct conc_lock l;
    struct sync_probe p[2];
    uint32_t seq;

    /* On several threads (the locked list) and on one (the inline head
       wake and link). */
    for (int local = 0; local < 2; local++) {
        bool waited[2] = { false, false }, fresh = false;

        conc_sync_set_local(local);
        conc_lock_init(&l);
        memset(p, 0, sizeof(p));
        cr_assert(conc_lock_try(&l, &fresh, &seq));
        cr_assert_not(fresh);
        for (int i = 0; i < 2; i++) {
            p[i].w.wake = sync_probe_wake;
            cr_assert_not(conc_lock_try(&l, &waited[i], &seq));
            cr_assert(waited[i]);
            cr_assert_eq(seq, 2);
            cr_assert(conc_waitq_link(&l.q, seq, &p[i].w));
        }
        conc_lock_release(&l);
        cr_assert_eq(p[0].woken, 1);
        cr_assert_eq(p[1].woken, 0);
        cr_assert(conc_lock_try(&l, &waited[0], &seq)); /* the woken one */
        cr_assert_not(waited[0]);
        conc_lock_release(&l);
        cr_assert_eq(p[1].woken, 1);
        cr_assert(conc_lock_try(&l, &waited[1], &seq));
        conc_lock_release(&l);
        /* Nobody waits now: a newcomer's take and release wake no one. */
        cr_assert(conc_lock_try(&l, &fresh, &seq));
        cr_assert_eq(atomic_load(&l.q.seq), 1);
        conc_lock_release(&l);
        cr_assert_eq(p[0].woken, 1);
        cr_assert_eq(p[1].woken, 1);
        /* The list is empty; its count, kept for wakers on other threads
           only, says so. */
        cr_assert_eq(atomic_load(&l.q.linked), 0);
        cr_assert_null(l.q.head);
        cr_assert_not(p[0].w.linked);
        cr_assert_not(p[1].w.linked);
    }
    conc_sync_set_local(false);
}

/*
 * A FIFO lock serves tickets in turn: a release hands it to the first
 * waiter, and the holder asking again at once queues behind the second
 * (no barging). On one thread a release wakes the next waiter only; on
 * several it wakes every one, and the one not served fails its try again.
 */
Test(sync, a_fifo_lock_hands_over_in_turn, .timeout = 10)
{
    struct conc_fifo_lock l;
    struct sync_probe p[2];
    struct conc_fifo_turn me = { 0 }, turn[2] = { { 0 }, { 0 } };
    uint32_t seq;

    for (int local = 0; local < 2; local++) {
        conc_sync_set_local(local);
        conc_fifo_init(&l);
        memset(p, 0, sizeof(p));
        cr_assert(conc_fifo_try(&l, &me, &seq));
        for (int i = 0; i < 2; i++) {
            p[i].w.wake = sync_probe_wake;
            cr_assert_not(conc_fifo_try(&l, &turn[i], &seq));
            cr_assert_eq(seq, 0);
            cr_assert(conc_waitq_link(&l.q, seq, &p[i].w));
        }
        conc_fifo_release(&l);
        cr_assert_eq(p[0].woken, 1);
        cr_assert_eq(p[1].woken, local ? 0 : 1);
        /* The releaser asks again: it is behind both waiters. */
        cr_assert_not(conc_fifo_try(&l, &me, &seq));
        cr_assert_eq(seq, 1);
        if (!local)
            cr_assert_not(conc_fifo_try(&l, &turn[1], &seq));
        cr_assert(conc_fifo_try(&l, &turn[0], &seq));
        if (!local)
            cr_assert(conc_waitq_link(&l.q, seq, &p[1].w));
        cr_assert(conc_waitq_link(&l.q, 1, &p[0].w)); /* me, parked */
        conc_fifo_release(&l);
        cr_assert_eq(p[1].woken, local ? 1 : 2);
        cr_assert(conc_fifo_try(&l, &turn[1], &seq));
        conc_fifo_release(&l);
        cr_assert(conc_fifo_try(&l, &me, &seq));
        conc_fifo_release(&l);
        /* Nobody waits: a take and release wake no one. */
        cr_assert(conc_fifo_try(&l, &me, &seq));
        conc_fifo_release(&l);
        cr_assert_eq(atomic_load(&l.q.seq), 5);
        cr_assert_eq(atomic_load(&l.q.linked), 0);
        cr_assert_null(l.q.head);
    }
    conc_sync_set_local(false);
}

/* On one thread a FIFO release can hand back the waiter it served, not
   yet woken, for its caller to wake when it likes. */
Test(sync, a_fifo_release_hands_back_whom_it_served, .timeout = 10)
{
    struct conc_fifo_lock l;
    struct sync_probe p[2];
    struct conc_fifo_turn me = { 0 }, turn[2] = { { 0 }, { 0 } };
    uint32_t seq;

    conc_sync_set_local(true);
    conc_fifo_init(&l);
    memset(p, 0, sizeof(p));
    cr_assert(conc_fifo_try(&l, &me, &seq));
    /* Nobody waits: the ticket is served, and nobody is handed back. */
    cr_assert_null(conc_fifo_serve_local(&l));
    cr_assert(conc_fifo_try_as(&l, &me, &seq, true));
    for (int i = 0; i < 2; i++) {
        p[i].w.wake = sync_probe_wake;
        cr_assert_not(conc_fifo_try_as(&l, &turn[i], &seq, true));
        cr_assert(conc_waitq_link_local(&l.q, seq, &p[i].w));
    }
    /* The first in line, out of the list, not woken; its turn is now. */
    cr_assert_eq(conc_fifo_serve_local(&l), &p[0].w);
    cr_assert_eq(p[0].woken + p[1].woken, 0);
    cr_assert_not(p[0].w.linked);
    cr_assert_eq(l.q.head, &p[1].w);
    cr_assert_eq(l.q.tail, &p[1].w);
    cr_assert(conc_fifo_try_as(&l, &turn[0], &seq, true));
    cr_assert_eq(conc_fifo_serve_local(&l), &p[1].w);
    cr_assert_null(l.q.head);
    cr_assert(conc_fifo_try_as(&l, &turn[1], &seq, true));
    cr_assert_null(conc_fifo_serve_local(&l));
    cr_assert_eq(atomic_load(&l.q.seq), 4);
    cr_assert_eq(p[0].woken + p[1].woken, 0);
    conc_sync_set_local(false);
}

/* ---- counter: K locked increments of a plain counter per task */

#define COUNTER_K 500

struct counter_shared {
    struct conc_lock lock;
    uint64_t count; /* plain: only touched under the lock */
};

struct counter_task {
    struct counter_shared *sh;
    bool waited; /* conc_lock_try's memory of its last try */
    unsigned done, phase;
    uint64_t seen;
};

static int counter_setup(void **shared, const struct conc_params *p,
                         unsigned tasks)
{
    struct counter_shared *sh = conc_shm_alloc(sizeof(*sh));

    (void)p;
    (void)tasks;
    if (!sh)
        return -errno;
    conc_lock_init(&sh->lock);
    *shared = sh;
    return 0;
}

static int counter_task_init(void *task, void *shared, unsigned index,
                             unsigned tasks)
{
    struct counter_task *t = task;

    (void)index;
    (void)tasks;
    memset(t, 0, sizeof(*t));
    t->sh = shared;
    return 0;
}

/*
 * Reads the counter, yields holding the lock (the others come and wait),
 * then writes it back one higher and releases: without the lock, updates
 * would be lost under every model.
 */
static int counter_step(void *task, struct conc_wait *w)
{
    struct counter_task *t = task;
    struct counter_shared *sh = t->sh;
    uint32_t seq;

    if (t->phase == 0) {
        if (!conc_lock_try(&sh->lock, &t->waited, &seq))
            return sync_wait(w, &sh->lock.q, seq);
        t->seen = sh->count;
        t->phase = 1;
        w->want = CONC_YIELD;
        return 0;
    }
    sh->count = t->seen + 1;
    conc_lock_release(&sh->lock);
    t->phase = 0;
    w->want = ++t->done == COUNTER_K ? CONC_DONE : CONC_YIELD;
    return 0;
}

static int counter_task_result(const void *task, struct conc_task_out *out)
{
    out->result = ((const struct counter_task *)task)->done;
    return 0;
}

static int counter_verify(void *shared, const struct conc_totals *tot,
                          char *why, size_t len)
{
    struct counter_shared *sh = shared;

    if (sh->count != (uint64_t)tot->tasks * COUNTER_K) {
        snprintf(why, len, "count %llu", (unsigned long long)sh->count);
        return -EINVAL;
    }
    return 0;
}

static void counter_teardown(void *shared)
{
    conc_shm_free(shared, sizeof(struct counter_shared));
}

static const struct conc_workload sync_counter = {
    .name = "counter",
    .summary = "locked increments of one counter",
    .opts = harness_no_opts,
    .task_size = sizeof(struct counter_task),
    .setup = counter_setup,
    .task_init = counter_task_init,
    .step = counter_step,
    .task_result = counter_task_result,
    .task_fini = sync_nop_fini,
    .verify = counter_verify,
    .teardown = counter_teardown,
};

Test(sync, a_lock_loses_no_update, .timeout = 60)
{
    const unsigned tasks = 6;

    for (size_t k = 0; k < SYNC_NCFGS; k++) {
        const struct sync_cfg *c = &sync_cfgs[k];
        int fds0 = sync_count_fds(c);
        struct harness_result r = sync_run(c, &sync_counter, tasks);

        cr_assert_eq(r.run_err, 0, "%s %s", c->model, c->opts);
        cr_assert_eq(r.task_failures, 0, "%s %s: task 0 ended %d", c->model,
                     c->opts, r.task_status[0]);
        cr_assert_eq(r.verify_err, 0, "%s %s: updates lost", c->model,
                     c->opts);
        cr_assert_eq(r.result, (uint64_t)tasks * COUNTER_K);
        cr_assert_eq(harness_count_fds(), fds0, "%s %s: fds leaked",
                     c->model, c->opts);
        /* A one-thread model's lock-free mode ends with its run: the
           next run may be threads. */
        cr_assert(!conc_sync_local(), "%s %s left the sync layer local",
                  c->model, c->opts);
        harness_result_fini(&r);
    }
}

/* ---- pingpong: two locks handed back and forth, strictly in turn */

#define PINGPONG_ROUNDS 2000

struct pingpong_shared {
    struct conc_lock lock[2]; /* task i waits on lock[i] */
    uint64_t count;
    unsigned out_of_turn;
};

struct pingpong_task {
    struct pingpong_shared *sh;
    bool waited;
    unsigned index, done;
};

static int pingpong_setup(void **shared, const struct conc_params *p,
                          unsigned tasks)
{
    struct pingpong_shared *sh = conc_shm_alloc(sizeof(*sh));
    bool waited = false;
    uint32_t seq;

    (void)p;
    (void)tasks;
    if (!sh)
        return -errno;
    conc_lock_init(&sh->lock[0]);
    conc_lock_init(&sh->lock[1]);
    /* Task 0 has the first turn: task 1's lock starts taken. */
    cr_assert(conc_lock_try(&sh->lock[1], &waited, &seq));
    *shared = sh;
    return 0;
}

static int pingpong_task_init(void *task, void *shared, unsigned index,
                              unsigned tasks)
{
    struct pingpong_task *t = task;

    (void)tasks;
    t->sh = shared;
    t->index = index;
    t->done = 0;
    return 0;
}

/*
 * Takes its own lock (the other task released it), counts, and releases
 * the other task's lock; then at once tries its own again, which the other
 * task still has: every turn is one park and one wake.
 */
static int pingpong_step(void *task, struct conc_wait *w)
{
    struct pingpong_task *t = task;
    struct pingpong_shared *sh = t->sh;
    uint32_t seq;

    for (;;) {
        if (!conc_lock_try(&sh->lock[t->index], &t->waited, &seq))
            return sync_wait(w, &sh->lock[t->index].q, seq);
        if (sh->count % 2 != t->index)
            sh->out_of_turn++;
        sh->count++;
        conc_lock_release(&sh->lock[1 - t->index]);
        if (++t->done == PINGPONG_ROUNDS) {
            w->want = CONC_DONE;
            return 0;
        }
    }
}

static int pingpong_task_result(const void *task, struct conc_task_out *out)
{
    out->result = ((const struct pingpong_task *)task)->done;
    return 0;
}

static int pingpong_verify(void *shared, const struct conc_totals *tot,
                           char *why, size_t len)
{
    struct pingpong_shared *sh = shared;

    if (sh->count != 2ull * PINGPONG_ROUNDS || sh->out_of_turn ||
        tot->result != 2ull * PINGPONG_ROUNDS) {
        snprintf(why, len, "count %llu, %u out of turn",
                 (unsigned long long)sh->count, sh->out_of_turn);
        return -EINVAL;
    }
    return 0;
}

static void pingpong_teardown(void *shared)
{
    conc_shm_free(shared, sizeof(struct pingpong_shared));
}

static const struct conc_workload sync_pingpong = {
    .name = "pingpong",
    .summary = "two locks handed back and forth",
    .opts = harness_no_opts,
    .task_size = sizeof(struct pingpong_task),
    .setup = pingpong_setup,
    .task_init = pingpong_task_init,
    .step = pingpong_step,
    .task_result = pingpong_task_result,
    .task_fini = sync_nop_fini,
    .verify = pingpong_verify,
    .teardown = pingpong_teardown,
};

/*
 * Each handoff parks one task and wakes it from the other, across threads
 * where the model has several. Under sequential the first task waits for
 * a task that has not started: a deadlock, found at once.
 */
Test(sync, a_lock_handoff_pingpong, .timeout = 60)
{
    for (size_t k = 0; k < SYNC_NCFGS; k++) {
        const struct sync_cfg *c = &sync_cfgs[k];
        struct harness_result r = sync_run(c, &sync_pingpong, 2);

        cr_assert_eq(r.run_err, 0, "%s %s", c->model, c->opts);
        if (!strcmp(c->model, "sequential")) {
            cr_assert_eq(r.task_status[0], -EDEADLK);
            cr_assert_eq(r.task_status[1], -EDEADLK);
            cr_assert_lt(r.wall_ns, CONC_NS_PER_S / 2);
        } else {
            cr_assert_eq(r.task_failures, 0, "%s %s: ended %d %d", c->model,
                         c->opts, r.task_status[0], r.task_status[1]);
            cr_assert_eq(r.verify_err, 0, "%s %s", c->model, c->opts);
        }
        harness_result_fini(&r);
    }
}

/* ---- deadlock: two tasks, two locks, taken in opposite orders */

struct deadlock_shared {
    struct conc_lock lock[2];
    struct conc_event both; /* set once both hold their first lock */
    atomic_uint holding;
};

struct deadlock_task {
    struct deadlock_shared *sh;
    bool waited;
    unsigned index, phase;
};

static int deadlock_setup(void **shared, const struct conc_params *p,
                          unsigned tasks)
{
    struct deadlock_shared *sh = conc_shm_alloc(sizeof(*sh));

    (void)p;
    (void)tasks;
    if (!sh)
        return -errno;
    conc_lock_init(&sh->lock[0]);
    conc_lock_init(&sh->lock[1]);
    conc_event_init(&sh->both);
    *shared = sh;
    return 0;
}

static int deadlock_task_init(void *task, void *shared, unsigned index,
                              unsigned tasks)
{
    struct deadlock_task *t = task;

    (void)tasks;
    t->sh = shared;
    t->index = index;
    t->phase = 0;
    return 0;
}

/*
 * Task i takes lock i, yields, and then (once both tasks hold their first
 * lock, so that preemptive models cannot slip past) takes the other's.
 */
static int deadlock_step(void *task, struct conc_wait *w)
{
    struct deadlock_task *t = task;
    struct deadlock_shared *sh = t->sh;
    uint32_t seq;

    switch (t->phase) {
    case 0:
        if (!conc_lock_try(&sh->lock[t->index], &t->waited, &seq))
            return sync_wait(w, &sh->lock[t->index].q, seq);
        t->phase = 1;
        w->want = CONC_YIELD;
        return 0;
    case 1:
        if (atomic_fetch_add(&sh->holding, 1) + 1 == 2)
            conc_event_set(&sh->both);
        t->phase = 2;
        /* fall through */
    case 2:
        if (!conc_event_is_set(&sh->both, &seq))
            return sync_wait(w, &sh->both.q, seq);
        t->phase = 3;
        /* fall through */
    default:
        if (!conc_lock_try(&sh->lock[1 - t->index], &t->waited, &seq))
            return sync_wait(w, &sh->lock[1 - t->index].q, seq);
        w->want = CONC_DONE;
        return 0;
    }
}

static int deadlock_task_result(const void *task, struct conc_task_out *out)
{
    (void)task;
    out->result = 1;
    return 0;
}

static void deadlock_teardown(void *shared)
{
    conc_shm_free(shared, sizeof(struct deadlock_shared));
}

static const struct conc_workload sync_deadlock = {
    .name = "deadlock",
    .summary = "two locks taken in opposite orders",
    .opts = harness_no_opts,
    .task_size = sizeof(struct deadlock_task),
    .setup = deadlock_setup,
    .task_init = deadlock_task_init,
    .step = deadlock_step,
    .task_result = deadlock_task_result,
    .task_fini = sync_nop_fini,
    .verify = harness_nop_verify,
    .teardown = deadlock_teardown,
};

/*
 * Found at once with one worker (sequential, green and eventloop with
 * workers=1), after CONC_DEADLOCK_NS of no wake with several. gil=on is
 * left out to keep the file fast: it waits as threads does, and the other
 * tests show that it drops the GIL while it waits.
 */
Test(sync, a_deadlock_ends_with_edeadlk, .timeout = 60)
{
    for (size_t k = 0; k < SYNC_NCFGS; k++) {
        const struct sync_cfg *c = &sync_cfgs[k];
        struct harness_result r;
        bool one;
        uint64_t limit;

        if (strstr(c->opts, "gil=on"))
            continue;
        r = sync_run(c, &sync_deadlock, 2);
        one = !strcmp(c->model, "sequential") ||
              strstr(c->opts, "workers=1") != NULL;
        limit = one ? CONC_DEADLOCK_NS / 2
                    : CONC_DEADLOCK_NS + CONC_DEADLOCK_NS / 2;

        cr_assert_eq(r.run_err, 0, "%s %s", c->model, c->opts);
        for (int i = 0; i < 2; i++)
            cr_assert_eq(r.task_status[i], -EDEADLK, "%s %s: task %d ended "
                         "%d", c->model, c->opts, i, r.task_status[i]);
        cr_assert_lt(r.wall_ns, limit, "%s %s: %llu ms", c->model, c->opts,
                     (unsigned long long)(r.wall_ns / CONC_NS_PER_MS));
        harness_result_fini(&r);
    }
}

/* ---- holder: the first task to take the lock fails holding it */

#define HOLDER_FAIL_MS 20

struct holder_shared {
    struct conc_lock lock;
    atomic_bool taken;
};

struct holder_task {
    struct holder_shared *sh;
    bool waited;
    unsigned phase;
};

static int holder_setup(void **shared, const struct conc_params *p,
                        unsigned tasks)
{
    struct holder_shared *sh = conc_shm_alloc(sizeof(*sh));

    (void)p;
    (void)tasks;
    if (!sh)
        return -errno;
    conc_lock_init(&sh->lock);
    *shared = sh;
    return 0;
}

static int holder_task_init(void *task, void *shared, unsigned index,
                            unsigned tasks)
{
    struct holder_task *t = task;

    (void)index;
    (void)tasks;
    t->sh = shared;
    t->phase = 0;
    return 0;
}

/* The holder sleeps a little, so that the others come to wait, and fails
   without releasing the lock, as a crashed critical section would. */
static int holder_step(void *task, struct conc_wait *w)
{
    struct holder_task *t = task;
    struct holder_shared *sh = t->sh;
    uint32_t seq;

    if (t->phase == 1)
        return -EIO;
    if (!conc_lock_try(&sh->lock, &t->waited, &seq))
        return sync_wait(w, &sh->lock.q, seq);
    if (atomic_exchange(&sh->taken, true)) {
        /* Only if the model let a waiter past a lock still held. */
        conc_lock_release(&sh->lock);
        w->want = CONC_DONE;
        return 0;
    }
    t->phase = 1;
    w->want = CONC_WAIT_UNTIL;
    w->deadline_ns = conc_now_ns() + HOLDER_FAIL_MS * CONC_NS_PER_MS;
    return 0;
}

static int holder_task_result(const void *task, struct conc_task_out *out)
{
    (void)task;
    out->result = 1;
    return 0;
}

static void holder_teardown(void *shared)
{
    conc_shm_free(shared, sizeof(struct holder_shared));
}

static const struct conc_workload sync_holder = {
    .name = "holder",
    .summary = "a task fails holding the lock",
    .opts = harness_no_opts,
    .task_size = sizeof(struct holder_task),
    .setup = holder_setup,
    .task_init = holder_task_init,
    .step = holder_step,
    .task_result = holder_task_result,
    .task_fini = sync_nop_fini,
    .verify = harness_nop_verify,
    .teardown = holder_teardown,
};

Test(sync, a_failed_holder_cancels_the_waiters, .timeout = 60)
{
    const unsigned tasks = 4;

    for (size_t k = 0; k < SYNC_NCFGS; k++) {
        const struct sync_cfg *c = &sync_cfgs[k];
        struct harness_result r = sync_run(c, &sync_holder, tasks);
        unsigned eio = 0, canceled = 0;

        cr_assert_eq(r.run_err, 0, "%s %s", c->model, c->opts);
        for (unsigned i = 0; i < tasks; i++) {
            eio += r.task_status[i] == -EIO;
            canceled += r.task_status[i] == -ECANCELED;
        }
        cr_assert_eq(eio, 1, "%s %s", c->model, c->opts);
        cr_assert_eq(canceled, tasks - 1, "%s %s: task 1 ended %d", c->model,
                     c->opts, r.task_status[1]);
        /* The holder's 20 ms, then at most one look at the abort. */
        cr_assert_lt(r.wall_ns, 600 * CONC_NS_PER_MS, "%s %s: %llu ms",
                     c->model, c->opts,
                     (unsigned long long)(r.wall_ns / CONC_NS_PER_MS));
        harness_result_fini(&r);
    }
}

/* ---- event: one setter, every other task waits for it */

#define EVENT_SET_MS 20

struct event_task {
    struct conc_event *ev;
    unsigned index, phase;
};

static int event_setup(void **shared, const struct conc_params *p,
                       unsigned tasks)
{
    struct conc_event *ev = conc_shm_alloc(sizeof(*ev));

    (void)p;
    (void)tasks;
    if (!ev)
        return -errno;
    conc_event_init(ev);
    *shared = ev;
    return 0;
}

static int event_task_init(void *task, void *shared, unsigned index,
                           unsigned tasks)
{
    struct event_task *t = task;

    (void)tasks;
    t->ev = shared;
    t->index = index;
    t->phase = 0;
    return 0;
}

/* Task 0 sets the event after a while; the others wait until it is set. */
static int event_step(void *task, struct conc_wait *w)
{
    struct event_task *t = task;
    uint32_t seq;

    if (t->index == 0 && t->phase++ == 0) {
        w->want = CONC_WAIT_UNTIL;
        w->deadline_ns = conc_now_ns() + EVENT_SET_MS * CONC_NS_PER_MS;
        return 0;
    }
    if (t->index == 0)
        conc_event_set(t->ev);
    else if (!conc_event_is_set(t->ev, &seq))
        return sync_wait(w, &t->ev->q, seq);
    w->want = CONC_DONE;
    return 0;
}

static int event_task_result(const void *task, struct conc_task_out *out)
{
    (void)task;
    out->result = 1;
    return 0;
}

static void event_teardown(void *shared)
{
    conc_shm_free(shared, sizeof(struct conc_event));
}

static const struct conc_workload sync_event = {
    .name = "event",
    .summary = "waiters for one setter",
    .opts = harness_no_opts,
    .task_size = sizeof(struct event_task),
    .setup = event_setup,
    .task_init = event_task_init,
    .step = event_step,
    .task_result = event_task_result,
    .task_fini = sync_nop_fini,
    .verify = harness_nop_verify,
    .teardown = event_teardown,
};

Test(sync, an_event_wakes_every_waiter, .timeout = 60)
{
    const unsigned tasks = 6;

    for (size_t k = 0; k < SYNC_NCFGS; k++) {
        const struct sync_cfg *c = &sync_cfgs[k];
        struct harness_result r = sync_run(c, &sync_event, tasks);

        cr_assert_eq(r.run_err, 0, "%s %s", c->model, c->opts);
        cr_assert_eq(r.task_failures, 0, "%s %s: task 1 ended %d", c->model,
                     c->opts, r.task_status[1]);
        cr_assert_eq(r.result, tasks);
        cr_assert_lt(r.wall_ns, 600 * CONC_NS_PER_MS, "%s %s", c->model,
                     c->opts);
        harness_result_fini(&r);
    }
}

/* ---- SIGINT: one task holds the lock for 20 s, the others wait on it */

static bool hold_waiters_left; /* a waiter still linked at teardown */

struct hold_task {
    struct conc_lock *lock;
    bool waited;
    bool held;
};

static int hold_setup(void **shared, const struct conc_params *p,
                      unsigned tasks)
{
    struct conc_lock *l = conc_shm_alloc(sizeof(*l));

    (void)p;
    (void)tasks;
    if (!l)
        return -errno;
    conc_lock_init(l);
    *shared = l;
    return 0;
}

static int hold_task_init(void *task, void *shared, unsigned index,
                          unsigned tasks)
{
    struct hold_task *t = task;

    (void)index;
    (void)tasks;
    t->lock = shared;
    t->held = false;
    return 0;
}

static int hold_step(void *task, struct conc_wait *w)
{
    struct hold_task *t = task;
    uint32_t seq;

    if (t->held) {
        conc_lock_release(t->lock);
        w->want = CONC_DONE;
        return 0;
    }
    if (!conc_lock_try(t->lock, &t->waited, &seq))
        return sync_wait(w, &t->lock->q, seq);
    t->held = true;
    w->want = CONC_WAIT_UNTIL;
    w->deadline_ns = conc_now_ns() + 20 * CONC_NS_PER_S;
    return 0;
}

static int hold_task_result(const void *task, struct conc_task_out *out)
{
    (void)task;
    out->result = 1;
    return 0;
}

/* The queue outlives a run: no stopped task may be left linked in it. */
static void hold_teardown(void *shared)
{
    struct conc_lock *l = shared;

    hold_waiters_left = l->q.head != NULL; /* empty: head alone says */
    conc_shm_free(l, sizeof(*l));
}

static const struct conc_workload sync_hold = {
    .name = "hold",
    .summary = "one task holds the lock for 20 s",
    .opts = harness_no_opts,
    .task_size = sizeof(struct hold_task),
    .setup = hold_setup,
    .task_init = hold_task_init,
    .step = hold_step,
    .task_result = hold_task_result,
    .task_fini = sync_nop_fini,
    .verify = harness_nop_verify,
    .teardown = hold_teardown,
};

static void sync_on_signal(int sig)
{
    conc_interrupted = sig;
}

struct sync_killer {
    pthread_t target;
    unsigned delay_ms;
    uint64_t sent_ns;
};

static void *sync_killer_main(void *arg)
{
    struct sync_killer *k = arg;
    struct timespec ts = { 0, (long)k->delay_ms * 1000000L };

    nanosleep(&ts, NULL);
    k->sent_ns = conc_now_ns();
    pthread_kill(k->target, SIGINT);
    return NULL;
}

/*
 * A real SIGINT (no SA_RESTART, as cmd/ installs it) 80 ms in: the run
 * returns -EINTR soon after, no fd, child or waiter left behind. (Under
 * sequential the holder's own wait is what the signal ends.)
 */
Test(sync, sigint_ends_tasks_waiting_on_a_lock, .timeout = 60)
{
    struct sigaction sa, old;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sync_on_signal;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGINT, &sa, &old), 0);
    for (size_t k = 0; k < SYNC_NCFGS; k++) {
        const struct sync_cfg *c = &sync_cfgs[k];
        struct sync_killer killer = { pthread_self(), 80, 0 };
        int fds0 = sync_count_fds(c);
        struct harness_result r;
        uint64_t end;
        pthread_t th;

        conc_interrupted = 0;
        hold_waiters_left = true;
        cr_assert_eq(pthread_create(&th, NULL, sync_killer_main, &killer), 0);
        r = sync_run(c, &sync_hold, 5);
        end = conc_now_ns();
        pthread_join(th, NULL);
        cr_assert_eq(r.run_err, -EINTR, "%s %s: run %d", c->model, c->opts,
                     r.run_err);
        cr_assert_lt(end - killer.sent_ns, 500 * CONC_NS_PER_MS,
                     "%s %s: %llu ms after SIGINT", c->model, c->opts,
                     (unsigned long long)((end - killer.sent_ns) /
                                          CONC_NS_PER_MS));
        cr_assert_not(hold_waiters_left, "%s %s: a waiter left in the queue",
                      c->model, c->opts);
        cr_assert_eq(harness_count_fds(), fds0, "%s %s: fds leaked",
                     c->model, c->opts);
        cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "%s %s: a child left",
                     c->model, c->opts);
        harness_result_fini(&r);
    }
    conc_interrupted = 0;
    sigaction(SIGINT, &old, NULL);
}
