/*
 * The wait queue and the objects built on it; see sync.h. The lost-wakeup
 * argument, once: a waiter announces itself (sleepers or linked, seq_cst)
 * before it reads the number; a waker bumps the number (seq_cst) before it
 * reads those counts. One of the two sees the other's write, so either
 * the waiter sees the new number and does not park, or the waker sees the
 * waiter and wakes it.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/sync.h"

/*
 * On while the process's one run steps every task on the thread that set
 * it (conc_sync_set_local): then no other thread or process can touch a
 * sync object, and the read-modify-writes below become a load and a store,
 * the list's lock nothing. A locked instruction is most of a green lock
 * handoff's cost otherwise (docs/workloads.md). Written only between runs,
 * before the run's threads start; read by every operation.
 */
atomic_bool conc_sync_local_flag;

void conc_sync_set_local(bool local)
{
    atomic_store_explicit(&conc_sync_local_flag, local, memory_order_relaxed);
}

static void sync_spin_lock(atomic_flag *f)
{
    if (conc_sync_local())
        return;
    while (atomic_flag_test_and_set_explicit(f, memory_order_acquire))
        ; /* held for a few instructions: a list splice */
}

static void sync_spin_unlock(atomic_flag *f)
{
    if (!conc_sync_local())
        atomic_flag_clear_explicit(f, memory_order_release);
}

/*
 * Under q's lock, the only writer: no locked instruction needed. A link
 * counts itself in seq_cst, before it reads the number (sync_wake). On
 * one thread nothing reads the count (sync_wake looks at the list
 * itself), and it is not kept.
 */
static inline void sync_linked_add(struct conc_waitq *q, int32_t d)
{
    uint32_t n;

    if (conc_sync_local())
        return;
    n = atomic_load_explicit(&q->linked, memory_order_relaxed);
    if (d > 0)
        atomic_store_explicit(&q->linked, n + (uint32_t)d,
                              memory_order_seq_cst);
    else
        atomic_store_explicit(&q->linked, n + (uint32_t)d,
                              memory_order_relaxed);
}

void conc_waitq_init(struct conc_waitq *q)
{
    atomic_init(&q->seq, 0);
    atomic_init(&q->sleepers, 0);
    atomic_init(&q->linked, 0);
    atomic_init(&q->slept, 0);
    atomic_flag_clear(&q->lock);
    q->head = q->tail = NULL;
}

/*
 * Not FUTEX_PRIVATE_FLAG: the word may be shared by the processes of a
 * fork run, and the shared futex works for threads alike.
 */
static long sync_futex(_Atomic uint32_t *addr, int op, uint32_t val,
                       const struct timespec *ts)
{
    return syscall(SYS_futex, (void *)addr, op, val, ts, NULL, 0);
}

/* Waiters taken from the list under its lock, then woken outside it. */
#define SYNC_WAKE_BATCH 32

/*
 * Wakes up to n of q's linked waiters, under the list's lock. Out of line,
 * with its batch on its own frame: a release that finds no waiter (the
 * common case, sync_wake) makes no call and sets up no frame.
 */
static __attribute__((noinline)) void sync_wake_list(struct conc_waitq *q,
                                                     uint32_t n)
{
    struct conc_waiter *batch[SYNC_WAKE_BATCH];
    uint32_t count = 0, k;

    /*
     * A waiter links only after it saw the old number under this same
     * lock, so it is either here or not parking. Each waiter is unlinked
     * wholly under the lock: once the lock is released its task may run
     * (a model that polls the number may resume it before its wake is
     * called) and park again, so nothing of it is written after; the
     * wakes are called outside the lock, since a wake may take the
     * model's own locks.
     */
    do {
        k = 0;
        sync_spin_lock(&q->lock);
        while (q->head && count < n && k < SYNC_WAKE_BATCH) {
            batch[k++] = conc_waitq_pop_head(q);
            count++;
        }
        if (k)
            sync_linked_add(q, -(int32_t)k);
        sync_spin_unlock(&q->lock);
        for (uint32_t i = 0; i < k; i++)
            batch[i]->wake(batch[i]);
    } while (k == SYNC_WAKE_BATCH && count < n);
}

/*
 * Wakes up to n of q's waiters after its number moved: the OS threads in
 * a futex wait on it (when any count themselves in, or, for a lock, once
 * any ever slept on it), then the linked ones. On one thread, only the
 * linked ones: a thread in a futex wait there (sequential's driver) is
 * the very thread waking, so none can be waiting.
 */
static inline void sync_wake(struct conc_waitq *q, uint32_t n, bool lock)
{
    if (conc_sync_local()) {
        if (n == 1)
            conc_waitq_wake_head(q);
        else if (q->head)
            sync_wake_list(q, n);
        return;
    }
    if (atomic_load_explicit(&q->sleepers, memory_order_seq_cst) ||
        (lock && atomic_load_explicit(&q->slept, memory_order_relaxed)))
        sync_futex(&q->seq, FUTEX_WAKE, n > INT32_MAX ? INT32_MAX : n, NULL);
    /* No list: no lock to take (a linker counts itself in before it
       reads the number, as a sleeper does). */
    if (atomic_load_explicit(&q->linked, memory_order_seq_cst))
        sync_wake_list(q, n);
}

void conc_waitq_wake(struct conc_waitq *q, uint32_t n)
{
    conc_sync_add32(&q->seq, 1);
    sync_wake(q, n, false);
}

bool conc_waitq_link_shared(struct conc_waitq *q, uint32_t seq,
                            struct conc_waiter *w)
{
    bool linked = false;

