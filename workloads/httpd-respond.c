/*
 * What the built-in server answers: GET / with `size` bytes after `delay`
 * (a query may override both), and the error statuses, each with its
 * one-line body.
 */
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/opts.h"
#include "workloads/httpd.h"

#if defined(CONC_HAVE_UV) && defined(CONC_HAVE_HTTP_PARSER)
#include "workloads/httpd-internal.h"

static void httpd_on_timer(uv_timer_t *t)
{
    httpd_conn_write(t->data);
}

static const char *httpd_reason(unsigned status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    }
    return "Error";
}

/* Prepares the status line and headers for status and c->size bytes. */
static void httpd_conn_head(struct httpd_conn *c, unsigned status)
{
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 %u %s\r\n"
                     "Server: concbench\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %llu\r\n"
                     "%s"
                     "Connection: %s\r\n\r\n",
                     status, httpd_reason(status),
                     status == 200 ? "application/octet-stream"
                                   : "text/plain",
                     (unsigned long long)c->size,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "",
                     c->keep ? "keep-alive" : "close");
    c->head_len = (size_t)n;
}

void httpd_conn_error(struct httpd_conn *c, unsigned status, const char *msg)
{
    c->busy = true;
    uv_timer_stop(&c->deadline);
    if (status == 400 || status == 408 || status == 413 || status == 414)
        c->keep = false; /* the stream may be out of step: start afresh */
    c->body = msg;
    c->size = strlen(msg);
    httpd_conn_head(c, status);
    httpd_conn_write(c);
}

/*
 * Parses "delay=20ms&size=4096" over the server's defaults with the same
 * unit parsers as -o. 0, or -EINVAL with a one-line reason in why.
 */
static int httpd_query(const char *q, size_t len, uint64_t *delay_ns,
                       uint64_t *size, char *why, size_t why_len)
{
    while (len) {
        const char *amp = memchr(q, '&', len);
        size_t n = amp ? (size_t)(amp - q) : len;
        char kv[128], *val;
        uint64_t v;
        int err;

        if (n >= sizeof(kv)) {
            snprintf(why, why_len, "query parameter too long\n");
            return -EINVAL;
        }
        memcpy(kv, q, n);
        kv[n] = '\0';
        q += n + (amp ? 1 : 0);
        len -= n + (amp ? 1 : 0);
        if (!n)
            continue;
        val = strchr(kv, '=');
        if (!val) {
            snprintf(why, why_len, "bad query parameter '%s': expected "
                     "key=value\n", kv);
            return -EINVAL;
        }
        *val++ = '\0';
        if (strcmp(kv, "delay") == 0) {
            err = conc_parse_duration(val, &v);
            if (err || v > CONC_HTTPD_DELAY_MAX) {
                snprintf(why, why_len, "bad delay '%s': expected a duration "
                         "such as 20ms, at most 1h\n", val);
                return -EINVAL;
            }
            *delay_ns = v;
        } else if (strcmp(kv, "size") == 0) {
            err = conc_parse_size(val, &v);
            if (err || v > CONC_HTTPD_SIZE_MAX) {
                snprintf(why, why_len, "bad size '%s': expected a size such "
                         "as 4096 or 64KiB, at most 1GiB\n", val);
                return -EINVAL;
            }
            *size = v;
        } else {
            snprintf(why, why_len, "unknown query parameter '%s' (delay, "
                     "size)\n", kv);
            return -EINVAL;
        }
    }
    return 0;
}

void httpd_conn_respond(struct httpd_conn *c)
{
    struct http_parser_url u;
    uint64_t delay_ns = c->srv->delay_ns, ms;

    c->busy = true;
    c->body = NULL;
    c->size = c->srv->size;
    /* Answering: no timeout while the delay is the server's own. */
    uv_timer_stop(&c->deadline);
    if (c->too_large) {
        httpd_conn_error(c, 413, "request body too large\n");
        return;
    }
    if (c->url_long) {
        httpd_conn_error(c, 414, "request target too long\n");
        return;
    }
    if (c->method != HTTP_GET && c->method != HTTP_HEAD) {
        httpd_conn_error(c, 405, "only GET and HEAD are served\n");
        return;
    }
    http_parser_url_init(&u);
    if (http_parser_parse_url(c->url, c->url_len, 0, &u)) {
        httpd_conn_error(c, 400, "bad request target\n");
        return;
    }
    if (!(u.field_set & (1 << UF_PATH)) || u.field_data[UF_PATH].len != 1 ||
        c->url[u.field_data[UF_PATH].off] != '/') {
        httpd_conn_error(c, 404, "only / is served\n");
        return;
    }
    if ((u.field_set & (1 << UF_QUERY)) &&
        httpd_query(c->url + u.field_data[UF_QUERY].off,
                    u.field_data[UF_QUERY].len, &delay_ns, &c->size, c->msg,
                    sizeof(c->msg))) {
        httpd_conn_error(c, 400, c->msg);
        return;
    }
    httpd_conn_head(c, 200);
    if (!delay_ns) {
        httpd_conn_write(c);
        return;
    }
    /*
     * libuv timers count whole milliseconds from the loop's cached time:
     * refresh it and round up, so no response ever comes early.
     */
    ms = (delay_ns + CONC_NS_PER_MS - 1) / CONC_NS_PER_MS;
    uv_update_time(&c->srv->loop);
    uv_timer_start(&c->timer, httpd_on_timer, ms, 0);
}
#endif
