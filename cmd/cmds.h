/*
 * The subcommands, one file each, all with git's signature; main.c holds
 * the table.
 */
#ifndef CONC_CMDS_H
#define CONC_CMDS_H

#include <stdio.h>

int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Every model and workload with its options, generated from their tables. */
void conc_list_print(FILE *f);

#endif
