/* Context: allocator, threads and the last error. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *default_alloc(void *user, size_t size, size_t alignment)
{
    (void)user;
    void *ptr = NULL;
    if (size == 0)
        size = alignment;
    if (posix_memalign(&ptr, alignment, size) != 0)
        return NULL;
    return ptr;
}

static void default_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

const char *gn_status_name(gn_status status)
{
    switch (status) {
    case GN_OK: return "GN_OK";
    case GN_ERR_ARGUMENT: return "GN_ERR_ARGUMENT";
    case GN_ERR_NOMEM: return "GN_ERR_NOMEM";
    case GN_ERR_IO: return "GN_ERR_IO";
    case GN_ERR_FORMAT: return "GN_ERR_FORMAT";
    case GN_ERR_UNSUPPORTED: return "GN_ERR_UNSUPPORTED";
    case GN_ERR_SHAPE: return "GN_ERR_SHAPE";
    case GN_ERR_MISSING: return "GN_ERR_MISSING";
    case GN_ERR_DTYPE: return "GN_ERR_DTYPE";
    case GN_ERR_INTERRUPTED: return "GN_ERR_INTERRUPTED";
    }
    return "GN_ERR_UNKNOWN";
}

gn_status gn_context_create(const gn_context_options *options, gn_context **out)
{
    if (!out)
        return GN_ERR_ARGUMENT;
    *out = NULL;
    gn_allocator allocator = {default_alloc, default_free, NULL};
    if (options && options->allocator) {
        if (!options->allocator->alloc || !options->allocator->free)
            return GN_ERR_ARGUMENT;
        allocator = *options->allocator;
    }
    int threads = options ? options->threads : 1;
    if (threads < 0 || threads > 256)
        return GN_ERR_ARGUMENT;
    gn_isa best = gn_cpu_detect(), isa = best;
    if (options && options->isa) {
        /* A forced ISA must be one this CPU runs: portable always, else not above the best
         * (AVX2 is not available on aarch64 and NEON not on x86). */
        if (gn_isa_parse(options->isa, &isa) != 0)
            return GN_ERR_ARGUMENT;
        int runs = isa == GN_ISA_PORTABLE || isa == best ||
                   (isa == GN_ISA_AVX2 && best == GN_ISA_AVX512);
        if (!runs)
            return GN_ERR_UNSUPPORTED;
    }
    if (threads == 0)
        threads = 1;
    gn_context *ctx = allocator.alloc(allocator.user, sizeof(*ctx), 64);
    if (!ctx)
        return GN_ERR_NOMEM;
    memset(ctx, 0, sizeof(*ctx));
    ctx->allocator = allocator;
    ctx->threads = threads;
    ctx->isa = isa;
    if (threads > 1) {
        gn_status st = gn_thread_pool_create(ctx, threads, &ctx->pool);
        if (st != GN_OK) {
            allocator.free(allocator.user, ctx);
            return st;
        }
    }
    *out = ctx;
    return GN_OK;
}

void gn_context_destroy(gn_context *ctx)
{
    if (!ctx)
        return;
    if (ctx->pool)
        gn_thread_pool_destroy(ctx, ctx->pool);
    gn_allocator allocator = ctx->allocator;
    allocator.free(allocator.user, ctx);
}

const char *gn_context_error(const gn_context *ctx)
{
    return ctx ? ctx->message : "no context";
}

int gn_context_threads(const gn_context *ctx)
{
    return ctx ? ctx->threads : 1;
}

const char *gn_context_isa(const gn_context *ctx)
{
    return gn_isa_name(ctx ? ctx->isa : GN_ISA_PORTABLE);
}

gn_status gn_fail(gn_context *ctx, gn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof(ctx->message), fmt, ap);
    va_end(ap);
    ctx->last_status = status;
    return status;
}

gn_status gn_fail_prefix(gn_context *ctx, gn_status status, const char *fmt, ...)
{
    char old[GN_ERROR_MAX];
    memcpy(old, ctx->message, sizeof(old));
    va_list ap;
    va_start(ap, fmt);
    int used = vsnprintf(ctx->message, sizeof(ctx->message), fmt, ap);
    va_end(ap);
    /* Append ": old", truncating to the buffer (the prefix says where, the old text what). */
    size_t at = used < 0 ? 0 : (size_t)used;
    const char *tail[2] = {": ", old};
    for (int part = 0; part < 2; part++)
        for (const char *c = tail[part]; *c && at + 1 < sizeof(ctx->message); c++)
            ctx->message[at++] = *c;
    if (at < sizeof(ctx->message))
        ctx->message[at] = '\0';
    ctx->last_status = status;
    return status;
}

void gn_clear_error(gn_context *ctx)
{
    ctx->message[0] = '\0';
    ctx->last_status = GN_OK;
}

void *gn_alloc(gn_context *ctx, size_t size)
{
    return ctx->allocator.alloc(ctx->allocator.user, size, 64);
}

void *gn_alloc_zero(gn_context *ctx, size_t size)
{
    void *ptr = gn_alloc(ctx, size);
    if (ptr)
        memset(ptr, 0, size);
    return ptr;
}

void gn_free(gn_context *ctx, void *ptr)
{
    if (ptr)
        ctx->allocator.free(ctx->allocator.user, ptr);
}

bool gn_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

void *gn_alloc_named(gn_context *ctx, size_t size, const char *what)
{
    void *ptr = gn_alloc(ctx, size);
    if (!ptr)
        gn_fail(ctx, GN_ERR_NOMEM, "out of memory allocating %zu bytes for %s", size, what);
    return ptr;
}

char *gn_strdup(gn_context *ctx, const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = gn_alloc(ctx, n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}
