/*
 * primes: counts the primes <= n with a segmented, odd-only bit sieve. [2, n]
 * is split into T equal ranges, one per task; each step sieves one L1-sized
 * segment, so a task yields often enough for a cooperative model to stay
 * fair. The purest CPU-bound work: only more cores make it faster.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/err.h"
#include "workloads/workload.h"

#define PRIMES_N_MAX 1000000000000ull /* 1e12: the verified range */
#define PRIMES_SEG_MAX (256 * 1024)   /* bytes of the largest segment */

static const struct conc_opt primes_opts[] = {
    { "n", CONC_OPT_COUNT, "1e8", "count primes up to n", NULL, 2,
      PRIMES_N_MAX },
    { "segment", CONC_OPT_SIZE, NULL, "sieve segment (default: the L1 data "
      "cache)", NULL, 1024, PRIMES_SEG_MAX },
    { NULL },
};

/* pi(10^k), the answers every run at those n is checked against. */
static const uint64_t primes_pi_pow10[] = {
    0, 4, 25, 168, 1229, 9592, 78498, 664579, 5761455, 50847534, 455052511,
    4118054813ull, 37607912018ull,
};

struct primes_shared {
    uint64_t n, expected;
    uint32_t *base; /* odd primes up to sqrt(n) */
    size_t nbase;
    size_t seg_bytes;
};

struct primes_task {
    const struct primes_shared *sh;
    uint64_t next, hi; /* the next odd number to sieve; the range's end */
    uint64_t count, segments;
};

/*
 * Each OS thread sieves into its own buffer: a step runs to its end without
 * being switched out, so every model can share one buffer per thread.
 */
static _Thread_local uint64_t primes_buf[PRIMES_SEG_MAX / 8];

