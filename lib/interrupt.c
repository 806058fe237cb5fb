/*
 * The stop flag; see interrupt.h.
 */
#include "lib/interrupt.h"

/* Only a lock-free atomic may be written from a signal handler. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic_int must be lock-free");
atomic_int conc_interrupted;

_Thread_local const atomic_bool *conc_preempt_flag;
