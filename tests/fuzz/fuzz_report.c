/*
 * libFuzzer target for the report reader that compare and merge use: any
 * bytes must load or be refused with a message, never crash. A report that
 * loads is then labelled, merged with itself (--join) and compared with
 * itself through the real subcommands, and must survive that round trip.
 */
#define _GNU_SOURCE /* memfd_create */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/report.h"
#include "lib/err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a file (compare and merge take paths), and stdout. */
static int fuzz_in_fd = -1;
static char fuzz_in_path[64];

static void fuzz_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_report: invariant broken: %s\n", what);
        abort();
    }
}

/*
 * stdout becomes a memory file: the subcommands print there, and merge's
 * report is read back from it. The input goes to another memory file,
 * named by its /proc/self/fd path.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int out = memfd_create("fuzz-stdout", MFD_CLOEXEC);

    (void)argc;
    (void)argv;
    fuzz_in_fd = memfd_create("fuzz-report", MFD_CLOEXEC);
    if (out < 0 || fuzz_in_fd < 0 || dup2(out, STDOUT_FILENO) < 0) {
        perror("fuzz_report: memfd_create");
        exit(1);
    }
    close(out);
    snprintf(fuzz_in_path, sizeof(fuzz_in_path), "/proc/self/fd/%d",
             fuzz_in_fd);
    return 0;
}

/* Empties stdout's memory file. */
static void fuzz_stdout_reset(void)
{
    fflush(stdout);
    if (ftruncate(STDOUT_FILENO, 0) || lseek(STDOUT_FILENO, 0, SEEK_SET))
        abort();
}

/* What the subcommand printed on stdout, NUL-terminated; caller frees. */
static char *fuzz_stdout_take(size_t *len)
{
    off_t end;
    char *buf;

    fflush(stdout);
    end = lseek(STDOUT_FILENO, 0, SEEK_CUR);
    buf = conc_xmalloc((size_t)end + 1);
    if (end < 0 || pread(STDOUT_FILENO, buf, (size_t)end, 0) != end)
        abort();
    buf[end] = '\0';
    *len = (size_t)end;
    return buf;
}

/* An option value whose text may not survive a rewrite (a real number). */
static bool fuzz_has_real(const struct conc_rcell *c)
{
    for (size_t i = 0; i < c->nmopts; i++)
        if (strpbrk(c->mopts[i].val, ".eE"))
            return true;
    for (size_t i = 0; i < c->nwopts; i++)
        if (strpbrk(c->wopts[i].val, ".eE"))
            return true;
    return false;
}

/* The same cell (by id and machine) twice: merge and compare refuse it. */
static bool fuzz_has_dups(const struct conc_rfile *f)
{
    for (size_t i = 0; i < f->ncells; i++)
        for (size_t j = i + 1; j < f->ncells; j++)
            if (strcmp(f->cells[i].id, f->cells[j].id) == 0 &&
                strcmp(f->cells[i].host.fingerprint,
                       f->cells[j].host.fingerprint) == 0)
                return true;
    return false;
}

/* What the reader promises about every cell it hands out. */
static void fuzz_check_cells(const struct conc_rfile *f)
{
    fuzz_check(f->path && f->version && f->started_at, "file strings");
    fuzz_check(f->host.cpu_model && f->host.kernel && f->host.fingerprint,
               "file host strings");
    for (size_t i = 0; i < f->ncells; i++) {
        const struct conc_rcell *c = &f->cells[i];
        char *label;

        fuzz_check(c->model && c->workload && c->id, "cell strings");
        fuzz_check(strncmp(c->id, c->model, strlen(c->model)) == 0,
                   "the id starts with the model");
        fuzz_check(c->tasks >= 1, "tasks >= 1");
        fuzz_check(c->host.fingerprint && c->host.cpu_model, "cell host");
        fuzz_check(c->skipped || c->runs, "a cell runs or is skipped");
        for (size_t k = 1; k < c->nmopts; k++)
            fuzz_check(strcmp(c->mopts[k - 1].key, c->mopts[k].key) < 0,
                       "model options sorted and unique");
        for (size_t k = 1; k < c->nwopts; k++)
            fuzz_check(strcmp(c->wopts[k - 1].key, c->wopts[k].key) < 0,
                       "workload options sorted and unique");
        for (size_t r = 0; r < c->nruns; r++) {
            const struct conc_rrun *run = &c->runs[r];
            /* wall_ns is required, and JSON numbers are finite. */
            fuzz_check(isfinite(conc_rrun_metric(run, "wall_ns")),
                       "every run has a finite wall_ns");
            for (size_t m = 0; m < run->nmetrics; m++)
                fuzz_check(run->names[m] && isfinite(run->values[m]),
                           "metrics are named and finite");
        }
        label = conc_compare_label(c, i % 2);
        fuzz_check(label && strlen(label) < 512, "label fits");
        free(label);
    }
}

/* Whether compare of f with itself must exit 1: a cell with no passed run. */
static bool fuzz_expect_failed(const struct conc_rfile *f)
{
    for (size_t i = 0; i < f->ncells; i++) {
        const struct conc_rcell *c = &f->cells[i];
        size_t failed = 0;

        if (c->skipped)
            continue;
        for (size_t r = 0; r < c->nruns; r++)
            failed += c->runs[r].failed;
        if (failed == c->nruns)
            return true;
    }
    return false;
}

