/*
 * concbench merge: joins reports (the shards of `sweep --shard K/N` run on
 * many machines) into one, keeping cells from different machines apart by
 * a host fingerprint (CPU model, cpus, memory, kernel).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/args.h"
#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/report.h"
#include "lib/err.h"

static const char merge_usage[] =
    "usage: concbench merge A.json B.json ... --json OUT [--join]\n"
    "\n"
    "    --json OUT   the merged report ('-': stdout), written atomically\n"
    "    --join       the same cell from the same machine in several reports\n"
    "                 (rounds of one suite): one cell with all their runs\n"
    "\n"
    "Joins the results of reports of one schema. Cells measured on different\n"
    "machines (CPU model, cpus, memory or kernel differ) stay apart: each then\n"
    "carries its own \"host\". Without --join, the same cell twice from one\n"
    "machine is an error, as is a report of another schema (exit 2).\n"
    "\"merged_from\" lists the inputs.\n";

/* Whether the cells of files hold more than one machine. */
static bool merge_many_hosts(struct conc_rfile *const *files, size_t n)
{
    const char *first = NULL;

    for (size_t f = 0; f < n; f++)
        for (size_t c = 0; c < files[f]->ncells; c++) {
            const char *fp = files[f]->cells[c].host.fingerprint;
            if (!first)
                first = fp;
            else if (strcmp(first, fp) != 0)
                return true;
        }
    return false;
}

/*
 * The same cell from the same machine twice: which copy would be right?
 * With join, only twice within one report is an error.
 */
static int merge_check_dups(struct conc_rfile *const *files, size_t n,
                            bool join)
{
    for (size_t f = 0; f < n; f++)
        for (size_t c = 0; c < files[f]->ncells; c++) {
            const struct conc_rcell *a = &files[f]->cells[c];
            for (size_t g = f; g < (join ? f + 1 : n); g++)
                for (size_t d = g == f ? c + 1 : 0; d < files[g]->ncells;
                     d++) {
                    const struct conc_rcell *b = &files[g]->cells[d];
                    char *label;

                    if (strcmp(a->id, b->id) != 0 ||
                        strcmp(a->host.fingerprint, b->host.fingerprint) != 0)
                        continue;
                    label = conc_compare_label(a, false);
                    if (f == g)
                        conc_error_msg(-EEXIST, "cell '%s' appears twice in "
                                       "'%s'", label, files[f]->path);
                    else
                        conc_error_msg(-EEXIST, "cell '%s' is in both '%s' "
                                       "and '%s' from the same host; merge "
                                       "joins disjoint reports", label,
                                       files[f]->path, files[g]->path);
                    free(label);
                    return -EEXIST;
                }
        }
    return 0;
}

int cmd_merge(int argc, char **argv)
{
    struct conc_args a = { argc, 1, argv };
    const char *out = NULL;
    struct conc_rfile **files = conc_xcalloc((size_t)argc, sizeof(*files));
    const char **paths = conc_xcalloc((size_t)argc, sizeof(*paths));
    struct conc_report *rep = NULL;
    size_t n = 0, loaded = 0, cells = 0, nout = 0, joined = 0;
    const struct conc_rcell **outc = NULL;
    bool many, join = false;
    int rc = CONC_EXIT_USAGE;

    for (; a.i < argc; a.i++) {
        const char *arg = argv[a.i];
        int k;

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(merge_usage, stdout);
            rc = CONC_EXIT_OK;
            goto out;
        }
        if ((k = conc_args_value(&a, "--json", "-o", &out)) ||
            (k = conc_args_flag(&a, "--join", &join))) {
            if (k < 0)
                goto out;
            continue;
        }
        if (arg[0] == '-' && arg[1]) {
            conc_usage_error("unknown option '%s'", arg);
            fputs(merge_usage, stderr);
            goto out;
        }
        paths[n++] = arg;
    }
    if (!out || n == 0) {
        conc_usage_error(!out ? "missing --json OUT" : "no report to merge");
        fputs(merge_usage, stderr);
        goto out;
    }
    if (conc_report_check_path(out))
        goto out;
    for (loaded = 0; loaded < n; loaded++)
        if (conc_report_load(paths[loaded], &files[loaded]))
            goto out;
    if (merge_check_dups(files, n, join))
        goto out;
    for (size_t f = 1; f < n; f++)
        if (strcmp(files[f]->version, files[0]->version) != 0) {
            conc_warn("'%s' is from concbench %s, '%s' from %s", paths[0],
                      files[0]->version, paths[f], files[f]->version);
            break;
        }

    many = merge_many_hosts(files, n);
    rep = conc_report_merge_new(files[0], argc, argv);
    for (size_t f = 0; f < n; f++)
        cells += files[f]->ncells;
    outc = conc_xcalloc(cells + 1, sizeof(*outc));
    for (size_t f = 0; f < n; f++) {
        for (size_t c = 0; c < files[f]->ncells; c++) {
            const struct conc_rcell *cell = &files[f]->cells[c];
            size_t at = nout;
            /* Earlier inputs only: duplicates within one were refused. */
            for (size_t j = 0; join && j < nout && at == nout; j++)
                if (strcmp(outc[j]->id, cell->id) == 0 &&
                    strcmp(outc[j]->host.fingerprint,
                           cell->host.fingerprint) == 0)
                    at = j;
            if (at < nout) {
                conc_report_merge_join(rep, at, files[f], c);
                joined++;
            } else {
                conc_report_merge_add(rep, files[f], c, many);
                outc[nout++] = cell;
            }
        }
        conc_report_merge_source(rep, files[f], files[f]->ncells);
    }
    rc = conc_report_write(rep, out) ? CONC_EXIT_FAILED : CONC_EXIT_OK;
    if (rc == CONC_EXIT_OK && strcmp(out, "-") != 0)
        fprintf(stderr, "merged %zu cells from %zu reports into '%s': %zu "
                "cells%s%s\n", cells, n, out, nout,
                joined ? ", runs of the same cell joined" : "",
                many ? ", several hosts kept apart" : "");
out:
    conc_report_free(rep);
    free(outc);
    for (size_t f = 0; f < loaded; f++)
        conc_rfile_free(files[f]);
    free(files);
    free(paths);
    return rc;
}
