/*
 * Runs one cell: untimed setup, warmups, timed runs, untimed teardown. Each
 * run is measured the same way whatever the model: wall time around
 * model->run (thread and process creation included), rusage of the process
 * and its reaped children, peak RSS, per-task times, and the checked answer.
 * A model that runs its tasks in another program (python) times the same
 * section there and hands the numbers back (struct conc_run_self).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/wait.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cmd/cell.h"
#include "cmd/exit.h"
#include "cmd/host.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/proc.h"

struct cell_rusage {
    uint64_t user_ns, sys_ns, nvcsw, nivcsw;
};

static uint64_t cell_tv_ns(struct timeval tv)
{
    return (uint64_t)tv.tv_sec * CONC_NS_PER_S +
           (uint64_t)tv.tv_usec * CONC_NS_PER_US;
}

/* This process and its reaped children (fork's workers), added up. */
static void cell_rusage_read(struct cell_rusage *u)
{
    struct rusage self, kids;

    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    u->user_ns = cell_tv_ns(self.ru_utime) + cell_tv_ns(kids.ru_utime);
    u->sys_ns = cell_tv_ns(self.ru_stime) + cell_tv_ns(kids.ru_stime);
    u->nvcsw = (uint64_t)(self.ru_nvcsw + kids.ru_nvcsw);
    u->nivcsw = (uint64_t)(self.ru_nivcsw + kids.ru_nivcsw);
}

/*
 * Resets the kernel's peak-RSS mark (Linux clear_refs "5"), so each run's
 * peak is its own rather than the largest since the process started.
 * Returns whether it could.
 */
static int cell_peak_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    int ok;

    if (!f)
        return 0;
    ok = fputs("5", f) >= 0;
    return (fclose(f) == 0) && ok;
}

/* Peak RSS in KiB since the last reset (VmHWM), or ru_maxrss. */
static uint64_t cell_peak_kib(int was_reset)
{
    uint64_t kib = 0;

    if (was_reset && conc_proc_field_u64("/proc/self/status", "VmHWM:", &kib))
        kib = 0;
    if (!kib) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kib = (uint64_t)ru.ru_maxrss;
    }
    return kib;
}

/* Open descriptors of this process (the count is what matters). */
static int cell_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/*
 * A child the model left exited but unreaped (a zombie) is a model bug: it
 * fails the run. Reaping it here also keeps one bug from failing every
 * later run. Returns the pid found, or 0.
 */
static pid_t cell_reap_zombie(void)
{
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);

    return pid > 0 ? pid : 0;
}

/*
 * A model that timed its run itself (python: the interpreter's start-up is
 * not the run) reports that section: it replaces the cell's own numbers.
 */
static void cell_self(struct conc_run_stats *s, const struct conc_run_self *m)
{
    if (!m->set)
        return;
    s->start_ns = m->start_ns;
    s->wall_ns = m->wall_ns;
    s->user_ns = m->user_ns;
    s->sys_ns = m->sys_ns;
    s->max_rss_kib = m->max_rss_kib;
    s->ctxsw_voluntary = m->ctxsw_voluntary;
    s->ctxsw_involuntary = m->ctxsw_involuntary;
}

/* The model's facts after the workload's metrics; its note if none. */
static void cell_facts(struct conc_run_stats *s, const struct conc_run_self *m)
{
    for (size_t k = 0; k < m->nfacts && s->nextra < CONC_METRICS_MAX; k++)
        s->extra[s->nextra++] = m->facts[k];
    if (!s->note[0] && m->note[0])
        snprintf(s->note, sizeof(s->note), "%s", m->note);
}

/* Folds the per-task outputs into s and checks the answer. */
static void cell_collect(const struct conc_cell *cell, void *shared,
                         const struct conc_task_out *out,
                         const struct conc_hist *op_ns,
                         struct conc_run_stats *s)
{
    const struct conc_workload *w = cell->workload;
    struct conc_hist *task_ns = conc_xmalloc(sizeof(*task_ns));
    struct conc_hist *done_ns = conc_xmalloc(sizeof(*done_ns));
    int first_err = 0;
    uint64_t errors = 0;

