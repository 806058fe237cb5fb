/*
 * concbench: which concurrency model wins for which kind of work, measured.
 * This file holds the subcommand table (git's shape) and nothing else.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "lib/err.h"
#include "models/model.h"
#include "version.h" /* generated: CONC_VERSION */

_Static_assert(CONC_CRASH_EXIT == CONC_EXIT_FAILED,
               "a crashed task's exit status must read as a failed run");

struct main_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct main_cmd main_cmds[] = {
    { "run", cmd_run, "run one cell: a model, a workload, a task count" },
    { "sweep", cmd_sweep, "run a matrix of models, workloads, options and "
      "task counts" },
    { "compare", cmd_compare, "compare two reports cell by cell: faster, "
      "slower or noise" },
    { "merge", cmd_merge, "join reports (sweep shards) into one" },
    { "calibrate", cmd_calibrate, "measure this machine's noise floor (A/A) "
      "for compare" },
    { "list", cmd_list, "list models, workloads and their options" },
    { "serve", cmd_serve, "the built-in HTTP server the http workload "
      "fetches from" },
};

#define MAIN_NCMDS (sizeof(main_cmds) / sizeof(main_cmds[0]))

static void main_usage(FILE *f)
{
    fputs("usage: concbench [run] --model M --workload W [--tasks T] "
          "[-o key=value]...\n"
          "       concbench <command> [<args>]\n\ncommands:\n", f);
    for (size_t i = 0; i < MAIN_NCMDS; i++)
        fprintf(f, "  %-10s %s\n", main_cmds[i].name, main_cmds[i].help);
    fputs("\n'concbench <command> --help' describes a command; "
          "'concbench list' the models and workloads.\n"
          "exit codes: 0 ok, 1 a run failed or a regression was found, 2 "
          "usage error, 3 unavailable in this build, 4 compare inconclusive "
          "(most cells noisy)\n", f);
}

static void main_on_signal(int sig)
{
    conc_interrupted = sig;
}

/*
 * SIGINT and SIGTERM set conc_interrupted and, with no SA_RESTART, make
 * blocking waits return EINTR, so models stop, reap and clean up; main then
 * exits 128 + the signal, like a shell. A second signal is not caught: it
 * ends the process at once if the cleanup itself hangs.
 */
static void main_signals_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = main_on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed pipe (a reset connection) is an error to count, not a death. */
    signal(SIGPIPE, SIG_IGN);
}

/*
 * Standard output is where results go: a result that could not be written
 * (a full disk, an I/O error) is a failed command, not exit 0. A reader
 * that went away on purpose (EPIPE, as in `concbench list | grep -q x`)
 * had what it wanted: that ends quietly with the command's own status, so
 * a script under `set -o pipefail` does not fail on it.
 */
static int main_flush(int rc)
{
    int err = 0;

    if (fflush(stdout) != 0 || ferror(stdout))
        err = errno ? errno : EIO;
    if (!err)
        return rc;
    if (err == EPIPE)
        return rc;
    conc_error(-err, "cannot write to standard output");
    return rc ? rc : CONC_EXIT_FAILED;
}

static int main_exit(int rc)
{
    rc = main_flush(rc);
    if (conc_interrupted) {
        conc_error_msg(0, "interrupted by %s", conc_interrupted == SIGINT
                                                   ? "SIGINT" : "SIGTERM");
        return 128 + conc_interrupted;
    }
    return rc;
}

int main(int argc, char **argv)
{
    const char *names[MAIN_NCMDS], *hint;

    if (argc < 2) {
        main_usage(stderr);
        return CONC_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        main_usage(stdout);
        return main_flush(CONC_EXIT_OK);
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("concbench %s\n", CONC_VERSION);
        return main_flush(CONC_EXIT_OK);
    }
    main_signals_install();
    conc_crash_install();
    /* Options first: `run` is the default subcommand. */
    if (argv[1][0] == '-')
        return main_exit(cmd_run(argc, argv));
    for (size_t i = 0; i < MAIN_NCMDS; i++)
        if (strcmp(argv[1], main_cmds[i].name) == 0)
            return main_exit(main_cmds[i].fn(argc - 1, argv + 1));
    for (size_t i = 0; i < MAIN_NCMDS; i++)
        names[i] = main_cmds[i].name;
    hint = conc_suggest(argv[1], names, MAIN_NCMDS);
    if (hint)
        return conc_usage_error("'%s' is not a concbench command; did you "
                                "mean '%s'?", argv[1], hint);
    return conc_usage_error("'%s' is not a concbench command (see 'concbench "
                            "--help')", argv[1]);
}
