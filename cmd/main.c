/*
 * concbench: which concurrency model wins for which kind of work, measured.
 * This file holds the subcommand table (git's shape) and nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmds.h"
#include "cmd/err.h"
#include "version.h" /* generated: CONC_VERSION */

struct main_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct main_cmd main_cmds[] = {
    { "run", cmd_run, "run one cell: a model, a workload, a task count" },
    { "list", cmd_list, "list models, workloads and their options" },
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
          "usage error, 3 unavailable in this build\n", f);
}

int main(int argc, char **argv)
{
    const char *const names[] = { "run", "list", "sweep", "compare", "merge",
                                  "serve" };
    const char *hint;

    if (argc < 2) {
        main_usage(stderr);
        return CONC_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        main_usage(stdout);
        return CONC_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("concbench %s\n", CONC_VERSION);
        return CONC_EXIT_OK;
    }
    /* Options first: `run` is the default subcommand. */
    if (argv[1][0] == '-')
        return cmd_run(argc, argv);
    for (size_t i = 0; i < MAIN_NCMDS; i++)
        if (strcmp(argv[1], main_cmds[i].name) == 0)
            return main_cmds[i].fn(argc - 1, argv + 1);
    hint = conc_suggest(argv[1], names, MAIN_NCMDS);
    if (hint)
        return conc_usage_error("'%s' is not a concbench command; did you "
                                "mean '%s'?", argv[1], hint);
    return conc_usage_error("'%s' is not a concbench command (see 'concbench "
                            "--help')", argv[1]);
}
