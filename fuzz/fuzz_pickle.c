/* libFuzzer target for the restricted pickle reader. An accepted pickle's values are walked
 * (every string and item read, so AddressSanitizer checks them); the walk is bounded in depth
 * and in visits, as memo references can share one value many times over (a DAG whose paths
 * grow exponentially). A refused pickle must leave no result and a message naming the input. */
#include "fuzz_util.h"
#include "io/pickle.h"

#include <string.h>

#define MAX_DEPTH 64
#define MAX_VISITS 100000

static unsigned touch(const gn_pickle_value *v, int depth, long *visits)
{
    if (depth > MAX_DEPTH || ++*visits > MAX_VISITS)
        return 0;
    unsigned sum = (unsigned)v->kind;
    switch (v->kind) {
    case GN_PICKLE_STRING:
    case GN_PICKLE_BYTES:
    case GN_PICKLE_BIGINT:
        for (size_t i = 0; i <= v->as.string.length; i++) /* the NUL too */
            sum += (unsigned char)v->as.string.data[i];
        break;
    case GN_PICKLE_TUPLE:
    case GN_PICKLE_LIST:
    case GN_PICKLE_DICT:
        for (size_t i = 0; i < v->as.seq.count; i++)
            sum += touch(v->as.seq.items[i], depth + 1, visits);
        break;
    case GN_PICKLE_TENSOR:
        fuzz_require(v->as.tensor.ndim >= 0 && v->as.tensor.ndim <= GN_PICKLE_MAX_DIMS,
                     "tensor rank out of range");
        sum += touch(v->as.tensor.storage, depth + 1, visits);
        break;
    case GN_PICKLE_STORAGE:
        sum += (unsigned)strlen(v->as.storage.key);
        break;
    default:
        break;
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gn_context *ctx = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 0;
    gn_pickle *pickle = NULL;
    size_t used = 0;
    gn_status status = gn_pickle_load(ctx, data, size, "fuzz.pkl", &pickle, &used);
    if (status == GN_OK) {
        fuzz_require(used >= 1 && used <= size, "consumed length out of range");
        long visits = 0;
        volatile unsigned sink = touch(gn_pickle_result(pickle), 0, &visits);
        (void)sink;
    } else {
        fuzz_require(pickle == NULL, "a result on failure");
        fuzz_require(strstr(gn_context_error(ctx), "fuzz.pkl") != NULL,
                     "error message does not name the input");
    }
    gn_pickle_free(ctx, pickle);
    gn_context_destroy(ctx);
    return 0;
}
