/*
 * python: the workload run by CPython itself, under threading, a thread
 * pool, multiprocessing, a process pool, asyncio or gevent. Each run starts
 * the interpreter on scripts/concbench_model.py, which imports, sets up,
 * times its run as the cell times a C model's and answers on a pipe; the
 * C workload's verify() checks the answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "models/limits.h"
#include "models/model.h"
#include "models/python.h"

#define PYTHON_WORKERS_MAX 1000000
/* How long the interpreter may take to say what it is. */
#define PYTHON_PROBE_NS (60 * CONC_NS_PER_S)

enum python_api {
    PYTHON_SEQUENTIAL, PYTHON_THREADING, PYTHON_THREAD_POOL, PYTHON_MULTIPROCESSING,
    PYTHON_PROCESS_POOL, PYTHON_ASYNCIO, PYTHON_GEVENT,
};

static const char *const python_apis[] = {
    "sequential", "threading", "thread-pool", "multiprocessing", "process-pool", "asyncio",
    "gevent",
};

static const struct conc_opt python_opts[] = {
    { "api", CONC_OPT_CHOICE, "threading", "a plain loop over the tasks on "
      "the main thread (the baseline of python's speedups), a "
      "threading.Thread a task, a ThreadPoolExecutor, a "
      "multiprocessing.Process a task, a ProcessPoolExecutor (both forked), "
      "asyncio tasks, or gevent greenlets", "sequential|threading|"
      "thread-pool|multiprocessing|process-pool|asyncio|gevent", 0, 0 },
    { "python", CONC_OPT_STRING, "/usr/bin/python3", "the interpreter: a "
      "path, or a name looked up in PATH", NULL, 0, 0 },
    { "workers", CONC_OPT_COUNT, NULL, "the pool's max_workers, at most one "
      "per task (api=thread-pool, process-pool; default: Python's own)",
      NULL, 1, PYTHON_WORKERS_MAX },
    { "gil", CONC_OPT_BOOL, NULL, "on a free-threaded build (3.13t), run "
      "with the GIL on or off (-X gil; default: the build's)", NULL, 0, 0 },
    { NULL },
};

/* The workloads the script implements. */
static const char *const python_workloads[] = { "primes", "sleep", "http",
                                                "counter" };

/*
 * The options scripts/concbench_model.py implements, per workload: any
 * other option given is refused by name, so an option added to a C
 * workload is never silently ignored here (http's open loop, primes'
 * burst).
 */
static const char *const python_options[][8] = {
    { "primes", "n", "segment" },
    { "sleep", "ms", "count", "jitter", "seed" },
    { "http", "url", "requests", "delay", "size", "keepalive", "timeout" },
    { "counter", "increments", "lock", "hold", "outside", "yield_inside",
      "fail_at" },
};

/* The first option given to w that the script does not implement, or NULL. */
static const char *python_unknown_option(const struct conc_workload *w,
                                         const struct conc_params *wp)
{
    for (size_t i = 0; i < sizeof(python_options) / sizeof(*python_options);
         i++) {
        if (strcmp(python_options[i][0], w->name) != 0)
            continue;
        for (const struct conc_opt *o = w->opts; o && o->key; o++) {
            bool known = false;

            for (size_t k = 1; k < 8 && python_options[i][k]; k++)
                known |= strcmp(python_options[i][k], o->key) == 0;
            /* Given, and not as its default ("rate=", not "burst=0"). */
            if (!known && conc_param_isset(wp, o->key) &&
                !(o->def && strcmp(conc_param_str(wp, o->key), o->def) == 0))
                return o->key;
        }
    }
    return NULL;
}

/* One interpreter and api, asked once per process. */
struct python_probe {
    struct python_probe *next;
    char *python;
    enum python_api api;
    char *missing;             /* what it lacks, or NULL */
    struct python_facts facts; /* when nothing is missing */
};

static struct python_probe *python_probes;

static enum python_api python_api(const struct conc_params *mp)
{
    return (enum python_api)conc_param_u64(mp, "api");
}