    conc_hist_init(task_ns);
    conc_hist_init(done_ns);
    s->totals.tasks = cell->tasks;
    for (unsigned i = 0; i < cell->tasks; i++) {
        const struct conc_task_out *o = &out[i];
        if (o->status) {
            s->task_failures++;
            /* A task stopped because another failed (ECANCELED) is not
               the reason; the other's error is. */
            if (!first_err || (first_err == -ECANCELED &&
                               o->status != -ECANCELED))
                first_err = o->status;
            continue;
        }
        conc_hist_add(task_ns, o->end_ns - o->start_ns);
        conc_hist_add(done_ns, o->end_ns > s->start_ns
                                   ? o->end_ns - s->start_ns : 0);
        s->totals.result += o->result;
        s->totals.ops += o->ops;
        s->totals.bytes += o->bytes;
        for (int k = 0; k < CONC_ERR_KINDS; k++)
            s->errors[k] += o->errors[k];
    }
    for (int k = 0; k < CONC_ERR_KINDS; k++)
        errors += s->errors[k];
    s->totals.errors = errors;
    conc_hist_pcts(task_ns, &s->task_ns);
    conc_hist_pcts(done_ns, &s->done_ns);
    conc_hist_pcts(op_ns, &s->op_ns);
    s->op_count = op_ns->count;
    free(task_ns);
    free(done_ns);

    s->result_ok = w->verify(shared, &s->totals, s->why, sizeof(s->why)) == 0;
    if (w->run_metrics)
        s->nextra = w->run_metrics(shared, &s->totals, out, cell->tasks,
                                   s->extra, CONC_METRICS_MAX, s->note,
                                   sizeof(s->note));
    if (s->task_failures && first_err == -EDEADLK) {
        snprintf(s->why, sizeof(s->why), "deadlock: every running task "
                 "waited for another to release what it held (%d of %u "
                 "tasks stopped)", s->task_failures, cell->tasks);
        if (w->deadlock_why)
            w->deadlock_why(shared, s->why, sizeof(s->why));
        s->result_ok = false;
    } else if (s->task_failures) {
        snprintf(s->why, sizeof(s->why), "%d of %u tasks failed: %s",
                 s->task_failures, cell->tasks, strerror(-first_err));
        s->result_ok = false;
    } else if (errors) {
        int n = snprintf(s->why, sizeof(s->why), "%llu errors (",
                         (unsigned long long)errors);
        for (int k = 0; k < CONC_ERR_KINDS && n < (int)sizeof(s->why); k++)
            if (s->errors[k])
                n += snprintf(s->why + n, sizeof(s->why) - (size_t)n, "%s%s %u",
                              n > 0 && s->why[n - 1] != '(' ? ", " : "",
                              conc_err_kind_names[k], s->errors[k]);
        if (n < (int)sizeof(s->why) - 1)
            strcat(s->why, ")");
    }
    s->failed = !s->result_ok || errors || s->task_failures;
    if (!s->failed)
        s->why[0] = '\0';
}

const char *const conc_disturbed_keys[3] = { "steal", "runqueue",
                                             "throttle" };

const char *const conc_disturbed_names[3] = {
    "steal", "other processes on its CPUs (run-queue wait)",
    "cgroup throttling",
};

/*
 * How many OS-level workers the cell's model runs: what its os_threads
 * says (eventloop's loops and pool), else its `workers` option (one per
 * task when unset), or 1 for a model without one (sequential).
 */
static unsigned cell_os_workers(const struct conc_cell *cell)
{
    if (cell->model->os_threads)
        return cell->model->os_threads(&cell->mp, cell->tasks);
    if (conc_params_find(&cell->mp, "workers") < 0)
        return 1;
    return conc_model_workers(&cell->mp, cell->tasks);
}

/* Tells the cell's watcher, if any, that a run begins (wall 0) or ended. */
static void cell_watch(const struct conc_cell *cell, bool warm, unsigned run,
                       uint64_t wall_ns)
{
    if (cell->watch && cell->watch->run)
        cell->watch->run(cell->watch->arg, warm, run,
                         warm ? cell->warmup : cell->runs, wall_ns);
}

