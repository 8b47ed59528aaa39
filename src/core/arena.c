/* Greedy arena placement: biggest buffers first, each at the lowest offset that does not
 * overlap a buffer alive at the same time. Simple and within a few percent of optimal for the
 * chain-like graphs of CNNs. */
#include "core/arena.h"

#include <stdlib.h>

#define GN_ARENA_ALIGN 64

static size_t round_up(size_t size)
{
    return (size + GN_ARENA_ALIGN - 1) / GN_ARENA_ALIGN * GN_ARENA_ALIGN;
}

typedef struct order_item {
    size_t size;
    int index;
} order_item;

static int by_size_descending(const void *a, const void *b)
{
    const order_item *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->index - y->index;
}

static int lifetimes_overlap(const gn_arena_request *a, const gn_arena_request *b)
{
    return a->first <= b->last && b->first <= a->last;
}

gn_status gn_arena_plan(gn_context *ctx, gn_arena_request *requests, int count, size_t *total)
{
    *total = 0;
    if (count == 0)
        return GN_OK;
    order_item *order = gn_alloc_named(ctx, (size_t)count * sizeof(*order), "arena plan");
    int *placed = gn_alloc_named(ctx, (size_t)count * sizeof(*placed), "arena plan");
    if (!order || !placed) {
        gn_free(ctx, order);
        gn_free(ctx, placed);
        return GN_ERR_NOMEM;
    }
    for (int i = 0; i < count; i++)
        order[i] = (order_item){round_up(requests[i].size), i};
    qsort(order, (size_t)count, sizeof(*order), by_size_descending);

    int num_placed = 0;
    for (int k = 0; k < count; k++) {
        gn_arena_request *r = &requests[order[k].index];
        size_t size = order[k].size;
        /* Try offset 0 and the end of every conflicting placed buffer; keep the lowest fit. */
        size_t best = SIZE_MAX;
        for (int c = -1; c < num_placed; c++) {
            size_t candidate = 0;
            if (c >= 0) {
                const gn_arena_request *p = &requests[placed[c]];
                if (!lifetimes_overlap(p, r))
                    continue;
                candidate = p->offset + round_up(p->size);
            }
            if (candidate >= best)
                continue;
            int fits = 1;
            for (int j = 0; j < num_placed && fits; j++) {
                const gn_arena_request *p = &requests[placed[j]];
                if (lifetimes_overlap(p, r) && candidate < p->offset + round_up(p->size) &&
                    p->offset < candidate + size)
                    fits = 0;
            }
            if (fits)
                best = candidate;
        }
        r->offset = best;
        placed[num_placed++] = order[k].index;
        if (best + size > *total)
            *total = best + size;
    }
    gn_free(ctx, order);
    gn_free(ctx, placed);
    return GN_OK;
}
