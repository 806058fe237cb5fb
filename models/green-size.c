/*
 * green's sizes and limits: the page-rounded stack, the guard mode the
 * kernel allows, and the check that refuses stacks that cannot exist.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/proc.h"
#include "models/green.h"

size_t green_page(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

void green_fmt_size(char *buf, size_t len, uint64_t b)
{
    if (b && b % (1ull << 30) == 0)
        snprintf(buf, len, "%lluGiB", (unsigned long long)(b >> 30));
    else if (b && b % (1ull << 20) == 0)
        snprintf(buf, len, "%lluMiB", (unsigned long long)(b >> 20));
    else if (b && b % 1024 == 0)
        snprintf(buf, len, "%lluKiB", (unsigned long long)(b >> 10));
    else
        snprintf(buf, len, "%lluB", (unsigned long long)b);
}

/* MemAvailable + SwapFree in bytes, or 0 when /proc/meminfo is unreadable. */
static uint64_t green_mem_available(void)
{
    uint64_t avail = 0, swap = 0;

    conc_proc_field_u64("/proc/meminfo", "MemAvailable:", &avail);
    conc_proc_field_u64("/proc/meminfo", "SwapFree:", &swap);
    return (avail + swap) * 1024;
}

/*
 * Whether this kernel has MADV_GUARD_INSTALL (Linux 6.13+). Asked once:
 * the answer cannot change while the process runs.
 */
static bool green_have_guard_install(void)
{
    static atomic_int known; /* 0 unknown, 1 yes, 2 no */
    int k = atomic_load(&known);
    size_t pg = green_page();
    char *p;

    if (k)
        return k == 1;
    p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false; /* no answer now; mprotect works everywhere */
    k = madvise(p, pg, MADV_GUARD_INSTALL) == 0 ? 1 : 2;
    munmap(p, 2 * pg);
    atomic_store(&known, k);
    return k == 1;
}

enum green_guard green_guard_mode(const struct conc_params *mp)
{
    enum green_guard g = (enum green_guard)conc_param_u64(mp, "guard");

    if (g == GREEN_GUARD_AUTO)
        g = green_have_guard_install() ? GREEN_GUARD_MADVISE
                                       : GREEN_GUARD_MPROTECT;
    return g;
}

size_t green_stack_bytes(const struct conc_params *mp)
{
    size_t pg = green_page();

    return (size_t)((conc_param_u64(mp, "stack") + pg - 1) / pg * pg);
}

/*
 * Every stack is live at once in the worst case, so the limits are checked
 * against all of them.
 */
int green_check(const struct conc_params *mp, unsigned tasks)
{
    unsigned workers = conc_model_workers(mp, tasks);
    size_t slot = green_stack_bytes(mp) + green_page();
    uint64_t avail, need, max_maps, in_use;
    char s1[32], s2[32], s3[32];

#ifndef CONC_HAVE_BOOST_CONTEXT
    if (conc_param_u64(mp, "switch") == GREEN_SWITCH_FCONTEXT)
        return conc_error_msg(-ENOTSUP, "-o switch=fcontext is unavailable "
                              "in this build: built without Boost.Context; "
                              "use -o switch=ucontext");
#endif
    if (conc_param_u64(mp, "guard") == GREEN_GUARD_MADVISE &&
        !green_have_guard_install())
        return conc_error_msg(-ENOTSUP, "-o guard=madvise needs "
                              "MADV_GUARD_INSTALL (Linux 6.13+), which this "
                              "kernel lacks; use -o guard=mprotect");

    avail = green_mem_available();
    need = (uint64_t)tasks * slot;
    if (avail && need > avail) {
        green_fmt_size(s1, sizeof(s1), green_stack_bytes(mp));
        snprintf(s2, sizeof(s2), "%.1f GiB", (double)need / (1ull << 30));
        snprintf(s3, sizeof(s3), "%.1f GiB", (double)avail / (1ull << 30));
        return conc_error_msg(-ENOMEM, "%u green stacks of %s need %s, more "
                              "than the %s of available memory (MemAvailable "
                              "+ SwapFree); lower --tasks or -o stack",
                              tasks, s1, s2, s3);
    }

    /*
     * Every chunk is one map with guard regions, or two maps per stack with
     * mprotect; each scheduler adds an alternate signal stack and, on its
     * own thread, a thread stack with its guard.
     */
    if (conc_proc_u64("/proc/sys/vm/max_map_count", &max_maps))
        max_maps = 0;
    if (conc_proc_lines("/proc/self/maps", &in_use))
        in_use = 0;
    if (green_guard_mode(mp) == GREEN_GUARD_MADVISE)
        need = tasks / GREEN_CHUNK_SLOTS + 1 + workers;
    else
        need = 2ull * tasks + tasks / GREEN_CHUNK_SLOTS + 1 + workers;
    need += 3ull * workers + 16; /* altstacks, threads, malloc arenas */
    if (max_maps && in_use + need > max_maps)
        return conc_error_msg(-ENOMEM, "%u green stacks with guard pages "
                              "need about %llu memory maps, over "
                              "vm.max_map_count=%llu (%llu in use)%s; lower "
                              "--tasks or raise vm.max_map_count", tasks,
                              (unsigned long long)need,
                              (unsigned long long)max_maps,
                              (unsigned long long)in_use,
                              green_guard_mode(mp) == GREEN_GUARD_MPROTECT
                                  ? " with -o guard=mprotect"
                                  : "");
    return 0;
}
