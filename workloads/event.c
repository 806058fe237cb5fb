/*
 * event: one setter, T-1 waiters on one event (threading.Event,
 * gevent.event.Event, asyncio.Event). Each round the setter sleeps `delay`,
 * sets the event, waits until every waiter ran, and clears it; each wake's
 * latency from the set shows what a broadcast costs under each model.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/sync.h"
#include "workloads/workload.h"

#define EVENT_MAX_ROUNDS (1ull << 32)

static const struct conc_opt event_opts[] = {
    { "rounds", CONC_OPT_COUNT, "100", "times the setter sets the event "
      "(each waiter wakes once a round)", NULL, 1, EVENT_MAX_ROUNDS },
    { "delay", CONC_OPT_DURATION, "1ms", "the setter's sleep before each "
      "set, in which the waiters go back to waiting (a bare number is ms)",
      NULL, 0, 60 * CONC_NS_PER_S },
    { NULL },
};

/*
 * What the tasks share. Rounds alternate between two events: a waiter done
 * with round r waits on the other one at once, while the setter has not
 * cleared this one yet. The last waiter of a round to run posts `acked`.
 */
struct event_mut {
    struct conc_event ev[2];
    _Atomic uint64_t set_ns[2];   /* when round r % 2 was set */
    _Atomic uint64_t round_max;   /* this round's latest wake */
    _Atomic uint64_t last_sum;    /* the rounds' latest wakes, summed */
    atomic_uint acks;             /* waiters that ran this round */
    struct conc_sem acked;        /* one unit once all of them did */
    atomic_uint finished;
    struct conc_hist wake_ns;
};

struct event_shared {
    uint64_t rounds, delay_ns;
    unsigned tasks;
    struct event_mut *mut;
};

enum event_phase { EVENT_SLEEP, EVENT_SET, EVENT_ACKS };

struct event_task {
    const struct event_shared *sh;
    bool setter;
    enum event_phase phase;
    uint64_t round;
    uint64_t deadline_ns;
    uint64_t wakes;
};

static int event_check(const struct conc_params *p, unsigned tasks)
{
    (void)p;
    if (tasks < 2)
        return conc_error_msg(-EINVAL, "event needs a setter and at least "
                              "one waiter (give --tasks 2 or more)");
    return 0;
}

static int event_serial_check(const struct conc_params *p, unsigned tasks)
{
    (void)p;
    (void)tasks;
    return conc_error_msg(-EINVAL, "event cannot run one task after "
                          "another: the setter waits each round for its "
                          "waiters to run, and the waiters for the setter "
                          "(use a model that interleaves tasks)");
}

static void event_run_start(void *shared)
{
    struct event_shared *sh = shared;
    struct event_mut *m = sh->mut;

    for (int i = 0; i < 2; i++) {
        conc_event_init(&m->ev[i]);
        atomic_store(&m->set_ns[i], 0);
    }
    atomic_store(&m->round_max, 0);
    atomic_store(&m->last_sum, 0);
    atomic_store(&m->acks, 0);
    conc_sem_init(&m->acked, 0);
    atomic_store(&m->finished, 0);
    conc_hist_init(&m->wake_ns);
}

static int event_setup(void **shared, const struct conc_params *p,
                       unsigned tasks)
{
    struct event_shared *sh = calloc(1, sizeof(*sh));
    int err;

    if (!sh)
        return conc_error(-ENOMEM, "cannot allocate the event");
    sh->rounds = conc_param_u64(p, "rounds");
    sh->delay_ns = conc_param_u64(p, "delay");
    sh->tasks = tasks;
    /* Shared memory: fork's children wait on the very same event. */
    sh->mut = conc_shm_alloc(sizeof(*sh->mut));
    if (!sh->mut) {
        err = conc_error(-errno, "cannot map the event");
        free(sh);
        return err;
    }
    event_run_start(sh);
    *shared = sh;
    return 0;
}

static void event_teardown(void *shared)
{
    struct event_shared *sh = shared;

    conc_shm_free(sh->mut, sizeof(*sh->mut));
    free(sh);
}

static int event_task_init(void *task, void *shared, unsigned index,
                           unsigned tasks)
{
    struct event_task *t = task;

    (void)tasks;
    memset(t, 0, sizeof(*t));
    t->sh = shared;
    t->setter = index == 0;
    return 0;
}

