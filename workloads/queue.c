/*
 * queue: producers put `items` numbered items through one bounded queue,
 * consumers get them, and the run checks each was got exactly once. A ring
 * in shared memory with the sync layer's waits (queue.Queue, asyncio.Queue,
 * gevent.queue), or a pipe bounded by a shared semaphore
 * (multiprocessing.Queue).
 */
#define _GNU_SOURCE /* pipe2, F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/sync.h"
#include "workloads/workload.h"

/* Items one step may move before it yields, so cooperative models
   interleave producers and consumers even when the queue never fills. */
#define QUEUE_STEP_ITEMS 64
#define QUEUE_MAX_ITEMS (1ull << 40)
#define QUEUE_MAX_CAPACITY (1ull << 24)
/* Consumers up to which each keeps a histogram of its own (60 KiB). */
#define QUEUE_LOCAL_HISTS 64
/* The id a pipe carries to tell a consumer that no item is left. */
#define QUEUE_SENTINEL UINT64_MAX

enum queue_channel { QUEUE_SHM, QUEUE_PIPE };

static const struct conc_opt queue_opts[] = {
    { "producers", CONC_OPT_COUNT, "1", "tasks that put items (the first "
      "ones); the other tasks get them", NULL, 1, 1u << 20 },
    { "capacity", CONC_OPT_COUNT, "64", "items the queue holds: a producer "
      "waits while it is full, a consumer while it is empty", NULL, 0,
      QUEUE_MAX_CAPACITY },
    { "items", CONC_OPT_COUNT, "1000000", "items put and got in all",
      NULL, 0, QUEUE_MAX_ITEMS },
    { "work", CONC_OPT_DURATION, "0", "busy work a consumer does per item "
      "(a bare number is ms; 200ns, 1us)", NULL, 0, CONC_NS_PER_S },
    { "channel", CONC_OPT_CHOICE, "shm", "what carries the items: a ring in "
      "memory every task shares, forked children too (shm), or a pipe "
      "bounded by a shared semaphore, as multiprocessing.Queue (pipe)",
      "shm|pipe", 0, 0 },
    { NULL },
};

struct queue_item {
    uint64_t id, put_ns;
};

/*
 * What the tasks mutate, in memory every task of the run shares. A
 * producer takes a free slot (slots), writes it under put_lock, and posts
 * an item (items); a consumer the other way round under get_lock. Writes
 * land in tail order under the lock, so a posted item is always written
 * at head: the locks are skipped when one task is on their side.
 */
struct queue_mut {
    /* A cache line each: what the two ends write apart stays apart. */
    _Alignas(64) struct conc_sem slots;
    _Alignas(64) struct conc_sem items;
    _Alignas(64) struct conc_lock put_lock;
    uint64_t tail;                   /* under put_lock */
    _Alignas(64) struct conc_lock get_lock;
    uint64_t head;                   /* under get_lock */
    _Atomic uint64_t claimed;        /* items consumers have claimed (shm) */
    _Alignas(64) atomic_uint producers_done; /* the last one sends the
                                                sentinels */
    atomic_uint finished;            /* tasks whose result is in */
    _Atomic uint64_t full_wait_ns;   /* producers, summed */
    _Atomic uint64_t empty_wait_ns;  /* consumers, summed */
    _Atomic uint64_t put_sum;        /* the producers' checksum of ids */
    _Atomic uint64_t put_count;      /* items the producers put */
    struct conc_hist item_ns;        /* put to get */
    struct queue_item ring[];        /* [capacity] (shm) */
};

struct queue_shared {
    enum queue_channel channel;
    uint64_t items, capacity, work_ns;
    unsigned tasks, producers, consumers;
    int pipe_rd, pipe_wr; /* channel=pipe, nonblocking */
    struct queue_mut *mut;
    size_t mut_bytes;
};

enum queue_phase { QUEUE_TAKE, QUEUE_LOCK, QUEUE_MOVE, QUEUE_SENTINELS };