/*
 * The memory of every process of the run: this process's peak (s's
 * max_rss_kib, before any child's is considered) plus what each child
 * process holds of its own (its unique set, or statm's anonymous pages,
 * and its page tables). Each child adds its own as it ends, in the cell's
 * first run whose model ran to its end with children only (the warm-up,
 * by default): reading it costs a child a /proc open and a page-table
 * walk, 0.1-0.2 ms on this VM, about a tenth of its fork, exit and
 * reaping, which would be in every timed run's wall otherwise. It changes
 * by about 1% from run to run. That run's figure stands for the cell's
 * later runs.
 */
static void cell_total_rss(struct conc_run_stats *s,
                           struct conc_cell_result *res,
                           const struct conc_memsum *mem)
{
    unsigned children = atomic_load(&mem->children);

    if (!res->child_mem_source && children) {
        bool pte = atomic_load(&mem->pte) == children;
        res->child_mem_kib = atomic_load(&mem->kib);
        if (atomic_load(&mem->anon))
            res->child_mem_source = pte ? "rss+anon+pte" : "rss+anon";
        else
            res->child_mem_source = pte ? "rss+uss+pte" : "rss+uss";
    }
    s->total_rss_kib = s->max_rss_kib;
    s->total_rss_source = "rss";
    if (res->child_mem_source) {
        s->total_rss_kib += res->child_mem_kib;
        s->total_rss_source = res->child_mem_source;
    }
}

/* The counters a run's interference is the difference of. */
struct cell_interference {
    uint64_t steal_ns, main_runqueue_ns;
    struct conc_throttle throttle;
    bool steal_ok, runqueue_ok, throttle_ok;
};

static void cell_interference_read(struct cell_interference *i)
{
    i->steal_ok = conc_proc_steal_ns(&i->steal_ns) == 0;
    i->runqueue_ok = conc_proc_thread_runqueue_ns(&i->main_runqueue_ns) == 0;
    i->throttle_ok = conc_proc_throttle(&i->throttle) == 0;
}

static uint64_t cell_delta(uint64_t a, uint64_t b)
{
    return b > a ? b - a : 0;
}

/*
 * Fills s's interference fields from the counters around the run and the
 * workers' run-queue sum, and marks it disturbed beyond CONC_DISTURB_PCT.
 */
static void cell_interference(struct conc_run_stats *s,
                              const struct cell_interference *i0,
                              const struct cell_interference *i1,
                              struct conc_runqueue *rq, unsigned workers)
{
    static double usable;
    double wall = (double)s->wall_ns, limit = CONC_DISTURB_PCT / 100;

    if (usable == 0) {
        struct conc_host h;
        conc_host_read(&h);
        usable = h.usable_cpus > 0 ? h.usable_cpus : 1;
    }
    if (i0->steal_ok && i1->steal_ok)
        s->steal_ns = cell_delta(i0->steal_ns, i1->steal_ns);
    if (i0->runqueue_ok && i1->runqueue_ok) {
        s->runqueue_ns = cell_delta(i0->main_runqueue_ns,
                                    i1->main_runqueue_ns);
        s->runqueue_threads = 1;
        if (rq) {
            s->runqueue_ns += atomic_load(&rq->ns);
            s->runqueue_threads += atomic_load(&rq->threads);
        }
    }
    if (i0->throttle_ok && i1->throttle_ok) {
        s->throttled_ns = cell_delta(i0->throttle.ns, i1->throttle.ns);
        s->throttled_periods = cell_delta(i0->throttle.periods,
                                          i1->throttle.periods);
    }
    if (wall <= 0)
        return;
    if ((double)s->steal_ns > limit * wall * usable)
        s->disturbed |= CONC_DISTURBED_STEAL;
    if (s->runqueue_threads && workers <= usable &&
        (double)s->runqueue_ns >
            limit * wall * (s->runqueue_threads < usable ? s->runqueue_threads
                                                         : usable))
        s->disturbed |= CONC_DISTURBED_RUNQUEUE;
    if ((double)s->throttled_ns > limit * wall)
        s->disturbed |= CONC_DISTURBED_THROTTLE;
}

/*
 * A workload whose tasks spin (a spinlock) under a model where tasks share
 * an OS thread, or a GIL, would spin forever: refused before any run.
 */
