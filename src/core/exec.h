/* Execution of a model's graph with the reference layers, for one batch size and input size.
 * Created once (shapes resolved, one arena allocated), then run any number of times without
 * allocating. Inference executions share memory between values whose lifetimes do not overlap;
 * training executions keep every activation and gradient for the backward pass. */
#ifndef GN_EXEC_H
#define GN_EXEC_H

#include "core/graph.h"

struct gn_exec {
    gn_model *model;
    int n, h, w;
    int training;
    gn_shape *shapes;     /* per value                                      */
    int *last_use;        /* per value: last node reading it (see exec.c)   */
    int *fused_relu;      /* per node: for a BN, the ReLU node it computes in place (it
                             skips), else -1; for that ReLU, the BN's index            */
    int *bn_fold;         /* per node, training only: for a BN whose only reader is an add
                             that applies its scale and shift (gn_layer_io.bn_into_add), that
                             add's index; for that add, which input (0 or 1); else -1  */
    int *bn_conv;         /* per node, training only: for a BN (with or without its fused
                             ReLU) whose only reader is a conv that applies its scale and
                             shift as it reads (gn_layer_io.bn_into_conv), that conv's
                             index; for that conv, the BN's; else -1                   */
    float **act;          /* per value; act[0] is the caller's input; NULL for the output
                             of a BN folded into its reader (gn_exec_value gives it)    */
    float **grad;         /* per value, training only                        */
    float **saved;        /* per node, training only                         */
    double **plane_sums;  /* per node, training only: a conv whose only reader is a BN, and
                             that BN, share n x channels x 2 doubles (gn_layer_io) or NULL */
    double **bn_grad_sums; /* per node, training only: a BN folded into an add, and that
                             add, share n x channels x 2 doubles (gn_layer_io) or NULL */
    double *plane_sums_block; /* all of them and all bn_grad_sums             */
    char *scratch;        /* threads x scratch_stride bytes, shared by all layers */
    size_t scratch_stride;
    void *arena;
    size_t arena_bytes;
    gn_rng rng;           /* dropout                                         */
};

gn_status gn_exec_create(gn_model *m, int n, int h, int w, int training, gn_exec **out);
void gn_exec_free(gn_exec *exec);
/* Runs every layer on input (n x in_channels x h x w). */
gn_status gn_exec_forward(gn_exec *exec, const float *input);
/* Backpropagates dlogits (n x num_classes) through the last forward pass of a training
 * execution: value gradients are recomputed, parameter gradients (param->grad, which must be
 * allocated) are accumulated, as PyTorch's .backward() does. */
gn_status gn_exec_backward(gn_exec *exec, const float *dlogits);
/* The output value after a forward pass (n x num_classes). */
const float *gn_exec_output(const gn_exec *exec);
/* Value v of the last forward pass: act[v], or, for the output of a BN folded into its reader
 * (never stored), that output computed into buf (n x its shape floats) from the BN's input and
 * saved scale and shift, the bits the BN would have written. NULL when v is neither (or buf
 * is NULL). */
const float *gn_exec_value(const gn_exec *exec, int v, float *buf);

#endif
