/*
 * The raw primitive behind the fork model, for bench/overhead.sh: fork N
 * children that _exit(0) at once, then reap them all with waitpid; prints
 * the wall time per child in ns. With "gate", the children first wait on
 * a futex in shared memory until all N exist, as the model's start gate
 * makes them. Usage: fork_loop N [gate]
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long fork_loop_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull +
           (unsigned long long)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000, made = 0;
    unsigned long long t0, t1;
    int rc = 0, gate = argc > 2 && strcmp(argv[2], "gate") == 0;
    atomic_int *word = mmap(NULL, sizeof(*word), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (!n || word == MAP_FAILED)
        return 2;
    atomic_store(word, gate);
    t0 = fork_loop_now_ns();
    for (; made < n; made++) {
        pid_t pid = fork();
        if (pid == 0) {
            while (atomic_load(word))
                syscall(SYS_futex, (void *)word, FUTEX_WAIT, 1, NULL, NULL, 0);
            _exit(0);
        }
        if (pid < 0) {
            fprintf(stderr, "fork_loop: child %lu: %s\n", made,
                    strerror(errno));
            rc = 1;
            break;
        }
    }
    atomic_store(word, 0);
    syscall(SYS_futex, (void *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    for (unsigned long i = 0; i < made; i++)
        if (wait(NULL) < 0)
            return 1;
    t1 = fork_loop_now_ns();
    if (!rc)
        printf("%llu\n", (t1 - t0) / n);
    return rc;
}