static int cell_check_spin(const struct conc_cell *cell)
{
    const struct conc_model *m = cell->model;
    const struct conc_workload *w = cell->workload;

    if (!w->spins || !w->spins(&cell->wp))
        return 0;
    if (m->preemptive && m->preemptive(&cell->mp)) {
        struct conc_host h;
        conc_host_read(&h);
        /* Allowed, and worth knowing: a spinner preempted in a FIFO lock's
           queue holds up every task behind it for a whole time slice. */
        if (h.usable_cpus > 0 && cell_os_workers(cell) > h.usable_cpus)
            conc_warn("%u tasks spin for a lock on %.0f usable CPUs: a task "
                      "preempted while it holds or queues for it stalls the "
                      "others for a time slice, and the run may take very "
                      "long (fewer tasks, or a lock that waits, avoid it)",
                      cell_os_workers(cell), h.usable_cpus);
        return 0;
    }
    return conc_error_msg(-EINVAL, "a task of '%s' spins while it waits, "
                          "and under '%s' tasks share an OS thread (or a "
                          "GIL) that a spinning task never gives up: it "
                          "would spin forever; use a lock that waits (the "
                          "default), or the threads model without a GIL or "
                          "fork", w->name, m->name);
}

/*
 * A workload that needs more stack a task than the model gives one would
 * crash the process (the overflow below a thread's stack has no handler
 * to run on): refused before any run, saying which stack to raise.
 */
static int cell_check_stack(const struct conc_cell *cell)
{
    const struct conc_model *m = cell->model;
    const struct conc_workload *w = cell->workload;
    uint64_t need = w->stack_need ? w->stack_need(&cell->wp) : 0;
    uint64_t have = m->stack_size ? m->stack_size(&cell->mp) : 0;

    if (!need || !have || need < have)
        return 0;
    return conc_error_msg(-E2BIG, "workload '%s' needs %llu KiB of stack a "
                          "task and model '%s' gives a task %llu KiB; use "
                          "less, or raise the stack ('ulimit -s'%s)",
                          w->name, (unsigned long long)(need >> 10),
                          m->name, (unsigned long long)(have >> 10),
                          conc_params_find(&cell->mp, "stack") >= 0
                              ? ", or -o stack" : "");
}

int conc_cell_begin(const struct conc_cell *cell, struct conc_cell_result *res)
{
    const struct conc_model *m = cell->model;
    const struct conc_workload *w = cell->workload;
    int err;

    memset(res, 0, sizeof(*res));
    if (conc_model_refusal(m) || w->unavailable) {
        const char *mwhy = conc_model_refusal(m);
        res->skipped = mwhy ? mwhy : w->unavailable;
        conc_error_msg(0, "%s '%s' is unavailable %s: %s",
                       mwhy ? "model" : "workload", mwhy ? m->name : w->name,
                       mwhy && !m->unavailable ? "on this machine"
                                               : "in this build",
                       res->skipped);
        res->failed = true;
        return CONC_EXIT_UNAVAILABLE;
    }
    if ((m->check && (err = m->check(&cell->mp, cell->tasks)) != 0) ||
        (w->check && (err = w->check(&cell->wp, cell->tasks)) != 0)) {
        res->err = err;
        res->failed = true;
        return CONC_EXIT_USAGE;
    }
    if (m->supports) {
        const char *missing = NULL;
        err = m->supports(&cell->mp, w, &cell->wp, &missing);
        if (err == -ENOENT && missing) {
            res->skipped = missing;
            conc_error_msg(0, "model '%s' is unavailable here: %s", m->name,
                           missing);
            res->failed = true;
            return CONC_EXIT_UNAVAILABLE;
        }
        if (err) {
            res->err = err;
            res->failed = true;
            return CONC_EXIT_USAGE;
        }
    }
    if ((err = cell_check_stack(cell)) != 0 ||
        (err = cell_check_spin(cell)) != 0 ||
        (m->serial && w->serial_check &&
         (err = w->serial_check(&cell->wp, cell->tasks)) != 0)) {
        res->err = err;
        res->failed = true;
        return CONC_EXIT_USAGE;
    }
    res->runs = conc_xcalloc(cell->runs ? cell->runs : 1, sizeof(*res->runs));
    return CONC_EXIT_OK;
}

