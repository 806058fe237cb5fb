/*
 * concbench serve: the CLI of the built-in HTTP server (workloads/httpd.h):
 * flags and -o options in, the ready line out, SIGINT or SIGTERM to stop.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/flags.h"
#include "lib/err.h"
#include "lib/opts.h"
#include "models/model.h"
#include "workloads/httpd.h"

static const struct conc_opt serve_opts[] = {
    { "delay", CONC_OPT_DURATION, "50ms", "wait before answering each "
      "request (1 ms resolution)", NULL, 0, CONC_HTTPD_DELAY_MAX },
    { "size", CONC_OPT_SIZE, "1KiB", "body bytes of each response", NULL, 0,
      CONC_HTTPD_SIZE_MAX },
    { "keepalive", CONC_OPT_BOOL, "on", "keep a connection open when the "
      "client asks (off: close after every response)", NULL, 0, 0 },
    { "header_timeout", CONC_OPT_DURATION, "10s", "a request must arrive "
      "whole within this of its first byte, or get 408 and a close (0: no "
      "limit)", NULL, 0, CONC_HTTPD_DELAY_MAX },
    { "idle_timeout", CONC_OPT_DURATION, "60s", "close a connection with no "
      "request under way after this (0: never)", NULL, 0,
      CONC_HTTPD_DELAY_MAX },
    { "max_body", CONC_OPT_SIZE, "1MiB", "the largest request body read; a "
      "larger one gets 413 and a close", NULL, 0, CONC_HTTPD_SIZE_MAX },
    { "max_conns", CONC_OPT_COUNT, "0", "the most connections kept open; "
      "new ones beyond it are closed at once (0: as many as 'ulimit -n' "
      "leaves, less 16)", NULL, 0, 0 },
    { NULL },
};

/* The server a signal stops, while it runs; NULL before and after. */
static struct conc_httpd *volatile serve_running;

/* The usage after the flags: what it does, then the -o options. */
static void serve_more_help(FILE *f)
{
    char ready[96];

    conc_httpd_ready_format(ready, sizeof(ready), "ADDR", "PORT");
    fprintf(f, "Prints '%s' once it accepts. GET / answers\n"
            "with `size` bytes after `delay`; '/?delay=20ms&size=4KiB' "
            "overrides\nboth for one request. Other paths get 404, other "
            "methods 405, a bad\nrequest 400. SIGINT or SIGTERM stops it "
            "(exit 0).\n\noptions:\n", ready);
    for (size_t i = 0; serve_opts[i].key; i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "%s=<%s>", serve_opts[i].key,
                 conc_opt_type_name(serve_opts[i].type));
        fprintf(f, "    -o %-22s %s (default %s)\n", spec, serve_opts[i].help,
                serve_opts[i].def);
    }
}

/* Sets one "key=value" -o option. 0, or CONC_EXIT_USAGE with a message. */
static int serve_set(struct conc_params *p, const char *o)
{
    const char *eq = strchr(o, '='), *keys[CONC_OPTS_MAX], *hint;
    char key[64];
    int err;

    if (!eq || eq == o || (size_t)(eq - o) >= sizeof(key))
        return conc_usage_error("bad option '%s': expected key=value", o);
    memcpy(key, o, (size_t)(eq - o));
    key[eq - o] = '\0';
    err = conc_params_set(p, key, eq + 1);
    if (err == -ENOENT) {
        hint = conc_suggest(key, keys,
                            conc_opts_keys(serve_opts, keys, CONC_OPTS_MAX));
        if (hint)
            return conc_usage_error("unknown option '%s' for serve; did you "
                                    "mean '%s'?", key, hint);
        return conc_usage_error("unknown option '%s' for serve (see "
                                "'concbench serve --help')", key);
    }
    return err ? CONC_EXIT_USAGE : 0;
}

static void serve_on_signal(int sig)
{
    struct conc_httpd *srv = serve_running;

    (void)sig;
    if (srv)
        conc_httpd_stop(srv);
}

/*
 * Listens on a, prints the ready line and serves until SIGINT or SIGTERM.
 * A second signal is not caught: it ends the process if stopping hangs.
 */