struct queue_task {
    const struct queue_shared *sh;
    unsigned index;
    bool producer;
    enum queue_phase phase;
    bool lock_waited;     /* its last try of its end's lock failed */
    int fd;               /* channel=pipe: this task's own end (a dup) */
    uint64_t next_id;     /* producer: the next id it puts */
    uint64_t moved;       /* items put or got */
    uint64_t sum;         /* checksum of the ids put or got */
    uint64_t wait_from;   /* when the current full or empty wait began */
    uint64_t wait_ns;     /* full (producer) or empty (consumer) waits */
    unsigned sentinels;   /* the last producer's, still to send */
    bool claimed;         /* consumer (shm): owns a claim on one item */
    struct conc_hist *item_ns; /* consumer: its items' latencies, merged
                                  into the run's when it ends (an atomic
                                  add per item would cost the SPSC queue
                                  a tenth of its time); NULL with more
                                  than QUEUE_LOCAL_HISTS consumers */
};

/* A 64-bit mix of an id (splitmix64's finalizer): a duplicate and a loss
   cannot cancel out in the sum as they could in a sum of plain ids. */
static uint64_t queue_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The pipe bytes channel=pipe needs: every item the semaphore lets in at
   once, and one sentinel per consumer. */
static uint64_t queue_pipe_bytes(uint64_t capacity, uint64_t items,
                                 unsigned consumers)
{
    return ((capacity < items ? capacity : items) + consumers) *
           sizeof(struct queue_item);
}

/* A pipe that must hold more than fs.pipe-max-size cannot be made. */
static int queue_pipe_check(const struct conc_params *p, unsigned tasks)
{
    uint64_t cap = conc_param_u64(p, "capacity");
    unsigned consumers = tasks - (unsigned)conc_param_u64(p, "producers");
    uint64_t need = queue_pipe_bytes(cap, conc_param_u64(p, "items"),
                                     consumers);
    unsigned long long max = 1048576;
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");

    if (f) {
        if (fscanf(f, "%llu", &max) != 1)
            max = 1048576;
        fclose(f);
    }
    if (need > 65536 && need > max)
        return conc_error_msg(-EINVAL, "channel=pipe cannot hold capacity="
                              "%llu items: a pipe holds at most %llu here "
                              "(fs.pipe-max-size is %llu bytes, %zu an item, "
                              "and one sentinel per consumer)",
                              (unsigned long long)cap,
                              max / sizeof(struct queue_item) - consumers,
                              max, sizeof(struct queue_item));
    return 0;
}

static int queue_check(const struct conc_params *p, unsigned tasks)
{
    uint64_t producers = conc_param_u64(p, "producers");

    if (producers >= tasks)
        return conc_error_msg(-EINVAL, "producers=%llu leaves no consumer "
                              "among %u tasks (raise --tasks above it)",
                              (unsigned long long)producers, tasks);
    if (conc_param_u64(p, "capacity") < 1)
        return conc_error_msg(-EINVAL, "capacity=0 holds no item: a "
                              "producer could never put one (give 1 or "
                              "more)");
    if (conc_param_u64(p, "items") < 1)
        return conc_error_msg(-EINVAL, "items=0 gives the queue nothing to "
                              "carry (give 1 or more)");
    if (conc_param_u64(p, "channel") == QUEUE_PIPE)
        return queue_pipe_check(p, tasks);
    return 0;
}

/*
 * Run one task to its end before the next starts, producers first, and
 * the producers put every item before any consumer gets one: that works
 * only when the queue holds them all (a plain loop filling a list).
 */