int conc_cell_runs(const struct conc_cell *cell, struct conc_cell_result *res,
                   unsigned runs)
{
    const struct conc_model *m = cell->model;
    const struct conc_workload *w = cell->workload;
    struct conc_task_out *out;
    struct conc_hist *op_ns;
    void *shared = NULL, *region;
    size_t out_bytes, region_bytes;
    struct conc_runqueue *runqueue;
    struct conc_runsync *runsync;
    struct conc_memsum *memsum;
    unsigned workers;
    int err;

    if (runs > cell->runs - res->nruns)
        runs = cell->runs - res->nruns;
#ifdef __GLIBC__
    /*
     * Hand the heap an earlier cell freed back to the kernel, so this cell's
     * peak RSS starts from what the process needs now, not from the largest
     * cell a sweep ran before it. Its own warmups refill what it reuses.
     */
    malloc_trim(0);
    /*
     * And keep what a run frees for the next run of the cell, as glibc
     * itself does from a cell's third run on: its mmap threshold rises to
     * the largest block freed, so a run's task array is mapped afresh in
     * the first run, taken from a heap grown for it in the second, and
     * reused only from the third. Fixed thresholds make every run after
     * the warmup the same: blocks up to 32 MiB (100,000 tasks' memory)
     * come from the heap, and a free keeps up to 256 MiB at its top. On
     * this VM first-touch page faults cost ~10 us each, which made the
     * first timed run of 100,000 sleeps take 2x the others.
     */
    static bool malloc_fixed;
    if (!malloc_fixed) {
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, 256 << 20);
        malloc_fixed = true;
    }