static bool python_pool(enum python_api api)
{
    return api == PYTHON_THREAD_POOL || api == PYTHON_PROCESS_POOL;
}

/* Runs "SCRIPT probe FD API" and keeps what it says in p. */
static void python_probe_run(struct python_probe *p, const char *script)
{
    char *argv[] = { p->python, (char *)script, "probe",
                     PYTHON_REPORT_FD_ARG, (char *)python_apis[p->api], NULL };
    struct python_child c;
    char why[512], *text = NULL, *nl;
    size_t len;
    int status, err;

    err = python_spawn(argv, &c);
    if (!err)
        err = python_collect(&c, &text, &len, &status, PYTHON_PROBE_NS);
    if (err) {
        snprintf(why, sizeof(why), "cannot ask '%s' what it is: %s",
                 p->python, err == -EINTR ? "interrupted" : strerror(-err));
        p->missing = conc_xstrdup(why);
        return;
    }
    if ((nl = strchr(text, '\n')))
        *nl = '\0';
    if (strncmp(text, "python ", 7) == 0 && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0 &&
        python_facts_parse(text + 7, &p->facts) == 0) {
        free(text);
        return;
    }
    if (strncmp(text, "missing the interpreter: ", 25) == 0) {
        p->missing = conc_sanitize_dup(text + 25);
    } else if (strncmp(text, "missing ", 8) == 0) {
        snprintf(why, sizeof(why), "'%s' lacks %s", p->python, text + 8);
        p->missing = conc_sanitize_dup(why);
    } else {
        char st[96];
        python_status_text(status, st, sizeof(st));
        snprintf(why, sizeof(why), "'%s' cannot run %s: it %s (see above)",
                 p->python, PYTHON_SCRIPT, st);
        p->missing = conc_sanitize_dup(why);
    }
    free(text);
}

/* What interpreter mp names says of itself for its api (cached). */
static const struct python_probe *python_probe(const struct conc_params *mp,
                                               const char *script)
{
    const char *python = conc_param_str(mp, "python");
    enum python_api api = python_api(mp);
    struct python_probe *p;

    for (p = python_probes; p; p = p->next)
        if (p->api == api && strcmp(p->python, python) == 0)
            return p;
    p = conc_xcalloc(1, sizeof(*p));
    p->python = conc_xstrdup(python);
    p->api = api;
    python_probe_run(p, script);
    if (conc_interrupted && p->missing) {
        /* Not a fact about the interpreter: ask again next time. */
        free(p->missing);
        free(p->python);
        free(p);
        return NULL;
    }
    p->next = python_probes;
    python_probes = p;
    return p;
}

static int python_check(const struct conc_params *mp, unsigned tasks)
{
    enum python_api api = python_api(mp);

    if (api == PYTHON_THREADING)
        return conc_limits_check_tasks(tasks, "threads");
    if (api == PYTHON_MULTIPROCESSING)
        return conc_limits_check_tasks(tasks, "processes");
    if (python_pool(api) && conc_param_present(mp, "workers"))
        return conc_limits_check_tasks(conc_model_workers(mp, tasks),
                                       api == PYTHON_THREAD_POOL
                                           ? "threads" : "processes");
    return 0;
}