static int queue_serial_check(const struct conc_params *p, unsigned tasks)
{
    uint64_t cap = conc_param_u64(p, "capacity");
    uint64_t items = conc_param_u64(p, "items");

    (void)tasks;
    if (cap < items)
        return conc_error_msg(-EINVAL, "queue with capacity=%llu < items=%llu "
                              "cannot run one task after another: the "
                              "producers, run first, would wait on a full "
                              "queue for consumers that run only after them "
                              "(give capacity >= items)",
                              (unsigned long long)cap,
                              (unsigned long long)items);
    return 0;
}

static void queue_run_start(void *shared)
{
    struct queue_shared *sh = shared;
    struct queue_mut *m = sh->mut;
    struct queue_item junk[64];

    conc_sem_init(&m->slots, (int64_t)sh->capacity);
    conc_sem_init(&m->items, 0);
    conc_lock_init(&m->put_lock);
    conc_lock_init(&m->get_lock);
    m->head = m->tail = 0;
    atomic_store(&m->claimed, 0);
    atomic_store(&m->producers_done, 0);
    atomic_store(&m->finished, 0);
    atomic_store(&m->full_wait_ns, 0);
    atomic_store(&m->empty_wait_ns, 0);
    atomic_store(&m->put_sum, 0);
    atomic_store(&m->put_count, 0);
    conc_hist_init(&m->item_ns);
    /* A run that failed may have left items in the pipe. */
    if (sh->channel == QUEUE_PIPE)
        while (read(sh->pipe_rd, junk, sizeof(junk)) > 0)
            ;
}

/*
 * channel=pipe: a pipe sized to hold every item the semaphore lets in at
 * once and the sentinels, so a put that took a slot finds room (a write
 * that finds none still waits for it, as any pipe write would).
 */
static int queue_pipe_open(struct queue_shared *sh)
{
    int fds[2];
    uint64_t bytes = queue_pipe_bytes(sh->capacity, sh->items, sh->consumers);

    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC))
        return conc_error(-errno, "cannot make the queue's pipe");
    sh->pipe_rd = fds[0];
    sh->pipe_wr = fds[1];
    if (bytes > 65536 && (bytes > INT32_MAX ||
                          fcntl(fds[1], F_SETPIPE_SZ, (int)bytes) < 0))
        return conc_error(bytes > INT32_MAX ? -EFBIG : -errno,
                          "cannot size the queue's pipe to %llu bytes",
                          (unsigned long long)bytes);
    return 0;
}

static void queue_teardown(void *shared)
{
    struct queue_shared *sh = shared;

    if (sh->pipe_rd >= 0)
        close(sh->pipe_rd);
    if (sh->pipe_wr >= 0)
        close(sh->pipe_wr);
    conc_shm_free(sh->mut, sh->mut_bytes);
    free(sh);
}

static int queue_setup(void **shared, const struct conc_params *p,
                       unsigned tasks)
{
    struct queue_shared *sh = calloc(1, sizeof(*sh));
    int err;

    if (!sh)
        return conc_error(-ENOMEM, "cannot allocate the queue");
    sh->channel = (enum queue_channel)conc_param_u64(p, "channel");
    sh->items = conc_param_u64(p, "items");
    sh->capacity = conc_param_u64(p, "capacity");
    sh->work_ns = conc_param_u64(p, "work");
    sh->tasks = tasks;
    sh->producers = (unsigned)conc_param_u64(p, "producers");
    sh->consumers = tasks - sh->producers;
    sh->pipe_rd = sh->pipe_wr = -1;
    /* Shared memory: fork's children put into and get from the very same
       ring, and wait on the very same semaphores. */
    sh->mut_bytes = sizeof(*sh->mut);
    if (sh->channel == QUEUE_SHM)
        sh->mut_bytes += sh->capacity * sizeof(struct queue_item);
    sh->mut = conc_shm_alloc(sh->mut_bytes);
    if (!sh->mut) {
        err = conc_error(-errno, "cannot map the queue");
        free(sh);
        return err;
    }
    if (sh->channel == QUEUE_PIPE && (err = queue_pipe_open(sh)) != 0) {
        queue_teardown(sh);
        return err;
    }
    queue_run_start(sh);
    *shared = sh;
    return 0;
}

