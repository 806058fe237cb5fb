/*
 * The safe writer of every output file; see output.h for what each kind
 * of path gets.
 */
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE, mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/exit.h"
#include "cmd/output.h"
#include "lib/err.h"

enum output_kind {
    OUTPUT_STDOUT,
    OUTPUT_NEW,     /* nothing at the path yet */
    OUTPUT_FILE,    /* a regular file, replaced */
    OUTPUT_DIRECT,  /* a character device, FIFO or socket, written into */
    OUTPUT_REFUSED, /* why says why */
};

/* What path names now, without following a final link but to a device. */
static enum output_kind output_classify(const char *path, const char **why)
{
    struct stat st, target;

    *why = NULL;
    if (strcmp(path, "-") == 0)
        return OUTPUT_STDOUT;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return OUTPUT_NEW;
        *why = strerror(errno);
        return OUTPUT_REFUSED;
    }
    if (S_ISLNK(st.st_mode)) {
        if (stat(path, &target) == 0 &&
            (S_ISCHR(target.st_mode) || S_ISFIFO(target.st_mode) ||
             S_ISSOCK(target.st_mode)))
            return OUTPUT_DIRECT;
        *why = "it is a symbolic link (give the path it points to, or '-' "
               "for standard output)";
        return OUTPUT_REFUSED;
    }
    if (S_ISREG(st.st_mode))
        return OUTPUT_FILE;
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
        return OUTPUT_DIRECT;
    if (S_ISDIR(st.st_mode))
        *why = "it is a directory";
    else if (S_ISBLK(st.st_mode))
        *why = "it is a block device";
    else
        *why = "it is not a file";
    return OUTPUT_REFUSED;
}

/*
 * A temporary file beside path, created exclusively with an unpredictable
 * name (mkostemp: O_CREAT | O_EXCL, which never follows a link). Its name
 * goes in *tmp (caller frees). The fd, or -errno.
 */
static int output_temp(const char *path, char **tmp)
{
    char *copy = conc_xstrdup(path), *dir = dirname(copy);
    char *base_copy = conc_xstrdup(path), *base = basename(base_copy);
    size_t len = strlen(dir) + strlen(base) + 16;
    int fd;

    *tmp = conc_xmalloc(len);
    snprintf(*tmp, len, "%s/.%s.XXXXXX", dir, base);
    free(copy);
    free(base_copy);
    fd = mkostemp(*tmp, O_CLOEXEC);
    if (fd < 0) {
        int err = -errno;
        free(*tmp);
        *tmp = NULL;
        return err;
    }
    return fd;
}

/*
 * The paths that named nothing when checked: their write must not replace
 * whatever appeared there since (a file, a link planted in a shared
 * directory). A command has a handful of outputs.
 */
static const char *output_was_new[16];
static size_t output_nwas_new;

static bool output_checked_new(const char *path)
{
    for (size_t i = 0; i < output_nwas_new; i++)
        if (strcmp(output_was_new[i], path) == 0)
            return true;
    return false;
}

/* The temporary file being written, removed if a signal ends us. */
static char *output_pending;

static void output_cleanup(void)
{
    if (output_pending)
        unlink(output_pending);
}

static int output_write_all(int fd, const char *text, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        off += (size_t)n;
    }
    return 0;
}

/* A new or regular file: through a temporary file and a rename. */
static int output_replace(const char *path, const char *text, size_t len,
                          bool must_be_new)
{
    char *tmp;
    mode_t mask = umask(0);
    int fd, err;

    umask(mask);
    if ((fd = output_temp(path, &tmp)) < 0)
        return conc_error(fd, "cannot write '%s'", path);
    output_pending = tmp;
    conc_oom_cleanup = output_cleanup;
    /* mkostemp makes 0600; a report is as readable as any new file. */
    err = fchmod(fd, 0666 & ~mask) ? -errno : 0;
    if (!err)
        err = output_write_all(fd, text, len);
    if (close(fd) != 0 && !err)
        err = -errno;
    if (!err && must_be_new) {
        /* The name was free when we looked: never replace what took it. */
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0)
            err = errno == EEXIST ? -EEXIST : -errno;
    } else if (!err && rename(tmp, path) != 0) {
        err = -errno;
    }
    if (err) {
        unlink(tmp);
        if (err == -EEXIST)
            conc_error_msg(err, "cannot write '%s': something was created "
                           "there while concbench ran; it is left alone",
                           path);
        else
            conc_error(err, "cannot write '%s'", path);
    }
    output_pending = NULL;
    free(tmp);
    return err;
}

/* A character device, FIFO or socket: written into, never replaced. */
static int output_direct(const char *path, const char *text, size_t len)
{
    /* O_NONBLOCK: a FIFO with no reader fails (ENXIO) instead of hanging. */
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK), err;

    if (fd < 0) {
        if (errno == ENXIO)
            return conc_error_msg(-ENXIO, "cannot write '%s': no process "
                                  "reads that FIFO", path);
        return conc_error(-errno, "cannot write '%s'", path);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    err = output_write_all(fd, text, len);
    if (close(fd) != 0 && !err)
        err = -errno;
    if (err)
        conc_error(err, "cannot write '%s'", path);
    return err;
}

