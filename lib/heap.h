/*
 * An intrusive binary min-heap on a uint64_t key (a deadline): push, remove
 * from anywhere and peek at the minimum, each O(log n) or better, with no
 * allocation once the capacity suffices. The element embeds a
 * struct conc_heap_node and finds itself again with container_of-style
 * arithmetic; the node remembers its slot, so removal needs no search.
 * Green threads park their timed waits in one.
 */
#ifndef CONC_HEAP_H
#define CONC_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONC_HEAP_NONE ((size_t)-1)

struct conc_heap_node {
    uint64_t key; /* set before push; not changed while in a heap */
    size_t idx;   /* its slot, or CONC_HEAP_NONE when in no heap */
};

struct conc_heap {
    struct conc_heap_node **v;
    size_t n, cap;
};

/*
 * An empty heap with room for cap nodes before it grows. 0, or -ENOMEM.
 * The heap owns only its array: conc_heap_fini() frees that, never nodes.
 */
int conc_heap_init(struct conc_heap *h, size_t cap);
void conc_heap_fini(struct conc_heap *h);

/* A node that is in no heap (idx = CONC_HEAP_NONE). */
static inline void conc_heap_node_init(struct conc_heap_node *x)
{
    x->idx = CONC_HEAP_NONE;
}

static inline bool conc_heap_node_in(const struct conc_heap_node *x)
{
    return x->idx != CONC_HEAP_NONE;
}

/* Adds x (in no heap, key set). 0, or -ENOMEM when growing failed. */
int conc_heap_push(struct conc_heap *h, struct conc_heap_node *x);

/* Takes x, which must be in h, out of it. */
void conc_heap_remove(struct conc_heap *h, struct conc_heap_node *x);

/* The node with the smallest key (ties: any), or NULL when h is empty. */
static inline struct conc_heap_node *conc_heap_min(const struct conc_heap *h)
{
    return h->n ? h->v[0] : NULL;
}

#endif
