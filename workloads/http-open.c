/*
 * The http workload's open loop: each task begins its requests when its
 * schedule says, answered or not, over a pool of connections it watches
 * with its own epoll, and a timerfd that wakes it for the next send.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "workloads/http.h"

#ifdef CONC_HAVE_HTTP_PARSER
/* Events one epoll_wait takes; more stay ready for the next step. */
#define HTTP_OPEN_EVENTS 64

int http_open_init(struct http_task *t, unsigned index, unsigned tasks)
{
    const struct http_shared *sh = t->sh;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    unsigned n = sh->connections;
    int err;

    t->epfd = t->tfd = -1;
    t->planned = sh->plan[index];
    http_sched_init(&t->sched, (double)sh->rate, sh->poisson, sh->seed,
                    index, tasks);
    t->lag_ns = malloc((t->planned ? t->planned : 1) * sizeof(*t->lag_ns));
    t->conns = calloc(n, sizeof(*t->conns));
    t->spare = calloc(n, sizeof(*t->spare));
    t->ready = calloc(n, sizeof(*t->ready));
    if (!t->lag_ns || !t->conns || !t->spare || !t->ready) {
        err = -ENOMEM;
        goto fail;
    }
    /* The stack hands out conns[0] first. */
    for (unsigned i = 0; i < n; i++) {
        struct http_conn *c = &t->conns[n - 1 - i];
        c->t = t;
        c->fd = -1;
        c->state = HTTP_S_IDLE;
        t->spare[t->nspare++] = c;
    }
    t->check_ns = UINT64_MAX;
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (t->epfd < 0 || t->tfd < 0 ||
        epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->tfd, &ev) < 0) {
        err = -errno;
        goto fail;
    }
    return 0;

fail:
    http_open_fini(t);
    return err;
}

void http_open_fini(struct http_task *t)
{
    if (t->conns)
        for (unsigned i = 0; i < t->sh->connections; i++)
            http_close(&t->conns[i]);
    if (t->epfd >= 0)
        close(t->epfd);
    if (t->tfd >= 0)
        close(t->tfd);
    t->epfd = t->tfd = -1;
    free(t->lag_ns);
    free(t->conns);
    free(t->spare);
    free(t->ready);
    t->lag_ns = NULL;
    t->conns = NULL;
    t->spare = t->ready = NULL;
    t->nspare = t->nready = 0;
}

/*
 * The run's time zero: the first task to step sets it for all, so a task
 * that starts late (sequential runs them one after another) finds its
 * requests already due, as they would be for a real client.
 */
static uint64_t http_open_zero(const struct http_shared *sh)
{
    uint64_t zero = 0, now = conc_now_ns();

    if (atomic_compare_exchange_strong(&sh->mut->zero_ns, &zero, now))
        return now;
    return zero;
}

/* Watches c's fd for what c waits for. 0 or -errno. */
static int http_open_watch(struct http_task *t, struct http_conn *c)
{
    uint32_t want = c->want == CONC_WAIT_WRITE ? EPOLLOUT : EPOLLIN;
    struct epoll_event ev = { .events = want, .data.ptr = c };

    if (c->watched == want)
        return 0;
    if (epoll_ctl(t->epfd, c->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd,
                  &ev) < 0)
        return conc_error(-errno, "http: cannot watch a connection");
    c->watched = want;
    return 0;
}

/*
 * Drives c's request until it waits (then watched), ends (then spare) or
 * the step's budget is spent (then on the ready list). 0 or -errno.
 */
static int http_open_run(struct http_task *t, struct http_conn *c,
                         int *budget)
{
    while (c->state != HTTP_S_IDLE) {
        if (*budget <= 0) {
            if (!c->queued) {
                c->queued = true;
                t->ready[t->nready++] = c;
            }
            return 0;
        }
        (*budget)--;
        if (http_op(t, c))
            return http_open_watch(t, c);
    }
    /* Ended: a kept connection stays open (and watched) for the next. */
    t->spare[t->nspare++] = c;
    return 0;
}

/*
 * A kept connection without a request became readable: the server closed
 * it (or sent what nobody asked for). Closed here, it stays spare, and its
 * next request opens a fresh one.
 */
static void http_open_idle_event(struct http_conn *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    http_close(c);
}

/*
 * Drives every request past its deadline (its next wait fails it with a
 * timeout) and finds the earliest deadline left.
 */
static int http_open_timeouts(struct http_task *t, uint64_t now, int *budget)
{
    uint64_t min = UINT64_MAX;
    int err;

    for (unsigned i = 0; i < t->sh->connections; i++) {
        struct http_conn *c = &t->conns[i];
        if (c->state == HTTP_S_IDLE)
            continue;
        if (c->deadline_ns <= now && !c->queued &&
            (err = http_open_run(t, c, budget)) != 0)
            return err;
        if (c->state != HTTP_S_IDLE && c->deadline_ns < min)
            min = c->deadline_ns;
    }
    t->check_ns = min;
    return 0;
}

