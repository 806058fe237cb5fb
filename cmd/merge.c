/*
 * concbench merge: joins reports (the shards of `sweep --shard K/N` run on
 * many machines) into one, keeping cells from different machines apart by
 * a host fingerprint (CPU model, cpus, memory, kernel).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/flags.h"
#include "cmd/report.h"
#include "lib/err.h"
#include "lib/interrupt.h"

static const char merge_epilogue[] =
    "Joins the results of reports of one schema. Cells measured on different\n"
    "machines (CPU model, cpus, memory or kernel differ) stay apart: each "
    "then\n"
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
            if (conc_interrupted)
                return -EINTR;
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
    const char *out = NULL;
    bool join = false;
    const struct conc_flag flags[] = {
        { CONC_FLAG_STRING, 'o', "json", &out, "OUT",
          "the merged report ('-': stdout), written atomically", 0, 0 },
        { CONC_FLAG_SWITCH, 0, "join", &join, NULL,
          "the same cell from the same machine in several reports (rounds "
          "of one suite): one cell with all their runs", 0, 0 },
        { CONC_FLAG_END },
    };
    const struct conc_command cmd = {
        .name = "merge",
        .synopsis = "merge A.json B.json ... --json OUT [--join]",
        .flags = flags, .operands = "at least one report",
        .min_operands = 1, .max_operands = UINT_MAX,
        .epilogue = merge_epilogue,
    };
    struct conc_operands ops;
    struct conc_rfile **files = NULL;
    const char *const *paths;
    struct conc_report *rep = NULL;
    size_t n, loaded = 0, cells = 0, nout = 0, joined = 0;
    const struct conc_rcell **outc = NULL;
    bool many;
    int rc = conc_flags_parse(&cmd, argc, argv, &ops);

    if (rc != CONC_FLAGS_OK) {
        rc = rc == CONC_FLAGS_HELP ? CONC_EXIT_OK : rc;
        goto out;
    }
    rc = CONC_EXIT_USAGE;
    if (!out) {
        conc_flags_error(&cmd, "missing --json OUT");
        goto out;
    }
    paths = ops.v;
    n = ops.n;
    files = conc_xcalloc(n, sizeof(*files));
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

            /* Joining is quadratic in cells: a big merge stays stoppable,
               and an interrupted one writes nothing. */
            if (conc_interrupted)
                goto out;
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
    if (conc_interrupted)
        goto out;
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
    conc_flags_fini(&ops);
    return rc;
}
