/*
 * The http workload's URLs: an http:// URL split into what a fetch needs,
 * by http-parser's URL parser, with a one-line refusal of anything else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/err.h"
#include "workloads/http.h"

#ifdef CONC_HAVE_HTTP_PARSER
int http_url_parse(const char *url, struct http_url *u)
{
    struct http_parser_url pu;
    size_t len = strlen(url);
    const char *p;
    size_t n;

    memset(u, 0, sizeof(*u));
    /* A URL is printable ASCII (RFC 3986): a space, CR or LF would end the
       request line or forge a header. The message shows it escaped. */
    for (p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return conc_error_msg(-EINVAL, "bad url '%s': byte 0x%02x at "
                                  "%zu is not allowed in a URL (encode it "
                                  "as %%%02X)", url, (unsigned char)*p,
                                  (size_t)(p - url), (unsigned char)*p);
    if (strncasecmp(url, "https://", 8) == 0)
        return conc_error_msg(-EINVAL, "bad url '%s': https is not supported, "
                              "only http://", url);
    if (!strstr(url, "://"))
        return conc_error_msg(-EINVAL, "bad url '%s': expected "
                              "http://host[:port][/path]", url);
    if (strncasecmp(url, "http://", 7) != 0)
        return conc_error_msg(-EINVAL, "bad url '%s': only http:// is "
                              "supported", url);
    if (len == 7 || url[7] == '/' || url[7] == ':' || url[7] == '?')
        return conc_error_msg(-EINVAL, "bad url '%s': no host", url);
    http_parser_url_init(&pu);
    if (http_parser_parse_url(url, len, 0, &pu))
        return conc_error_msg(-EINVAL, "bad url '%s': expected "
                              "http://host[:port][/path] with a port from 1 "
                              "to 65535", url);
    if (pu.field_set & (1 << UF_USERINFO))
        return conc_error_msg(-EINVAL, "bad url '%s': credentials are not "
                              "supported", url);
    if (!(pu.field_set & (1 << UF_HOST)) || !pu.field_data[UF_HOST].len ||
        pu.field_data[UF_HOST].len >= sizeof(u->host))
        return conc_error_msg(-EINVAL, "bad url '%s': no host", url);
    if ((pu.field_set & (1 << UF_PORT)) && pu.port == 0)
        return conc_error_msg(-EINVAL, "bad url '%s': port 0", url);
    memcpy(u->host, url + pu.field_data[UF_HOST].off,
           pu.field_data[UF_HOST].len);
    snprintf(u->port, sizeof(u->port), "%u",
             (pu.field_set & (1 << UF_PORT)) ? pu.port : 80u);
    snprintf(u->hostport, sizeof(u->hostport), "%s%s%s%s%s",
             strchr(u->host, ':') ? "[" : "", u->host,
             strchr(u->host, ':') ? "]" : "",
             (pu.field_set & (1 << UF_PORT)) ? ":" : "",
             (pu.field_set & (1 << UF_PORT)) ? u->port : "");
    /* The request target: the path (or "/") and the query, no fragment. */
    p = (pu.field_set & (1 << UF_PATH)) ? url + pu.field_data[UF_PATH].off
                                        : "/";
    n = (pu.field_set & (1 << UF_PATH)) ? pu.field_data[UF_PATH].len : 1;
    if (pu.field_set & (1 << UF_QUERY))
        n = (size_t)(url + pu.field_data[UF_QUERY].off +
                     pu.field_data[UF_QUERY].len - p);
    u->target = conc_xmalloc(n + 1);
    memcpy(u->target, p, n);
    u->target[n] = '\0';
    return 0;
}
#endif
