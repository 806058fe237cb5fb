/*
 * Readers of /proc and /sys text files; see proc.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/proc.h"

ssize_t conc_proc_read(const char *path, char *buf, size_t len)
{
    size_t got = 0;
    int fd;

    if (len == 0)
        return -EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (got < len - 1) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    if (got && buf[got - 1] == '\n')
        buf[--got] = '\0';
    return (ssize_t)got;
}

/* The unsigned number at the start of s (after blanks): 0 or -EINVAL. */
static int proc_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -errno;
    *out = v;
    return 0;
}

int conc_proc_u64(const char *path, uint64_t *out)
{
    char buf[64];
    ssize_t n = conc_proc_read(path, buf, sizeof(buf));

    return n < 0 ? (int)n : proc_parse_u64(buf, out);
}

int conc_proc_field_u64(const char *path, const char *key, uint64_t *out)
{
    char line[256];
    size_t klen = strlen(key);
    int err = -ENOENT;
    FILE *f = fopen(path, "re");

    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        /* "VmHWM:\t  1234 kB" or "nr_throttled 7": the key, then blanks. */
        if (strncmp(line, key, klen) == 0 &&
            (line[klen] == ' ' || line[klen] == '\t')) {
            err = proc_parse_u64(line + klen, out);
            break;
        }
        /* A line longer than the buffer: skip the rest of it. */
        while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
            ;
    }
    fclose(f);
    return err;
}

int conc_proc_lines(const char *path, uint64_t *out)
{
    char buf[4096];
    uint64_t n = 0;
    ssize_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    while ((got = read(fd, buf, sizeof(buf))) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        for (ssize_t i = 0; i < got; i++)
            n += buf[i] == '\n';
    }
    close(fd);
    *out = n;
    return 0;
}

int conc_proc_steal_ns(uint64_t *out)
{
    char buf[512];
    unsigned long long v[8];
    long hz = sysconf(_SC_CLK_TCK);
    ssize_t n = conc_proc_read("/proc/stat", buf, sizeof(buf));

    if (n < 0)
        return (int)n;
    /* "cpu  user nice system idle iowait irq softirq steal ..." */
    if (strncmp(buf, "cpu ", 4) != 0 ||
        sscanf(buf + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
               &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
        return -EINVAL;
    *out = v[7] * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
    return 0;
}

int conc_proc_thread_runqueue_ns(uint64_t *out)
{
    char buf[128];
    unsigned long long run, wait;
    ssize_t n = conc_proc_read("/proc/thread-self/schedstat", buf,
                               sizeof(buf));

    if (n < 0)
        return (int)n;
    if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
        return -EINVAL;
    *out = wait;
    return 0;
}

int conc_proc_cgroup_cpu_dir(char *buf, size_t len, int *v2)
{
    char line[512];
    int err = -ENOENT;
    FILE *f = fopen("/proc/self/cgroup", "re");

    if (!f)
        return -errno;
    /* "0::/path" (v2) or "4:cpu,cpuacct:/path" (v1). v1's cpu controller
       wins where both are listed: it is the one that holds the quota. */
    while (fgets(line, sizeof(line), f)) {
        char *ctrl = strchr(line, ':'), *path;
        if (!ctrl || !(path = strchr(ctrl + 1, ':')))
            continue;
        *path++ = '\0';
        path[strcspn(path, "\n")] = '\0';
        ctrl++;
        if (*ctrl == '\0' && err) {
            snprintf(buf, len, "/sys/fs/cgroup%s", strcmp(path, "/") ? path
                                                                    : "");
            *v2 = 1;
            err = 0;
        }
        for (char *tok = strtok(ctrl, ","); tok; tok = strtok(NULL, ","))
            if (strcmp(tok, "cpu") == 0) {
                snprintf(buf, len, "/sys/fs/cgroup/cpu%s",
                         strcmp(path, "/") ? path : "");
                *v2 = 0;
                fclose(f);
                return 0;
            }
    }
    fclose(f);
    if (!err) {
        /* A v2 line on a v1 machine names a hierarchy with no cpu files. */
        char probe[600];
        snprintf(probe, sizeof(probe), "%s/cpu.stat", buf);
        if (access(probe, R_OK) != 0)
            return -ENOENT;
    }
    return err;
}

int conc_proc_throttle(struct conc_throttle *t)
{
    char dir[512], path[600];
    int v2, err = conc_proc_cgroup_cpu_dir(dir, sizeof(dir), &v2);

    memset(t, 0, sizeof(*t));
    if (err)
        return err;
    snprintf(path, sizeof(path), "%s/cpu.stat", dir);
    if ((err = conc_proc_field_u64(path, "nr_throttled", &t->periods)))
        return err;
    if (v2) {
        err = conc_proc_field_u64(path, "throttled_usec", &t->ns);
        t->ns *= 1000;
    } else {
        err = conc_proc_field_u64(path, "throttled_time", &t->ns);
    }
    return err;
}

double conc_proc_cgroup_cpu_quota(void)
{
    char dir[512], path[600], buf[64];
    int v2;
    double quota, period;

    if (conc_proc_cgroup_cpu_dir(dir, sizeof(dir), &v2))
        return 0;
    if (v2) {
        snprintf(path, sizeof(path), "%s/cpu.max", dir);
        if (conc_proc_read(path, buf, sizeof(buf)) < 0 ||
            sscanf(buf, "%lf %lf", &quota, &period) != 2 || period <= 0)
            return 0; /* "max 100000": no quota */
        return quota / period;
    }
    snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
    if (conc_proc_read(path, buf, sizeof(buf)) < 0 ||
        sscanf(buf, "%lf", &quota) != 1 || quota <= 0)
        return 0; /* -1: no quota */
    snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
    if (conc_proc_read(path, buf, sizeof(buf)) < 0 ||
        sscanf(buf, "%lf", &period) != 1 || period <= 0)
        return 0;
    return quota / period;
}

int conc_proc_fds_free(long *out)
{
    struct rlimit rl;
    struct dirent *e;
    long below = 0;
    DIR *d;

    if (getrlimit(RLIMIT_NOFILE, &rl))
        return -errno;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)LONG_MAX) {
        *out = LONG_MAX;
        return 0;
    }
    if (!(d = opendir("/proc/self/fd"))) {
        if (errno != EMFILE)
            return -errno;
        *out = 0; /* not even one is left */
        return 0;
    }
    /* Only numbers under the limit are slots a new descriptor can take
       (an inherited fd 251 under 'ulimit -n 4' takes none). The
       directory's own descriptor counts: it is closed again below. */
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' &&
            strtol(e->d_name, NULL, 10) < (long)rl.rlim_cur)
            below++;
    closedir(d);
    *out = (long)rl.rlim_cur - (below - 1);
    return 0;
}

int conc_proc_fds_check(long need, const char *what)
{
    struct rlimit rl;
    long left;

    if (conc_proc_fds_free(&left) || left >= need)
        return 0; /* unknown: let the call itself say what failed */
    getrlimit(RLIMIT_NOFILE, &rl);
    return conc_error_msg(-EMFILE, "cannot start %s: it needs %ld free file "
                          "descriptors and %ld are left under 'ulimit -n' "
                          "%llu; raise it", what, need, left,
                          (unsigned long long)rl.rlim_cur);
}