static int queue_task_init(void *task, void *shared, unsigned index,
                           unsigned tasks)
{
    struct queue_task *t = task;
    const struct queue_shared *sh = shared;

    (void)tasks;
    memset(t, 0, sizeof(*t));
    t->sh = sh;
    t->index = index;
    t->producer = index < sh->producers;
    t->next_id = index;
    t->fd = -1;
    if (!t->producer && sh->consumers <= QUEUE_LOCAL_HISTS) {
        t->item_ns = malloc(sizeof(*t->item_ns));
        if (!t->item_ns)
            return conc_error(-ENOMEM, "cannot allocate a histogram");
        conc_hist_init(t->item_ns);
    }
    /* An end of its own: an event loop watches one fd per task. */
    if (sh->channel == QUEUE_PIPE) {
        t->fd = fcntl(t->producer ? sh->pipe_wr : sh->pipe_rd,
                      F_DUPFD_CLOEXEC, 0);
        if (t->fd < 0)
            return conc_error(-errno, "cannot duplicate the queue's pipe");
    }
    return 0;
}

static void queue_busy(uint64_t ns)
{
    uint64_t end;

    if (!ns)
        return;
    end = conc_now_ns() + ns;
    while (conc_now_ns() < end)
        ;
}

/* The start of a full or empty wait (the first failed try only). */
static void queue_wait_begin(struct queue_task *t)
{
    if (!t->wait_from)
        t->wait_from = conc_now_ns();
}

static void queue_wait_end(struct queue_task *t)
{
    if (t->wait_from) {
        t->wait_ns += conc_now_ns() - t->wait_from;
        t->wait_from = 0;
    }
}

static void queue_park(struct conc_wait *w, struct conc_waitq *q, uint32_t seq)
{
    w->want = CONC_WAIT_SYNC;
    w->q = q;
    w->seq = seq;
}

/* A consumer's item, got: checked into the sum, timed, worked on. */
static void queue_got(struct queue_task *t, const struct queue_item *it)
{
    uint64_t now = conc_now_ns();
    uint64_t ns = now > it->put_ns ? now - it->put_ns : 0;

    if (t->item_ns)
        conc_hist_add(t->item_ns, ns);
    else
        conc_hist_add_atomic(&t->sh->mut->item_ns, ns);
    t->sum += queue_mix(it->id);
    t->moved++;
    queue_busy(t->sh->work_ns);
}

/*
 * channel=shm, one step of a producer: take a slot (wait while full),
 * write it under put_lock, post the item. false and *w filled to wait.
 */
static bool queue_shm_put(struct queue_task *t, struct conc_wait *w)
{
    const struct queue_shared *sh = t->sh;
    struct queue_mut *m = sh->mut;
    bool locked = sh->producers > 1;
    uint32_t seq;

    if (t->phase == QUEUE_TAKE) {
        if (!conc_sem_try(&m->slots, &seq)) {
            queue_wait_begin(t);
            queue_park(w, &m->slots.q, seq);
            return false;
        }
        queue_wait_end(t);
        t->phase = QUEUE_LOCK;
    }
    if (locked && !conc_lock_try(&m->put_lock, &t->lock_waited, &seq)) {
        queue_park(w, &m->put_lock.q, seq);
        return false;
    }
    m->ring[m->tail % sh->capacity] =
        (struct queue_item){ t->next_id, conc_now_ns() };
    m->tail++;
    if (locked)
        conc_lock_release(&m->put_lock);
    conc_sem_post(&m->items, 1);
    t->phase = QUEUE_TAKE;
    return true;
}

