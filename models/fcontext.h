/*
 * Boost.Context's two entry points, which have C linkage in libboost_context
 * (link -lboost_context): a stack switch is a few register saves, no syscall.
 */
#ifndef CONC_FCONTEXT_H
#define CONC_FCONTEXT_H

#include <stddef.h>

typedef void *fcontext_t;

/* What a jump hands over: the context that jumped here, and its data. */
typedef struct {
    fcontext_t fctx;
    void *data;
} transfer_t;

/*
 * Saves the caller's registers, switches to `to` and passes it vp. Returns
 * when some context jumps back: .fctx is that context (the one to jump to
 * next time), .data what it passed. The context `to` is used up.
 */
transfer_t jump_fcontext(fcontext_t const to, void *vp);

/*
 * Makes a context that runs fn on the stack whose *top* is sp (stacks grow
 * down) and which is size bytes deep; fn gets the first jump's transfer_t
 * and must never return. The stack stays owned by the caller.
 */
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

#endif
