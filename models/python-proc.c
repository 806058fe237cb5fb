/*
 * The python model's interpreter as a child: where its script is, starting
 * it in a process group of its own, reading its answer, and reaping it and
 * every process it made, also when the run is interrupted.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "models/python.h"

/* How often a wait looks at conc_interrupted and the interpreter. */
#define PYTHON_POLL_MS 100
/* How long the interpreter's process group may take to be gone once
   killed (its orphaned children are reaped by init). */
#define PYTHON_GONE_NS (2 * CONC_NS_PER_S)

int python_script_find(char *buf, size_t len)
{
    static const char *const where[] = { "", "/../share/concbench",
                                         "/../scripts" };
    char exe[4096], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0 || (size_t)n >= sizeof(exe) - 1) {
        snprintf(buf, len, "cannot read /proc/self/exe");
        return -ENOENT;
    }
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        char path[4096 + 64], real[4096];
        snprintf(path, sizeof(path), "%s%s/%s", exe, where[i], PYTHON_SCRIPT);
        if (access(path, R_OK) == 0 && realpath(path, real)) {
            snprintf(buf, len, "%s", real);
            return 0;
        }
    }
    snprintf(buf, len, "%s is not beside %s/concbench, in %s/../share/"
             "concbench nor in %s/../scripts", PYTHON_SCRIPT, exe, exe, exe);
    return -ENOENT;
}

/* In the child, before exec: only async-signal-safe calls. */
static _Noreturn void python_child(char *const argv[], int wfd, pid_t parent)
{
    sigset_t none;
    char msg[512];
    int null, len;

    setpgid(0, 0);
    /* Dies with concbench, even if concbench is killed with SIGKILL. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (wfd == PYTHON_REPORT_FD)
        fcntl(wfd, F_SETFD, 0);
    else if (dup2(wfd, PYTHON_REPORT_FD) < 0)
        _exit(127);
    null = open("/dev/null", O_RDONLY);
    if (null >= 0 && null != STDIN_FILENO)
        dup2(null, STDIN_FILENO);
    /* concbench's stdout may carry a report (--json -): never mix. */
    dup2(STDERR_FILENO, STDOUT_FILENO);
    execvp(argv[0], argv);
    len = snprintf(msg, sizeof(msg), "missing the interpreter: cannot run "
                   "'%s': %s\n", argv[0], strerror(errno));
    if (len > 0 && write(PYTHON_REPORT_FD, msg, (size_t)len) < 0)
        _exit(127);
    _exit(127);
}

int python_spawn(char *const argv[], struct python_child *c)
{
    pid_t parent = getpid();
    int pfd[2];

    /* Close-on-exec, so no other child holds the pipe open; the child
       moves its end to PYTHON_REPORT_FD without the flag. */
    if (pipe(pfd))
        return conc_error(-errno, "cannot start '%s'", argv[0]);
    fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
    fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
    c->pid = fork();
    if (c->pid < 0) {
        int err = conc_error(-errno, "cannot start '%s'", argv[0]);
        close(pfd[0]);
        close(pfd[1]);
        return err;
    }
    if (c->pid == 0)
        python_child(argv, pfd[1], parent);
    /* Either of the two setpgid calls wins; both name the same group, so
       a kill right after fork already reaches the child. */
    setpgid(c->pid, c->pid);
    close(pfd[1]);
    c->fd = pfd[0];
    return 0;
}

/* Whether any process of group pgid is left (a zombie counts). */
static bool python_group_alive(pid_t pgid)
{
    return kill(-pgid, 0) == 0 || errno != ESRCH;
}

/*
 * Kills what is left of the group, then waits (bounded) until init has
 * reaped the orphans, so nothing of the run outlives it.
 */
static void python_group_end(pid_t pgid)
{
    uint64_t give_up = conc_now_ns() + PYTHON_GONE_NS;
    struct timespec ms = { 0, CONC_NS_PER_MS };

    if (!python_group_alive(pgid))
        return;
    killpg(pgid, SIGKILL);
    while (python_group_alive(pgid) && conc_now_ns() < give_up)
        nanosleep(&ms, NULL);
}

/* Reaps the interpreter: at once when it has exited, else after SIGKILL. */
static void python_reap(struct python_child *c, bool kill_now, int *status)
{
    struct timespec ms = { 0, CONC_NS_PER_MS };
    bool killed = false;

    for (;;) {
        pid_t got = waitpid(c->pid, status, killed ? 0 : WNOHANG);
        if (got == c->pid || (got < 0 && errno != EINTR))
            break;
        if (got == 0 && (kill_now || conc_interrupted)) {
            killpg(c->pid, SIGKILL);
            kill(c->pid, SIGKILL);
            killed = true;
            continue;
        }
        if (got == 0)
            nanosleep(&ms, NULL);
    }
    python_group_end(c->pid);
}

/* Whether the text so far ends with the "end" line. */
static bool python_ended(const char *buf, size_t len)
{
    return (len == 4 && memcmp(buf, "end\n", 4) == 0) ||
           (len > 4 && memcmp(buf + len - 5, "\nend\n", 5) == 0);
}

int python_collect(struct python_child *c, char **out, size_t *len,
                   int *status, uint64_t timeout_ns)
{
    uint64_t give_up = timeout_ns ? conc_now_ns() + timeout_ns : UINT64_MAX;
    size_t cap = 64 * 1024, have = 0;
    char *buf = conc_xmalloc(cap);
    bool exited = false;
    int err = 0;

    *status = 0;
    while (!python_ended(buf, have)) {
        struct pollfd pf = { c->fd, POLLIN, 0 };
        int n;
        ssize_t got;

        if (conc_interrupted) {
            err = -EINTR;
            break;
        }
        if (conc_now_ns() > give_up) {
            err = conc_error_msg(-ETIMEDOUT, "the interpreter did not "
                                 "answer within %llu s",
                                 (unsigned long long)(timeout_ns /
                                                      CONC_NS_PER_S));
            break;
        }
        n = poll(&pf, 1, exited ? 0 : PYTHON_POLL_MS);
        if (n < 0 && errno != EINTR) {
            err = conc_error(-errno, "cannot read the interpreter's answer");
            break;
        }
        if (n <= 0) {
            /* Quiet: has it died while children of its still hold the
               pipe open? Then what it wrote is all there is. */
            if (exited)
                break;
            if (waitpid(c->pid, status, WNOHANG) == c->pid)
                exited = true;
            continue;
        }
        if (cap - have < 4096) {
            cap *= 2;
            buf = conc_xrealloc(buf, cap);
        }
        got = read(c->fd, buf + have, cap - have - 1);
        if (got == 0)
            break;
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            err = conc_error(-errno, "cannot read the interpreter's answer");
            break;
        }
        have += (size_t)got;
    }
    buf[have] = '\0';
    close(c->fd);
    c->fd = -1;
    if (exited)
        python_group_end(c->pid);
    else
        python_reap(c, err != 0, status);
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    *len = have;
    return 0;
}

void python_status_text(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}