#endif
    err = w->setup(&shared, &cell->wp, cell->tasks);
    if (err) {
        res->err = err;
        res->failed = true;
        return conc_interrupted ? 128 + conc_interrupted : CONC_EXIT_FAILED;
    }

    /* Shared, so forked children can write their tasks' results into it. */
    out_bytes = (size_t)cell->tasks * sizeof(*out);
    out_bytes = (out_bytes + 63) & ~(size_t)63;
    region_bytes = out_bytes + sizeof(*op_ns) + 64 +
                   sizeof(struct conc_runsync) + sizeof(struct conc_memsum);
    region = mmap(NULL, region_bytes, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) {
        res->err = conc_error(-errno, "cannot map results of %u tasks",
                              cell->tasks);
        res->failed = true;
        w->teardown(shared);
        return CONC_EXIT_FAILED;
    }
    out = region;
    op_ns = (struct conc_hist *)((char *)region + out_bytes);
    runqueue = (struct conc_runqueue *)((char *)op_ns + sizeof(*op_ns));
    runsync = (struct conc_runsync *)((char *)runqueue + 64);
    memsum = (struct conc_memsum *)(runsync + 1);
    workers = cell_os_workers(cell);

    for (unsigned k = 0; k < cell->warmup + runs && !conc_interrupted; k++) {
        struct conc_run_stats s;
        struct cell_rusage u0, u1;
        struct conc_run r = {
            .w = w, .shared = shared, .tasks = cell->tasks, .mp = &cell->mp,
            .out = out,
            .runqueue = workers <= CONC_RUNQUEUE_WORKERS ? runqueue : NULL,
            .sync = runsync, .workers = workers,
            .mem = res->child_mem_source ? NULL : memsum,
            .wp = &cell->wp,
        };
        struct cell_interference i0, i1;
        bool warm = k < cell->warmup;
        int reset, fds0, fds1;
        pid_t zombie;
        uint64_t t0, t1;

        memset(region, 0, region_bytes);
        for (unsigned i = 0; i < cell->tasks; i++)
            out[i].op_ns = op_ns;
        if (w->run_start)
            w->run_start(shared);
        memset(&s, 0, sizeof(s));
        cell_watch(cell, warm, warm ? k + 1 : res->nruns + 1, 0);

        fds0 = cell_count_fds();
        reset = cell_peak_reset();
        cell_interference_read(&i0);
        cell_rusage_read(&u0);
        t0 = conc_now_ns();
        err = m->run(&r);
        t1 = conc_now_ns();
        cell_rusage_read(&u1);
        cell_interference_read(&i1);
        cell_watch(cell, warm, warm ? k + 1 : res->nruns + 1, t1 - t0);
        if (err) {
            /*
             * The model itself failed (a child killed, no thread to be
             * had): a failed run with the model's own message as its
             * reason, and the next runs are still tried, each reported.
             */
            res->err = err;
            res->failed = true;
            if (conc_interrupted)
                break;
            s.start_ns = t0;
            s.wall_ns = t1 - t0;
            s.failed = true;
            snprintf(s.why, sizeof(s.why), "%s", *conc_error_last()
                                                     ? conc_error_last()
                                                     : strerror(-err));
            while (cell_reap_zombie())
                ; /* a model that failed must reap; never leave one */
            if (!warm)
                res->runs[res->nruns++] = s;
            continue;
        }
        s.start_ns = t0;
        s.wall_ns = t1 - t0;
        s.user_ns = u1.user_ns - u0.user_ns;
        s.sys_ns = u1.sys_ns - u0.sys_ns;
        s.ctxsw_voluntary = u1.nvcsw - u0.nvcsw;
        s.ctxsw_involuntary = u1.nivcsw - u0.nivcsw;
        s.max_rss_kib = cell_peak_kib(reset);
        cell_total_rss(&s, res, memsum);
        if (r.child_max_rss_kib > s.max_rss_kib)
            s.max_rss_kib = r.child_max_rss_kib;
        cell_self(&s, &r.self);
        /* Another program ran the tasks: its peak is the run's memory. */
        if (r.self.set) {
            s.total_rss_kib = s.max_rss_kib;
            s.total_rss_source = "rss";
        }
        /* A self-timed run's threads are not concbench's: their run-queue
           wait is unknown here (steal and throttling still count). */
        if (r.self.set)
            i0.runqueue_ok = false;
        cell_interference(&s, &i0, &i1, r.runqueue, workers);
        cell_collect(cell, shared, out, op_ns, &s);
        cell_facts(&s, &r.self);
        /* What a model must release by the end of every run. */
        fds1 = cell_count_fds();
        zombie = cell_reap_zombie();
        if (!s.failed && fds1 != fds0) {
            snprintf(s.why, sizeof(s.why), "the run %s %d file descriptor%s",
                     fds1 > fds0 ? "leaked" : "closed",
                     abs(fds1 - fds0), abs(fds1 - fds0) == 1 ? "" : "s");
            s.failed = true;
        }
        if (!s.failed && zombie) {
            snprintf(s.why, sizeof(s.why), "the run left child process %ld "
                     "unreaped", (long)zombie);
            s.failed = true;
        }

        if (s.failed) {
            conc_error_msg(0, "%s %u of %u failed: %s",
                           warm ? "warmup run" : "run",
                           warm ? k + 1 : res->nruns + 1,
                           warm ? cell->warmup : cell->runs, s.why);
            res->failed = true;
        }
        if (!warm)
            res->runs[res->nruns++] = s;
    }
    munmap(region, region_bytes);
    if (m->cell_end)
        m->cell_end();
    w->teardown(shared);
    if (conc_interrupted) {
        res->failed = true;
        res->err = -EINTR;
        return 128 + conc_interrupted;
    }
    return res->failed ? CONC_EXIT_FAILED : CONC_EXIT_OK;
}

int conc_cell_end(const struct conc_cell *cell, struct conc_cell_result *res)
{
    double *walls = conc_xcalloc(res->nruns ? res->nruns : 1, sizeof(*walls));
    size_t nw = 0;

    memset(res->disturbed, 0, sizeof(res->disturbed));
    for (unsigned i = 0; i < res->nruns; i++)
        if (!res->runs[i].failed) {
            walls[nw++] = (double)res->runs[i].wall_ns;
            for (int k = 0; k < 3; k++)
                res->disturbed[k] += (res->runs[i].disturbed >> k) & 1;
        }
    conc_summarize(walls, nw, &res->wall);
    free(walls);
    (void)cell;
    return res->failed ? CONC_EXIT_FAILED : CONC_EXIT_OK;
}

