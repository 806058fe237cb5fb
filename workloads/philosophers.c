/*
 * philosophers: N philosophers (the tasks) around N forks (sync-layer
 * locks) think, get hungry, take two forks and eat, `meals` times each.
 * strategy=ordered takes the lower-numbered fork first, waiter lets at most
 * N-1 sit down at once, naive takes the left then the right, and deadlocks.
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

#define PHIL_MAX_MEALS (1ull << 32)

enum phil_strategy { PHIL_ORDERED, PHIL_WAITER, PHIL_NAIVE };

static const struct conc_opt phil_opts[] = {
    { "meals", CONC_OPT_COUNT, "100", "meals each philosopher eats", NULL,
      1, PHIL_MAX_MEALS },
    { "think", CONC_OPT_DURATION, "0", "time a philosopher thinks before "
      "it gets hungry (a bare number is ms)", NULL, 0, 60 * CONC_NS_PER_S },
    { "eat", CONC_OPT_DURATION, "100us", "time it eats, holding both forks",
      NULL, 0, 60 * CONC_NS_PER_S },
    { "busy", CONC_OPT_BOOL, "off", "think and eat as busy work on the CPU "
      "instead of a sleep", NULL, 0, 0 },
    { "pause", CONC_OPT_DURATION, "0", "a sleep between the first fork and "
      "the second, in which the neighbours reach for theirs (naive with a "
      "pause deadlocks under every model that interleaves)", NULL, 0,
      60 * CONC_NS_PER_S },
    { "strategy", CONC_OPT_CHOICE, "ordered", "how a philosopher takes its "
      "forks: the lower-numbered first (ordered), after the waiter gave it "
      "one of N-1 seats (waiter), or left then right (naive: can deadlock)",
      "ordered|waiter|naive", 0, 0 },
    { NULL },
};

/* A philosopher's forks in holds[]: bit 0 its left, bit 1 its right. */
#define PHIL_LEFT 1u
#define PHIL_RIGHT 2u

struct phil_seat {
    _Atomic unsigned holds;  /* PHIL_LEFT | PHIL_RIGHT it holds */
    atomic_int wants;        /* the fork it waits for, or -1 */
    char pad[56];            /* one cache line each */
};

/* What the tasks share, forked children too. */
struct phil_mut {
    struct conc_sem seats;       /* strategy=waiter: N-1 */
    atomic_uint finished;
    _Atomic uint64_t clashes;    /* a fork taken while another held it */
    struct conc_hist hungry_ns;
    struct conc_lock *forks;     /* [n], in this same mapping */
    atomic_uint *owner;          /* [n]: 1 + who holds fork f, or 0 */
    struct phil_seat seat[];     /* [n] */
};

struct phil_shared {
    enum phil_strategy strategy;
    uint64_t meals, think_ns, eat_ns, pause_ns;
    bool busy;
    unsigned n;
    struct phil_mut *mut;
    size_t mut_bytes;
};

enum phil_phase {
    PHIL_THINK, PHIL_THINKING, PHIL_SEAT, PHIL_FIRST, PHIL_PAUSE,
    PHIL_SECOND, PHIL_EATING,
};

struct phil_task {
    const struct phil_shared *sh;
    unsigned i, first, second;   /* fork numbers, in the order taken */
    enum phil_phase phase;
    bool waited;                 /* its last try of a fork failed */
    uint64_t meals;
    uint64_t deadline_ns;
    uint64_t hungry_from, hungry_ns;
};

static int phil_check(const struct conc_params *p, unsigned tasks)
{
    (void)p;
    if (tasks < 2)
        return conc_error_msg(-EINVAL, "philosophers needs 2 or more at "
                              "the table (one has a single fork); give "
                              "--tasks 2 or more");
    return 0;
}

