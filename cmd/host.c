/*
 * Host capture: the facts a concurrency result depends on (cores, SMT,
 * cgroup quota, governor, limits), read from /proc and /sys where readable.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cmd/host.h"
#include "lib/proc.h"

/* path's text (one line) into buf; 0, or -1 with buf empty. */
static int host_read_line(const char *path, char *buf, size_t len)
{
    if (conc_proc_read(path, buf, len) < 0) {
        buf[0] = '\0';
        return -1;
    }
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

static uint64_t host_limit(int resource)
{
    struct rlimit rl;

    if (getrlimit(resource, &rl) || rl.rlim_cur == RLIM_INFINITY)
        return UINT64_MAX;
    return (uint64_t)rl.rlim_cur;
}

/*
 * What the run shares its machine with: the hypervisor (CPUID's flag, in
 * /proc/cpuinfo), the VM product where the firmware names it, a container
 * runtime's marker file (docker, podman), the clock source and CPU boost.
 */
static void host_read_env(struct conc_host *h)
{
    uint64_t v;

    FILE *f = fopen("/proc/cpuinfo", "re");
    char buf[4096];

    /* CPUID's hypervisor bit, in the first flags line. */
    while (f && fgets(buf, sizeof(buf), f))
        if (strncmp(buf, "flags", 5) == 0) {
            h->hypervisor = strstr(buf, " hypervisor") != NULL;
            break;
        }
    if (f)
        fclose(f);
    if (host_read_line("/sys/class/dmi/id/product_name", h->virt,
                       sizeof(h->virt)) != 0 || !h->virt[0])
        host_read_line("/sys/hypervisor/type", h->virt, sizeof(h->virt));
    if (access("/.dockerenv", F_OK) == 0)
        snprintf(h->container, sizeof(h->container), "docker");
    else if (access("/run/.containerenv", F_OK) == 0)
        snprintf(h->container, sizeof(h->container), "podman");
    host_read_line("/sys/devices/system/clocksource/clocksource0/"
                   "current_clocksource", h->clocksource,
                   sizeof(h->clocksource));
    h->boost = -1;
    if (conc_proc_u64("/sys/devices/system/cpu/cpufreq/boost", &v) == 0)
        h->boost = v != 0;
    else if (conc_proc_u64("/sys/devices/system/cpu/intel_pstate/no_turbo",
                           &v) == 0)
        h->boost = v == 0;
}

void conc_host_read(struct conc_host *h)
{
    char line[256];
    FILE *f;
    cpu_set_t set;
    struct utsname u;
    struct timespec res;

    memset(h, 0, sizeof(*h));
    h->smt = -1;
    if ((f = fopen("/proc/cpuinfo", "r"))) {
        while (fgets(line, sizeof(line), f)) {
            char *colon = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && colon) {
                snprintf(h->cpu_model, sizeof(h->cpu_model), "%s", colon + 2);
                h->cpu_model[strcspn(h->cpu_model, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    h->cpus_online = sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        h->cpus_allowed = CPU_COUNT(&set);
    if (host_read_line("/sys/devices/system/cpu/smt/active", line,
                       sizeof(line)) == 0)
        h->smt = atoi(line) != 0;
    h->cgroup_cpu_quota = conc_proc_cgroup_cpu_quota();
    h->usable_cpus = (double)(h->cpus_allowed > 0 ? h->cpus_allowed
                                                  : h->cpus_online);
    if (h->cgroup_cpu_quota > 0 && h->cgroup_cpu_quota < h->usable_cpus)
        h->usable_cpus = h->cgroup_cpu_quota;
    host_read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor",
                   h->governor, sizeof(h->governor));
    h->mem_bytes = (uint64_t)sysconf(_SC_PHYS_PAGES) *
                   (uint64_t)sysconf(_SC_PAGESIZE);
    if (uname(&u) == 0)
        snprintf(h->kernel, sizeof(h->kernel), "%s %s %s", u.sysname,
                 u.release, u.machine);
    if ((f = fopen("/proc/loadavg", "r"))) {
        if (fscanf(f, "%lf %lf %lf", &h->loadavg[0], &h->loadavg[1],
                   &h->loadavg[2]) != 3)
            memset(h->loadavg, 0, sizeof(h->loadavg));
        fclose(f);
    }
    h->nofile_limit = host_limit(RLIMIT_NOFILE);
    h->nproc_limit = host_limit(RLIMIT_NPROC);
    if (host_read_line("/proc/sys/kernel/pid_max", line, sizeof(line)) == 0)
        h->pid_max = strtoull(line, NULL, 10);
    host_read_env(h);
    if (clock_getres(CLOCK_MONOTONIC, &res) == 0)
        h->clock_res_ns = (uint64_t)res.tv_sec * 1000000000ull +
                          (uint64_t)res.tv_nsec;
}
