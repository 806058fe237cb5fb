/*
 * The one flag that asks every layer to stop: set by cmd/'s SIGINT and
 * SIGTERM handler, read by models (between steps and waits) and by long
 * loops anywhere (a workload's setup, reading or merging reports).
 */
#ifndef CONC_INTERRUPT_H
#define CONC_INTERRUPT_H

#include <stdatomic.h>

/*
 * The signal (SIGINT, SIGTERM) that asked the process to stop, or 0. A
 * lock-free atomic rather than volatile sig_atomic_t: it is safe in a
 * signal handler and, unlike volatile, race-free to read from worker
 * threads. Whoever sees it set stops within about 100 ms, releases what it
 * made and returns -EINTR.
 */
extern atomic_int conc_interrupted;

#endif
