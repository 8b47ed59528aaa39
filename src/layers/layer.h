/* A layer kind: everything about one primitive op in one place (shape rule, cost, forward,
 * backward), in the manner of darknet's *_layer.c files, without one struct holding every
 * field of every kind. */
#ifndef GN_LAYER_H
#define GN_LAYER_H

#include "core/graph.h"

/* What a layer sees when it runs: batch size, shapes, buffers and parameters. */
typedef struct gn_layer_io {
    gn_context *ctx;
    const gn_node *node;
    int n;                  /* batch                                                      */
    gn_shape in[2], out;
    const float *x[2];      /* inputs (n x in[i])                                         */
    float *y;               /* output (n x out)                                           */
    gn_param *params[GN_NODE_MAX_PARAMS];
    gn_bn_attr *bn;         /* mutable BN state (num_batches_tracked), batchnorm only      */
    int fused_relu;         /* batchnorm and add: y = max(0, BN(x)) or max(0, a + b); dy
                               arrives for that y                                         */
    int training;           /* BN uses batch statistics, dropout drops                    */
    /* training forward, a conv whose only reader is a BN, and that BN: per image and output
     * channel, the sum and sum of squares of the plane ([(b * c + ch) * 2]), written by the
     * conv while its output is in cache, read by the BN instead of a pass of its own        */
    double *plane_sums;
    /* training forward, a BN whose only reader is an add (a residual block's last BN), and
     * that add: the BN computes its statistics but not its output, and leaves each channel's
     * scale and shift in its saved state after the mean and inverse std ([2c..4c)); the add
     * reads the BN's input as x[bn_input] and applies them (plane kernel affine_add, the bits
     * of the BN's pass followed by the add's). That saves a write and a read of a whole
     * activation, and its memory. bn_into_add: BN side; bn_affine set: add side.           */
    int bn_into_add;
    int bn_input;           /* add side: which input (0 or 1) comes through the BN          */
    const float *bn_affine; /* add side: that BN's scale[c], then shift[c]; NULL: no BN    */
    /* training backward, the same pair: per image and channel ([(b * c + ch) * 2]), the sum
     * of the gradient reaching the BN's output and of its product with the BN's input, taken
     * by the add as it writes that gradient (in cache); the BN adds them up instead of a pass
     * of its own, the same bits (plane.h: a call adds its total to the sums)               */
    double *bn_grad_sums;
    /* training, a BN (and its fused ReLU) whose only reader is a convolution that takes a
     * gn_conv_xform (the direct path at stride 1: a ResNet block's first BN, VGG's BNs), and
     * that conv: the BN computes its statistics but not its output and leaves each channel's
     * scale and shift in its saved state as for bn_into_add; the conv reads the BN's input as
     * x[0] and applies them (and the ReLU's floor) as it copies its input in, in forward and
     * for the weight gradient, the bits of the BN's own pass. The BN's output is never written,
     * read or kept: a write and a read of a whole activation fewer, and its memory.
     * bn_into_conv: BN side; conv_x_affine set: conv side.                                 */
    int bn_into_conv;
    const float *conv_x_affine; /* conv side: the BN's scale[c], then shift[c]; NULL: none  */
    float conv_x_floor;         /* conv side: 0 with the BN's fused ReLU, else -INFINITY     */
    /* backward only */
    const float *dy;        /* gradient of the loss w.r.t. y                              */
    float *dx[2];           /* gradients w.r.t. inputs, accumulated (+=); NULL = not needed */
    int dx_fresh[2];        /* kinds with fresh_dx: dx[k] holds garbage (this backward is its
                               first writer) and gets 0.0f + the gradient, the bits a zeroed
                               buffer would give, without a pass that zeroes it            */
    float *saved;           /* per-node scratch written by forward for backward           */
    char *scratch;          /* per-thread scratch: thread t owns scratch + t * scratch_stride,
                               scratch_stride >= the kind's scratch_bytes; not kept          */
    size_t scratch_stride;
    gn_rng *rng;            /* dropout masks                                              */
} gn_layer_io;

typedef struct gn_layer_kind {
    const char *name;
    /* Output shape from input shapes; on failure writes why and returns -1. */
    int (*shape)(const gn_node *node, const gn_shape *in, gn_shape *out, char *why,
                 size_t why_size);
    /* Multiply-accumulates for one image (0 for layers that do none). */
    int64_t (*macs)(const gn_node *node, const gn_shape *in, const gn_shape *out);
    /* Floats of scratch the training forward keeps for backward (NULL = none). */
    size_t (*saved_floats)(const gn_node *node, int n, const gn_shape *in, const gn_shape *out);
    /* Bytes of scratch each thread needs during forward or backward (NULL = none). */
    size_t (*scratch_bytes)(const gn_context *ctx, const gn_node *node, const gn_shape *in,
                            const gn_shape *out);
    void (*forward)(gn_layer_io *io);
    void (*backward)(gn_layer_io *io);
    int fresh_dx; /* backward honours gn_layer_io.dx_fresh (else dx arrives zeroed)          */
} gn_layer_kind;

extern const gn_layer_kind gn_layer_conv2d;
extern const gn_layer_kind gn_layer_batchnorm;
extern const gn_layer_kind gn_layer_relu;
extern const gn_layer_kind gn_layer_hard_sigmoid;
extern const gn_layer_kind gn_layer_global_avgpool;
extern const gn_layer_kind gn_layer_maxpool;
extern const gn_layer_kind gn_layer_linear;
extern const gn_layer_kind gn_layer_dropout;
extern const gn_layer_kind gn_layer_add;
extern const gn_layer_kind gn_layer_channel_scale;
extern const gn_layer_kind gn_layer_concat;

const gn_layer_kind *gn_layer_kind_of(gn_op op);

/* A conv2d node of these shapes can read its input through a BN's scale and shift
 * (gn_layer_io.bn_into_conv). */
int gn_conv2d_node_takes_xform(const gn_node *node, const gn_shape *in, const gn_shape *out);

/* Runs fn(io, begin, end) over [0, count) split in contiguous ranges across the context's
 * threads. Layers use it where every index is independent, so results do not depend on the
 * thread count. */
typedef void (*gn_layer_range_fn)(gn_layer_io *io, int64_t begin, int64_t end);
void gn_layer_parallel(gn_layer_io *io, int64_t count, gn_layer_range_fn fn);

/* Elements of one image's activation. */
static inline size_t gn_shape_numel(gn_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

#endif
