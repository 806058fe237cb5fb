/*
 * The http workload's built-in server: `concbench serve` in a child,
 * started at setup, stopped at teardown, its port read from its ready line.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "workloads/http.h"
#include "workloads/httpd.h"

/* The address it listens on: loopback, never the network. */
#define HTTP_SERVER_HOST "127.0.0.1"
/* How long setup waits for its ready line. */
#define HTTP_SERVER_START_NS (5 * CONC_NS_PER_S)

void http_server_stop(pid_t pid)
{
    uint64_t give_up = conc_now_ns() + 2 * CONC_NS_PER_S;
    struct timespec ms = { 0, 1000000 };
    int status;
    pid_t got;

    kill(pid, SIGTERM);
    for (;;) {
        got = waitpid(pid, &status, WNOHANG);
        if (got == pid || (got < 0 && errno != EINTR))
            break; /* reaped, or ECHILD: the cell runner reaped it */
        if (got == 0 && conc_now_ns() > give_up) {
            conc_warn("the built-in server (pid %ld) ignored SIGTERM; "
                      "killing it", (long)pid);
            kill(pid, SIGKILL);
            give_up = UINT64_MAX;
        }
        nanosleep(&ms, NULL);
    }
    if (got == pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        conc_warn("the built-in server ended badly (status %d)", status);
}

int http_server_start(const struct conc_params *p, pid_t *server,
                      struct http_url *u)
{
    char delay[96], size[96], line[128] = "", exe[4096], want[96];
    char *argv[] = { "concbench", "serve", "--bind", HTTP_SERVER_HOST,
                     "--port", "0", "-o", delay, "-o", size, "-o",
                     "keepalive=on", NULL };
    uint64_t deadline = conc_now_ns() + HTTP_SERVER_START_NS;
    size_t have = 0;
    unsigned port;
    pid_t parent = getpid(), pid;
    int pfd[2], err;
    ssize_t n;

    /*
     * This very binary, by the path /proc/self/exe names: under valgrind
     * that link is the tool itself, while readlink() says the program's
     * path. A binary replaced since we started reads "(deleted)": then
     * only the link itself still reaches our code.
     */
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    if (n <= 0 || (size_t)n >= sizeof(exe) - 1 || strstr(exe, " (deleted)"))
        snprintf(exe, sizeof(exe), "/proc/self/exe");

    snprintf(delay, sizeof(delay), "delay=%s", conc_param_str(p, "delay"));
    snprintf(size, sizeof(size), "size=%s", conc_param_str(p, "size"));
    /* Close-on-exec, so no other child holds the pipe open (setup runs
       before any worker exists, so nothing forks in between). */
    if (pipe(pfd))
        return conc_error(-errno, "cannot start the built-in server");
    fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
    fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
    pid = fork();
    if (pid < 0) {
        err = conc_error(-errno, "cannot start the built-in server");
        goto fail_pipe;
    }
    if (pid == 0) {
        sigset_t none;
        /* Dies with us, even if we are killed before teardown. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(pfd[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(exe, argv);
        _exit(127);
    }
    close(pfd[1]);
    pfd[1] = -1;
    while (!strchr(line, '\n')) {
        struct pollfd pf = { pfd[0], POLLIN, 0 };
        uint64_t now = conc_now_ns();
        if (now >= deadline || have + 1 >= sizeof(line)) {
            err = conc_error_msg(-ETIMEDOUT, "the built-in server did not "
                                 "start listening");
            goto fail_child;
        }
        if (poll(&pf, 1, (int)((deadline - now) / CONC_NS_PER_MS + 1)) < 0) {
            if (errno == EINTR)
                continue;
            err = conc_error(-errno, "cannot read the built-in server's port");
            goto fail_child;
        }
        n = read(pfd[0], line + have, sizeof(line) - 1 - have);
        if (n == 0) {
            err = conc_error_msg(-EIO, "the built-in server exited before "
                                 "listening");
            goto fail_child;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            err = conc_error(-errno, "cannot read the built-in server's port");
            goto fail_child;
        }
        have += (size_t)n;
        line[have] = '\0';
    }
    close(pfd[0]);
    if (conc_httpd_ready_parse(line, HTTP_SERVER_HOST, &port)) {
        conc_httpd_ready_format(want, sizeof(want), HTTP_SERVER_HOST, "PORT");
        err = conc_error_msg(-EPROTO, "the built-in server said '%.*s', not "
                             "'%s'", (int)strcspn(line, "\n"), line, want);
        http_server_stop(pid);
        return err;
    }
    *server = pid;
    snprintf(u->host, sizeof(u->host), HTTP_SERVER_HOST);
    snprintf(u->port, sizeof(u->port), "%u", port);
    snprintf(u->hostport, sizeof(u->hostport), HTTP_SERVER_HOST ":%u", port);
    u->target = conc_xstrdup("/");
    return 0;

fail_child:
    http_server_stop(pid);
fail_pipe:
    close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    return err;
}
