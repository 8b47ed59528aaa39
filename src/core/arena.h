/* Planning one arena for buffers whose lifetimes are known ahead (ggml / XNNPACK style): two
 * buffers share bytes only if their lifetimes do not overlap. */
#ifndef GN_ARENA_H
#define GN_ARENA_H

#include "core/internal.h"

typedef struct gn_arena_request {
    size_t size;     /* bytes (rounded up to 64 by the planner)                  */
    int first, last; /* lifetime: steps [first, last], inclusive                  */
    size_t offset;   /* out: where the buffer lives in the arena                  */
} gn_arena_request;

/* Places every request (largest first, lowest free offset) and sets *total to the arena size.
 * Returns GN_ERR_NOMEM only if scratch allocation fails. */
gn_status gn_arena_plan(gn_context *ctx, gn_arena_request *requests, int count, size_t *total);

#endif
