/*
 * Task bookkeeping shared by every model: the per-task timestamps and the
 * task_init / task_result / task_fini calls around a task's steps.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/proc.h"
#include "lib/sync.h"
#include "models/model.h"

unsigned conc_model_workers(const struct conc_params *mp, unsigned tasks)
{
    uint64_t w = conc_param_present(mp, "workers")
                     ? conc_param_u64(mp, "workers") : tasks;

    if (w > tasks)
        w = tasks;
    return w ? (unsigned)w : 1;
}

int conc_task_start(const struct conc_run *r, unsigned index, void *task)
{
    struct conc_task_out *o = &r->out[index];
    int err;

    if (r->sync)
        conc_sync_add32(&r->sync->running, 1);
    o->start_ns = conc_now_ns();
    err = r->w->task_init(task, r->shared, index, r->tasks);
    if (err) {
        o->end_ns = conc_now_ns();
        o->status = err;
    }
    return err;
}

conc_step_fn *conc_task_step(const struct conc_run *r, void *task)
{
    return r->w->task_step ? r->w->task_step(task) : r->w->step;
}

#ifdef CONC_CHECKED
void conc_wait_next_checked(struct conc_wait *w)
{
    if (w->deadline_ns || w->end_ns || w->start_ns || w->wake) {
        fprintf(stderr,
                "concbench: after a step that asked for a %s, %s is set "
                "(docs/design.md: a step writes only what its want names, "
                "and a model clears a sync wait's wake once made)\n",
                w->want == CONC_YIELD ? "yield" : "sync wait",
                w->deadline_ns ? "deadline_ns"
                : w->end_ns    ? "end_ns"
                : w->start_ns  ? "start_ns"
                               : "wake");
        abort();
    }
    w->want = (enum conc_want)0x5eed;
    w->fd = -0x5eed;
    w->q = (struct conc_waitq *)(uintptr_t)0x5eed;
    w->seq = 0x5eed5eed;
}
#endif

void conc_task_finish(const struct conc_run *r, unsigned index, void *task,
                      int err)
{
    conc_task_finish_at(r, index, task, err, 0);
}

void conc_task_finish_at(const struct conc_run *r, unsigned index, void *task,
                         int err, uint64_t end_ns)
{
    struct conc_task_out *o = &r->out[index];

    o->end_ns = end_ns ? end_ns : conc_now_ns();
    if (!err)
        err = r->w->task_result(task, o);
    r->w->task_fini(task);
    o->status = err;
    if (r->sync) {
        /* A task that failed may hold what others wait for: stop them. */
        int none = 0;
        if (err && err != -EINTR)
            atomic_compare_exchange_strong(&r->sync->abort, &none,
                                           err == -EDEADLK ? -EDEADLK
                                                           : -ECANCELED);
        conc_sync_add32(&r->sync->running, (uint32_t)-1);
    }
}

bool conc_sync_deadlocked(const struct conc_run *r, uint64_t *since_ns,
                          uint64_t *unparks)
{
    struct conc_runsync *s = r->sync;
    unsigned running = atomic_load(&s->running), parked;
    uint64_t u = atomic_load(&s->unparks), now;
    int none = 0;

    parked = atomic_load(&s->parked);
    if (running == 0 || parked < running) {
        *since_ns = 0;
        return false;
    }
    now = conc_now_ns();
    if (r->workers > 1 && (*since_ns == 0 || u != *unparks)) {
        *since_ns = now;
        *unparks = u;
        return false;
    }
    if (r->workers > 1 && now - *since_ns < CONC_DEADLOCK_NS)
        return false;
    atomic_compare_exchange_strong(&s->abort, &none, -EDEADLK);
    return true;
}