/* Sets the timerfd to wake the task at CLOCK_MONOTONIC at_ns. */
static int http_open_arm(struct http_task *t, uint64_t at_ns)
{
    struct itimerspec its = { .it_value = conc_ns_to_timespec(at_ns) };

    if (timerfd_settime(t->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        return conc_error(-errno, "http: cannot set the send timer");
    t->armed_ns = at_ns;
    return 0;
}

/*
 * Begins the requests that are due, each on a spare connection; one that
 * finds none waits for one, counted once as exhausted. Its send lag, from
 * the time it was meant to leave to now, is kept either way.
 */
static int http_open_send(struct http_task *t, int *budget)
{
    const struct http_shared *sh = t->sh;
    uint64_t now = conc_now_ns(), lag;
    int err;

    while (t->issued < t->planned && t->next_ns <= now && *budget > 0) {
        struct http_conn *c;
        if (!t->nspare) {
            if (!t->waited)
                t->exhausted++;
            t->waited = true;
            return 0;
        }
        c = t->spare[--t->nspare];
        lag = now - t->next_ns;
        t->lag_ns[t->issued] = lag;
        if (lag > sh->late_ns)
            t->late++;
        t->waited = false;
        http_begin(t, c, t->next_ns);
        if (c->deadline_ns < t->check_ns)
            t->check_ns = c->deadline_ns;
        if (++t->issued < t->planned)
            t->next_ns = t->zero_ns + http_sched_next(&t->sched);
        if ((err = http_open_run(t, c, budget)) != 0)
            return err;
        now = conc_now_ns();
    }
    return 0;
}

int http_open_step(struct http_task *t, struct conc_wait *w)
{
    struct epoll_event ev[HTTP_OPEN_EVENTS];
    unsigned conns = t->sh->connections;
    int budget = HTTP_STEP_OPS, err = 0, n;
    uint64_t fired;

    if (!t->zero_ns) {
        t->zero_ns = http_open_zero(t->sh);
        if (t->planned)
            t->next_ns = t->zero_ns + http_sched_next(&t->sched);
    }
    /* Connections the last step stopped before they waited, first. */
    while (t->nready && budget > 0 && !err) {
        struct http_conn *c = t->ready[--t->nready];
        c->queued = false;
        err = http_open_run(t, c, &budget);
    }
    n = epoll_wait(t->epfd, ev, HTTP_OPEN_EVENTS, 0);
    if (n < 0 && errno != EINTR)
        return conc_error(-errno, "http: cannot wait for connections");
    for (int i = 0; i < n && budget > 0 && !err; i++) {
        struct http_conn *c = ev[i].data.ptr;
        if (!c) {
            /* The send timer: read, so that it stops being ready. */
            if (read(t->tfd, &fired, sizeof(fired)) < 0 && errno != EAGAIN)
                return conc_error(-errno, "http: cannot read the send timer");
            t->armed_ns = 0;
        } else if (c->queued) {
            continue;
        } else if (c->state == HTTP_S_IDLE) {
            if (c->fd >= 0)
                http_open_idle_event(c);
        } else {
            err = http_open_run(t, c, &budget);
        }
    }
    if (!err && conc_now_ns() >= t->check_ns)
        err = http_open_timeouts(t, conc_now_ns(), &budget);
    if (!err)
        err = http_open_send(t, &budget);
    if (err)
        return err;
    if (t->issued == t->planned && t->nspare == conns) {
        for (unsigned i = 0; i < conns; i++)
            http_close(&t->conns[i]);
        w->want = CONC_DONE;
        return 0;
    }
    if (budget <= 0 || t->nready) {
        /* Bounded work per step: let the other tasks run. */
        w->want = CONC_YIELD;
        return 0;
    }
    /*
     * The next send, when a connection is spare for it: the timerfd, not
     * the model's timer, so that the wake comes within microseconds of it
     * under every model (libuv's timers, for one, count milliseconds).
     * One already armed earlier wakes the task once for nothing.
     */
    if (t->issued < t->planned && t->nspare &&
        (!t->armed_ns || t->next_ns < t->armed_ns) &&
        (err = http_open_arm(t, t->next_ns)) != 0)
        return err;
    w->want = CONC_WAIT_READ;
    w->fd = t->epfd;
    /* Request deadlines need no such precision: the model's timer. */
    w->deadline_ns = t->nspare < conns ? t->check_ns : 0;
    return 0;
}
#endif