static void phil_run_start(void *shared)
{
    struct phil_shared *sh = shared;
    struct phil_mut *m = sh->mut;

    conc_sem_init(&m->seats, (int64_t)sh->n - 1);
    atomic_store(&m->finished, 0);
    atomic_store(&m->clashes, 0);
    conc_hist_init(&m->hungry_ns);
    for (unsigned f = 0; f < sh->n; f++) {
        conc_lock_init(&m->forks[f]);
        atomic_store(&m->owner[f], 0);
        atomic_store(&m->seat[f].holds, 0);
        atomic_store(&m->seat[f].wants, -1);
    }
}

static int phil_setup(void **shared, const struct conc_params *p,
                      unsigned tasks)
{
    struct phil_shared *sh = calloc(1, sizeof(*sh));
    size_t seats, forks;
    int err;

    if (!sh)
        return conc_error(-ENOMEM, "cannot allocate the table");
    sh->strategy = (enum phil_strategy)conc_param_u64(p, "strategy");
    sh->meals = conc_param_u64(p, "meals");
    sh->think_ns = conc_param_u64(p, "think");
    sh->eat_ns = conc_param_u64(p, "eat");
    sh->pause_ns = conc_param_u64(p, "pause");
    sh->busy = conc_param_bool(p, "busy");
    sh->n = tasks;
    /* One mapping, so fork's children take the very same forks. */
    seats = sizeof(struct phil_mut) + tasks * sizeof(struct phil_seat);
    seats = (seats + 63) & ~(size_t)63;
    forks = tasks * sizeof(struct conc_lock);
    sh->mut_bytes = seats + forks + tasks * sizeof(atomic_uint);
    sh->mut = conc_shm_alloc(sh->mut_bytes);
    if (!sh->mut) {
        err = conc_error(-errno, "cannot map the table");
        free(sh);
        return err;
    }
    sh->mut->forks = (struct conc_lock *)((char *)sh->mut + seats);
    sh->mut->owner = (atomic_uint *)((char *)sh->mut + seats + forks);
    phil_run_start(sh);
    *shared = sh;
    return 0;
}

static void phil_teardown(void *shared)
{
    struct phil_shared *sh = shared;

    conc_shm_free(sh->mut, sh->mut_bytes);
    free(sh);
}

static int phil_task_init(void *task, void *shared, unsigned index,
                          unsigned tasks)
{
    struct phil_task *t = task;
    const struct phil_shared *sh = shared;
    unsigned left = index, right = (index + 1) % tasks;

    memset(t, 0, sizeof(*t));
    t->sh = sh;
    t->i = index;
    /* ordered: the lower number first, so no cycle of waits can close. */
    if (sh->strategy == PHIL_ORDERED && right < left) {
        t->first = right;
        t->second = left;
    } else {
        t->first = left;
        t->second = right;
    }
    return 0;
}

/* Think or eat for ns: a sleep (false, *w filled) or busy work (true). */
static bool phil_pass(struct phil_task *t, uint64_t ns, struct conc_wait *w)
{
    uint64_t now = conc_now_ns();

    if (!t->deadline_ns)
        t->deadline_ns = now + ns;
    if (ns && t->sh->busy)
        while ((now = conc_now_ns()) < t->deadline_ns)
            ;
    if (now >= t->deadline_ns) {
        t->deadline_ns = 0;
        return true;
    }
    w->want = CONC_WAIT_UNTIL;
    w->deadline_ns = t->deadline_ns;
    return false;
}

/* Which of i's own forks f is, as a holds[] bit. */
static unsigned phil_bit(const struct phil_task *t, unsigned f)
{
    return f == t->i ? PHIL_LEFT : PHIL_RIGHT;
}

/* Takes fork f, or parks on it (false) saying that it waits for it. */
static bool phil_take(struct phil_task *t, unsigned f, struct conc_wait *w)
{
    struct phil_mut *m = t->sh->mut;
    struct phil_seat *s = &m->seat[t->i];
    unsigned none = 0;
    uint32_t seq;

    if (!conc_lock_try(&m->forks[f], &t->waited, &seq)) {
        atomic_store(&s->wants, (int)f);
        w->want = CONC_WAIT_SYNC;
        w->q = &m->forks[f].q;
        w->seq = seq;
        return false;
    }
    atomic_store(&s->wants, -1);
    /* The lock must keep each fork in one hand: checked, not assumed. */
    if (!atomic_compare_exchange_strong(&m->owner[f], &none, t->i + 1))
        atomic_fetch_add(&m->clashes, 1);
    atomic_fetch_or(&s->holds, phil_bit(t, f));
    return true;
}

