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

#endif
