/*
 * Task bookkeeping shared by every model: the per-task timestamps and the
 * task_init / task_result / task_fini calls around a task's steps.
 */
#include "lib/clock.h"
#include "lib/proc.h"
#include "models/model.h"

unsigned conc_model_workers(const struct conc_params *mp, unsigned tasks)
{
    uint64_t w = conc_param_present(mp, "workers")
                     ? conc_param_u64(mp, "workers") : tasks;

    if (w > tasks)
        w = tasks;
    return w ? (unsigned)w : 1;
}

int conc_task_start(const struct conc_run *r, unsigned index, void *task)
{
    struct conc_task_out *o = &r->out[index];
    int err;

    o->start_ns = conc_now_ns();
    err = r->w->task_init(task, r->shared, index, r->tasks);
    if (err) {
        o->end_ns = conc_now_ns();
        o->status = err;
    }
    return err;
}

void conc_task_finish(const struct conc_run *r, unsigned index, void *task,
                      int err)
{
    struct conc_task_out *o = &r->out[index];

    o->end_ns = conc_now_ns();
    if (!err)
        err = r->w->task_result(task, o);
    r->w->task_fini(task);
    o->status = err;
}

void conc_worker_end(const struct conc_run *r)
{
    uint64_t ns;

    if (r->runqueue && conc_proc_thread_runqueue_ns(&ns) == 0) {
        atomic_fetch_add_explicit(&r->runqueue->ns, ns, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->runqueue->threads, 1,
                                  memory_order_relaxed);
    }
}