/* The setter: sleep, set, wait for every waiter, clear; rounds times. */
static int event_step_setter(struct event_task *t, struct conc_wait *w)
{
    const struct event_shared *sh = t->sh;
    struct event_mut *m = sh->mut;
    unsigned k = (unsigned)(t->round & 1);
    uint32_t seq;

    for (;;) {
        switch (t->phase) {
        case EVENT_SLEEP:
            if (t->round == sh->rounds) {
                w->want = CONC_DONE;
                return 0;
            }
            k = (unsigned)(t->round & 1);
            t->deadline_ns = conc_now_ns() + sh->delay_ns;
            t->phase = EVENT_SET;
            w->want = CONC_WAIT_UNTIL;
            w->deadline_ns = t->deadline_ns;
            return 0;
        case EVENT_SET:
            if (conc_now_ns() < t->deadline_ns) {
                w->want = CONC_WAIT_UNTIL;
                w->deadline_ns = t->deadline_ns;
                return 0;
            }
            atomic_store(&m->acks, 0);
            atomic_store(&m->round_max, 0);
            atomic_store(&m->set_ns[k], conc_now_ns());
            conc_event_set(&m->ev[k]);
            t->phase = EVENT_ACKS;
            break;
        case EVENT_ACKS:
            if (!conc_sem_try(&m->acked, &seq)) {
                w->want = CONC_WAIT_SYNC;
                w->q = &m->acked.q;
                w->seq = seq;
                return 0;
            }
            conc_event_clear(&m->ev[k]);
            atomic_fetch_add(&m->last_sum, atomic_load(&m->round_max));
            t->round++;
            t->phase = EVENT_SLEEP;
            break;
        }
    }
}

/* A waiter: wait for this round's set, note the wake, tell the setter. */
static int event_step_waiter(struct event_task *t, struct conc_wait *w)
{
    const struct event_shared *sh = t->sh;
    struct event_mut *m = sh->mut;
    uint64_t wake, max;
    uint32_t seq;

    for (;;) {
        unsigned k = (unsigned)(t->round & 1);
        if (t->round == sh->rounds) {
            w->want = CONC_DONE;
            return 0;
        }
        if (!conc_event_is_set(&m->ev[k], &seq)) {
            w->want = CONC_WAIT_SYNC;
            w->q = &m->ev[k].q;
            w->seq = seq;
            return 0;
        }
        wake = conc_now_ns() - atomic_load(&m->set_ns[k]);
        conc_hist_add_atomic(&m->wake_ns, wake);
        max = atomic_load(&m->round_max);
        while (wake > max &&
               !atomic_compare_exchange_weak(&m->round_max, &max, wake))
            ;
        t->wakes++;
        t->round++;
        /* The next round's event is clear: the loop parks on it. */
        if (atomic_fetch_add(&m->acks, 1) + 1 == sh->tasks - 1)
            conc_sem_post(&m->acked, 1);
    }
}

static int event_step(void *task, struct conc_wait *w)
{
    struct event_task *t = task;

    return t->setter ? event_step_setter(t, w) : event_step_waiter(t, w);
}

static int event_task_result(const void *task, struct conc_task_out *out)
{
    const struct event_task *t = task;
    struct event_mut *m = t->sh->mut;

    out->ops = t->wakes;
    out->result = t->setter ? t->round : 0;
    if (atomic_fetch_add(&m->finished, 1) + 1 == t->sh->tasks)
        conc_hist_merge(out->op_ns, &m->wake_ns);
    return 0;
}

static void event_task_fini(void *task)
{
    (void)task;
}

/* Every waiter woke once every round, and the setter set every round. */
static int event_verify(void *shared, const struct conc_totals *t, char *why,
                        size_t why_len)
{
    struct event_shared *sh = shared;
    uint64_t expected = (uint64_t)(sh->tasks - 1) * sh->rounds;

    if (t->ops != expected || t->result != sh->rounds) {
        snprintf(why, why_len, "%llu wakes in %llu rounds, expected %llu "
                 "in %llu", (unsigned long long)t->ops,
                 (unsigned long long)t->result, (unsigned long long)expected,
                 (unsigned long long)sh->rounds);
        return -EINVAL;
    }
    return 0;
}

/* waiters, rounds, and the latest waiter's wake, averaged over rounds:
   when the whole herd is running again. */
static size_t event_run_metrics(void *shared, const struct conc_totals *t,
                                const struct conc_task_out *out,
                                unsigned tasks, struct conc_metric *m,
                                size_t max, char *note, size_t note_len)
{
    struct event_shared *sh = shared;
    double last = (double)atomic_load(&sh->mut->last_sum) /
                  (double)sh->rounds;

    (void)t;
    (void)out;
    if (max < 3)
        return 0;
    m[0] = (struct conc_metric){ "waiters", tasks - 1 };
    m[1] = (struct conc_metric){ "rounds", (double)sh->rounds };
    m[2] = (struct conc_metric){ "last_wake_ns", last };
    snprintf(note, note_len, "Last waiter running: %.1f us after the set "
             "(mean over %llu rounds of %u waiters)", last / 1e3,
             (unsigned long long)sh->rounds, tasks - 1);
    return 3;
}

const struct conc_workload conc_workload_event = {
    .name = "event",
    .summary = "one setter sets an event that T-1 waiters wait on, round "
               "after round: what a broadcast wake costs",
    .op_name = "wake_ns",
    .opts = event_opts,
    .task_size = sizeof(struct event_task),
    .check = event_check,
    .serial_check = event_serial_check,
    .run_start = event_run_start,
    .setup = event_setup,
    .task_init = event_task_init,
    .step = event_step,
    .task_result = event_task_result,
    .task_fini = event_task_fini,
    .verify = event_verify,
    .run_metrics = event_run_metrics,
    .teardown = event_teardown,
};
