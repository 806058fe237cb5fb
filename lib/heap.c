/*
 * The intrusive min-heap; see heap.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "lib/heap.h"

int conc_heap_init(struct conc_heap *h, size_t cap)
{
    h->n = 0;
    h->cap = cap ? cap : 1;
    h->v = calloc(h->cap, sizeof(*h->v));
    return h->v ? 0 : -ENOMEM;
}

void conc_heap_fini(struct conc_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

static void heap_set(struct conc_heap *h, size_t i, struct conc_heap_node *x)
{
    h->v[i] = x;
    x->idx = i;
}

static void heap_up(struct conc_heap *h, size_t i)
{
    struct conc_heap_node *x = h->v[i];

    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p]->key <= x->key)
            break;
        heap_set(h, i, h->v[p]);
        i = p;
    }
    heap_set(h, i, x);
}

static void heap_down(struct conc_heap *h, size_t i)
{
    struct conc_heap_node *x = h->v[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->key < h->v[c]->key)
            c++;
        if (x->key <= h->v[c]->key)
            break;
        heap_set(h, i, h->v[c]);
        i = c;
    }
    heap_set(h, i, x);
}

int conc_heap_push(struct conc_heap *h, struct conc_heap_node *x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap * 2;
        struct conc_heap_node **v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = x;
    heap_up(h, h->n - 1);
    return 0;
}

void conc_heap_remove(struct conc_heap *h, struct conc_heap_node *x)
{
    size_t i = x->idx;
    struct conc_heap_node *last = h->v[--h->n];

    x->idx = CONC_HEAP_NONE;
    if (i == h->n)
        return;
    heap_set(h, i, last);
    heap_up(h, i);
    heap_down(h, last->idx);
}