/* channel=shm, a consumer's get, the other way round. */
static bool queue_shm_get(struct queue_task *t, struct conc_wait *w)
{
    const struct queue_shared *sh = t->sh;
    struct queue_mut *m = sh->mut;
    bool locked = sh->consumers > 1;
    struct queue_item it;
    uint32_t seq;

    if (t->phase == QUEUE_TAKE) {
        if (!conc_sem_try(&m->items, &seq)) {
            queue_wait_begin(t);
            queue_park(w, &m->items.q, seq);
            return false;
        }
        queue_wait_end(t);
        t->phase = QUEUE_LOCK;
    }
    if (locked && !conc_lock_try(&m->get_lock, &t->lock_waited, &seq)) {
        queue_park(w, &m->get_lock.q, seq);
        return false;
    }
    it = m->ring[m->head % sh->capacity];
    m->head++;
    if (locked)
        conc_lock_release(&m->get_lock);
    conc_sem_post(&m->slots, 1);
    t->phase = QUEUE_TAKE;
    queue_got(t, &it);
    return true;
}

/*
 * channel=pipe, a producer's put: a slot of the shared semaphore, as
 * multiprocessing.Queue's maxsize, then one write of one item (a write
 * of at most PIPE_BUF bytes is atomic, so items never interleave).
 * false and *w filled to wait; -errno in *err on a failed write.
 */
static bool queue_pipe_put(struct queue_task *t, struct conc_wait *w,
                           uint64_t id, bool slot, int *err)
{
    struct queue_mut *m = t->sh->mut;
    struct queue_item it;
    uint32_t seq;
    ssize_t n;

    if (slot && t->phase == QUEUE_TAKE) {
        if (!conc_sem_try(&m->slots, &seq)) {
            queue_wait_begin(t);
            queue_park(w, &m->slots.q, seq);
            return false;
        }
        t->phase = QUEUE_MOVE;
    }
    it = (struct queue_item){ id, conc_now_ns() };
    n = write(t->fd, &it, sizeof(it));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        queue_wait_begin(t);
        w->want = CONC_WAIT_WRITE;
        w->fd = t->fd;
        return false;
    }
    if (n != (ssize_t)sizeof(it)) {
        *err = n < 0 ? conc_error(-errno, "cannot write to the queue's pipe")
                     : conc_error(-EIO, "a short write to the queue's pipe");
        return false;
    }
    queue_wait_end(t);
    t->phase = QUEUE_TAKE;
    return true;
}

/*
 * channel=pipe, a consumer's get: one read of one item (every write and
 * every read is one whole item, so the pipe never hands out half of one).
 * A sentinel ends the consumer. 1 got, 0 to wait (*w filled), -1 done.
 */
static int queue_pipe_get(struct queue_task *t, struct conc_wait *w, int *err)
{
    struct queue_item it;
    ssize_t n = read(t->fd, &it, sizeof(it));

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        queue_wait_begin(t);
        w->want = CONC_WAIT_READ;
        w->fd = t->fd;
        return 0;
    }
    if (n != (ssize_t)sizeof(it)) {
        *err = n < 0 ? conc_error(-errno, "cannot read the queue's pipe")
                     : conc_error(-EIO, "a short read of %zd bytes from the "
                                  "queue's pipe", n);
        return -1;
    }
    queue_wait_end(t);
    if (it.id == QUEUE_SENTINEL)
        return -1;
    conc_sem_post(&t->sh->mut->slots, 1);
    queue_got(t, &it);
    return 1;
}

