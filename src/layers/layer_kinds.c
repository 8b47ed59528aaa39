/* The table from op to layer kind. */
#include "layers/layer.h"

const gn_layer_kind *gn_layer_kind_of(gn_op op)
{
    static const gn_layer_kind *const kinds[GN_OP_COUNT] = {
        [GN_OP_CONV2D] = &gn_layer_conv2d,
        [GN_OP_BATCHNORM] = &gn_layer_batchnorm,
        [GN_OP_RELU] = &gn_layer_relu,
        [GN_OP_HARD_SIGMOID] = &gn_layer_hard_sigmoid,
        [GN_OP_GLOBAL_AVGPOOL] = &gn_layer_global_avgpool,
        [GN_OP_MAXPOOL] = &gn_layer_maxpool,
        [GN_OP_LINEAR] = &gn_layer_linear,
        [GN_OP_DROPOUT] = &gn_layer_dropout,
        [GN_OP_ADD] = &gn_layer_add,
        [GN_OP_CHANNEL_SCALE] = &gn_layer_channel_scale,
        [GN_OP_CONCAT] = &gn_layer_concat,
    };
    return (unsigned)op < GN_OP_COUNT ? kinds[op] : NULL;
}

typedef struct layer_job {
    gn_layer_io *io;
    gn_layer_range_fn fn;
} layer_job;

static void run_layer_range(void *arg, int64_t begin, int64_t end)
{
    layer_job *job = arg;
    job->fn(job->io, begin, end);
}

void gn_layer_parallel(gn_layer_io *io, int64_t count, gn_layer_range_fn fn)
{
    layer_job job = {io, fn};
    gn_parallel_for(io->ctx, count, run_layer_range, &job);
}
