/* The model: a graph of primitive layers over activation values, plus its parameters.
 *
 * Composite parts (Ghost module, Ghost bottleneck, squeeze-excite) are builders that append
 * primitive nodes; so backward, planning and fusion only ever see the primitives below. Nodes
 * are stored in the order they were added, which is a topological order. */
#ifndef GN_GRAPH_H
#define GN_GRAPH_H

#include "core/internal.h"

typedef enum gn_op {
    GN_OP_CONV2D = 0,
    GN_OP_BATCHNORM,
    GN_OP_RELU,
    GN_OP_HARD_SIGMOID,
    GN_OP_GLOBAL_AVGPOOL,
    GN_OP_MAXPOOL,
    GN_OP_LINEAR,
    GN_OP_DROPOUT,
    GN_OP_ADD,
    GN_OP_CHANNEL_SCALE,
    GN_OP_CONCAT,
    GN_OP_COUNT
} gn_op;

/* What a parameter is, which decides its initialisation and whether weight decay applies. */
typedef enum gn_param_role {
    GN_PARAM_WEIGHT,       /* conv / linear weight                     */
    GN_PARAM_BIAS,         /* conv / linear bias                       */
    GN_PARAM_BN_WEIGHT,    /* gamma                                    */
    GN_PARAM_BN_BIAS,      /* beta                                     */
    GN_PARAM_RUNNING_MEAN, /* buffer: not learnable                    */
    GN_PARAM_RUNNING_VAR   /* buffer: not learnable                    */
} gn_param_role;

#define GN_PARAM_NAME_MAX 160

typedef struct gn_param {
    char name[GN_PARAM_NAME_MAX]; /* PyTorch state_dict key                  */
    gn_param_role role;
    int ndim;
    int shape[4];
    size_t count;
    int fan_in;                   /* for PyTorch's default init bound        */
    float *data;                  /* owned (gn_alloc) or inside a mapped file */
    int owned;
    float *grad;                  /* training only; NULL otherwise           */
} gn_param;

typedef struct gn_conv_attr {
    int in_channels, out_channels, kernel, stride, padding, groups, bias;
} gn_conv_attr;

typedef struct gn_pool_attr {
    int kernel, stride, padding;
} gn_pool_attr;

typedef struct gn_bn_attr {
    int channels;
    float eps, momentum;
    int64_t num_batches_tracked; /* saved with the model as PyTorch does */
} gn_bn_attr;

#define GN_NODE_MAX_PARAMS 4

typedef struct gn_node {
    gn_op op;
    char name[GN_PARAM_NAME_MAX];   /* module path ("blocks.0.0.ghost1.primary_conv.0") */
    int inputs[2];
    int num_inputs;
    int output;
    int block;                      /* summary row, -1 if none                  */
    int params[GN_NODE_MAX_PARAMS]; /* indices into model->params               */
    int num_params;
    union {
        gn_conv_attr conv;
        gn_bn_attr bn;
        gn_pool_attr pool;
        struct {
            int in_features, out_features;
        } linear;
        float dropout_p;
        int concat_keep;
    } attr;
} gn_node;

/* Shape of one image's activation; the batch size is a property of an execution. */
typedef struct gn_shape {
    int c, h, w;
} gn_shape;

typedef struct gn_value_def {
    int channels;
    int producer; /* node index, -1 for the model input */
} gn_value_def;

typedef struct gn_block {
    char name[48];
    char op[32];
    int exp, se, stride;
    int first_node, end_node; /* [first, end) */
} gn_block;

typedef struct gn_st_file gn_st_file;
typedef struct gn_exec gn_exec;
typedef struct gn_plan gn_plan;

struct gn_model {
    gn_context *ctx;
    gn_model_config config;
    gn_node *nodes;
    int num_nodes, cap_nodes;
    gn_value_def *values;
    int num_values, cap_values;
    gn_param *params;
    int num_params, cap_params;
    gn_block *blocks;
    int num_blocks, cap_blocks;
    int output;           /* value holding the logits, -1 until set   */
    int has_weights;      /* every parameter has storage and values    */
    gn_st_file *mapped;   /* weights file kept mapped for zero-copy    */
    gn_exec *infer_exec;  /* cached reference execution (last n,h,w), for graphs the plan
                             cannot compile                               */
    gn_plan *plan;        /* cached inference plan (last n,h,w)        */
};

/* Appends a node; returns its index or -1 (error recorded). The output value is created. */
int gn_graph_add_node(gn_model *m, const gn_node *node, int out_channels);
/* Appends a parameter to node; returns the index or -1. */
int gn_graph_add_param(gn_model *m, gn_node *node, const char *prefix, const char *suffix,
                       gn_param_role role, int ndim, const int *shape, int fan_in);
/* Checks a value id passed by a caller; records an error naming fn if invalid. */
gn_status gn_graph_check_value(gn_model *m, gn_value v, const char *fn);
/* Joins a prefix and a name with '.', as PyTorch module paths do ("" prefix gives name). */
void gn_join_name(char *out, size_t size, const char *prefix, const char *name);

/* Shapes of every value for an input of h x w (shapes has model->num_values entries).
 * Fails with GN_ERR_SHAPE naming the layer when a size does not fit. */
gn_status gn_graph_infer_shapes(const gn_model *m, int h, int w, gn_shape *shapes);

/* Allocates (owned) storage for every parameter that has none and sets PyTorch's default
 * initialisation from seed. */
gn_status gn_graph_alloc_params(gn_model *m);
gn_status gn_graph_init_params(gn_model *m, uint64_t seed);

/* Learnable parameter count of nodes [first, end). */
int64_t gn_graph_param_count_range(const gn_model *m, int first, int end);
/* MACs of nodes [first, end) for the given shapes. */
int64_t gn_graph_macs_range(const gn_model *m, const gn_shape *shapes, int first, int end);

/* Drops the cached execution and plan (after the graph or the weights changed: the plan holds
 * a repacked copy of the weights). */
void gn_model_drop_cache(gn_model *m);

#endif