static bool fuzz_any_run(const struct conc_rfile *f)
{
    for (size_t i = 0; i < f->ncells; i++)
        if (f->cells[i].nruns)
            return true;
    return false;
}

/*
 * compare A A: every cell matches itself, nothing got slower; only a cell
 * without a passed run is a regression. Other metrics and formats only
 * have to finish.
 */
static void fuzz_compare(const struct conc_rfile *f, unsigned pick)
{
    static const char *const formats[] = { "text", "md", "json",
                                           "github-benchmark" };
    static const char *const metrics[] = { "wall_ns", "cpu_ns",
                                           "task_ns.p99", "max_rss_kib" };
    const char *metric = metrics[(pick >> 2) % 4];
    /* --accept-noisy: a report's few runs are noisy (exit 4) by design. */
    char *argv[] = { "compare", fuzz_in_path, fuzz_in_path, "--format",
                     (char *)formats[pick % 4], "--metric", (char *)metric,
                     "--accept-noisy", NULL };
    int rc, want;

    fuzz_stdout_reset();
    rc = cmd_compare(8, argv);
    if (getenv("FUZZ_REPORT_TRACE"))
        fprintf(stderr, "fuzz_report: compare --metric %s --format %s: "
                "exit %d\n", metric, formats[pick % 4], rc);
    if (strcmp(metric, "wall_ns") != 0) {
        fuzz_check(rc >= 0 && rc <= 2, "compare's exit code");
        return;
    }
    if (fuzz_has_dups(f) || !fuzz_any_run(f))
        want = CONC_EXIT_USAGE;
    else
        want = fuzz_expect_failed(f) ? CONC_EXIT_FAILED : CONC_EXIT_OK;
    if (rc != want) {
        fprintf(stderr, "fuzz_report: compare of a report with itself "
                "exited %d, expected %d\n", rc, want);
        abort();
    }
}

/*
 * merge A A --join: one cell for each of A's with twice its runs, which
 * loads back with the same ids and hosts.
 */
static void fuzz_merge(const struct conc_rfile *f)
{
    char *argv[] = { "merge", fuzz_in_path, fuzz_in_path, "--join", "--json",
                     "-", NULL };
    struct conc_rfile *m;
    size_t len;
    char *text;
    int rc;

    fuzz_stdout_reset();
    rc = cmd_merge(6, argv);
    /* A shard of a plan cut in several (the others are missing), or a
       plan some of whose cells the report lacks. */
    if (f->plan && (f->plan->nshards < f->plan->n ||
                    f->plan->ncells < f->plan->nplan)) {
        fuzz_check(rc == CONC_EXIT_USAGE, "merge refuses a plan with "
                                          "shards or cells missing");
        return;
    }
    if (fuzz_has_dups(f)) {
        fuzz_check(rc == CONC_EXIT_USAGE, "merge refuses duplicate cells");
        return;
    }
    fuzz_check(rc == CONC_EXIT_OK, "merge of a loadable report succeeds");
    text = fuzz_stdout_take(&len);
    if (conc_report_parse("merged", text, len, &m) != 0) {
        fprintf(stderr, "fuzz_report: merge wrote a report it cannot read "
                "back:\n%s\n", text);
        abort();
    }
    if (getenv("FUZZ_REPORT_TRACE"))
        fprintf(stderr, "fuzz_report: merge --join: %zu cells back\n",
                m->ncells);
    fuzz_check(m->ncells == f->ncells, "merge keeps every cell once");
    for (size_t i = 0; i < f->ncells; i++) {
        const struct conc_rcell *a = &f->cells[i], *b = &m->cells[i];
        fuzz_check(b->nruns == 2 * a->nruns, "--join doubles the runs");
        fuzz_check(b->failed == a->failed, "the verdict survives a merge");
        fuzz_check(!a->skipped == !b->skipped, "a skip survives a merge");
        fuzz_check(strcmp(a->host.fingerprint, b->host.fingerprint) == 0,
                   "the host survives a merge");
        fuzz_check(fuzz_has_real(a) || strcmp(a->id, b->id) == 0,
                   "the cell's id survives a merge");
    }
    conc_rfile_free(m);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conc_rfile *f = (void *)1; /* the reader must clear it */
    unsigned pick = 0;
    int err;

    err = conc_report_parse("fuzz", (const char *)data, size, &f);
    if (err) {
        fuzz_check(err < 0 && f == NULL, "a refusal is -errno and no file");
        return 0;
    }
    fuzz_check(f != NULL, "a loaded file");
    if (getenv("FUZZ_REPORT_TRACE"))
        fprintf(stderr, "fuzz_report: loaded %zu cells\n", f->ncells);
    fuzz_check_cells(f);

    if (ftruncate(fuzz_in_fd, 0) ||
        pwrite(fuzz_in_fd, data, size, 0) != (ssize_t)size)
        abort();
    for (size_t i = 0; i < size; i++)
        pick = pick * 31 + data[i];
    fuzz_compare(f, pick);
    fuzz_merge(f);
    conc_rfile_free(f);
    return 0;
}