static uint64_t primes_isqrt(uint64_t n)
{
    uint64_t r = 0;

    for (uint64_t bit = 1ull << 62; bit; bit >>= 2) {
        if (n >= r + bit) {
            n -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
    }
    return r;
}

/*
 * pi(n) by Lucy Hedgehog's method, O(n^(3/4)) time and O(sqrt n) memory:
 * an algorithm independent of the sieve, so an n without a table entry is
 * still checked. Runs in the untimed setup.
 */
static uint64_t primes_count_lucy(uint64_t n)
{
    uint64_t r = primes_isqrt(n);
    uint64_t *lo = conc_xcalloc(r + 2, sizeof(*lo)); /* lo[v] = S(v) */
    uint64_t *hi = conc_xcalloc(r + 2, sizeof(*hi)); /* hi[i] = S(n / i) */
    uint64_t result;

    for (uint64_t v = 1; v <= r; v++)
        lo[v] = v - 1;
    for (uint64_t i = 1; i <= r; i++)
        hi[i] = n / i - 1;
    for (uint64_t p = 2; p <= r; p++) {
        if (lo[p] == lo[p - 1])
            continue; /* p is not prime */
        uint64_t sp = lo[p - 1], p2 = p * p;
        uint64_t imax = r < n / p2 ? r : n / p2;
        for (uint64_t i = 1; i <= imax; i++) {
            uint64_t d = i * p;
            hi[i] -= (d <= r ? hi[d] : lo[n / d]) - sp;
        }
        for (uint64_t v = r; v >= p2; v--)
            lo[v] -= lo[v / p] - sp;
    }
    result = hi[1];
    free(lo);
    free(hi);
    return result;
}

static size_t primes_l1_bytes(void)
{
    long l1 = -1;
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index0/size", "r");

    if (f) {
        char unit = 0;
        if (fscanf(f, "%ld%c", &l1, &unit) >= 1 && (unit == 'K' || unit == 'k'))
            l1 *= 1024;
        fclose(f);
    }
    if (l1 < 4096 || l1 > PRIMES_SEG_MAX)
        l1 = 32 * 1024;
    return (size_t)l1;
}

static int primes_setup(void **shared, const struct conc_params *p,
                        unsigned tasks)
{
    struct primes_shared *sh = conc_xcalloc(1, sizeof(*sh));
    uint64_t root, pow10 = 1;
    uint8_t *composite;

    (void)tasks;
    sh->n = conc_param_u64(p, "n");
    sh->seg_bytes = conc_param_present(p, "segment")
                        ? (size_t)conc_param_u64(p, "segment") & ~(size_t)7
                        : primes_l1_bytes();

    /* The base primes: a plain sieve of Eratosthenes up to sqrt(n). */
    root = primes_isqrt(sh->n);
    composite = conc_xcalloc(root + 1, 1);
    sh->base = conc_xmalloc((root / 2 + 1) * sizeof(*sh->base));
    for (uint64_t i = 3; i <= root; i += 2) {
        if (composite[i])
            continue;
        sh->base[sh->nbase++] = (uint32_t)i;
        for (uint64_t j = i * i; j <= root; j += 2 * i)
            composite[j] = 1;
    }
    free(composite);

    sh->expected = 0;
    for (size_t k = 0; k < sizeof(primes_pi_pow10) / sizeof(uint64_t); k++) {
        if (sh->n == pow10) {
            sh->expected = primes_pi_pow10[k];
            break;
        }
        pow10 *= 10;
    }
    if (!sh->expected)
        sh->expected = primes_count_lucy(sh->n);
    *shared = sh;
    return 0;
}

static int primes_task_init(void *task, void *shared, unsigned index,
                            unsigned tasks)
{
    struct primes_task *t = task;
    const struct primes_shared *sh = shared;
    __extension__ unsigned __int128 len = sh->n - 1; /* numbers in [2, n] */
    uint64_t lo = 2 + (uint64_t)(len * index / tasks);
    uint64_t end = 2 + (uint64_t)(len * (index + 1) / tasks); /* exclusive */

    t->sh = sh;
    t->hi = end - 1;
    t->count = (lo == 2 && end > 2); /* the only even prime */
    t->next = lo | 1;
    return 0;
}

static int primes_step(void *task, struct conc_wait *w)
{
    struct primes_task *t = task;
    const struct primes_shared *sh = t->sh;
    uint64_t seg_lo = t->next, seg_hi, nbits, marked = 0;
    size_t words;

    if (seg_lo > t->hi) {
        w->want = CONC_DONE;
        return 0;
    }
    /* Bit j stands for the odd number seg_lo + 2j. */
    nbits = (t->hi - seg_lo) / 2 + 1;
    if (nbits > sh->seg_bytes * 8)
        nbits = sh->seg_bytes * 8;
    seg_hi = seg_lo + 2 * (nbits - 1);
    words = (size_t)((nbits + 63) / 64);
    memset(primes_buf, 0, words * 8);

    for (size_t k = 0; k < sh->nbase; k++) {
        uint64_t p = sh->base[k], start = p * p;
        if (start > seg_hi)
            break;
        if (start < seg_lo) {
            start = (seg_lo + p - 1) / p * p;
            if (!(start & 1))
                start += p;
        }
        for (uint64_t j = (start - seg_lo) / 2; j < nbits; j += p)
            primes_buf[j >> 6] |= 1ull << (j & 63);
    }
    /* Bits past nbits in the last word are not numbers of the range. */
    if (nbits % 64)
        primes_buf[words - 1] |= ~0ull << (nbits % 64);
    for (size_t i = 0; i < words; i++)
        marked += (uint64_t)__builtin_popcountll(primes_buf[i]);
    t->count += words * 64 - marked;
    t->segments++;
    t->next = seg_hi + 2;
    /* 1 is odd but not prime; only the first range can hold it (lo = 2 makes
       next = 3, so it never does). */
    w->want = t->next > t->hi ? CONC_DONE : CONC_YIELD;
    return 0;
}

static int primes_task_result(const void *task, struct conc_task_out *out)
{
    const struct primes_task *t = task;

    out->result = t->count;
    out->ops = t->segments;
    return 0;
}

static void primes_task_fini(void *task)
{
    (void)task;
}

static int primes_verify(void *shared, const struct conc_totals *tot,
                         char *why, size_t len)
{
    const struct primes_shared *sh = shared;

    if (tot->result != sh->expected) {
        snprintf(why, len, "%llu primes up to %llu, expected %llu",
                 (unsigned long long)tot->result, (unsigned long long)sh->n,
                 (unsigned long long)sh->expected);
        return -EINVAL;
    }
    return 0;
}

static void primes_teardown(void *shared)
{
    struct primes_shared *sh = shared;

    free(sh->base);
    free(sh);
}

const struct conc_workload conc_workload_primes = {
    .name = "primes",
    .summary = "counts primes up to n with a segmented sieve (CPU-bound)",
    .opts = primes_opts,
    .task_size = sizeof(struct primes_task),
    .setup = primes_setup,
    .task_init = primes_task_init,
    .step = primes_step,
    .task_result = primes_task_result,
    .task_fini = primes_task_fini,
    .verify = primes_verify,
    .teardown = primes_teardown,
};
