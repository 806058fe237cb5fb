/*
 * Limits on starting processes and threads, checked before a run so that a
 * request that cannot fit is refused up front instead of failing half-way.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/opts.h"
#include "lib/proc.h"
#include "models/limits.h"

/*
 * Pids below this are not handed out again once the kernel's pid counter
 * wraps (RESERVED_PIDS in kernel/pid.c), so they are not headroom.
 */
#define LIMITS_RESERVED_PIDS 300

/* The first unsigned number in path, or -1. */
static long limits_read_long(const char *path)
{
    uint64_t v;

    return conc_proc_u64(path, &v) || v > LONG_MAX ? -1 : (long)v;
}

/* Scheduling entities (threads) alive on the system, from /proc/loadavg. */
static long limits_system_tasks(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    long running, total = -1;

    if (f) {
        if (fscanf(f, "%*s %*s %*s %ld/%ld", &running, &total) != 2)
            total = -1;
        fclose(f);
    }
    return total;
}

long conc_limits_user_tasks(unsigned uid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    long n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        char path[300];
        uint64_t real, threads;

        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
        /* A process that exited meanwhile has no file: it counts nothing. */
        if (conc_proc_field_u64(path, "Uid:", &real) == 0 && real == uid &&
            conc_proc_field_u64(path, "Threads:", &threads) == 0)
            n += (long)threads;
    }
    closedir(d);
    return n;
}

int conc_limits_check_tasks(unsigned long n, const char *what)
{
    struct rlimit rl;
    long in_use = limits_system_tasks(), pid_max, threads_max;
    /* Room left under each limit; LONG_MIN where a limit cannot be read. */
    long room[3] = { LONG_MIN, LONG_MIN, LONG_MIN }, mine = -1;
    int tightest = -1;

    /*
     * The kernel exempts root from RLIMIT_NPROC, but a limit lowered with
     * `ulimit -u` is what the user asked for, so it is honored for everyone.
     */
    if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        mine = conc_limits_user_tasks((unsigned)getuid());
        if (mine >= 0)
            room[0] = (long)rl.rlim_cur - mine;
    }
    pid_max = limits_read_long("/proc/sys/kernel/pid_max");
    if (pid_max > 0 && in_use >= 0)
        room[1] = pid_max - LIMITS_RESERVED_PIDS - in_use;
    threads_max = limits_read_long("/proc/sys/kernel/threads-max");
    if (threads_max > 0 && in_use >= 0)
        room[2] = threads_max - in_use;
    /* Name the limit that leaves the least room, the one to raise first. */
    for (int k = 0; k < 3; k++)
        if (room[k] != LONG_MIN && (long)n > room[k] &&
            (tightest < 0 || room[k] < room[tightest]))
            tightest = k;
    switch (tightest) {
    case 0:
        return conc_error_msg(
            -EAGAIN, "cannot start %lu %s: RLIMIT_NPROC (ulimit -u) is "
            "%llu and this user already runs %ld; raise it with "
            "'ulimit -u' or run fewer with -o workers=N", n, what,
            (unsigned long long)rl.rlim_cur, mine);
    case 1:
        return conc_error_msg(
            -EAGAIN, "cannot start %lu %s: kernel.pid_max is %ld and %ld "
            "pids are in use; raise it with 'sysctl kernel.pid_max=N' or run "
            "fewer with -o workers=N", n, what, pid_max, in_use);
    case 2:
        return conc_error_msg(
            -EAGAIN, "cannot start %lu %s: kernel.threads-max is %ld and %ld "
            "threads are running; raise it with 'sysctl kernel.threads-max=N' "
            "or run fewer with -o workers=N", n, what, threads_max, in_use);
    }
    return 0;
}

int conc_limits_check_workers(const struct conc_params *mp, unsigned tasks)
{
    uint64_t workers = conc_param_u64(mp, "workers");

    if (workers > tasks)
        workers = tasks;
    return workers > 1 ? conc_limits_check_tasks((unsigned long)workers - 1,
                                                 "threads")
                       : 0;
}