static int python_supports(const struct conc_params *mp,
                           const struct conc_workload *w,
                           const struct conc_params *wp, const char **missing)
{
    static char why[4200];
    enum python_api api = python_api(mp);
    const struct python_probe *p;
    char script[4096];
    const char *opt;
    bool known = false;

    for (size_t i = 0; i < sizeof(python_workloads) / sizeof(char *); i++)
        known |= strcmp(w->name, python_workloads[i]) == 0;
    if (!known)
        return conc_error_msg(-ENOTSUP, "the python model runs primes, "
                              "sleep, http and counter; its script does not "
                              "implement workload '%s'", w->name);
    if ((opt = python_unknown_option(w, wp)) != NULL)
        return conc_error_msg(-ENOTSUP, "the python model does not "
                              "implement %s's option '%s'", w->name, opt);
    if (strcmp(w->name, "counter") == 0 &&
        strcmp(conc_param_str(wp, "lock"), "mutex") != 0 &&
        strcmp(conc_param_str(wp, "lock"), "none") != 0)
        return conc_error_msg(-ENOTSUP, "the python model runs counter with "
                              "lock=mutex (threading.Lock, multiprocessing."
                              "Value's lock, asyncio.Lock, gevent.lock."
                              "Semaphore) or lock=none; Python has no "
                              "lock=%s", conc_param_str(wp, "lock"));
    if (conc_param_present(mp, "workers") && !python_pool(api))
        return conc_error_msg(-EINVAL, "option 'workers' sizes the pool of "
                              "api=thread-pool or api=process-pool; "
                              "api=%s starts one worker a task",
                              python_apis[api]);
    if (python_script_find(script, sizeof(script))) {
        snprintf(why, sizeof(why), "%s", script);
        *missing = why;
        return -ENOENT;
    }
    p = python_probe(mp, script);
    if (!p)
        return -EINTR;
    if (p->missing) {
        *missing = p->missing;
        return -ENOENT;
    }
    if (conc_param_present(mp, "gil") && !conc_param_bool(mp, "gil") &&
        !p->facts.free_threaded)
        return conc_error_msg(-EINVAL, "gil=off needs a free-threaded "
                              "CPython (3.13t or newer); '%s' is %.*s with "
                              "a GIL", p->python,
                              (int)strcspn(p->facts.version, " "),
                              p->facts.version);
    return 0;
}

/* The interpreter's command line for r, in argv (strings in buf). */
static int python_argv(const struct conc_run *r, const struct python_probe *p,
                       const char *script, char **argv, char *buf,
                       size_t len)
{
    enum python_api api = python_api(r->mp);
    unsigned workers = 0;
    int argc = 0;

    argv[argc++] = p->python;
    if (conc_param_present(r->mp, "gil") && p->facts.free_threaded) {
        argv[argc++] = "-X";
        argv[argc++] = conc_param_bool(r->mp, "gil") ? "gil=1" : "gil=0";
    }
    argv[argc++] = (char *)script;
    argv[argc++] = "run";
    argv[argc++] = PYTHON_REPORT_FD_ARG;
    argv[argc++] = (char *)python_apis[api];
    argv[argc] = NULL;
    if (python_pool(api) && conc_param_present(r->mp, "workers"))
        workers = conc_model_workers(r->mp, r->tasks);
    return python_run_args(r, workers, argv, &argc, buf, len);
}

static int python_run(struct conc_run *r)
{
    const struct python_probe *p;
    char script[4096], buf[8192], *argv[PYTHON_ARGV_MAX], *text = NULL;
    char st[96];
    struct python_child c;
    size_t len;
    int status, err;

    if (conc_interrupted)
        return -EINTR;
    if (python_script_find(script, sizeof(script)))
        return conc_error_msg(-ENOENT, "%s", script);
    p = python_probe(r->mp, script);
    if (!p)
        return -EINTR;
    if (p->missing)
        return conc_error_msg(-ENOENT, "model 'python' is unavailable here: "
                              "%s", p->missing);
    if ((err = python_argv(r, p, script, argv, buf, sizeof(buf))) ||
        (err = python_spawn(argv, &c)) ||
        (err = python_collect(&c, &text, &len, &status, 0)))
        return err;
    if (conc_interrupted) {
        free(text);
        return -EINTR;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(text);
        python_status_text(status, st, sizeof(st));
        return conc_error_msg(-ECHILD, "the python interpreter %s (see "
                              "above)", st);
    }
    err = python_report_parse(r, text);
    free(text);
    return err;
}

const struct conc_model conc_model_python = {
    .name = "python",
    .summary = "the workload in CPython itself: threading, a thread pool, "
               "multiprocessing, a process pool, asyncio or gevent",
    .like = "CPython itself",
    .opts = python_opts,
    .check = python_check,
    .supports = python_supports,
    .run = python_run,
};
