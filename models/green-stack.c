/*
 * green's stacks: chunks of GREEN_CHUNK_SLOTS stacks, one mmap each with a
 * guard page under every stack, a pool per scheduler, the chunks kept from
 * one run to the next, and the SIGSEGV handler that names an overflow.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/err.h"
#include "models/green.h"

/*
 * Stacks kept from the last run with keep_stacks=on, for the next one.
 * Touched only by the main thread between runs.
 */
static struct {
    char **chunks;
    size_t *len;
    size_t n;
    size_t slot_bytes;
    int guard;
} green_kept;

static struct sigaction green_old_segv;
static char green_overflow_msg[128];
static size_t green_overflow_len;

void green_stack_init(struct green_sched *s)
{
    const struct green_group *g = s->g;
    size_t n = s->ntasks;
    size_t maxchunks = n / GREEN_CHUNK_SLOTS + 1 + green_kept.n;

    s->free_slots = conc_xcalloc(n + GREEN_CHUNK_SLOTS,
                                 sizeof(*s->free_slots));
    s->chunks = conc_xcalloc(maxchunks, sizeof(*s->chunks));
    s->chunk_len = conc_xcalloc(maxchunks, sizeof(*s->chunk_len));
    /* Kept stacks first; each chunk's stacks all go in the pool. */
    while (s->slots_made < n && green_kept.n) {
        size_t c = --green_kept.n, len = green_kept.len[c];
        s->chunks[s->nchunks] = green_kept.chunks[c];
        s->chunk_len[s->nchunks++] = len;
        for (size_t k = len / g->slot_bytes; k-- > 0;)
            s->free_slots[s->nfree++] = green_kept.chunks[c] +
                                        k * g->slot_bytes;
        s->slots_made += len / g->slot_bytes;
    }
}

void green_stack_fini(struct green_sched *s)
{
#ifdef GREEN_ASAN
    for (size_t i = 0; i < s->nchunks; i++)
        __asan_unpoison_memory_region(s->chunks[i], s->chunk_len[i]);
#endif
    for (size_t i = 0; i < s->nchunks; i++)
        munmap(s->chunks[i], s->chunk_len[i]);
    free(s->chunks);
    free(s->chunk_len);
    free(s->free_slots);
}

/*
 * Maps a new chunk and hands out its first stack. NULL with errno set. Out
 * of line, so that taking a stack from the pool, the common case, needs
 * none of its registers.
 */
static __attribute__((noinline)) char *green_chunk_new(struct green_sched *s)
{
    const struct green_group *g = s->g;
    size_t n, len;
    char *base;

    if (s->slots_made >= s->ntasks) {
        errno = ENOMEM; /* cannot happen: a stack per task exists */
        return NULL;
    }

    /*
     * Every stack made is live (the pool is empty), so fewer than ntasks
     * exist and at least one more is needed; never more than ntasks.
     */
    n = s->ntasks - s->slots_made;
    if (n > GREEN_CHUNK_SLOTS)
        n = GREEN_CHUNK_SLOTS;
    len = n * g->slot_bytes;
    base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    /* A huge page would make every stack in it resident at once. */
    madvise(base, len, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < n; i++) {
        char *guard = base + i * g->slot_bytes;
        int rc = g->guard == GREEN_GUARD_MADVISE
                     ? madvise(guard, g->guard_bytes, MADV_GUARD_INSTALL)
                     : mprotect(guard, g->guard_bytes, PROT_NONE);
        if (rc) {
            int e = errno;
            munmap(base, len);
            errno = e;
            return NULL;
        }
    }
    s->chunks[s->nchunks] = base;
    s->chunk_len[s->nchunks++] = len;
    s->chunk_slots = n;
    s->chunk_used = 1;
    s->slots_made += n;
    return base;
}

/* A stack from the pool, or from a new chunk. NULL with errno set. */
static char *green_slot_get(struct green_sched *s)
{
    if (s->nfree)
        return s->free_slots[--s->nfree];
    if (s->nchunks && s->chunk_used < s->chunk_slots)
        return s->chunks[s->nchunks - 1] + s->g->slot_bytes * s->chunk_used++;
    return green_chunk_new(s);
}