int conc_cell_run(const struct conc_cell *cell, struct conc_cell_result *res)
{
    int rc = conc_cell_begin(cell, res);

    if (rc)
        return rc;
    rc = conc_cell_runs(cell, res, cell->runs);
    if (rc >= 128)
        return rc;
    if (res->err && res->nruns == 0)
        return CONC_EXIT_FAILED; /* setup failed: nothing to summarize */
    return conc_cell_end(cell, res);
}

void conc_cell_result_fini(struct conc_cell_result *res)
{
    free(res->runs);
    memset(res, 0, sizeof(*res));
}

int conc_cell_init(struct conc_cell *cell, const struct conc_model *model,
                   const struct conc_workload *workload, unsigned tasks,
                   unsigned runs, unsigned warmup)
{
    memset(cell, 0, sizeof(*cell));
    cell->model = model;
    cell->workload = workload;
    cell->tasks = tasks;
    cell->runs = runs;
    cell->warmup = warmup;
    if (conc_params_init(&cell->mp, model->opts) ||
        conc_params_init(&cell->wp, workload->opts))
        return -EINVAL;
    return 0;
}

int conc_cell_set(struct conc_cell *cell, const char *kv)
{
    const char *eq = strchr(kv, '=');
    const char *keys[2 * CONC_OPTS_MAX];
    char key[64];
    size_t n;
    int err;

    if (!eq || eq == kv)
        return conc_error_msg(-EINVAL, "bad option '%s': expected key=value",
                              kv);
    if ((size_t)(eq - kv) >= sizeof(key))
        return conc_error_msg(-EINVAL, "unknown option '%.*s'",
                              (int)(eq - kv), kv);
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    if ((conc_params_find(&cell->mp, key) >= 0 &&
         conc_param_isset(&cell->mp, key)) ||
        (conc_params_find(&cell->mp, key) < 0 &&
         conc_params_find(&cell->wp, key) >= 0 &&
         conc_param_isset(&cell->wp, key)))
        return conc_error_msg(-EINVAL, "option '%s' given twice", key);
    err = conc_params_set(&cell->mp, key, eq + 1);
    if (err == -ENOENT)
        err = conc_params_set(&cell->wp, key, eq + 1);
    if (err != -ENOENT)
        return err;

    n = conc_opts_keys(cell->model->opts, keys, CONC_OPTS_MAX);
    n += conc_opts_keys(cell->workload->opts, keys + n, CONC_OPTS_MAX);
    const char *hint = conc_suggest(key, keys, n);
    if (hint)
        return conc_error_msg(-ENOENT, "unknown option '%s' for model '%s' "
                              "and workload '%s'; did you mean '%s'?", key,
                              cell->model->name, cell->workload->name, hint);
    return conc_error_msg(-ENOENT, "unknown option '%s' for model '%s' and "
                          "workload '%s' (see 'concbench list')", key,
                          cell->model->name, cell->workload->name);
}

void conc_cell_fini(struct conc_cell *cell)
{
    conc_params_fini(&cell->mp);
    conc_params_fini(&cell->wp);
}

const char *const conc_err_kind_names[CONC_ERR_KINDS] = {
    "refused", "reset", "timeout", "bad_status", "parse", "other",
};

/* ----------------------------------------------------------- for people */

const char *const conc_cell_warn_keys[4] = { "noisy", "short", "outliers",
                                             "disturbed" };