int conc_write_atomic(const char *path, const char *text, size_t len)
{
    const char *why;

    enum output_kind kind = output_classify(path, &why);

    /* Something that took a name checked as free is left alone. */
    if (kind != OUTPUT_NEW && kind != OUTPUT_STDOUT &&
        output_checked_new(path))
        kind = OUTPUT_NEW;
    switch (kind) {
    case OUTPUT_STDOUT:
        if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
            return conc_error(-errno, "cannot write to standard output");
        return 0;
    case OUTPUT_NEW:
        return output_replace(path, text, len, true);
    case OUTPUT_FILE:
        return output_replace(path, text, len, output_checked_new(path));
    case OUTPUT_DIRECT:
        return output_direct(path, text, len);
    case OUTPUT_REFUSED:
        break;
    }
    return conc_error_msg(-EINVAL, "cannot write '%s': %s", path, why);
}

/* Identity of an output, to find two on one destination. */
struct output_id {
    bool is_stdout;
    dev_t dev;
    ino_t ino;
    bool have_ino;
    char *canon; /* for a path that does not exist yet: its directory's
                    real path and its name */
};

static void output_identify(const char *path, struct output_id *id)
{
    struct stat st;

    memset(id, 0, sizeof(*id));
    if (strcmp(path, "-") == 0) {
        id->is_stdout = true;
        if (fstat(STDOUT_FILENO, &st) == 0) {
            id->dev = st.st_dev;
            id->ino = st.st_ino;
            id->have_ino = true;
        }
        return;
    }
    if (stat(path, &st) == 0) {
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        id->have_ino = true;
        return;
    }
    char *copy = conc_xstrdup(path), *base_copy = conc_xstrdup(path);
    char real[PATH_MAX];
    if (realpath(dirname(copy), real)) {
        size_t len = strlen(real) + strlen(path) + 2;
        id->canon = conc_xmalloc(len);
        snprintf(id->canon, len, "%s/%s", real, basename(base_copy));
    } else {
        id->canon = conc_xstrdup(path);
    }
    free(copy);
    free(base_copy);
}

static bool output_same(const struct output_id *a, const struct output_id *b);

bool conc_output_is_stdout(const char *path)
{
    struct output_id a, b;
    bool same;

    if (!path)
        return false;
    if (strcmp(path, "-") == 0)
        return true;
    output_identify("-", &a);
    output_identify(path, &b);
    same = a.have_ino && b.have_ino && output_same(&a, &b);
    free(b.canon);
    return same;
}

static bool output_same(const struct output_id *a, const struct output_id *b)
{
    if (a->is_stdout && b->is_stdout)
        return true;
    if (a->have_ino && b->have_ino)
        return a->dev == b->dev && a->ino == b->ino;
    return a->canon && b->canon && strcmp(a->canon, b->canon) == 0;
}

/* One output before any run: what the writer would do, tried early. */
static int output_check_one(const struct conc_output *o)
{
    const char *why;
    char *tmp;
    int fd;

    enum output_kind kind = output_classify(o->path, &why);

    if (kind == OUTPUT_NEW && !output_checked_new(o->path) &&
        output_nwas_new < sizeof(output_was_new) / sizeof(output_was_new[0]))
        output_was_new[output_nwas_new++] = o->path;
    switch (kind) {
    case OUTPUT_STDOUT:
        return 0;
    case OUTPUT_NEW:
    case OUTPUT_FILE:
        /* Make the very kind of file the write will: permission bits alone
           say nothing to root, and some file systems refuse new files. */
        if ((fd = output_temp(o->path, &tmp)) < 0) {
            conc_error(fd, "cannot write '%s'", o->path);
            return CONC_EXIT_USAGE;
        }
        close(fd);
        unlink(tmp);
        free(tmp);
        return 0;
    case OUTPUT_DIRECT:
        /* Not opened now: opening a FIFO's write end and closing it would
           tell its reader the output had ended. */
        if (access(o->path, W_OK) != 0) {
            conc_error(-errno, "cannot write '%s'", o->path);
            return CONC_EXIT_USAGE;
        }
        return 0;
    case OUTPUT_REFUSED:
        break;
    }
    conc_error_msg(-EINVAL, "cannot write '%s': %s", o->path, why);
    return CONC_EXIT_USAGE;
}

int conc_outputs_check(const struct conc_output *o, size_t n)
{
    struct output_id *ids = conc_xcalloc(n + 1, sizeof(*ids));
    int rc = 0;

    for (size_t i = 0; i < n && !rc; i++) {
        if (!o[i].path)
            continue;
        if ((rc = output_check_one(&o[i])))
            break;
        output_identify(o[i].path, &ids[i]);
        for (size_t j = 0; j < i && !rc; j++)
            if (o[j].path && output_same(&ids[i], &ids[j]))
                rc = conc_usage_error("'%s' and '%s' both write to '%s'; "
                                      "give each its own", o[j].flag,
                                      o[i].flag, o[i].path);
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i].canon);
    free(ids);
    return rc;
}
