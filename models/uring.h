/*
 * The uring model's internal header: what its unit test reaches beyond the
 * model object (models/uring.c).
 */
#ifndef CONC_MODELS_URING_H
#define CONC_MODELS_URING_H

#include <stddef.h>

/*
 * Why this kernel refuses io_uring, for `list` and the exit-3 refusal:
 * from io_uring_setup's errno err (ENOSYS, EPERM, ...) and the value of
 * kernel.io_uring_disabled (-1: unreadable, as on kernels before 6.6),
 * written into buf (len bytes) and returned.
 */
const char *uring_refusal(int err, int disabled, char *buf, size_t len);

#endif
