/*
 * primes: counts the primes <= n with a segmented sieve of Eratosthenes on a
 * mod-30 wheel (one byte holds the 8 numbers of 30 coprime to 2, 3 and 5).
 * [2, n] is split into T equal ranges, one per task; each step sieves one
 * L1-sized segment, so a task yields often enough for a cooperative model to
 * stay fair. The purest CPU-bound work: only more cores make it faster.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/interrupt.h"
#include "workloads/workload.h"

#define PRIMES_N_MAX 1000000000000ull /* 1e12: the verified range */
#define PRIMES_SEG_MAX (256 * 1024)   /* bytes of the largest segment */

static const struct conc_opt primes_opts[] = {
    { "n", CONC_OPT_COUNT, "1e8", "count primes up to n", NULL, 2,
      PRIMES_N_MAX },
    { "segment", CONC_OPT_SIZE, NULL, "sieve segment, 30 numbers a byte "
      "(default: the L1d cache; over 1e9, sqrt(n) rounded up to a power of "
      "2)", NULL, 1024, PRIMES_SEG_MAX },
    { "burst", CONC_OPT_DURATION, "0", "CPU time a step runs before it "
      "yields (0: one segment; never: the whole range in one step, as a "
      "plain Python function in asyncio; a GIL still preempts it)", NULL, 0,
      0 },
    { NULL },
};

/* pi(10^k), the answers every run at those n is checked against. */
static const uint64_t primes_pi_pow10[] = {
    0, 4, 25, 168, 1229, 9592, 78498, 664579, 5761455, 50847534, 455052511,
    4118054813ull, 37607912018ull,
};

/* Bit i of a byte stands for 30 * byte + primes_wheel[i]. */
static const uint8_t primes_wheel[8] = { 1, 7, 11, 13, 17, 19, 23, 29 };

/*
 * Presieving: the multiples of these primes repeat with a period of their
 * product in bytes (30 is coprime to them), so a segment starts as the OR
 * of these patterns instead of crossing them off one by one.
 */
static const uint8_t primes_presieve[][4] = {
    { 7, 11, 13, 17 }, /* 17017 bytes */
    { 19, 23, 29 },    /* 12673 bytes */
    { 31, 37 },        /* 1147 bytes */
    { 41, 43 },        /* 1763 bytes */
    { 47, 53 },        /* 2491 bytes */
};
#define PRIMES_NPAT (sizeof(primes_presieve) / sizeof(primes_presieve[0]))
#define PRIMES_PRESIEVE_MAX 53 /* the largest prime above */

/* A sieving prime: the byte offsets and bits of its multiples p * (30k + w)
   for the 8 wheel residues w, relative to byte p * k. */
struct primes_base {
    uint32_t p;
    uint32_t off[8]; /* (p * w) / 30, always < p */
    uint8_t bit[8];  /* 1 << index of (p * w) % 30 */
};

struct primes_pattern {
    uint8_t *bytes; /* period + seg_bytes, so a segment never wraps */
    size_t period;
};

struct primes_shared {
    uint64_t n, expected;
    uint64_t burst_ns;
    struct primes_base *base; /* primes in (PRIMES_PRESIEVE_MAX, sqrt(n)],
                                 by residue class mod 30, then by size */
    size_t nbase;
    size_t class_start[9]; /* class c is base[class_start[c] ..
                              class_start[c + 1]) */
    size_t seg_bytes;
    struct primes_pattern pat[PRIMES_NPAT];
    uint8_t presieved[2]; /* the presieving primes' own bits */
    uint64_t (*ones)(const uint8_t *buf, size_t words);
};

struct primes_task {
    const struct primes_shared *sh;
    uint64_t burst_ns;   /* sieve this long a step (0: one segment) */
    uint64_t lo, hi;     /* the range's numbers, inclusive */
    uint64_t next, last; /* the next byte to sieve; the range's last byte */
    uint64_t count, segments;
};

/*
 * Each OS thread sieves into its own buffer, made on its first step and
 * freed when the thread ends: a step runs to its end without being switched
 * out, so the tasks of a thread can share it. (A _Thread_local array would
 * be zeroed by glibc at every thread's creation, which the threads model
 * would then pay for per task.)
 */
