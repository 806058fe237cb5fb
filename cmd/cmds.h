/*
 * The subcommands, one file each, all with git's signature; main.c holds
 * the table.
 */
#ifndef CONC_CMDS_H
#define CONC_CMDS_H

#include <stdbool.h>
#include <stdio.h>

int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);

/* Every model and workload with its options, generated from their tables. */
void conc_list_print(FILE *f);

struct conc_rcell;

/*
 * A cell's name for tables and messages, "primes/threads t=8 workers=2":
 * workload, model, tasks and the options that differ from this build's
 * defaults; with_host appends the CPU and core count. Caller frees.
 */
char *conc_compare_label(const struct conc_rcell *c, bool with_host);

#endif