/* Back to the pool: the next task to start runs on it. */
static void green_slot_put(struct green_sched *s, char *slot)
{
#ifdef GREEN_ASAN
    /* Frames that never returned (the entry's) leave poisoned redzones. */
    __asan_unpoison_memory_region(slot + s->g->guard_bytes, s->g->stack_bytes);
#endif
    s->free_slots[s->nfree++] = slot;
}

int green_stack_attach(struct green_sched *s, struct green_co *co)
{
    const struct green_group *g = s->g;
    char *slot = green_slot_get(s);

    if (!slot)
        return -errno;
    co->slot = slot;
    green_switch_make(g, co, slot + g->guard_bytes, g->stack_bytes);
    return 0;
}

void green_stack_detach(struct green_sched *s, struct green_co *co)
{
    green_switch_unmake(co);
    green_slot_put(s, co->slot);
    co->slot = NULL;
}

/* ---- kept stacks ---- */

void green_kept_fit(const struct green_group *g, bool keep)
{
    if (!keep || green_kept.slot_bytes != g->slot_bytes ||
        green_kept.guard != (int)g->guard)
        green_kept_free();
}

void green_kept_free(void)
{
    for (size_t i = 0; i < green_kept.n; i++)
        munmap(green_kept.chunks[i], green_kept.len[i]);
    free(green_kept.chunks);
    free(green_kept.len);
    memset(&green_kept, 0, sizeof(green_kept));
}

void green_kept_take(struct green_group *g)
{
    size_t total = 0;

    for (unsigned k = 0; k < g->nsched; k++)
        total += g->scheds[k].nchunks;
    green_kept.chunks = conc_xrealloc(green_kept.chunks,
                                      (green_kept.n + total) * sizeof(char *));
    green_kept.len = conc_xrealloc(green_kept.len,
                                   (green_kept.n + total) * sizeof(size_t));
    for (unsigned k = 0; k < g->nsched; k++) {
        struct green_sched *s = &g->scheds[k];
        for (size_t i = 0; i < s->nchunks; i++) {
#ifdef GREEN_ASAN
            __asan_unpoison_memory_region(s->chunks[i], s->chunk_len[i]);
#endif
            green_kept.chunks[green_kept.n] = s->chunks[i];
            green_kept.len[green_kept.n++] = s->chunk_len[i];
        }
        s->nchunks = 0;
    }
    green_kept.slot_bytes = g->slot_bytes;
    green_kept.guard = (int)g->guard;
}

/* ---- stack overflow ---- */

/*
 * A fault in the guard page under the running task's stack is an
 * overflow: say so and exit 1, rather than die of a bare SIGSEGV. Only
 * async-signal-safe calls. Any other fault goes to the previous handler.
 */
static void green_on_segv(int sig, siginfo_t *si, void *uctx)
{
    const struct green_co *co = green_cur;
    const char *a = si->si_addr;

    if (co && co->slot && a >= co->slot && a < co->stack_lo) {
        if (write(STDERR_FILENO, green_overflow_msg, green_overflow_len) < 0) {
            /* Nothing left to report it with. */
        }
        _exit(CONC_CRASH_EXIT);
    }
    if ((green_old_segv.sa_flags & SA_SIGINFO) &&
        green_old_segv.sa_sigaction) {
        green_old_segv.sa_sigaction(sig, si, uctx);
    } else if (green_old_segv.sa_handler != SIG_DFL &&
               green_old_segv.sa_handler != SIG_IGN) {
        green_old_segv.sa_handler(sig);
    } else {
        /* Returning re-runs the faulting access, now fatal as usual. */
        signal(SIGSEGV, SIG_DFL);
    }
}

int green_segv_install(const struct green_group *g)
{
    struct sigaction sa;
    char sz[32];
    int n;

    green_fmt_size(sz, sizeof(sz), g->stack_bytes);
    n = snprintf(green_overflow_msg, sizeof(green_overflow_msg),
                 "concbench: green task stack overflow (stack=%s); raise "
                 "-o stack\n", sz);
    green_overflow_len = (size_t)n < sizeof(green_overflow_msg)
                             ? (size_t)n
                             : sizeof(green_overflow_msg) - 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = green_on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &green_old_segv))
        return conc_error(-errno, "cannot catch SIGSEGV");
    return 0;
}

void green_segv_restore(void)
{
    sigaction(SIGSEGV, &green_old_segv, NULL);
}