static void phil_put(struct phil_task *t, unsigned f)
{
    struct phil_mut *m = t->sh->mut;

    atomic_fetch_and(&m->seat[t->i].holds, ~phil_bit(t, f));
    atomic_store(&m->owner[f], 0);
    conc_lock_release(&m->forks[f]);
}

static int phil_step(void *task, struct conc_wait *w)
{
    struct phil_task *t = task;
    const struct phil_shared *sh = t->sh;
    struct phil_mut *m = sh->mut;
    uint64_t now;
    uint32_t seq;

    for (;;) {
        switch (t->phase) {
        case PHIL_THINK:
            if (t->meals == sh->meals) {
                w->want = CONC_DONE;
                return 0;
            }
            t->phase = PHIL_THINKING;
            break;
        case PHIL_THINKING:
            if (!phil_pass(t, sh->think_ns, w))
                return 0;
            t->hungry_from = conc_now_ns();
            t->phase = sh->strategy == PHIL_WAITER ? PHIL_SEAT : PHIL_FIRST;
            break;
        case PHIL_SEAT:
            if (!conc_sem_try(&m->seats, &seq)) {
                w->want = CONC_WAIT_SYNC;
                w->q = &m->seats.q;
                w->seq = seq;
                return 0;
            }
            t->phase = PHIL_FIRST;
            break;
        case PHIL_FIRST:
            if (!phil_take(t, t->first, w))
                return 0;
            t->phase = PHIL_PAUSE;
            /* Let the others run now: cooperative models interleave here,
               where naive's neighbours take their first forks too. */
            if (!sh->pause_ns) {
                t->phase = PHIL_SECOND;
                w->want = CONC_YIELD;
                return 0;
            }
            break;
        case PHIL_PAUSE:
            if (!phil_pass(t, sh->pause_ns, w))
                return 0;
            t->phase = PHIL_SECOND;
            break;
        case PHIL_SECOND:
            if (!phil_take(t, t->second, w))
                return 0;
            now = conc_now_ns();
            conc_hist_add_atomic(&m->hungry_ns, now - t->hungry_from);
            t->hungry_ns += now - t->hungry_from;
            t->phase = PHIL_EATING;
            break;
        case PHIL_EATING:
            if (!phil_pass(t, sh->eat_ns, w))
                return 0;
            phil_put(t, t->second);
            phil_put(t, t->first);
            if (sh->strategy == PHIL_WAITER)
                conc_sem_post(&m->seats, 1);
            t->meals++;
            t->phase = PHIL_THINK;
            /* A meal a step: the neighbours get their turn at the forks. */
            w->want = CONC_YIELD;
            return 0;
        }
    }
}

static int phil_task_result(const void *task, struct conc_task_out *out)
{
    const struct phil_task *t = task;
    struct phil_mut *m = t->sh->mut;

    out->ops = t->meals;
    out->result = t->hungry_ns;
    if (atomic_fetch_add(&m->finished, 1) + 1 == t->sh->n)
        conc_hist_merge(out->op_ns, &m->hungry_ns);
    return 0;
}

static void phil_task_fini(void *task)
{
    (void)task;
}

/* Every meal eaten, and never with a fork in another's hand. */
static int phil_verify(void *shared, const struct conc_totals *t, char *why,
                       size_t why_len)
{
    struct phil_shared *sh = shared;
    uint64_t expected = (uint64_t)sh->n * sh->meals;
    uint64_t clashes = atomic_load(&sh->mut->clashes);

    if (clashes) {
        snprintf(why, why_len, "a fork was taken %llu times while another "
                 "philosopher held it", (unsigned long long)clashes);
        return -EINVAL;
    }
    if (t->ops != expected) {
        snprintf(why, why_len, "%llu meals eaten, expected %llu",
                 (unsigned long long)t->ops, (unsigned long long)expected);
        return -EINVAL;
    }
    return 0;
}

