/*
 * The raw primitive behind the green model, for bench/green.sh: two contexts
 * jump_fcontext back and forth N times (2N switches); prints the wall time
 * per switch in ns. Usage: fcontext_pingpong [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "models/fcontext.h"

#define PINGPONG_STACK (64 * 1024)

static unsigned long long pingpong_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull +
           (unsigned long long)ts.tv_nsec;
}

/* Jumps straight back to whoever jumped here, forever. */
static void pingpong_entry(transfer_t t)
{
    for (;;)
        t = jump_fcontext(t.fctx, t.data);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    char *stack = malloc(PINGPONG_STACK);
    fcontext_t ctx;
    transfer_t t;
    unsigned long long t0, t1;

    if (!stack || n <= 0)
        return 2;
    ctx = make_fcontext(stack + PINGPONG_STACK, PINGPONG_STACK,
                        pingpong_entry);
    for (long i = 0; i < 1000; i++) { /* warm up caches and predictors */
        t = jump_fcontext(ctx, NULL);
        ctx = t.fctx;
    }
    t0 = pingpong_now_ns();
    for (long i = 0; i < n; i++) {
        t = jump_fcontext(ctx, &i);
        ctx = t.fctx;
    }
    t1 = pingpong_now_ns();
    printf("%.2f\n", (double)(t1 - t0) / (2.0 * (double)n));
    free(stack);
    return 0;
}