    sync_spin_lock(&q->lock);
    /* Counted in before the number is read: a waker that moved it before
       this read sees the count, and takes the lock to look at the list. */
    sync_linked_add(q, 1);
    if (atomic_load_explicit(&q->seq, memory_order_seq_cst) == seq) {
        conc_waitq_link_tail(q, w);
        linked = true;
    } else {
        sync_linked_add(q, -1);
    }
    sync_spin_unlock(&q->lock);
    return linked;
}

bool conc_waitq_unlink(struct conc_waitq *q, struct conc_waiter *w)
{
    bool was;

    sync_spin_lock(&q->lock);
    was = w->linked;
    if (was) {
        if (w->prev)
            w->prev->next = w->next;
        else
            q->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        else
            q->tail = w->prev;
        w->next = w->prev = NULL;
        w->linked = false;
        sync_linked_add(q, -1);
    }
    sync_spin_unlock(&q->lock);
    return was;
}

int conc_waitq_sleep(struct conc_waitq *q, uint32_t seq, uint64_t timeout_ns)
{
    struct timespec ts = conc_ns_to_timespec(timeout_ns);
    long r;
    int err = 0;

    if (!atomic_load_explicit(&q->slept, memory_order_relaxed))
        atomic_store_explicit(&q->slept, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&q->sleepers, 1, memory_order_seq_cst);
    /* The kernel compares the word with seq atomically with the sleep. */
    if (atomic_load_explicit(&q->seq, memory_order_seq_cst) == seq) {
        r = sync_futex(&q->seq, FUTEX_WAIT, seq, timeout_ns ? &ts : NULL);
        if (r < 0 && errno == EINTR)
            err = -EINTR;
    }
    atomic_fetch_sub_explicit(&q->sleepers, 1, memory_order_seq_cst);
    return err;
}

void conc_lock_init(struct conc_lock *l)
{
    conc_waitq_init(&l->q);
}

void conc_lock_wake(struct conc_lock *l)
{
    sync_wake(&l->q, 1, true);
}

void conc_fifo_init(struct conc_fifo_lock *l)
{
    conc_waitq_init(&l->q);
    atomic_init(&l->next, 0);
}

void conc_fifo_release_shared(struct conc_fifo_lock *l)
{
    /* seq_cst, before the wake's look at the sleepers and the list (the
       lost-wakeup argument above); release for the next holder. */
    atomic_fetch_add_explicit(&l->q.seq, 1, memory_order_seq_cst);
    sync_wake(&l->q, CONC_WAKE_ALL, false);
}

void conc_sem_init(struct conc_sem *s, int64_t count)
{
    atomic_init(&s->count, count);
    atomic_init(&s->waiters, 0);
    conc_waitq_init(&s->q);
}

/* Takes up to n of s's tokens; how many it took. */
static uint32_t sync_sem_tokens(struct conc_sem *s, uint32_t n)
{
    uint32_t w = atomic_load_explicit(&s->waiters, memory_order_seq_cst);

    while (w > 0) {
        uint32_t k = w < n ? w : n;
        if (atomic_compare_exchange_weak_explicit(&s->waiters, &w, w - k,
                                                  memory_order_seq_cst,
                                                  memory_order_seq_cst))
            return k;
    }
    return 0;
}

bool conc_sem_try(struct conc_sem *s, uint32_t *seq)
{
    int64_t c = atomic_load_explicit(&s->count, memory_order_relaxed);

    for (;;) {
        while (c > 0)
            if (atomic_compare_exchange_weak_explicit(
                    &s->count, &c, c - 1, memory_order_acquire,
                    memory_order_relaxed))
                return true;
        /*
         * Empty: read the number, leave a token, then look once more. A
         * post adds to the count before it looks for tokens, and this
         * try leaves its token before it looks at the count (both
         * seq_cst): either the look sees the unit, or the post sees the
         * token and its wake moves the number, so the park does not
         * happen or is woken.
         */
        *seq = conc_waitq_seq(&s->q);
        atomic_fetch_add_explicit(&s->waiters, 1, memory_order_seq_cst);
        c = atomic_load_explicit(&s->count, memory_order_seq_cst);
        if (c <= 0)
            return false;
        /* A unit after all: take a token back (a post may have taken it,
           and woken a task that then only looks again). */
        sync_sem_tokens(s, 1);
    }
}

void conc_sem_post(struct conc_sem *s, uint32_t n)
{
    uint32_t k;

    atomic_fetch_add_explicit(&s->count, n, memory_order_seq_cst);
    k = sync_sem_tokens(s, n);
    if (k)
        conc_waitq_wake(&s->q, k);
}

void conc_event_init(struct conc_event *e)
{
    atomic_init(&e->set, 0);
    conc_waitq_init(&e->q);
}

bool conc_event_is_set(struct conc_event *e, uint32_t *seq)
{
    if (atomic_load_explicit(&e->set, memory_order_acquire))
        return true;
    *seq = conc_waitq_seq(&e->q);
    return atomic_load_explicit(&e->set, memory_order_seq_cst) != 0;
}

void conc_event_set(struct conc_event *e)
{
    atomic_store_explicit(&e->set, 1, memory_order_seq_cst);
    conc_waitq_wake(&e->q, CONC_WAKE_ALL);
}

void conc_event_clear(struct conc_event *e)
{
    atomic_store_explicit(&e->set, 0, memory_order_seq_cst);
}

void *conc_shm_alloc(size_t size)
{
    void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

void conc_shm_free(void *p, size_t size)
{
    if (p)
        munmap(p, size ? size : 1);
}
