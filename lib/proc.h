/*
 * Readers of the kernel's small text files (/proc, /sys, cgroup): the one
 * place that parses them, for the limits checks, green's sizing, the host
 * record and the per-run interference counters.
 */
#ifndef CONC_PROC_H
#define CONC_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Reads path whole into buf, NUL-terminated and cut at len - 1 bytes, with
 * a trailing newline removed. Returns the length kept, or -errno (nothing
 * printed: a missing file is often a fact, not an error).
 */
ssize_t conc_proc_read(const char *path, char *buf, size_t len);

/* The first unsigned number in path: 0, -EINVAL when it has none, -errno. */
int conc_proc_u64(const char *path, uint64_t *out);

/*
 * The number after `key` in a "Key:  value [unit]" file such as
 * /proc/meminfo or /proc/PID/status (key includes its colon: "VmHWM:"), or
 * in a "key value" file such as cgroup's cpu.stat (key "nr_throttled").
 * 0, -ENOENT when no line starts with key, -errno.
 */
int conc_proc_field_u64(const char *path, const char *key, uint64_t *out);

/* How many lines path has (/proc/self/maps): 0, or -errno. */
int conc_proc_lines(const char *path, uint64_t *out);

/*
 * How many more file descriptors this process may open now into *out:
 * the numbers under RLIMIT_NOFILE that no open descriptor holds. 0, or
 * -errno when the limit or /proc/self/fd is unreadable.
 */
int conc_proc_fds_free(long *out);

/*
 * Whether libuv can start a loop here: uv_loop_init() aborts the process
 * (it does not return an error) when its first call cannot open the
 * signal pipe, so callers ask first. 0, or -EMFILE with a message naming
 * the limit and how many descriptors `what` needs.
 */
int conc_proc_fds_check(long need, const char *what);

/*
 * CPU time stolen from this machine by its hypervisor, over every CPU,
 * since boot (/proc/stat's "cpu" line, in clock ticks, as nanoseconds).
 * 0 or -errno. Its resolution is one tick (10 ms at USER_HZ 100).
 */
int conc_proc_steal_ns(uint64_t *out);

/*
 * How long the calling thread has waited on a run queue, runnable but not
 * running, since it began (/proc/thread-self/schedstat, second field). 0,
 * or -errno (-ENOENT without CONFIG_SCHED_INFO).
 */
int conc_proc_thread_runqueue_ns(uint64_t *out);

/*
 * This process's cgroup CPU controller: the directory holding its cpu.stat
 * and quota files, cgroup v2 (unified) or v1 (the "cpu" hierarchy), into
 * buf; *v2 says which. 0, or -ENOENT when there is none.
 */
int conc_proc_cgroup_cpu_dir(char *buf, size_t len, int *v2);

/* CFS throttling of this process's cgroup so far: how often and how long. */
struct conc_throttle {
    uint64_t periods;   /* nr_throttled */
    uint64_t ns;        /* throttled_usec (v2) or throttled_time (v1) */
};

/* 0, or -errno when the cgroup or its cpu.stat cannot be read. */
int conc_proc_throttle(struct conc_throttle *t);

/*
 * The CPUs the cgroup quota allows (cpu.max "quota period" in v2,
 * cfs_quota_us / cfs_period_us in v1), or 0 when there is no quota.
 */
double conc_proc_cgroup_cpu_quota(void);

#endif
