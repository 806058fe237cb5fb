/*
 * The python model's internals, shared by python.c (the model object),
 * python-proc.c (the interpreter as a child) and python-report.c (what it
 * is told and what it answers).
 */
#ifndef CONC_PYTHON_H
#define CONC_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "models/model.h"

/* The script beside the binary, in the installed share dir, or in the
   source tree next to build/. */
#define PYTHON_SCRIPT "concbench_model.py"

/* The descriptor the script writes its answer to, and as its argument. */
#define PYTHON_REPORT_FD 3
#define PYTHON_REPORT_FD_ARG "3"

/* What one interpreter says of itself (the script's "python" line). */
struct python_facts {
    uint64_t hexversion;
    bool gil;           /* the GIL is enabled (always, before 3.13t) */
    bool free_threaded; /* a build that can run without it */
    char impl[16];      /* sys.implementation.name: "cpython" */
    char version[96];   /* sys.version on one line */
};

/* A running interpreter: its pid, also its process group, and the read
   end of the pipe it answers on. */
struct python_child {
    pid_t pid;
    int fd;
};

/*
 * Finds the script: PYTHON_SCRIPT beside this binary, in
 * ../share/concbench/ from it (make install), or in ../scripts/ from it
 * (a build tree). 0 with the path in buf, or -ENOENT with the places
 * looked at in buf.
 */
int python_script_find(char *buf, size_t len);

/*
 * Starts argv[0] (a path, or a name looked up in PATH) with argv in a
 * process group of its own that dies with concbench, stdin from
 * /dev/null, stdout onto stderr and the write end of a pipe as
 * PYTHON_REPORT_FD. An exec failure is reported on that pipe as a
 * "missing" line. 0 with c filled, or -errno with the message printed.
 */
int python_spawn(char *const argv[], struct python_child *c);

/*
 * Reads c's answer up to its "end" line, EOF, or the interpreter's exit,
 * then reaps it and anything left in its group; *status gets its wait
 * status. On conc_interrupted, or after timeout_ns (0: none), it kills the
 * group (SIGKILL), reaps the interpreter, waits until the group is gone
 * and returns -EINTR or -ETIMEDOUT. 0 with the answer in *out
 * (NUL-terminated, free it), or -errno with the message printed; either
 * way nothing of c is left.
 */
int python_collect(struct python_child *c, char **out, size_t *len,
                   int *status, uint64_t timeout_ns);

/*
 * Describes a wait status that is not a clean exit 0 into buf ("exited
 * with status 1", "was killed by signal 9 (Killed)").
 */
void python_status_text(int status, char *buf, size_t len);

/*
 * Parses a "python ..." line (without the leading word) into f. 0, or
 * -EPROTO.
 */
int python_facts_parse(const char *line, struct python_facts *f);

/*
 * The arguments after "run FD API" for r: the workload's name, the task
 * and pool counts, every workload option that has a value as key=value
 * (numbers as concbench parsed them: ns, bytes), and for http where to
 * connect and the request to send, from the workload's setup. Appended to
 * argv from *argc (argv has room for PYTHON_ARGV_MAX); the strings live
 * in buf (len bytes). 0, or -ENOSPC / -EINVAL with the message printed.
 */
#define PYTHON_ARGV_MAX 64
int python_run_args(const struct conc_run *r, unsigned workers, char **argv,
                    int *argc, char *buf, size_t len);

/*
 * Puts the script's answer into r: every task's times, status, result,
 * ops, bytes, errors and per-op values into r->out, the timed section
 * into r->self (set), the interpreter's facts into r->self's facts and
 * note. 0, or -EPROTO with the message printed (a line that does not
 * parse, a task missing or told twice, no "run" or "end" line).
 */
int python_report_parse(struct conc_run *r, char *text);

#endif
