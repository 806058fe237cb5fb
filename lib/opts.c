/*
 * Option tables and unit parsing: "1e9", "10_000", "64KiB", "250us", "on".
 * Every message names the option and the value, in git's style.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/opts.h"

/*
 * Parses the number at the start of s ("1e9", "10_000", "1.5"), leaving
 * *end on the first character after it. Underscores are allowed only
 * between digits. Returns 0, -EINVAL or -ERANGE.
 */
static int opts_parse_number(const char *s, long double *out, const char **end)
{
    char buf[64];
    size_t n = 0;
    const char *p = s;
    char *stop;

    if (!(*p >= '0' && *p <= '9') && *p != '.')
        return -EINVAL;
    while ((*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
           ((*p == 'e' || *p == 'E') && p > s && p[1] >= '0' && p[1] <= '9') ||
           ((*p == '+') && p > s && (p[-1] == 'e' || p[-1] == 'E'))) {
        if (*p == '_') {
            if (p == s || !(p[-1] >= '0' && p[-1] <= '9') ||
                !(p[1] >= '0' && p[1] <= '9'))
                return -EINVAL;
            p++;
            continue;
        }
        if (n + 1 >= sizeof(buf))
            return -ERANGE;
        buf[n++] = *p++;
    }
    buf[n] = '\0';
    errno = 0;
    *out = strtold(buf, &stop);
    if (stop != buf + n || n == 0)
        return -EINVAL;
    if (errno == ERANGE || !isfinite(*out))
        return -ERANGE;
    *end = p;
    return 0;
}

/* v * scale as a whole uint64: -ERANGE above 2^64-1, -EINVAL if fractional. */
static int opts_to_u64(long double v, long double scale, uint64_t *out)
{
    long double x = v * scale;

    if (x >= 18446744073709551616.0L)
        return -ERANGE;
    if (x != floorl(x))
        return -EINVAL;
    *out = (uint64_t)x;
    return 0;
}

int conc_parse_count(const char *s, uint64_t *out)
{
    long double v;
    const char *end;
    int err = opts_parse_number(s, &v, &end);

    if (err)
        return err;
    if (*end)
        return -EINVAL;
    return opts_to_u64(v, 1, out);
}

int conc_parse_size(const char *s, uint64_t *out)
{
    static const struct { const char *unit; long double scale; } units[] = {
        { "", 1 },         { "B", 1 },
        { "k", 1024 },     { "K", 1024 },     { "KiB", 1024 },
        { "kB", 1e3 },     { "KB", 1e3 },
        { "M", 1 << 20 },  { "MiB", 1 << 20 }, { "MB", 1e6 },
        { "G", 1 << 30 },  { "GiB", 1 << 30 }, { "GB", 1e9 },
        { "T", 1099511627776.0L }, { "TiB", 1099511627776.0L },
        { "TB", 1e12 },
    };
    long double v;
    const char *end;
    int err = opts_parse_number(s, &v, &end);

    if (err)
        return err;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0)
            return opts_to_u64(v, units[i].scale, out);
    return -EINVAL;
}

int conc_parse_duration(const char *s, uint64_t *out_ns)
{
    static const struct { const char *unit; long double ns; } units[] = {
        { "ns", 1 },     { "us", 1e3 },  { "\xc2\xb5s", 1e3 },
        { "ms", 1e6 },   { "", 1e6 },    { "s", 1e9 },
        { "m", 60e9 },   { "min", 60e9 }, { "h", 3600e9 },
    };
    long double v;
    const char *end;
    int err;

    /* "never": no end at all (an option whose max bounds it refuses it). */
    if (strcmp(s, "never") == 0) {
        *out_ns = UINT64_MAX;
        return 0;
    }
    err = opts_parse_number(s, &v, &end);
    if (err)
        return err;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            /* Sub-nanosecond fractions round: 1.5us is 1500 ns exactly. */
            long double x = roundl(v * units[i].ns);
            return opts_to_u64(x, 1, out_ns);
        }
    }
    return -EINVAL;
}

int conc_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "on", "true", "yes", "1" };
    static const char *const no[] = { "off", "false", "no", "0" };

    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return -EINVAL;
}

const char *conc_opt_type_name(enum conc_opt_type t)
{
    switch (t) {
    case CONC_OPT_COUNT: return "count";
    case CONC_OPT_SIZE: return "size";
    case CONC_OPT_DURATION: return "duration";
    case CONC_OPT_BOOL: return "bool";
    case CONC_OPT_CHOICE: return "choice";
    case CONC_OPT_STRING: return "string";
    }
    return "?";
}

static const char *opts_example(enum conc_opt_type t)
{
    switch (t) {
    case CONC_OPT_COUNT: return "a count such as 100, 1e9 or 10_000";
    case CONC_OPT_SIZE: return "a size such as 4096, 64KiB or 1M";
    case CONC_OPT_DURATION: return "a duration such as 250us, 100ms or 5s";
    case CONC_OPT_BOOL: return "on or off";
    default: return "a value";
    }
}

