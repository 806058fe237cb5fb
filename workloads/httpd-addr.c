/*
 * The built-in server's addresses: the one it listens on, parsed from text,
 * and the one it announces, its ready line. Plain C, in every build.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "workloads/httpd.h"

/* The ready line's one format; see conc_httpd_ready_format(). */
#define HTTPD_READY_FMT "listening on http://%s:%s"

int conc_httpd_ready_format(char *buf, size_t len, const char *host,
                            const char *port)
{
    return snprintf(buf, len, HTTPD_READY_FMT, host, port);
}

int conc_httpd_ready_write(FILE *f, const char *host, unsigned port)
{
    char line[128], num[16];

    snprintf(num, sizeof(num), "%u", port);
    conc_httpd_ready_format(line, sizeof(line), host, num);
    if (fprintf(f, "%s\n", line) < 0 || fflush(f))
        return -errno;
    return 0;
}

int conc_httpd_ready_parse(const char *line, const char *host,
                           unsigned *port)
{
    char want[128];
    size_t n = (size_t)conc_httpd_ready_format(want, sizeof(want), host, "");
    unsigned long v = 0;
    const char *p;

    if (n >= sizeof(want) || strncmp(line, want, n) != 0)
        return -EPROTO;
    /* At most 5 digits, then the end of the line. */
    for (p = line + n; *p >= '0' && *p <= '9' && p - (line + n) < 6; p++)
        v = v * 10 + (unsigned long)(*p - '0');
    if (p == line + n || (*p && *p != '\n') || v == 0 || v > 65535)
        return -EPROTO;
    *port = (unsigned)v;
    return 0;
}

int conc_httpd_addr_parse(const char *s, unsigned port,
                          struct conc_httpd_addr *a)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
    char buf[INET6_ADDRSTRLEN + 2];
    size_t len = strlen(s);

    memset(a, 0, sizeof(*a));
    if (strcmp(s, "localhost") == 0)
        s = "127.0.0.1";
    if (len >= 2 && len < sizeof(buf) && s[0] == '[' && s[len - 1] == ']') {
        memcpy(buf, s + 1, len - 2);
        buf[len - 2] = '\0';
        s = buf;
    }
    if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        if (in4->sin_addr.s_addr == htonl(INADDR_ANY))
            return -EADDRNOTAVAIL;
        a->loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
        snprintf(a->shown, sizeof(a->shown), "%s", s);
        return 0;
    }
    if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            return -EADDRNOTAVAIL;
        a->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        /*
         * An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 address on
         * a dual-stack socket: ::ffff:0.0.0.0 listens on every IPv4
         * interface, and ::ffff:127.0.0.1 is loopback. Judge the IPv4.
         */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ||
            IN6_IS_ADDR_V4COMPAT(&in6->sin6_addr)) {
            uint32_t v4;
            memcpy(&v4, &in6->sin6_addr.s6_addr[12], sizeof(v4));
            if (v4 == htonl(INADDR_ANY))
                return -EADDRNOTAVAIL;
            a->loopback = (ntohl(v4) >> 24) == 127;
        }
        snprintf(a->shown, sizeof(a->shown), "[%s]", s);
        return 0;
    }
    return -EINVAL;
}
