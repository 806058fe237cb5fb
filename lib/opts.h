/*
 * Options are data: each model and workload declares a table of conc_opt
 * next to the code that reads them; parsing, `--help` and `list` are all
 * generated from those tables. Values take units (1e9, 10_000, 64KiB, 250us).
 */
#ifndef CONC_OPTS_H
#define CONC_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conc_opt_type {
    CONC_OPT_COUNT,    /* 100, 1e9, 10_000, 1.5e3 (must be a whole number) */
    CONC_OPT_SIZE,     /* bytes: 512, 64KiB, 1M (=MiB), 4kB (=4000) */
    CONC_OPT_DURATION, /* ns: 250us, 100ms, 5s, 2min; a bare number is ms;
                          "never" is UINT64_MAX (refused where max bounds
                          it) */
    CONC_OPT_BOOL,     /* on/off, true/false, yes/no, 1/0 */
    CONC_OPT_CHOICE,   /* one of conc_opt.choices ("fcontext|ucontext") */
    CONC_OPT_STRING,   /* any non-empty text (a URL) */
};

struct conc_opt {
    const char *key;
    enum conc_opt_type type;
    const char *def;     /* default, parsed like user input; NULL: unset */
    const char *help;
    const char *choices; /* CONC_OPT_CHOICE only: "a|b|c" */
    uint64_t min, max;   /* numeric bounds; max 0 means no upper bound */
};

#define CONC_OPTS_MAX 16

struct conc_val {
    bool set;      /* given by the user (not a default) */
    bool present;  /* has a value: set, or a non-NULL default */
    uint64_t u;    /* count, bytes, ns, bool 0/1, choice index */
    char *s;       /* the text as given (owned) */
};

/* Parsed values for one opts table, indexed like it. */
struct conc_params {
    const struct conc_opt *opts;
    struct conc_val v[CONC_OPTS_MAX];
};

/*
 * Fills p with opts' defaults. Returns 0, or -EINVAL if a default does not
 * parse (a bug in the table, reported). Free with conc_params_fini().
 */
int conc_params_init(struct conc_params *p, const struct conc_opt *opts);
void conc_params_fini(struct conc_params *p);

/* Deep copy of src into dst (dst is initialized by this call). */
void conc_params_copy(struct conc_params *dst, const struct conc_params *src);

/* The index of key in p->opts, or -1. */
int conc_params_find(const struct conc_params *p, const char *key);

/*
 * Parses value for key and stores it. Returns 0; -ENOENT if p's table does
 * not declare key (nothing printed, so the caller can try another table);
 * -EINVAL or -ERANGE with a one-line message printed naming key and value.
 */
int conc_params_set(struct conc_params *p, const char *key, const char *value);

/*
 * Readers for declared keys. Asking for a key the table does not declare is
 * a programming error and aborts.
 */
uint64_t conc_param_u64(const struct conc_params *p, const char *key);
bool conc_param_bool(const struct conc_params *p, const char *key);
const char *conc_param_str(const struct conc_params *p, const char *key);
bool conc_param_isset(const struct conc_params *p, const char *key);
bool conc_param_present(const struct conc_params *p, const char *key);

/* Unit parsers: 0, or -EINVAL (malformed) / -ERANGE (over uint64). */
int conc_parse_count(const char *s, uint64_t *out);
int conc_parse_size(const char *s, uint64_t *out);
int conc_parse_duration(const char *s, uint64_t *out_ns);
int conc_parse_bool(const char *s, bool *out);

/* The type's name for help text: "count", "size", "duration", ... */
const char *conc_opt_type_name(enum conc_opt_type t);

/* Candidate keys of opts for conc_suggest(); returns how many (<= max). */
size_t conc_opts_keys(const struct conc_opt *opts, const char **keys,
                      size_t max);

#endif
