/*
 * sequential: every task on the main thread, one after another; the
 * baseline every speedup is measured against.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/sync.h"
#include "models/model.h"

static int sequential_run(struct conc_run *r)
{
    void *task = conc_xcalloc(1, r->w->task_size);

    conc_sync_set_local(true); /* every step on this thread */
    for (unsigned i = 0; i < r->tasks && !conc_interrupted; i++) {
        memset(task, 0, r->w->task_size);
        conc_drive_task(r, i, task, NULL);
    }
    conc_sync_set_local(false);
    free(task);
    return conc_interrupted ? -EINTR : 0;
}

/* Tasks run on the main thread. */
static uint64_t sequential_stack_size(const struct conc_params *mp)
{
    (void)mp;
    return conc_main_stack();
}

const struct conc_model conc_model_sequential = {
    .name = "sequential",
    .summary = "every task on the main thread, one after another",
    .like = "a plain for loop",
    .run = sequential_run,
    .stack_size = sequential_stack_size,
    .serial = true,
};