/*
 * The state a deadlock left: when every philosopher holds exactly one fork
 * and waits for the other, that is the circle of the textbook.
 */
static void phil_deadlock_why(void *shared, char *why, size_t why_len)
{
    struct phil_shared *sh = shared;
    struct phil_mut *m = sh->mut;
    unsigned circle = 0, waiting = 0;

    for (unsigned i = 0; i < sh->n; i++) {
        unsigned holds = atomic_load(&m->seat[i].holds);
        int wants = atomic_load(&m->seat[i].wants);
        if (wants >= 0)
            waiting++;
        if ((holds == PHIL_LEFT && wants == (int)((i + 1) % sh->n)) ||
            (holds == PHIL_RIGHT && wants == (int)i))
            circle++;
    }
    if (circle == sh->n)
        snprintf(why, why_len, "deadlock: %u philosophers each hold one "
                 "fork and wait for the next", sh->n);
    else if (waiting)
        snprintf(why, why_len, "deadlock: %u of %u philosophers wait for a "
                 "fork that another holds", waiting, sh->n);
}

/*
 * meals_per_s over the span of the run; fairness as Jain's index of each
 * philosopher's meals per second of its own time at the table (1: all ate
 * alike; 1/N: one ate while the others starved).
 */
static size_t phil_run_metrics(void *shared, const struct conc_totals *t,
                               const struct conc_task_out *out,
                               unsigned tasks, struct conc_metric *m,
                               size_t max, char *note, size_t note_len)
{
    const struct phil_shared *sh = shared;
    uint64_t first = UINT64_MAX, last = 0, hungry = 0, table = 0;
    double sum = 0, sq = 0, jain, rate;

    for (unsigned i = 0; i < tasks; i++) {
        uint64_t d = out[i].end_ns - out[i].start_ns;
        double r = d ? (double)out[i].ops * 1e9 / (double)d : 0;
        if (out[i].start_ns < first)
            first = out[i].start_ns;
        if (out[i].end_ns > last)
            last = out[i].end_ns;
        sum += r;
        sq += r * r;
        hungry += out[i].result;
        table += d;
    }
    jain = sq > 0 ? sum * sum / (tasks * sq) : 1;
    rate = last > first ? (double)t->ops * 1e9 / (double)(last - first) : 0;
    if (max < 3)
        return 0;
    note[0] = '\0';
    m[0] = (struct conc_metric){ "meals_per_s", rate };
    m[1] = (struct conc_metric){ "fairness_jain", jain };
    m[2] = (struct conc_metric){ "hungry_share",
                                 table ? (double)hungry / (double)table : 0 };
    /* A run stopped short (a deadlock) has no rate worth a line. */
    if (t->ops == (uint64_t)tasks * sh->meals)
        snprintf(note, note_len, "Meals:               %.3g/s, fairness "
                 "%.3f (Jain); hungry %.0f%% of the time at the table", rate,
                 jain, table ? 100.0 * (double)hungry / (double)table : 0);
    return 3;
}

const struct conc_workload conc_workload_philosophers = {
    .name = "philosophers",
    .summary = "the dining philosophers: N tasks share N forks (locks), by "
               "fork order, a waiter, or naively (which deadlocks)",
    .op_name = "hungry_ns",
    .opts = phil_opts,
    .task_size = sizeof(struct phil_task),
    .check = phil_check,
    .run_start = phil_run_start,
    .setup = phil_setup,
    .task_init = phil_task_init,
    .step = phil_step,
    .task_result = phil_task_result,
    .task_fini = phil_task_fini,
    .verify = phil_verify,
    .run_metrics = phil_run_metrics,
    .deadlock_why = phil_deadlock_why,
    .teardown = phil_teardown,
};