static int queue_step_producer(struct queue_task *t, struct conc_wait *w)
{
    const struct queue_shared *sh = t->sh;
    int err = 0;

    for (unsigned n = 0; n < QUEUE_STEP_ITEMS; n++) {
        if (t->phase == QUEUE_SENTINELS) {
            if (!t->sentinels) {
                w->want = CONC_DONE;
                return 0;
            }
            if (!queue_pipe_put(t, w, QUEUE_SENTINEL, false, &err))
                return err;
            t->phase = QUEUE_SENTINELS;
            t->sentinels--;
            continue;
        }
        if (t->next_id >= sh->items) {
            /* The last producer done tells every consumer over the pipe;
               over shm the consumers count their claims. */
            if (sh->channel == QUEUE_PIPE &&
                atomic_fetch_add(&sh->mut->producers_done, 1) + 1 ==
                    sh->producers) {
                t->phase = QUEUE_SENTINELS;
                t->sentinels = sh->consumers;
                continue;
            }
            w->want = CONC_DONE;
            return 0;
        }
        if (sh->channel == QUEUE_SHM ? !queue_shm_put(t, w)
                                     : !queue_pipe_put(t, w, t->next_id,
                                                       true, &err))
            return err;
        t->sum += queue_mix(t->next_id);
        t->next_id += sh->producers;
        t->moved++;
    }
    w->want = CONC_YIELD;
    return 0;
}

static int queue_step_consumer(struct queue_task *t, struct conc_wait *w)
{
    const struct queue_shared *sh = t->sh;
    struct queue_mut *m = sh->mut;
    int err = 0, got;

    for (unsigned n = 0; n < QUEUE_STEP_ITEMS; n++) {
        if (sh->channel == QUEUE_PIPE) {
            got = queue_pipe_get(t, w, &err);
            if (got < 0) {
                w->want = CONC_DONE;
                return err;
            }
            if (!got)
                return 0;
            continue;
        }
        /* One claim per item: exactly `items` claims succeed, and the
           consumer that made one waits until that item is there. A lone
           consumer gets every item, and counts them itself. */
        if (!t->claimed) {
            if (sh->consumers == 1 ? t->moved == sh->items
                                   : atomic_fetch_add(&m->claimed, 1) >=
                                         sh->items) {
                w->want = CONC_DONE;
                return 0;
            }
            t->claimed = true;
        }
        if (!queue_shm_get(t, w))
            return 0;
        t->claimed = false;
    }
    w->want = CONC_YIELD;
    return 0;
}

static int queue_step(void *task, struct conc_wait *w)
{
    struct queue_task *t = task;

    return t->producer ? queue_step_producer(t, w)
                       : queue_step_consumer(t, w);
}

/* Adds src into the histogram every task shares, beside other tasks
   doing the same (conc_hist_merge is for one writer). */
