/*
 * Flags are data, as the -o options are: each subcommand declares a table
 * of struct conc_flag and one struct conc_command, and this one parser (in
 * the shape of git's parse-options) reads argv, writes every value and
 * generates the usage text, so `concbench SUB --help` and every refusal of
 * a bad, missing or repeated flag look the same in every subcommand.
 */
#ifndef CONC_FLAGS_H
#define CONC_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum conc_flag_kind {
    CONC_FLAG_END,    /* ends a table */
    CONC_FLAG_STRING, /* const char **: the value as given, never empty */
    CONC_FLAG_COUNT,  /* unsigned long long *: a count in [min, max]; the
                         variable holds the default beforehand */
    CONC_FLAG_SWITCH, /* bool *: takes no value */
    CONC_FLAG_LIST,   /* struct conc_flag_list *: repeatable (-o key=value) */
};

/* Every value of a repeatable flag, in the order given. */
struct conc_flag_list {
    const char **v; /* owned by the parse (conc_flags_fini) */
    size_t n;
};

struct conc_flag {
    enum conc_flag_kind kind;
    char short_name;       /* 'm' for -m, or 0 */
    const char *long_name; /* "model" for --model, or NULL (short only) */
    void *value;           /* where the value goes, by kind */
    const char *argh;      /* the value's name in the usage: "M", "FILE" */
    const char *help;      /* one sentence for the usage */
    unsigned long long min, max; /* CONC_FLAG_COUNT bounds */
};

struct conc_command {
    const char *name;     /* "compare"; names the hint 'concbench compare
                             --help' */
    const char *synopsis; /* after "usage: concbench NAME ": operands and
                             "[<options>]"; may hold newlines */
    const struct conc_flag *flags;
    const char *operands; /* what the operands are, for "needs ..." ("two
                             reports, BASE and NEW"); NULL: none taken */
    unsigned min_operands, max_operands;
    const char *epilogue; /* text after the flags, or NULL */
    void (*more_help)(FILE *f); /* prints more after it (run: the models
                                   and workloads), or NULL */
};

/* The operands (arguments that are not flags), in order. */
struct conc_operands {
    const char **v; /* point into argv; the array is owned by the parse */
    size_t n;
    struct conc_flag_list *lists[8]; /* the lists to free */
    size_t nlists;
};

enum {
    CONC_FLAGS_OK = 0,    /* parsed: go on */
    CONC_FLAGS_HELP = -1, /* --help printed the usage on stdout: exit 0 */
};

/*
 * Parses argv[1..argc) against c's flags: "--name value", "--name=value",
 * "-x value", "-xvalue"; "--" ends the flags; "-" is an operand. Returns
 * CONC_FLAGS_OK with every given value written and the operands in ops;
 * CONC_FLAGS_HELP after printing the usage on stdout; or CONC_EXIT_USAGE
 * after printing one line that names the flag and ends with the hint
 * "(see 'concbench NAME --help')": an unknown flag (with "did you mean"
 * instead when one is close), a missing value, a flag given twice, a
 * count out of range, too few or too many operands. Free ops with
 * conc_flags_fini() whatever it returned.
 */
int conc_flags_parse(const struct conc_command *c, int argc, char **argv,
                     struct conc_operands *ops);
void conc_flags_fini(struct conc_operands *ops);

/* Prints c's usage, generated from its table. */
void conc_flags_usage(const struct conc_command *c, FILE *f);

/*
 * A usage error about c in the common form: "concbench: <fmt> (see
 * 'concbench NAME --help')". Returns CONC_EXIT_USAGE.
 */
int conc_flags_error(const struct conc_command *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A count argument within [min, max] (for a flag or a list item the
 * command parses itself): 0, or CONC_EXIT_USAGE with a message naming
 * flag.
 */
int conc_flags_count(const char *flag, const char *value,
                     unsigned long long min, unsigned long long max,
                     unsigned long long *out);

#endif
