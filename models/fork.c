/*
 * fork: one process per task, or a pool of W processes that take task
 * indices from a counter in shared memory (multiprocessing.Pool's shape),
 * each running the blocking driver. Results come back through the
 * MAP_SHARED r->out; the parent reaps every child, so their rusage counts.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/proc.h"
#include "models/limits.h"
#include "models/model.h"

#define FORK_MAX 1000000

/* After SIGTERM, how long children get before SIGKILL. */
#define FORK_TERM_GRACE_NS (100 * CONC_NS_PER_MS)

static const struct conc_opt fork_opts[] = {
    { "workers", CONC_OPT_COUNT, NULL, "processes that run the tasks, at "
      "most one per task (default: one per task)", NULL, 1, FORK_MAX },
    { NULL },
};

enum fork_gate { FORK_GATE_WAIT, FORK_GATE_GO, FORK_GATE_STOP };

/* Mapped MAP_SHARED before the first fork(), so every child sees it. */
struct fork_ctl {
    _Alignas(64) atomic_int gate;  /* a futex word shared across processes */
    _Alignas(64) atomic_uint next; /* the next task index (pool) */
};

static int fork_check(const struct conc_params *mp, unsigned tasks)
{
    return conc_limits_check_tasks(conc_model_workers(mp, tasks), "processes");
}

static long fork_futex(atomic_int *addr, int op, int val)
{
    /* Not FUTEX_PRIVATE: the word is shared by several processes. */
    return syscall(SYS_futex, (void *)addr, op, val, NULL, NULL, 0);
}

/* The number of kB on the line that starts with key in a /proc text. */
static uint64_t fork_kib(const char *text, const char *key)
{
    size_t n = strlen(key);

    for (const char *p = text; p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, key, n) == 0)
            return strtoull(p + n, NULL, 10);
    }
    return 0;
}

/*
 * A child's own memory, added to r->mem as its last act: its unique set
 * (smaps_rollup's Private_* lines: pages it alone maps; what it still
 * shares with the parent is in the parent's RSS), or, without a rollup,
 * statm's resident pages less its file-backed and shared ones; and its
 * page tables (status's VmPTE), kernel memory that each process has of its
 * own and a thread does not. The rollup costs a page-table walk, and with
 * the opens 0.1-0.2 ms in a fresh child here, a tenth of what its fork,
 * exit and reaping cost: r->mem is set in a cell's first run only
 * (docs/report.md).
 */
