/*
 * argv scanning for the subcommands; see args.h.
 */
#include <errno.h>
#include <string.h>

#include "cmd/args.h"
#include "lib/err.h"
#include "lib/opts.h"

int conc_args_value(struct conc_args *a, const char *name, const char *abbrev,
                    const char **value)
{
    const char *arg = a->argv[a->i], *v;
    size_t len = strlen(name);

    if (strncmp(arg, name, len) == 0 && arg[len] == '=') {
        v = arg + len + 1;
    } else if (strcmp(arg, name) == 0 || (abbrev && strcmp(arg, abbrev) == 0)) {
        if (a->i + 1 >= a->argc) {
            conc_error_msg(-1, "option '%s' needs a value", arg);
            return -1;
        }
        v = a->argv[++a->i];
    } else if (abbrev && strncmp(arg, abbrev, strlen(abbrev)) == 0 &&
               strlen(abbrev) == 2 && arg[2]) {
        v = arg + 2; /* -okey=value */
    } else {
        return 0;
    }
    if (*value && strcmp(name, "-o") != 0) {
        conc_error_msg(-1, "option '%s' given twice", name);
        return -1;
    }
    *value = v;
    return 1;
}

int conc_args_flag(struct conc_args *a, const char *name, bool *seen)
{
    if (strcmp(a->argv[a->i], name) != 0)
        return 0;
    if (*seen) {
        conc_error_msg(-1, "option '%s' given twice", name);
        return -1;
    }
    *seen = true;
    return 1;
}

int conc_args_count(const char *flag, const char *value, unsigned long long min,
                    unsigned long long max, unsigned long long *out)
{
    uint64_t v;
    int err = conc_parse_count(value, &v);

    if (err == -ERANGE || (!err && (v < min || v > max))) {
        conc_error_msg(-1, "value '%s' for '%s' is out of range (%llu to %llu)",
                       value, flag, min, max);
        return -1;
    }
    if (err) {
        conc_error_msg(-1, "bad value '%s' for '%s': expected a count such as "
                       "8 or 1e3", value, flag);
        return -1;
    }
    *out = v;
    return 0;
}
