/*
 * The machine a report was measured on: concurrency results depend on it.
 */
#ifndef CONC_HOST_H
#define CONC_HOST_H

#include <stdint.h>

struct conc_host {
    char cpu_model[128];
    long cpus_online, cpus_allowed;
    int smt;                 /* 1 on, 0 off, -1 unknown */
    double cgroup_cpu_quota; /* CPUs allowed by cgroup cpu.max; 0: none */
    char governor[32];       /* "" when unreadable */
    uint64_t mem_bytes;
    char kernel[200];
    double loadavg[3];
    uint64_t nofile_limit, nproc_limit, pid_max; /* UINT64_MAX: unlimited */
    uint64_t clock_res_ns;
    double usable_cpus;      /* what this process can use: its affinity
                                mask, capped by the cgroup quota */
    char clocksource[32];    /* "tsc", "kvm-clock"; "" when unreadable */
    int boost;               /* CPU boost/turbo: 1 on, 0 off, -1 unknown */
    int hypervisor;          /* 1 when the CPU says it runs under one */
    char virt[64];           /* the VM's vendor or product where the
                                firmware names it, "" when unknown */
    char container[16];      /* "docker", "podman", "lxc", "" (none seen) */
};

/*
 * Reads what it can; fields it cannot read stay empty, zero or -1. Cheap
 * enough (a few small files) to call once per report.
 */
void conc_host_read(struct conc_host *h);

#endif
