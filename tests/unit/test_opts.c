/*
 * Option and unit parsing: every unit, the edges of uint64, and the
 * rejections a user can hit.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "lib/opts.h"

static uint64_t count(const char *s)
{
    uint64_t v = 0;
    cr_assert_eq(conc_parse_count(s, &v), 0, "count '%s' should parse", s);
    return v;
}

Test(opts, counts, .timeout = 10)
{
    cr_assert_eq(count("0"), 0);
    cr_assert_eq(count("100"), 100);
    cr_assert_eq(count("1e9"), 1000000000ull);
    cr_assert_eq(count("1E3"), 1000);
    cr_assert_eq(count("10_000"), 10000);
    cr_assert_eq(count("1_000_000"), 1000000);
    cr_assert_eq(count("1.5e3"), 1500);
    cr_assert_eq(count("18446744073709551615"), UINT64_MAX);
    cr_assert_eq(count("1e19"), 10000000000000000000ull);
}

Test(opts, bad_counts, .timeout = 10)
{
    static const char *const bad[] = { "", "-1", "abc", "1.5", "1e", "_1",
                                       "1_", "1__0", "0x10", "1k", "1e-3",
                                       " 1", "1 ", "inf", "nan", "+1" };
    uint64_t v;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(conc_parse_count(bad[i], &v), -EINVAL, "'%s'", bad[i]);
    cr_assert_eq(conc_parse_count("1e30", &v), -ERANGE);
    cr_assert_eq(conc_parse_count("18446744073709551616", &v), -ERANGE);
}

Test(opts, sizes, .timeout = 10)
{
    uint64_t v;

    cr_assert_eq(conc_parse_size("512", &v), 0);
    cr_assert_eq(v, 512);
    cr_assert_eq(conc_parse_size("64KiB", &v), 0);
    cr_assert_eq(v, 65536);
    cr_assert_eq(conc_parse_size("64k", &v), 0);
    cr_assert_eq(v, 65536);
    cr_assert_eq(conc_parse_size("1M", &v), 0);
    cr_assert_eq(v, 1048576);
    cr_assert_eq(conc_parse_size("4kB", &v), 0);
    cr_assert_eq(v, 4000);
    cr_assert_eq(conc_parse_size("1.5KiB", &v), 0);
    cr_assert_eq(v, 1536);
    cr_assert_eq(conc_parse_size("2GiB", &v), 0);
    cr_assert_eq(v, 2147483648ull);
    cr_assert_eq(conc_parse_size("10B", &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_eq(conc_parse_size("1KiBx", &v), -EINVAL);
    cr_assert_eq(conc_parse_size("1mb", &v), -EINVAL);
    cr_assert_eq(conc_parse_size("KiB", &v), -EINVAL);
    cr_assert_eq(conc_parse_size("1.3B", &v), -EINVAL);
    cr_assert_eq(conc_parse_size("1e30TiB", &v), -ERANGE);
}

Test(opts, durations, .timeout = 10)
{
    uint64_t v;

    cr_assert_eq(conc_parse_duration("250us", &v), 0);
    cr_assert_eq(v, 250000);
    cr_assert_eq(conc_parse_duration("100ms", &v), 0);
    cr_assert_eq(v, 100000000);
    cr_assert_eq(conc_parse_duration("5s", &v), 0);
    cr_assert_eq(v, 5000000000ull);
    cr_assert_eq(conc_parse_duration("2min", &v), 0);
    cr_assert_eq(v, 120000000000ull);
    cr_assert_eq(conc_parse_duration("1.5us", &v), 0);
    cr_assert_eq(v, 1500);
    cr_assert_eq(conc_parse_duration("7", &v), 0, "a bare number is ms");
    cr_assert_eq(v, 7000000);
    cr_assert_eq(conc_parse_duration("3ns", &v), 0);
    cr_assert_eq(v, 3);
    cr_assert_eq(conc_parse_duration("\xc2\xb5s", &v), -EINVAL);
    cr_assert_eq(conc_parse_duration("5 s", &v), -EINVAL);
    cr_assert_eq(conc_parse_duration("5sec", &v), -EINVAL);
    cr_assert_eq(conc_parse_duration("-5ms", &v), -EINVAL);
    cr_assert_eq(conc_parse_duration("1e30s", &v), -ERANGE);
}

Test(opts, bools, .timeout = 10)
{
    bool b;

    cr_assert_eq(conc_parse_bool("on", &b), 0);
    cr_assert(b);
    cr_assert_eq(conc_parse_bool("false", &b), 0);
    cr_assert(!b);
    cr_assert_eq(conc_parse_bool("1", &b), 0);
    cr_assert(b);
    cr_assert_eq(conc_parse_bool("maybe", &b), -EINVAL);
    cr_assert_eq(conc_parse_bool("ON", &b), -EINVAL);
}

static const struct conc_opt test_opts[] = {
    { "n", CONC_OPT_COUNT, "1e8", "n", NULL, 2, 1000 * 1000 * 1000 },
    { "switch", CONC_OPT_CHOICE, "fcontext", "s", "fcontext|ucontext", 0, 0 },
    { "url", CONC_OPT_STRING, NULL, "u", NULL, 0, 0 },
    { "gil", CONC_OPT_BOOL, "off", "g", NULL, 0, 0 },
    { NULL },
};

Test(opts, params, .timeout = 10)
{
    struct conc_params p, q;

    cr_assert_eq(conc_params_init(&p, test_opts), 0);
    cr_assert_eq(conc_param_u64(&p, "n"), 100000000);
    cr_assert(!conc_param_isset(&p, "n"));
    cr_assert(conc_param_present(&p, "n"));
    cr_assert(!conc_param_present(&p, "url"));
    cr_assert_str_eq(conc_param_str(&p, "switch"), "fcontext");
    cr_assert_eq(conc_param_u64(&p, "switch"), 0);

    cr_assert_eq(conc_params_set(&p, "n", "1e9"), 0);
    cr_assert_eq(conc_param_u64(&p, "n"), 1000000000);
    cr_assert(conc_param_isset(&p, "n"));
    cr_assert_eq(conc_params_set(&p, "switch", "ucontext"), 0);
    cr_assert_eq(conc_param_u64(&p, "switch"), 1);
    cr_assert_eq(conc_params_set(&p, "url", "http://x/"), 0);
    cr_assert_str_eq(conc_param_str(&p, "url"), "http://x/");
    cr_assert_eq(conc_params_set(&p, "gil", "on"), 0);
    cr_assert(conc_param_bool(&p, "gil"));

    /* Rejections leave the old value. */
    cr_assert_eq(conc_params_set(&p, "nope", "1"), -ENOENT);
    cr_assert_eq(conc_params_set(&p, "n", "1"), -ERANGE, "below min");
    cr_assert_eq(conc_params_set(&p, "n", "2e9"), -ERANGE, "above max");
    cr_assert_eq(conc_params_set(&p, "n", "1e30"), -ERANGE);
    cr_assert_eq(conc_params_set(&p, "n", ""), -EINVAL);
    cr_assert_eq(conc_params_set(&p, "switch", "fiber"), -EINVAL);
    cr_assert_eq(conc_param_u64(&p, "n"), 1000000000);

    conc_params_copy(&q, &p);
    conc_params_fini(&p);
    cr_assert_str_eq(conc_param_str(&q, "url"), "http://x/", "deep copy");
    conc_params_fini(&q);
}