static pthread_once_t primes_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t primes_key;
static int primes_key_err;
static _Thread_local uint8_t *primes_buf;
static _Thread_local size_t primes_buf_len;

static void primes_key_init(void)
{
    primes_key_err = pthread_key_create(&primes_key, free);
}

static uint8_t *primes_buffer(size_t len)
{
    if (primes_buf_len < len) {
        free(primes_buf);
        primes_buf = conc_xmalloc(len);
        primes_buf_len = len;
        pthread_setspecific(primes_key, primes_buf);
    }
    return primes_buf;
}

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
 * still checked. Runs in the untimed setup; returns 0 (never a count) when
 * interrupted, for it takes seconds at n = 1e13.
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
        if (conc_interrupted) {
            free(lo);
            free(hi);
            return 0;
        }
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

/* The level-1 data cache of cpu0 in bytes, or 32 KiB when unreadable. */
static size_t primes_l1_bytes(void)
{
    char path[64], type[16];
    long l1 = -1;

    for (int i = 0; i < 8 && l1 < 0; i++) {
        FILE *f;
        int level = 0;
        snprintf(path, sizeof(path),
                 "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (!(f = fopen(path, "r")))
            break;
        if (fscanf(f, "%d", &level) != 1)
            level = 0;
        fclose(f);
        snprintf(path, sizeof(path),
                 "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (level != 1 || !(f = fopen(path, "r")))
            continue;
        if (fscanf(f, "%15s", type) != 1)
            type[0] = 0;
        fclose(f);
        snprintf(path, sizeof(path),
                 "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (strcmp(type, "Data") || !(f = fopen(path, "r")))
            continue;
        char unit = 0;
        if (fscanf(f, "%ld%c", &l1, &unit) >= 1 && (unit == 'K' || unit == 'k'))
            l1 *= 1024;
        fclose(f);
    }
    if (l1 < 4096 || l1 > PRIMES_SEG_MAX)
        l1 = 32 * 1024;
    return (size_t)l1 & ~(size_t)7;
}

/*
 * The default segment: the L1d cache, so the small primes, which make most
 * of the marks, stay in L1; but at least the sieving primes' size (a power
 * of two >= sqrt(n)), so every one of them runs whole cycles into the
 * guards rather than the slower path for primes larger than a segment.
 * Measured here (L1d 32K, n=1e9): 32K 80 ms, 64K 94 ms; n=1e10: 32K
 * 1.66 s, 64K 1.29 s, 128K 1.22 s, 256K 1.22 s. A step then stays under
 * about 1 ms.
 */
static size_t primes_default_segment(uint64_t n)
{
    size_t seg = primes_l1_bytes(), need = 1024;
    uint64_t root = primes_isqrt(n);

    while (need < root && need < PRIMES_SEG_MAX)
        need *= 2;
    return seg > need ? seg : need;
}

/* The index of residue r (mod 30) on the wheel, or -1. */
static int primes_wheel_index(unsigned r)
{
    for (int i = 0; i < 8; i++)
        if (primes_wheel[i] == r)
            return i;
    return -1;
}

/* Counts the set bits of words 64-bit words of buf. */
static uint64_t primes_ones_generic(const uint8_t *buf, size_t words)
{
    uint64_t ones = 0;

    for (size_t i = 0; i < words; i++) {
        uint64_t x;
        memcpy(&x, buf + 8 * i, 8);
        ones += (uint64_t)__builtin_popcountll(x);
    }
    return ones;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The same with the POPCNT instruction, chosen at run time (-O2 builds for
   the baseline x86-64, which lacks it). */
__attribute__((target("popcnt"))) static uint64_t
primes_ones_popcnt(const uint8_t *buf, size_t words)
{
    uint64_t ones = 0;

    for (size_t i = 0; i < words; i++) {
        uint64_t x;
        memcpy(&x, buf + 8 * i, 8);
        ones += (uint64_t)__builtin_popcountll(x);
    }
    return ones;
}
#endif

/* Fills pat with the multiples of primes (0-terminated, at most 4). */
static void primes_pattern_init(struct primes_pattern *pat,
                                const uint8_t *primes, size_t seg_bytes)
{
    size_t period = 1;

    for (size_t k = 0; k < 4 && primes[k]; k++)
        period *= primes[k];
    pat->period = period;
    pat->bytes = conc_xcalloc(period + seg_bytes, 1);
    for (size_t k = 0; k < 4 && primes[k]; k++) {
        uint64_t p = primes[k];
        for (uint64_t m = p; m < 30 * (period + seg_bytes); m += 2 * p) {
            int i = primes_wheel_index((unsigned)(m % 30));
            if (i >= 0)
                pat->bytes[m / 30] |= (uint8_t)(1u << i);
        }
    }
}

static void primes_teardown(void *shared)
{
    struct primes_shared *sh = shared;

    for (size_t k = 0; k < PRIMES_NPAT; k++)
        free(sh->pat[k].bytes);
    free(sh->base);
    free(sh);
}

static int primes_setup(void **shared, const struct conc_params *p,
                        unsigned tasks)
{
    struct primes_shared *sh = conc_xcalloc(1, sizeof(*sh));
    uint64_t root, pow10 = 1;
    uint8_t *composite;

    (void)tasks;
    pthread_once(&primes_key_once, primes_key_init);
    if (primes_key_err) {
        free(sh);
        return conc_error(-primes_key_err, "cannot make the sieve buffers' "
                          "thread key");
    }
    sh->n = conc_param_u64(p, "n");
    sh->burst_ns = conc_param_u64(p, "burst");
    sh->seg_bytes = conc_param_present(p, "segment")
                        ? (size_t)conc_param_u64(p, "segment") & ~(size_t)7
                        : primes_default_segment(sh->n);
    for (size_t k = 0; k < PRIMES_NPAT; k++) {
        primes_pattern_init(&sh->pat[k], primes_presieve[k], sh->seg_bytes);
        for (size_t i = 0; i < 4 && primes_presieve[k][i]; i++) {
            unsigned q = primes_presieve[k][i];
            sh->presieved[q / 30] |=
                (uint8_t)(1u << primes_wheel_index(q % 30));
        }
    }
    sh->ones = primes_ones_generic;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt"))
        sh->ones = primes_ones_popcnt;
#endif

    /* The sieving primes: a plain sieve of Eratosthenes up to sqrt(n),
       then grouped by residue class (stable, so each class is sorted). */
    root = primes_isqrt(sh->n);
    composite = conc_xcalloc(root + 1, 1);
    for (uint64_t i = 3; i <= root; i += 2) {
        if (composite[i])
            continue;
        if (conc_interrupted) {
            free(composite);
            primes_teardown(sh);
            return -EINTR;
        }
        for (uint64_t j = i * i; j <= root; j += 2 * i)
            composite[j] = 1;
        if (i > PRIMES_PRESIEVE_MAX)
            sh->class_start[primes_wheel_index(i % 30) + 1]++;
    }
    for (int c = 0; c < 8; c++)
        sh->class_start[c + 1] += sh->class_start[c];
    sh->nbase = sh->class_start[8];
    sh->base = conc_xmalloc((sh->nbase + 1) * sizeof(*sh->base));
    size_t fill[8];
    memcpy(fill, sh->class_start, sizeof(fill));
    for (uint64_t i = PRIMES_PRESIEVE_MAX + 2; i <= root; i += 2) {
        if (composite[i])
            continue;
        struct primes_base *b =
            &sh->base[fill[primes_wheel_index(i % 30)]++];
        b->p = (uint32_t)i;
        for (int k = 0; k < 8; k++) {
            uint64_t m = i * primes_wheel[k];
            b->off[k] = (uint32_t)(m / 30);
            b->bit[k] = (uint8_t)(1u << primes_wheel_index((unsigned)(m % 30)));
        }
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
    if (!sh->expected) {
        primes_teardown(sh);
        return -EINTR;
    }
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
    t->burst_ns = sh->burst_ns;
    t->lo = lo;
    t->hi = end - 1;
    t->count = 0;
    if (lo >= end) { /* an empty range: more tasks than numbers */
        t->next = 1;
        t->last = 0;
        return 0;
    }
    /* 2, 3 and 5 are off the wheel. */
    t->count = (lo <= 2 && 2 < end) + (lo <= 3 && 3 < end) +
               (lo <= 5 && 5 < end);
    t->next = lo / 30;
    t->last = t->hi / 30;
    return 0;
}

/*
 * Starts buf (bytes [b0, b0 + nb)) as the union of the presieve patterns,
 * in one pass of 16-byte ORs (SSE2 on x86-64; plain -O2 does not
 * vectorize this loop by itself).
 */
__extension__ typedef uint8_t primes_v16 __attribute__((vector_size(16)));

static void primes_presieve_segment(const struct primes_shared *sh,
                                    uint8_t *buf, uint64_t b0, size_t nb)
{
    const uint8_t *src[PRIMES_NPAT];
    size_t i = 0;

    for (size_t k = 0; k < PRIMES_NPAT; k++)
        src[k] = sh->pat[k].bytes + b0 % sh->pat[k].period;
    _Static_assert(PRIMES_NPAT == 5, "the loop below ORs 5 patterns");
    for (; i + 16 <= nb; i += 16) {
        primes_v16 v0, v1, v2, v3, v4;
        memcpy(&v0, src[0] + i, 16);
        memcpy(&v1, src[1] + i, 16);
        memcpy(&v2, src[2] + i, 16);
        memcpy(&v3, src[3] + i, 16);
        memcpy(&v4, src[4] + i, 16);
        v0 |= v1 | v2 | v3 | v4;
        memcpy(buf + i, &v0, 16);
    }
    for (; i < nb; i++) {
        uint8_t acc = src[0][i];
        for (size_t k = 1; k < PRIMES_NPAT; k++)
            acc |= src[k][i];
        buf[i] = acc;
    }
    /* The patterns crossed off the presieving primes themselves, which
       sit in bytes 0 and 1. (1 is left for the range's lower end, at
       least 2, to cross off.) */
    for (uint64_t b = b0; b < 2 && b < b0 + nb; b++)
        buf[b - b0] &= (uint8_t)~sh->presieved[b];
}

/*
 * A prime larger than the guard has few multiples in a segment: it marks
 * them one cycle at a time without branches, sending the marks outside
 * the segment to the spare byte buf[nb].
 */
static void primes_cross_large(const struct primes_base *bp, uint8_t *buf,
                               uint64_t b0, size_t nb, uint64_t first)
{
    uint64_t p = bp->p, b_end = b0 + nb;

    for (uint64_t cyc = first / p * p; cyc < b_end; cyc += p) {
        for (int i = 0; i < 8; i++) {
            uint64_t at = cyc + bp->off[i];
            size_t j = at - first < b_end - first ? (size_t)(at - b0) : nb;
            buf[j] |= bp->bit[i];
        }
    }
}

/*
 * The sieving primes of one residue class mod 30, whose multiples' bits
 * x0 .. x7 are constants: each runs whole cycles of 8 marks (p bytes) from
 * the one holding its first multiple in the segment (p * p, or the first
 * at or after byte b0), with no branch per mark.
 */
#define PRIMES_CROSS_CLASS(x0, x1, x2, x3, x4, x5, x6, x7)                  \
    for (size_t k = from; k < to; k++) {                                    \
        const struct primes_base *bp = &sh->base[k];                        \
        uint64_t p = bp->p, first = p * p / 30;                             \
                                                                            \
        if (first >= b_end)                                                 \
            break;                                                          \
        if (first < b0)                                                     \
            first = b0;                                                     \
        if (p > guard) {                                                    \
            primes_cross_large(bp, buf, b0, nb, first);                     \
            continue;                                                       \
        }                                                                   \
        uint32_t o0 = bp->off[0], o1 = bp->off[1], o2 = bp->off[2];         \
        uint32_t o3 = bp->off[3], o4 = bp->off[4], o5 = bp->off[5];         \
        uint32_t o6 = bp->off[6], o7 = bp->off[7];                          \
        ptrdiff_t j = (ptrdiff_t)(first / p * p) - (ptrdiff_t)b0;           \
        for (; j < end; j += (ptrdiff_t)p) {                                \
            uint8_t *c = buf + j;                                           \
            c[o0] |= 1u << x0;                                              \
            c[o1] |= 1u << x1;                                              \
            c[o2] |= 1u << x2;                                              \
            c[o3] |= 1u << x3;                                              \
            c[o4] |= 1u << x4;                                              \
            c[o5] |= 1u << x5;                                              \
            c[o6] |= 1u << x6;                                              \
            c[o7] |= 1u << x7;                                              \
        }                                                                   \
    }                                                                       \
    break

/*
 * Crosses off the multiples of the sieving primes in bytes [b0, b0 + nb),
 * buf[0 .. nb). The multiples p * (30k + w) of p on the wheel come in
 * cycles of 8, one per residue w, each cycle p bytes long. Cycles are
 * marked whole: a cycle that straddles an end of the segment marks the
 * guard bytes on either side of it (buf[-guard .. -1], buf[nb .. nb +
 * guard - 1]), which nobody reads. A cycle that starts before p * p marks
 * some p * q with 30 <= q < p: composite too, so harmless.
 */
static void primes_cross_segment(const struct primes_shared *sh, uint8_t *buf,
                                 uint64_t b0, size_t nb, size_t guard)
{
    uint64_t b_end = b0 + nb;
    ptrdiff_t end = (ptrdiff_t)nb;

    for (int cls = 0; cls < 8; cls++) {
        size_t from = sh->class_start[cls], to = sh->class_start[cls + 1];

        /* The bits are those of (p * w) % 30 for p % 30 = wheel[cls]. */
        switch (cls) {
        case 0: PRIMES_CROSS_CLASS(0, 1, 2, 3, 4, 5, 6, 7);
        case 1: PRIMES_CROSS_CLASS(1, 5, 4, 0, 7, 3, 2, 6);
        case 2: PRIMES_CROSS_CLASS(2, 4, 0, 6, 1, 7, 3, 5);
        case 3: PRIMES_CROSS_CLASS(3, 0, 6, 5, 2, 1, 7, 4);
        case 4: PRIMES_CROSS_CLASS(4, 7, 1, 2, 5, 6, 0, 3);
        case 5: PRIMES_CROSS_CLASS(5, 3, 7, 1, 6, 0, 4, 2);
        case 6: PRIMES_CROSS_CLASS(6, 2, 3, 7, 0, 4, 5, 1);
        case 7: PRIMES_CROSS_CLASS(7, 6, 5, 4, 3, 2, 1, 0);
        }
    }
}

static void primes_segment(struct primes_task *t)
{
    const struct primes_shared *sh = t->sh;
    uint64_t b0 = t->next;
    size_t nb, padded;
    uint8_t *buf;

    nb = sh->seg_bytes;
    if (t->last - b0 + 1 < nb)
        nb = (size_t)(t->last - b0 + 1);
    /* The segment with seg_bytes of guard on either side (and the spare
       and padding bytes within the back one). */
    buf = primes_buffer(3 * sh->seg_bytes + 8) + sh->seg_bytes;

    primes_presieve_segment(sh, buf, b0, nb);
    primes_cross_segment(sh, buf, b0, nb, sh->seg_bytes);

    /* Numbers outside the task's range count as composite. */
    if (b0 == t->lo / 30) {
        unsigned r = (unsigned)(t->lo - 30 * b0);
        for (int i = 0; i < 8; i++)
            if (primes_wheel[i] < r)
                buf[0] |= (uint8_t)(1u << i);
    }
    if (b0 + nb - 1 == t->last) {
        unsigned r = (unsigned)(t->hi - 30 * t->last);
        for (int i = 0; i < 8; i++)
            if (primes_wheel[i] > r)
                buf[nb - 1] |= (uint8_t)(1u << i);
    }
    padded = (nb + 7) & ~(size_t)7;
    memset(buf + nb, 0xff, padded - nb);
    t->count += padded * 8 - sh->ones(buf, padded / 8);
    t->segments++;
    t->next = b0 + nb;
}

/*
 * One step: a segment, or with burst= segments until that much time went
 * by (never: to the end of the range), then a yield. Between segments it
 * gives way early when the model preempts (a GIL's switch interval).
 */
static int primes_step(void *task, struct conc_wait *w)
{
    struct primes_task *t = task;
    uint64_t until = 0;

    if (t->burst_ns)
        until = t->burst_ns == UINT64_MAX ? UINT64_MAX
                                          : conc_now_ns() + t->burst_ns;
    while (t->next <= t->last) {
        primes_segment(t);
        if (!until || conc_preempt_pending() ||
            (until != UINT64_MAX && conc_now_ns() >= until))
            break;
    }
    w->want = t->next > t->last ? CONC_DONE : CONC_YIELD;
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
