/*
 * The one flag that asks every layer to stop: set by cmd/'s SIGINT and
 * SIGTERM handler, read by models (between steps and waits) and by long
 * loops anywhere (a workload's setup, reading or merging reports).
 */
#ifndef CONC_INTERRUPT_H
#define CONC_INTERRUPT_H

#include <stdatomic.h>
#include <stdbool.h>

/*
 * The signal (SIGINT, SIGTERM) that asked the process to stop, or 0. A
 * lock-free atomic rather than volatile sig_atomic_t: it is safe in a
 * signal handler and, unlike volatile, race-free to read from worker
 * threads. Whoever sees it set stops within about 100 ms, releases what it
 * made and returns -EINTR.
 */
extern atomic_int conc_interrupted;

/*
 * Preemption the way CPython's eval loop does it: a model whose workers
 * must give up the CPU at the next safe point even inside a long step
 * (threads with gil=on, once another thread waited the switch interval)
 * points this thread's conc_preempt_flag at its request flag. A workload
 * with long steps (primes with burst=never) looks between its slices and
 * returns CONC_YIELD early when it is set. NULL under every other model:
 * cooperative ones never preempt, as asyncio and gevent do not.
 */
extern _Thread_local const atomic_bool *conc_preempt_flag;

static inline bool conc_preempt_pending(void)
{
    return conc_preempt_flag &&
           atomic_load_explicit(conc_preempt_flag, memory_order_relaxed);
}

#endif
