/*
 * libFuzzer target for the option and unit parsers: any byte string given
 * to -o key=value must parse or be rejected, never crash, and an accepted
 * count must read back as the same number.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct conc_opt fuzz_opts[] = {
    { "n", CONC_OPT_COUNT, "1e8", "", NULL, 2, 1000000000000ull },
    { "size", CONC_OPT_SIZE, "1KiB", "", NULL, 0, 0 },
    { "delay", CONC_OPT_DURATION, "50ms", "", NULL, 0, 0 },
    { "gil", CONC_OPT_BOOL, "off", "", NULL, 0, 0 },
    { "switch", CONC_OPT_CHOICE, "fcontext", "", "fcontext|ucontext", 0, 0 },
    { "url", CONC_OPT_STRING, NULL, "", NULL, 0, 0 },
    { .key = NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), *eq;
    struct conc_params p;
    uint64_t v, w;
    bool b;

    memcpy(s, data, size);
    s[size] = '\0';

    if (conc_parse_count(s, &v) == 0) {
        char back[32];
        snprintf(back, sizeof(back), "%llu", (unsigned long long)v);
        if (conc_parse_count(back, &w) != 0 || w != v)
            abort(); /* an accepted count must round-trip */
    }
    conc_parse_size(s, &v);
    conc_parse_duration(s, &v);
    conc_parse_bool(s, &b);

    if (conc_params_init(&p, fuzz_opts) != 0)
        abort();
    if ((eq = strchr(s, '='))) {
        *eq = '\0';
        conc_params_set(&p, s, eq + 1);
    }
    conc_params_fini(&p);

    const char *names[] = { "sequential", "fork", "threads", "green",
                            "eventloop" };
    conc_suggest(s, names, 5);
    free(s);
    return 0;
}
