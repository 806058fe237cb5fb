/*
 * The blocking driver: runs one task to completion on the calling thread,
 * waiting in poll(2) for fds and clock_nanosleep(2) with TIMER_ABSTIME for
 * deadlines. sequential, fork and threads all run tasks through it, so the
 * only difference between them is where the driver runs.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "models/model.h"

/*
 * Parks the calling thread on w's sync queue until its number moves. It
 * wakes every CONC_SYNC_POLL_NS to look at SIGINT, at a failed task's
 * abort and for a deadlock. It counts itself into the run's parked tasks
 * only once a sleep came back with the number unmoved: a short wait, as
 * nearly every wait on a contended lock is, touches none of the run's
 * shared counts. In a bare two-thread loop of conc_lock, three locked
 * adds a wait on a line both threads write made an update 1.7x slower
 * (50-65 ns against 28-32); a deadlock, where every wait is long, is
 * found one poll later.
 */
static int drive_wait_sync(const struct conc_run *r, const struct conc_wait *w)
{
    struct conc_runsync *s = r->sync;
    uint64_t since = 0, unparks = 0;
    bool counted = false;
    int err = 0;

    for (;;) {
        if (conc_waitq_seq(w->q) != w->seq) {
            if (counted)
                atomic_fetch_add(&s->unparks, 1);
            break;
        }
        if (conc_interrupted) {
            err = -EINTR;
            break;
        }
        if ((err = atomic_load(&s->abort)) != 0)
            break;
        if (counted && conc_sync_deadlocked(r, &since, &unparks)) {
            err = -EDEADLK;
            break;
        }
        if (conc_waitq_sleep(w->q, w->seq, CONC_SYNC_POLL_NS) == -EINTR &&
            conc_interrupted) {
            err = -EINTR;
            break;
        }
        if (!counted && conc_waitq_seq(w->q) == w->seq) {
            atomic_fetch_add(&s->parked, 1);
            counted = true;
        }
    }
    if (counted)
        atomic_fetch_sub(&s->parked, 1);
    return err;
}

int conc_drive_wait(const struct conc_run *r, const struct conc_wait *w)
{
    struct pollfd pfd;
    struct timespec ts;
    int err, n;

    switch (w->want) {
    case CONC_WAIT_SYNC:
        conc_wait_wake(w); /* as the step's last act would have */
        return drive_wait_sync(r, w);
    case CONC_DONE:
    case CONC_YIELD:
        return 0;
    case CONC_WAIT_UNTIL:
        /*
         * A deadline already past needs no syscall. The kernel would still
         * arm a timer and sleep until its interrupt: about 90 us in a VM,
         * a cost the timer heaps of green and eventloop never pay.
         */
        if (w->deadline_ns <= conc_now_ns())
            return 0;
        ts = conc_ns_to_timespec(w->deadline_ns);
        do
            err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        while (err == EINTR && !conc_interrupted);
        return -err;
    case CONC_WAIT_READ:
    case CONC_WAIT_WRITE:
        pfd.fd = w->fd;
        pfd.events = w->want == CONC_WAIT_READ ? POLLIN : POLLOUT;
        for (;;) {
            int timeout_ms = -1;
            if (w->deadline_ns) {
                uint64_t now = conc_now_ns();
                if (now >= w->deadline_ns)
                    return 0;
                /* Round up: waking before the deadline would only loop. */
                timeout_ms = (int)((w->deadline_ns - now + CONC_NS_PER_MS - 1) /
                                   CONC_NS_PER_MS);
            }
            n = poll(&pfd, 1, timeout_ms);
            if (n >= 0)
                return 0; /* ready, or the deadline passed: step decides */
            if (errno != EINTR || conc_interrupted)
                return -errno;
        }
    }
    return -EINVAL;
}

int conc_drive_task(const struct conc_run *r, unsigned index, void *task,
                    const struct conc_drive_hooks *hooks)
{
    struct conc_wait w;
    uint64_t start_ns, end_ns = 0;
    conc_step_fn *step;
    int err = conc_task_start(r, index, task);

    if (err)
        return err;
    step = conc_task_step(r, task);
    /* The first step may share the start's clock reading, unless a hook
       (the GIL) may wait between the two. */
    start_ns = hooks && hooks->before_step ? 0 : r->out[index].start_ns;
    for (;;) {
        if (conc_interrupted) {
            err = -EINTR;
            break;
        }
        if (hooks && hooks->before_step)
            hooks->before_step(hooks->arg);
        memset(&w, 0, sizeof(w));
        w.start_ns = start_ns;
        start_ns = 0;
        err = step(task, &w);
        if (err)
            w.want = CONC_DONE;
        if (hooks && hooks->after_step)
            hooks->after_step(hooks->arg, &w);
        if (err || w.want == CONC_DONE) {
            end_ns = err ? 0 : w.end_ns;
            break;
        }
        err = conc_drive_wait(r, &w);
        if (err)
            break;
    }
    conc_task_finish_at(r, index, task, err, end_ns);
    return err;
}