/* Appends one warning to w at *n. */
static void cell_warning(struct conc_cell_warning *w, size_t *n,
                         enum conc_cell_warn_kind kind, double value,
                         const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void cell_warning(struct conc_cell_warning *w, size_t *n,
                         enum conc_cell_warn_kind kind, double value,
                         const char *fmt, ...)
{
    va_list ap;

    if (*n >= CONC_CELL_WARN_MAX)
        return;
    w[*n].kind = kind;
    w[*n].value = value;
    va_start(ap, fmt);
    vsnprintf(w[*n].text, sizeof(w[*n].text), fmt, ap);
    va_end(ap);
    (*n)++;
}

size_t conc_cell_warnings(const struct conc_cell_result *res,
                          struct conc_cell_warning *w)
{
    const struct conc_summary *s = &res->wall;
    size_t n = 0;

    if (s->n >= 2 && s->mean > 0 && s->stddev / s->mean > CONC_NOISY_PCT / 100)
        cell_warning(w, &n, CONC_WARN_NOISY, 100 * s->stddev / s->mean,
                     "is noisy: stddev is %.0f%% of the mean; close other "
                     "programs or raise --runs", 100 * s->stddev / s->mean);
    if (s->n && s->median < CONC_SHORT_NS)
        cell_warning(w, &n, CONC_WARN_SHORT, s->median,
                     "runs for under %.0f ms, too short to time well; raise "
                     "the work per task", CONC_SHORT_NS / 1e6);
    if (s->n >= CONC_OUTLIER_MIN_RUNS && s->outliers)
        cell_warning(w, &n, CONC_WARN_OUTLIERS, (double)s->outliers,
                     "has %zu outlier%s in %zu runs (kept in the "
                     "statistics)", s->outliers, s->outliers == 1 ? "" : "s",
                     s->n);
    for (int k = 0; k < 3; k++)
        if (res->disturbed[k])
            cell_warning(w, &n, CONC_WARN_DISTURBED, res->disturbed[k],
                         "lost >%.0f%% to %s in %u of %zu runs",
                         CONC_DISTURB_PCT, conc_disturbed_names[k],
                         res->disturbed[k], s->n);
    return n;
}

void conc_cell_warn_print(const struct conc_cell_result *res,
                          const char *label)
{
    struct conc_cell_warning w[CONC_CELL_WARN_MAX];
    size_t n = conc_cell_warnings(res, w);

    for (size_t i = 0; i < n; i++)
        conc_warn("%s %s", label, w[i].text);
}

char *conc_cell_opt_text(const struct conc_params *p, int i, char *buf,
                         size_t len)
{
    static const struct { uint64_t ns; const char *unit; } units[] = {
        { CONC_NS_PER_S, "s" }, { CONC_NS_PER_MS, "ms" },
        { CONC_NS_PER_US, "us" },
    };
    const struct conc_val *v = &p->v[i];

    switch (p->opts[i].type) {
    case CONC_OPT_BOOL:
        snprintf(buf, len, "%s", v->u ? "on" : "off");
        break;
    case CONC_OPT_DURATION:
        snprintf(buf, len, "%lluns", (unsigned long long)v->u);
        for (size_t k = 0; v->u && k < sizeof(units) / sizeof(units[0]); k++)
            if (v->u % units[k].ns == 0) {
                snprintf(buf, len, "%llu%s",
                         (unsigned long long)(v->u / units[k].ns),
                         units[k].unit);
                break;
            }
        if (!v->u)
            snprintf(buf, len, "0");
        break;
    default:
        snprintf(buf, len, "%s", v->s ? v->s : "");
        break;
    }
    return buf;
}

char *conc_cell_opts_given(const struct conc_cell *cell)
{
    size_t cap = 64, len = 0;
    char *out = conc_xmalloc(cap), val[256];

    out[0] = '\0';
    for (int pass = 0; pass < 2; pass++) {
        const struct conc_params *p = pass ? &cell->wp : &cell->mp;
        for (int i = 0; p->opts && p->opts[i].key; i++) {
            size_t need;
            if (!p->v[i].set)
                continue;
            conc_cell_opt_text(p, i, val, sizeof(val));
            need = len + strlen(p->opts[i].key) + strlen(val) + 3;
            if (need > cap) {
                cap = 2 * need;
                out = conc_xrealloc(out, cap);
            }
            len += (size_t)sprintf(out + len, "%s%s=%s", len ? " " : "",
                                   p->opts[i].key, val);
        }
    }
    return out;
}

char *conc_cell_label(const struct conc_cell *cell, const char *opts)
{
    char *given = opts ? NULL : conc_cell_opts_given(cell);
    const char *o = opts ? opts : given;
    size_t len = strlen(cell->workload->name) + strlen(cell->model->name) +
                 strlen(o) + 64;
    char *label = conc_xmalloc(len);

    snprintf(label, len, "%s under %s (%s%s%u task%s)", cell->workload->name,
             cell->model->name, o, *o ? ", " : "", cell->tasks,
             cell->tasks == 1 ? "" : "s");
    free(given);
    return label;
}