/* The index of s in "a|b|c", or -1. */
static int opts_choice_index(const char *choices, const char *s)
{
    size_t len = strlen(s);
    int i = 0;

    for (const char *p = choices; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncmp(p, s, n) == 0)
            return i;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

/* Parses s for o into *out; *out is untouched when s is rejected. */
static int opts_parse(const struct conc_opt *o, const char *s,
                      struct conc_val *out)
{
    struct conc_val tmp = { 0 }, *v = &tmp;
    int err = 0;
    bool b = false;

    if (!*s)
        return conc_error_msg(-EINVAL, "empty value for option '%s'", o->key);
    switch (o->type) {
    case CONC_OPT_COUNT: err = conc_parse_count(s, &v->u); break;
    case CONC_OPT_SIZE: err = conc_parse_size(s, &v->u); break;
    case CONC_OPT_DURATION: err = conc_parse_duration(s, &v->u); break;
    case CONC_OPT_BOOL:
        err = conc_parse_bool(s, &b);
        v->u = b;
        break;
    case CONC_OPT_CHOICE: {
        int i = opts_choice_index(o->choices, s);
        if (i < 0)
            return conc_error_msg(-EINVAL,
                                  "bad value '%s' for option '%s': expected "
                                  "one of %s", s, o->key, o->choices);
        v->u = (uint64_t)i;
        break;
    }
    case CONC_OPT_STRING: break;
    }
    if (err == -ERANGE || (err == 0 && o->type <= CONC_OPT_DURATION &&
                           ((o->max && v->u > o->max) || v->u < o->min))) {
        if (o->max)
            return conc_error_msg(-ERANGE,
                                  "value '%s' for option '%s' is out of range "
                                  "(%llu to %llu)", s, o->key,
                                  (unsigned long long)o->min,
                                  (unsigned long long)o->max);
        return conc_error_msg(-ERANGE,
                              "value '%s' for option '%s' is out of range "
                              "(at least %llu, at most 2^64-1)",
                              s, o->key, (unsigned long long)o->min);
    }
    if (err)
        return conc_error_msg(err, "bad value '%s' for option '%s': expected %s",
                              s, o->key, opts_example(o->type));
    free(out->s);
    out->u = v->u;
    out->s = conc_xstrdup(s);
    out->present = true;
    return 0;
}

int conc_params_init(struct conc_params *p, const struct conc_opt *opts)
{
    memset(p, 0, sizeof(*p));
    p->opts = opts;
    for (int i = 0; opts && opts[i].key; i++) {
        if (i >= CONC_OPTS_MAX)
            abort(); /* a table longer than CONC_OPTS_MAX is a bug */
        if (opts[i].def && opts_parse(&opts[i], opts[i].def, &p->v[i]))
            return -EINVAL;
    }
    return 0;
}

void conc_params_fini(struct conc_params *p)
{
    for (int i = 0; i < CONC_OPTS_MAX; i++)
        free(p->v[i].s);
    memset(p, 0, sizeof(*p));
}

void conc_params_copy(struct conc_params *dst, const struct conc_params *src)
{
    *dst = *src;
    for (int i = 0; i < CONC_OPTS_MAX; i++)
        if (src->v[i].s)
            dst->v[i].s = conc_xstrdup(src->v[i].s);
}

int conc_params_find(const struct conc_params *p, const char *key)
{
    for (int i = 0; p->opts && p->opts[i].key; i++)
        if (strcmp(p->opts[i].key, key) == 0)
            return i;
    return -1;
}

int conc_params_set(struct conc_params *p, const char *key, const char *value)
{
    int i = conc_params_find(p, key);

    if (i < 0)
        return -ENOENT;
    int err = opts_parse(&p->opts[i], value, &p->v[i]);
    if (!err)
        p->v[i].set = true;
    return err;
}

static const struct conc_val *opts_val(const struct conc_params *p,
                                       const char *key)
{
    int i = conc_params_find(p, key);

    if (i < 0)
        abort(); /* reading an undeclared option is a bug */
    return &p->v[i];
}

uint64_t conc_param_u64(const struct conc_params *p, const char *key)
{
    return opts_val(p, key)->u;
}

bool conc_param_bool(const struct conc_params *p, const char *key)
{
    return opts_val(p, key)->u != 0;
}

const char *conc_param_str(const struct conc_params *p, const char *key)
{
    return opts_val(p, key)->s;
}

bool conc_param_isset(const struct conc_params *p, const char *key)
{
    return opts_val(p, key)->set;
}

bool conc_param_present(const struct conc_params *p, const char *key)
{
    return opts_val(p, key)->present;
}

size_t conc_opts_keys(const struct conc_opt *opts, const char **keys,
                      size_t max)
{
    size_t n = 0;

    for (; opts && opts[n].key && n < max; n++)
        keys[n] = opts[n].key;
    return n;
}