static int serve_run(const struct conc_httpd_addr *a,
                     const struct conc_params *p)
{
    struct conc_httpd_config cfg = {
        .delay_ns = conc_param_u64(p, "delay"),
        .size = conc_param_u64(p, "size"),
        .keepalive = conc_param_bool(p, "keepalive"),
        .header_timeout_ns = conc_param_u64(p, "header_timeout"),
        .idle_timeout_ns = conc_param_u64(p, "idle_timeout"),
        .max_body = conc_param_u64(p, "max_body"),
        .max_conns = conc_param_u64(p, "max_conns"),
    };
    struct conc_httpd *srv;
    struct sigaction sa;
    int rc = CONC_EXIT_OK;

    if (conc_httpd_start(&srv, a, &cfg))
        return CONC_EXIT_FAILED;
    /* Said only once the address is really ours: a bind that failed
       listens nowhere. */
    if (!a->loopback)
        conc_warn("listening on '%s', which is not loopback: other hosts "
                  "can reach this server", a->shown);
    serve_running = srv;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = serve_on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A signal that came before our handlers were in place. */
    if (conc_interrupted) {
        conc_interrupted = 0;
        conc_httpd_stop(srv);
    }
    /* The line a parent (the http workload, a script) waits for. */
    if (conc_httpd_ready_write(stdout, a->shown, conc_httpd_port(srv))) {
        conc_error(-errno, "cannot write the listening line");
        conc_httpd_stop(srv);
        rc = CONC_EXIT_FAILED;
    }
    conc_httpd_run(srv);
    serve_running = NULL;
    conc_httpd_free(srv);
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    const char *bind = "127.0.0.1";
    unsigned long long port = 0;
    struct conc_flag_list opts;
    const struct conc_flag flags[] = {
        { CONC_FLAG_STRING, 0, "bind", &bind, "ADDR",
          "the IP address to listen on (default 127.0.0.1); another "
          "address of this host only when named here, never a wildcard "
          "such as 0.0.0.0 or ::", 0, 0 },
        { CONC_FLAG_COUNT, 'p', "port", &port, "N",
          "the TCP port (default 0: a free one, printed)", 0, 65535 },
        { CONC_FLAG_LIST, 'o', NULL, &opts, "key=value",
          "an option below (repeatable)", 0, 0 },
        { CONC_FLAG_END },
    };
    const struct conc_command cmd = {
        .name = "serve",
        .synopsis = "serve [--bind ADDR] [--port N] [-o key=value]...",
        .flags = flags, .more_help = serve_more_help,
    };
    struct conc_operands ops;
    struct conc_httpd_addr a;
    struct conc_params p;
    int rc, err;

    if (conc_params_init(&p, serve_opts))
        return CONC_EXIT_FAILED;
    rc = conc_flags_parse(&cmd, argc, argv, &ops);
    if (rc != CONC_FLAGS_OK) {
        rc = rc == CONC_FLAGS_HELP ? CONC_EXIT_OK : rc;
        goto out;
    }
    for (size_t i = 0; i < opts.n; i++)
        if ((rc = serve_set(&p, opts.v[i])))
            goto out;
    /* Before --bind is looked at: scripts probe a build with a bad one. */
    if (conc_httpd_unavailable) {
        conc_error_msg(0, "serve is unavailable in this build: %s",
                       conc_httpd_unavailable);
        rc = CONC_EXIT_UNAVAILABLE;
        goto out;
    }
    err = conc_httpd_addr_parse(bind, (unsigned)port, &a);
    if (err == -EADDRNOTAVAIL) {
        rc = conc_usage_error("refusing to listen on every interface "
                              "('%s'): name one address with '--bind'", bind);
        goto out;
    }
    if (err) {
        rc = conc_usage_error("bad value '%s' for '--bind': expected an IP "
                              "address such as 127.0.0.1 or ::1", bind);
        goto out;
    }
    rc = serve_run(&a, &p);
out:
    conc_flags_fini(&ops);
    conc_params_fini(&p);
    return rc;
}
