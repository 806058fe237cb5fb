/*
 * Readers of /proc and /sys text files; see proc.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/proc.h"

ssize_t conc_proc_read(const char *path, char *buf, size_t len)
{
    size_t got = 0;
    int fd;

    if (len == 0)
        return -EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (got < len - 1) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    if (got && buf[got - 1] == '\n')
        buf[--got] = '\0';
    return (ssize_t)got;
}

/* The unsigned number at the start of s (after blanks): 0 or -EINVAL. */
static int proc_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -errno;
    *out = v;
    return 0;
}

int conc_proc_u64(const char *path, uint64_t *out)
{
    char buf[64];
    ssize_t n = conc_proc_read(path, buf, sizeof(buf));

    return n < 0 ? (int)n : proc_parse_u64(buf, out);
}

int conc_proc_field_u64(const char *path, const char *key, uint64_t *out)
{
    char line[256];
    size_t klen = strlen(key);
    int err = -ENOENT;
    FILE *f = fopen(path, "re");

    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        /* "VmHWM:\t  1234 kB" or "nr_throttled 7": the key, then blanks. */
        if (strncmp(line, key, klen) == 0 &&
            (line[klen] == ' ' || line[klen] == '\t')) {
            err = proc_parse_u64(line + klen, out);
            break;
        }
        /* A line longer than the buffer: skip the rest of it. */
        while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
            ;
    }
    fclose(f);
    return err;
}

int conc_proc_lines(const char *path, uint64_t *out)
{
    char buf[4096];
    uint64_t n = 0;
    ssize_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    while ((got = read(fd, buf, sizeof(buf))) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        for (ssize_t i = 0; i < got; i++)
            n += buf[i] == '\n';
    }
    close(fd);
    *out = n;
    return 0;
}
