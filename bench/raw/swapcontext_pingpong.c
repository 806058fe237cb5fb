/*
 * swapcontext, for bench/green.sh: two contexts swapcontext back and forth N
 * times (2N switches, each with a sigprocmask syscall); prints the wall time
 * per switch in ns. Usage: swapcontext_pingpong [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

#define PINGPONG_STACK (64 * 1024)

static ucontext_t pingpong_main, pingpong_other;

static unsigned long long pingpong_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull +
           (unsigned long long)ts.tv_nsec;
}

/* Swaps straight back to the main context, forever. */
static void pingpong_entry(void)
{
    for (;;)
        swapcontext(&pingpong_other, &pingpong_main);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    char *stack = malloc(PINGPONG_STACK);
    unsigned long long t0, t1;

    if (!stack || n <= 0)
        return 2;
    getcontext(&pingpong_other);
    pingpong_other.uc_stack.ss_sp = stack;
    pingpong_other.uc_stack.ss_size = PINGPONG_STACK;
    pingpong_other.uc_link = NULL;
    makecontext(&pingpong_other, pingpong_entry, 0);
    for (long i = 0; i < 1000; i++)
        swapcontext(&pingpong_main, &pingpong_other);
    t0 = pingpong_now_ns();
    for (long i = 0; i < n; i++)
        swapcontext(&pingpong_main, &pingpong_other);
    t1 = pingpong_now_ns();
    printf("%.2f\n", (double)(t1 - t0) / (2.0 * (double)n));
    free(stack);
    return 0;
}
