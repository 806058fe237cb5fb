/*
 * The raw primitive behind the green model at the shape of its yield
 * benchmark, for bench/green.sh: K contexts, each on a stack of its own,
 * pass control round a ring with jump_fcontext (each to the next, the last
 * back to main), N rounds; prints the wall time per switch in ns. Beside
 * fcontext_pingpong (two contexts, everything in L1), it shows what K
 * stacks' worth of memory costs a switch with no scheduler at all.
 * Usage: fcontext_ring [K [N]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "models/fcontext.h"

#define RING_STACK (64 * 1024)
#define RING_MAX 100000

static fcontext_t ring_ctx[RING_MAX + 1]; /* [0]: main's, refreshed a round */
static long ring_k;

static unsigned long long ring_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull +
           (unsigned long long)ts.tv_nsec;
}

/*
 * Context i (1..K): on each entry, records where it was resumed from (the
 * previous context's saved state) and passes control to the next; the
 * last returns to main. t.data carries i.
 */
static void ring_entry(transfer_t t)
{
    long i = (long)(size_t)t.data;

    for (;;) {
        ring_ctx[i - 1] = t.fctx; /* the one that jumped here resumes there */
        if (i == ring_k)
            t = jump_fcontext(ring_ctx[0], NULL);
        else
            t = jump_fcontext(ring_ctx[i + 1], (void *)(size_t)(i + 1));
    }
}

int main(int argc, char **argv)
{
    long k = argc > 1 ? atol(argv[1]) : 100;
    long n = argc > 2 ? atol(argv[2]) : 100000;
    char *stacks;
    unsigned long long t0 = 0, t1;
    transfer_t t;

    if (k < 1 || k > RING_MAX || n <= 0)
        return 2;
    stacks = malloc((size_t)k * RING_STACK);
    if (!stacks)
        return 2;
    ring_k = k;
    for (long i = 1; i <= k; i++)
        ring_ctx[i] = make_fcontext(stacks + (size_t)i * RING_STACK,
                                    RING_STACK, ring_entry);
    /*
     * A round: main jumps to context 1, each jumps to the next, the last
     * back to main: k + 1 switches. Context i's saved state lands in
     * ring_ctx[i] when context i + 1 is entered (the last's, in main).
     */
    for (long r = 0; r < n + 100; r++) {
        if (r == 100) /* warm up caches and predictors first */
            t0 = ring_now_ns();
        t = jump_fcontext(ring_ctx[1], (void *)1);
        ring_ctx[k] = t.fctx;
    }
    t1 = ring_now_ns();
    printf("%.2f\n", (double)(t1 - t0) / ((double)n * (double)(k + 1)));
    free(stacks);
    return 0;
}