void conc_worker_end(const struct conc_run *r)
{
    uint64_t ns;

    if (r->runqueue && conc_proc_thread_runqueue_ns(&ns) == 0) {
        atomic_fetch_add_explicit(&r->runqueue->ns, ns, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->runqueue->threads, 1,
                                  memory_order_relaxed);
    }
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TASK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TASK_SANITIZED 1
#endif
#endif

#ifndef TASK_SANITIZED
/* Appends s to buf at *n, within len; async-signal-safe. */
static void task_put(char *buf, size_t len, size_t *n, const char *s)
{
    while (*s && *n + 1 < len)
        buf[(*n)++] = *s++;
}

static void task_on_crash(int sig, siginfo_t *si, void *uctx)
{
    static const char hex[] = "0123456789abcdef";
    char msg[256], addr[2 + 16 + 1];
    uintptr_t a = (uintptr_t)si->si_addr;
    size_t n = 0, k = sizeof(addr) - 1;

    (void)uctx;
    addr[k] = '\0';
    do {
        addr[--k] = hex[a & 15];
        a >>= 4;
    } while (a && k > 2);
    addr[--k] = 'x';
    addr[--k] = '0';
    task_put(msg, sizeof(msg), &n, "concbench: a task crashed with ");
    task_put(msg, sizeof(msg), &n, sig == SIGSEGV ? "SIGSEGV"
                                   : sig == SIGBUS ? "SIGBUS"
                                   : sig == SIGFPE ? "SIGFPE" : "SIGILL");
    if (si->si_code <= 0) {
        /* Sent by kill(2) or the like: no faulting address, a sender. */
        char pid[24];
        size_t p = sizeof(pid) - 1;
        long v = (long)si->si_pid;
        pid[p] = '\0';
        do {
            pid[--p] = (char)('0' + v % 10);
            v /= 10;
        } while (v && p > 0);
        task_put(msg, sizeof(msg), &n, " sent by process ");
        task_put(msg, sizeof(msg), &n, pid + p);
    } else {
        task_put(msg, sizeof(msg), &n, " at ");
        task_put(msg, sizeof(msg), &n, addr + k);
    }
    task_put(msg, sizeof(msg), &n, sig == SIGSEGV || sig == SIGBUS
                                       ? ": its stack overflowed (use less "
                                         "stack, or give more with -o "
                                         "stack) or the workload has a bug\n"
                                       : ": the workload has a bug\n");
    if (write(STDERR_FILENO, msg, n) < 0) {
        /* Nothing left to report it with. */
    }
    _exit(CONC_CRASH_EXIT);
}
#endif

int conc_crash_install(void)
{
#ifndef TASK_SANITIZED
    static char main_alt[64 * 1024];
    static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };
    stack_t ss = { .ss_sp = main_alt, .ss_size = sizeof(main_alt) };
    struct sigaction sa;

    if (sigaltstack(&ss, NULL))
        return -errno;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = task_on_crash;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL))
            return -errno;
#endif
    return 0;
}

/* What main() and the harness use below a task on the main thread. */
#define TASK_MAIN_MARGIN (512 * 1024)

uint64_t conc_main_stack(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_STACK, &rl) || rl.rlim_cur == RLIM_INFINITY)
        return 0; /* unlimited: it grows as far as memory allows */
    return rl.rlim_cur > TASK_MAIN_MARGIN ? rl.rlim_cur - TASK_MAIN_MARGIN
                                          : 0;
}

uint64_t conc_thread_stack(void)
{
    pthread_attr_t attr;
    size_t size = 0;

    /* A fresh attribute holds the process's default thread stack size. */
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_getstacksize(&attr, &size);
        pthread_attr_destroy(&attr);
    }
    return size;
}

uint64_t conc_workers_stack(const struct conc_params *mp)
{
    uint64_t main = conc_main_stack(), thread = conc_thread_stack();

    if (conc_param_present(mp, "workers") && conc_param_u64(mp, "workers") > 1
        && thread && (!main || thread < main))
        return thread;
    return main;
}

const char *conc_model_refusal(const struct conc_model *m)
{
    if (m->unavailable)
        return m->unavailable;
    return m->refusal ? m->refusal() : NULL;
}