static void queue_hist_merge_atomic(struct conc_hist *dst,
                                    const struct conc_hist *src)
{
    uint64_t cur;

    if (!src->count)
        return;
    for (size_t k = 0; k < CONC_HIST_BUCKETS; k++)
        if (src->b[k])
            __atomic_fetch_add(&dst->b[k], src->b[k], __ATOMIC_RELAXED);
    __atomic_fetch_add(&dst->sum, src->sum, __ATOMIC_RELAXED);
    cur = __atomic_load_n(&dst->max, __ATOMIC_RELAXED);
    while (src->max > cur &&
           !__atomic_compare_exchange_n(&dst->max, &cur, src->max, 1,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    __atomic_fetch_add(&dst->count, src->count, __ATOMIC_RELEASE);
}

static int queue_task_result(const void *task, struct conc_task_out *out)
{
    const struct queue_task *t = task;
    struct queue_mut *m = t->sh->mut;

    /* ops and result are the consumers': items got and their checksum. */
    out->ops = t->producer ? 0 : t->moved;
    out->result = t->producer ? 0 : t->sum;
    out->bytes = t->moved * sizeof(struct queue_item);
    atomic_fetch_add(t->producer ? &m->full_wait_ns : &m->empty_wait_ns,
                     t->wait_ns);
    if (t->item_ns)
        queue_hist_merge_atomic(&m->item_ns, t->item_ns);
    if (t->producer) {
        atomic_fetch_add(&m->put_sum, t->sum);
        atomic_fetch_add(&m->put_count, t->moved);
    }
    /* The last task in hands every item's latency to the run's histogram. */
    if (atomic_fetch_add(&m->finished, 1) + 1 == t->sh->tasks)
        conc_hist_merge(out->op_ns, &m->item_ns);
    return 0;
}

static void queue_task_fini(void *task)
{
    struct queue_task *t = task;

    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    free(t->item_ns);
    t->item_ns = NULL;
}

/*
 * Every item got exactly once: the producers put items 0 .. items-1, and
 * the consumers got as many, with the same checksum of ids (the
 * producers' own, summed as they put, so that no setup walks every id).
 */
static int queue_verify(void *shared, const struct conc_totals *t, char *why,
                        size_t why_len)
{
    struct queue_shared *sh = shared;
    uint64_t put = atomic_load(&sh->mut->put_count);

    if (put != sh->items) {
        snprintf(why, why_len, "producers put %llu items, expected %llu",
                 (unsigned long long)put, (unsigned long long)sh->items);
        return -EINVAL;
    }
    if (t->ops != sh->items) {
        snprintf(why, why_len, "consumers got %llu items, %llu were put",
                 (unsigned long long)t->ops, (unsigned long long)sh->items);
        return -EINVAL;
    }
    if (t->result != atomic_load(&sh->mut->put_sum)) {
        snprintf(why, why_len, "consumers got %llu items, but not each of "
                 "the %llu ids once: the checksum of their ids is off",
                 (unsigned long long)t->ops, (unsigned long long)sh->items);
        return -EINVAL;
    }
    return 0;
}

/*
 * items_per_s over the span from the first task's start to the last one's
 * end; the waits as the share of the producers' and the consumers' time.
 */
static size_t queue_run_metrics(void *shared, const struct conc_totals *t,
                                const struct conc_task_out *out,
                                unsigned tasks, struct conc_metric *m,
                                size_t max, char *note, size_t note_len)
{
    struct queue_shared *sh = shared;
    uint64_t first = UINT64_MAX, last = 0, ptime = 0, ctime = 0;
    uint64_t full = atomic_load(&sh->mut->full_wait_ns);
    uint64_t empty = atomic_load(&sh->mut->empty_wait_ns);
    double span, rate;

    (void)t;
    for (unsigned i = 0; i < tasks; i++) {
        uint64_t d = out[i].end_ns - out[i].start_ns;
        if (out[i].start_ns < first)
            first = out[i].start_ns;
        if (out[i].end_ns > last)
            last = out[i].end_ns;
        if (i < sh->producers)
            ptime += d;
        else
            ctime += d;
    }
    span = last > first ? (double)(last - first) : 1;
    rate = (double)sh->items * 1e9 / span;
    if (max < 5)
        return 0;
    m[0] = (struct conc_metric){ "items_per_s", rate };
    m[1] = (struct conc_metric){ "full_wait_ns", (double)full };
    m[2] = (struct conc_metric){ "empty_wait_ns", (double)empty };
    m[3] = (struct conc_metric){ "producers", sh->producers };
    m[4] = (struct conc_metric){ "consumers", sh->consumers };
    snprintf(note, note_len, "Items:               %.3g/s; producers "
             "waited %.0f%% of their time (full), consumers %.0f%% (empty)",
             rate,
             ptime ? 100.0 * (double)full / (double)ptime : 0,
             ctime ? 100.0 * (double)empty / (double)ctime : 0);
    return 5;
}

const struct conc_workload conc_workload_queue = {
    .name = "queue",
    .summary = "producers put numbered items through one bounded queue and "
               "consumers get each exactly once (shared ring or pipe)",
    .op_name = "item_ns",
    .opts = queue_opts,
    .task_size = sizeof(struct queue_task),
    .check = queue_check,
    .serial_check = queue_serial_check,
    .run_start = queue_run_start,
    .setup = queue_setup,
    .task_init = queue_task_init,
    .step = queue_step,
    .task_result = queue_task_result,
    .task_fini = queue_task_fini,
    .verify = queue_verify,
    .run_metrics = queue_run_metrics,
    .teardown = queue_teardown,
};
