/*
 * The one flag parser and usage generator of every subcommand; see flags.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/exit.h"
#include "cmd/flags.h"
#include "lib/err.h"
#include "lib/opts.h"

/* Column where a flag's help starts, and the width it wraps at. */
#define FLAGS_HELP_COL 29
#define FLAGS_WIDTH 80

int conc_flags_error(const struct conc_command *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return conc_usage_error("%s (see 'concbench %s --help')", msg, c->name);
}

int conc_flags_count(const char *flag, const char *value,
                     unsigned long long min, unsigned long long max,
                     unsigned long long *out)
{
    uint64_t v;
    int err = conc_parse_count(value, &v);

    if (err == -ERANGE || (!err && (v < min || v > max)))
        return conc_usage_error("value '%s' for '%s' is out of range (%llu "
                                "to %llu)", value, flag, min, max);
    if (err)
        return conc_usage_error("bad value '%s' for '%s': expected a count "
                                "such as 8 or 1e3", value, flag);
    *out = v;
    return 0;
}

/* "--model", or "-o" for a flag with no long name, into buf. */
static const char *flags_name(const struct conc_flag *f, char *buf,
                              size_t len)
{
    if (f->long_name)
        snprintf(buf, len, "--%s", f->long_name);
    else
        snprintf(buf, len, "-%c", f->short_name);
    return buf;
}

/* The flag an argument names, or NULL; *inline_value for "=v" or "-xv". */
static const struct conc_flag *flags_find(const struct conc_command *c,
                                          const char *arg,
                                          const char **inline_value)
{
    *inline_value = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        for (const struct conc_flag *f = c->flags; f->kind; f++)
            if (f->long_name && strlen(f->long_name) == len &&
                strncmp(f->long_name, name, len) == 0) {
                *inline_value = eq ? eq + 1 : NULL;
                return f;
            }
        return NULL;
    }
    for (const struct conc_flag *f = c->flags; f->kind; f++)
        if (f->short_name && f->short_name == arg[1]) {
            /* "-t8", "-okey=value": a value joined to a short flag. */
            *inline_value = arg[2] ? arg + 2 : NULL;
            if (f->kind == CONC_FLAG_SWITCH && arg[2])
                return NULL;
            return f;
        }
    return NULL;
}

/* The refusal of an unknown flag, with the closest one when it is close. */
static int flags_unknown(const struct conc_command *c, const char *arg)
{
    char names[32][40], word[64];
    const char *cands[32];
    const char *hint;
    size_t n = 0;

    for (const struct conc_flag *f = c->flags; f->kind && n < 32; f++)
        if (f->long_name) {
            snprintf(names[n], sizeof(names[n]), "--%s", f->long_name);
            cands[n] = names[n];
            n++;
        }
    snprintf(word, sizeof(word), "%.*s", (int)strcspn(arg, "="), arg);
    hint = strncmp(word, "--", 2) == 0 ? conc_suggest(word, cands, n) : NULL;
    if (hint)
        return conc_usage_error("unknown option '%s'; did you mean '%s'?",
                                word, hint);
    return conc_flags_error(c, "unknown option '%s'", word);
}

void conc_flags_fini(struct conc_operands *ops)
{
    for (size_t i = 0; i < ops->nlists; i++) {
        free(ops->lists[i]->v);
        ops->lists[i]->v = NULL;
        ops->lists[i]->n = 0;
    }
    free(ops->v);
    memset(ops, 0, sizeof(*ops));
}

int conc_flags_parse(const struct conc_command *c, int argc, char **argv,
                     struct conc_operands *ops)
{
    size_t nflags = 0;
    bool dashdash = false, *seen;
    int rc = CONC_FLAGS_OK;

    memset(ops, 0, sizeof(*ops));
    ops->v = conc_xcalloc((size_t)argc + 1, sizeof(*ops->v));
    while (c->flags[nflags].kind)
        nflags++;
    seen = conc_xcalloc(nflags + 1, sizeof(*seen));
    for (size_t k = 0; k < nflags; k++)
        if (c->flags[k].kind == CONC_FLAG_LIST &&
            ops->nlists < sizeof(ops->lists) / sizeof(ops->lists[0])) {
            struct conc_flag_list *l = c->flags[k].value;
            l->v = conc_xcalloc((size_t)argc + 1, sizeof(*l->v));
            l->n = 0;
            ops->lists[ops->nlists++] = l;
        }