static void fork_add_memory(const struct conc_run *r)
{
    char buf[2048];
    unsigned long long size, res, shared;
    uint64_t kib;

    if (!r->mem)
        return;
    if (conc_proc_read("/proc/self/smaps_rollup", buf, sizeof(buf)) > 0) {
        kib = fork_kib(buf, "Private_Clean:") +
              fork_kib(buf, "Private_Dirty:") +
              fork_kib(buf, "Private_Hugetlb:");
    } else if (conc_proc_read("/proc/self/statm", buf, sizeof(buf)) > 0 &&
               sscanf(buf, "%llu %llu %llu", &size, &res, &shared) == 3) {
        kib = (res > shared ? res - shared : 0) *
              (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
        atomic_fetch_add_explicit(&r->mem->anon, 1, memory_order_relaxed);
    } else {
        return;
    }
    if (conc_proc_read("/proc/self/status", buf, sizeof(buf)) > 0 &&
        strstr(buf, "VmPTE:")) {
        kib += fork_kib(buf, "VmPTE:");
        atomic_fetch_add_explicit(&r->mem->pte, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&r->mem->kib, kib, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->mem->children, 1, memory_order_relaxed);
}

/*
 * A child: waits behind the gate, runs its task (or takes indices until
 * none are left) and _exit()s, so the parent's atexit handlers and stdio
 * buffers are never run twice.
 */
static _Noreturn void fork_child(const struct conc_run *r,
                                 struct fork_ctl *ctl, unsigned id, bool pool,
                                 pid_t parent, const sigset_t *mask)
{
    void *task;
    int gate;

    /* A signal ends a child at once; the parent does the cleanup. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigprocmask(SIG_SETMASK, mask, NULL);
    /* No child outlives a parent killed with SIGKILL. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);

    while ((gate = atomic_load(&ctl->gate)) == FORK_GATE_WAIT)
        fork_futex(&ctl->gate, FUTEX_WAIT, FORK_GATE_WAIT);
    if (gate != FORK_GATE_GO)
        _exit(0);
    task = malloc(r->w->task_size ? r->w->task_size : 1);
    if (!task)
        _exit(1);
    for (;;) {
        unsigned i = pool ? atomic_fetch_add(&ctl->next, 1) : id;
        if (i >= r->tasks)
            break;
        memset(task, 0, r->w->task_size);
        conc_drive_task(r, i, task, NULL);
        if (!pool)
            break;
    }
    /*
     * Not needed by the kernel, but valgrind checks leaks at every exit,
     * _exit() in a forked child too, and its --error-exitcode would turn
     * this buffer into a failed worker.
     */
    free(task);
    conc_worker_end(r);
    fork_add_memory(r);
    _exit(0);
}

/*
 * Reaps the n children of process group pgid. Once the run is interrupted
 * (or kill is set) it sends them SIGTERM, then SIGKILL after a grace
 * period. SIGCHLD is blocked by the caller, so sigtimedwait() sleeps until
 * a child ends, a signal handler runs, or the slice ends (which bounds the
 * race with a SIGINT that lands just before it). The first child that did
 * not exit with 0 is stored in *bad_pid and *bad_status.
 */
static void fork_reap_all(struct conc_run *r, pid_t pgid, unsigned n,
                          bool kill_now, pid_t *bad_pid, int *bad_status)
{
    sigset_t chld;
    uint64_t kill_at_ns = 0;
    unsigned reaped = 0;
    int stage = 0; /* 0 nothing sent, 1 SIGTERM sent, 2 SIGKILL sent */

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    while (reaped < n) {
        struct rusage ru;
        struct timespec ts;
        int status;
        pid_t pid = wait4(-pgid, &status, WNOHANG, &ru);

        if (pid > 0) {
            reaped++;
            if ((uint64_t)ru.ru_maxrss > r->child_max_rss_kib)
                r->child_max_rss_kib = (uint64_t)ru.ru_maxrss;
            if (!*bad_pid && !(WIFEXITED(status) && !WEXITSTATUS(status))) {
                *bad_pid = pid;
                *bad_status = status;
            }
            continue;
        }
        if (pid < 0 && errno != EINTR)
            break; /* ECHILD: none left, whatever n says */
        if (stage == 0 && (kill_now || conc_interrupted)) {
            killpg(pgid, SIGTERM);
            kill_at_ns = conc_now_ns() + FORK_TERM_GRACE_NS;
            stage = 1;
        } else if (stage == 1 && conc_now_ns() >= kill_at_ns) {
            killpg(pgid, SIGKILL);
            stage = 2;
        }
        ts = conc_ns_to_timespec((stage ? 10 : 50) * CONC_NS_PER_MS);
        sigtimedwait(&chld, NULL, &ts);
    }
}

static int fork_run(struct conc_run *r)
{
    unsigned nw = conc_model_workers(r->mp, r->tasks), started = 0;
    struct fork_ctl *ctl;
    sigset_t chld, old_mask;
    pid_t parent = getpid(), pgid = 0, bad_pid = 0;
    int fork_err = 0, bad_status = 0, err = 0;

    if (nw == 0)
        return 0;
    ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED)
        return conc_error(-errno, "cannot map the fork model's counter");
    atomic_init(&ctl->gate, FORK_GATE_WAIT);
    atomic_init(&ctl->next, 0);

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old_mask);
    for (unsigned k = 0; k < nw && !conc_interrupted; k++) {
        pid_t pid = fork();
        if (pid < 0) {
            fork_err = errno;
            break;
        }
        if (pid == 0)
            fork_child(r, ctl, k, nw < r->tasks, parent, &old_mask);
        /*
         * The children get a process group of their own, so that waiting
         * and killing reach exactly them. They do nothing before the gate
         * opens, so the parent alone moving them in is enough.
         */
        if (setpgid(pid, pgid ? pgid : pid) < 0) {
            fork_err = errno;
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        if (!pgid)
            pgid = pid;
        started++;
    }
    if (started == nw && !conc_interrupted) {
        atomic_store(&ctl->gate, FORK_GATE_GO);
    } else {
        atomic_store(&ctl->gate, FORK_GATE_STOP);
        bad_pid = -1; /* statuses of children we kill do not matter */
    }
    fork_futex(&ctl->gate, FUTEX_WAKE, INT_MAX);
    if (started)
        fork_reap_all(r, pgid, started, fork_err != 0, &bad_pid, &bad_status);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    munmap(ctl, sizeof(*ctl));

    if (fork_err)
        err = conc_error_msg(-fork_err, "cannot fork worker %u of %u: %s (%u "
                             "were started, then killed and reaped); raise "
                             "'ulimit -u' or kernel.pid_max, or run fewer "
                             "with -o workers=N", started + 1, nw,
                             strerror(fork_err), started);
    else if (conc_interrupted)
        err = -EINTR;
    else if (bad_pid > 0 && WIFSIGNALED(bad_status))
        err = conc_error_msg(-ECHILD, "worker process %ld was killed by "
                             "signal %d (%s)", (long)bad_pid,
                             WTERMSIG(bad_status),
                             strsignal(WTERMSIG(bad_status)));
    else if (bad_pid > 0)
        err = conc_error_msg(-ECHILD, "worker process %ld exited with "
                             "status %d", (long)bad_pid,
                             WEXITSTATUS(bad_status));
    return err;
}

/* Each child runs its tasks on its main thread. */
static uint64_t fork_stack_size(const struct conc_params *mp)
{
    (void)mp;
    return conc_main_stack();
}

/* A process a task: the kernel preempts each. */
static bool fork_preemptive(const struct conc_params *mp)
{
    (void)mp;
    return true;
}

const struct conc_model conc_model_fork = {
    .name = "fork",
    .summary = "one process per task, or a pool of W",
    .like = "multiprocessing, ProcessPoolExecutor",
    .opts = fork_opts,
    .check = fork_check,
    .run = fork_run,
    .stack_size = fork_stack_size,
    .preemptive = fork_preemptive,
};
