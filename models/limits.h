/*
 * How many more processes or threads the machine lets this user start:
 * RLIMIT_NPROC and kernel.pid_max / kernel.threads-max headroom, checked by
 * the fork and threads models before they start anything.
 */
#ifndef CONC_LIMITS_H
#define CONC_LIMITS_H

/*
 * Refuses a request to start n more tasks (what: "processes" or "threads")
 * that cannot fit: more than RLIMIT_NPROC leaves for this user, or more than
 * pid_max or threads-max leave for the system. Prints one line naming the
 * limit and how to raise it, and returns -EAGAIN; 0 when it fits (or a
 * limit cannot be read).
 */
int conc_limits_check_tasks(unsigned long n, const char *what);

struct conc_params;

/*
 * The same for a model whose first worker is the main thread and every
 * other (its `workers` option, at most one a task) a new thread: eventloop
 * and uring.
 */
int conc_limits_check_workers(const struct conc_params *mp, unsigned tasks);

/*
 * The number of tasks (threads) whose real uid is uid, counted from /proc,
 * or -1 when /proc cannot be read.
 */
long conc_limits_user_tasks(unsigned uid);

#endif