    for (int i = 1; i < argc && rc == CONC_FLAGS_OK; i++) {
        const char *arg = argv[i], *value;
        const struct conc_flag *f;
        char name[48];

        if (dashdash || arg[0] != '-' || arg[1] == '\0') {
            if (ops->n >= c->max_operands) {
                rc = c->operands
                         ? conc_flags_error(c, "unexpected argument '%s': "
                                            "%s takes %s", arg, c->name,
                                            c->operands)
                         : conc_flags_error(c, "unexpected argument '%s'",
                                            arg);
                break;
            }
            ops->v[ops->n++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            dashdash = true;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            conc_flags_usage(c, stdout);
            rc = CONC_FLAGS_HELP;
            break;
        }
        if (!(f = flags_find(c, arg, &value))) {
            rc = flags_unknown(c, arg);
            break;
        }
        flags_name(f, name, sizeof(name));
        if (f->kind == CONC_FLAG_SWITCH) {
            if (value) {
                rc = conc_flags_error(c, "option '%s' takes no value", name);
            } else if (seen[f - c->flags]) {
                rc = conc_flags_error(c, "option '%s' given twice", name);
            } else {
                seen[f - c->flags] = true;
                *(bool *)f->value = true;
            }
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) {
                rc = conc_flags_error(c, "option '%s' needs a value", name);
                break;
            }
            value = argv[++i];
        }
        if (f->kind != CONC_FLAG_LIST && seen[f - c->flags]) {
            rc = conc_flags_error(c, "option '%s' given twice", name);
            break;
        }
        seen[f - c->flags] = true;
        switch (f->kind) {
        case CONC_FLAG_STRING:
            if (!*value)
                rc = conc_usage_error("empty value for '%s'", name);
            else
                *(const char **)f->value = value;
            break;
        case CONC_FLAG_COUNT:
            rc = conc_flags_count(name, value, f->min, f->max, f->value);
            break;
        case CONC_FLAG_LIST: {
            struct conc_flag_list *l = f->value;
            l->v[l->n++] = value;
            break;
        }
        default:
            break;
        }
    }
    if (rc == CONC_FLAGS_OK && ops->n < c->min_operands)
        rc = conc_flags_error(c, "%s needs %s", c->name, c->operands);
    free(seen);
    return rc;
}

/* Prints text from column col to FLAGS_WIDTH, wrapped at spaces. */
static void flags_wrap(FILE *out, const char *text, int col, int at)
{
    while (*text) {
        int room = FLAGS_WIDTH - col, len = (int)strlen(text), cut = len;
        if (at < col) {
            fprintf(out, "%*s", col - at, "");
        }
        if (len > room) {
            cut = room;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = (int)strcspn(text, " ");
        }
        fprintf(out, "%.*s\n", cut, text);
        text += cut;
        while (*text == ' ')
            text++;
        at = 0;
    }
}

void conc_flags_usage(const struct conc_command *c, FILE *out)
{
    fprintf(out, "usage: concbench %s\n\n", c->synopsis);
    for (const struct conc_flag *f = c->flags; f->kind; f++) {
        char left[64];
        int n;

        if (f->short_name && f->long_name)
            n = snprintf(left, sizeof(left), "-%c, --%s", f->short_name,
                         f->long_name);
        else if (f->long_name)
            n = snprintf(left, sizeof(left), "    --%s", f->long_name);
        else
            n = snprintf(left, sizeof(left), "-%c", f->short_name);
        if (f->argh && n > 0 && (size_t)n < sizeof(left))
            snprintf(left + n, sizeof(left) - (size_t)n, " %s", f->argh);
        n = fprintf(out, "    %s", left);
        if (n >= FLAGS_HELP_COL - 1) {
            fputc('\n', out);
            n = 0;
        }
        flags_wrap(out, f->help, FLAGS_HELP_COL, n);
    }
    if (c->epilogue)
        fprintf(out, "\n%s", c->epilogue);
    if (c->more_help) {
        fputc('\n', out);
        c->more_help(out);
    }
}
