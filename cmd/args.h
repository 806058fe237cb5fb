/*
 * A small argv scanner shared by the subcommands: "--name value",
 * "--name=value" and "-x value" forms, and the one-line errors for a
 * missing value or a flag given twice.
 */
#ifndef CONC_ARGS_H
#define CONC_ARGS_H

#include <stdbool.h>

struct conc_args {
    int argc, i;
    char **argv;
};

/*
 * Whether argv[i] is the flag `name` (or its short form `abbrev`, may be
 * NULL) taking a value. On a match returns 1 and sets *value (advancing past
 * a separate value); returns -1 with a message when the value is missing;
 * 0 when argv[i] is another argument. When *value is already non-NULL the
 * flag was given twice: -1 with a message.
 */
int conc_args_value(struct conc_args *a, const char *name, const char *abbrev,
                    const char **value);

/* Whether argv[i] is the valueless flag name; -1 if it was already seen. */
int conc_args_flag(struct conc_args *a, const char *name, bool *seen);

/*
 * Parses a count argument (--tasks 8) within [min, max]; 0, or -1 with a
 * message naming the flag.
 */
int conc_args_count(const char *flag, const char *value, unsigned long long min,
                    unsigned long long max, unsigned long long *out);

#endif
