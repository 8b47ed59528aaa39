/* The plan's parts, shared by its compiler (plan_fuse.c), its memory planner (plan_memory.c)
 * and its runner (plan_run.c). See plan.h for the overall design. */
#ifndef GN_PLAN_INTERNAL_H
#define GN_PLAN_INTERNAL_H

#include "kernels/infer/infer.h"
#include "plan/plan.h"
#include "plan/step_sync.h"

typedef enum step_kind {
    STEP_INPUT,     /* the caller's NCHW input into its NHWC buffer                          */
    STEP_CONV,      /* convolution or linear layer as a GEMM over pixels                     */
    STEP_DEPTHWISE, /* depthwise convolution, channel multiplier 1                           */
    STEP_AFFINE,    /* x * scale + shift, activations, adds, gates, copies                   */
    STEP_AVGPOOL,   /* global average pool                                                   */
    STEP_MAXPOOL,
    STEP_OUTPUT     /* the output value into the caller's NCHW buffer                        */
} step_kind;

/* How far a step's epilogue has been filled (infer.h: act, raw, residual, act_after). */
typedef enum step_stage {
    STAGE_KERNEL = 0, /* sum + bias: a batch norm can still fold into the weights           */
    STAGE_ACT,        /* act set                                                            */
    STAGE_RESIDUAL,   /* residual added                                                     */
    STAGE_CLOSED      /* act_after set, or a kernel without an epilogue                     */
} step_stage;

#define PLAN_NAME_MAX 64
#define PLAN_OP_MAX 48

typedef struct plan_step {
    step_kind kind;
    char name[PLAN_NAME_MAX];
    char op[PLAN_OP_MAX];
    int node;          /* graph node that made the step                                     */
    int64_t macs;      /* per forward pass                                                  */
    /* what it reads (graph values; -1: none)                                               */
    int x, residual, gate;
    int residual_offset; /* channel of the residual value this step's channels start at     */
    int nchw_input;      /* a convolution reading the caller's NCHW input where it lies       */
    /* what it writes: channels [offset, offset + count) of its group's value               */
    int group, offset, count;
    int raw, raw_offset; /* value kept before the residual (raw), and where                  */
    step_stage stage;
    gn_act act, act_after;
    /* weights as the graph holds them, and the per-output-channel scale and bias folded in */
    const float *weight;
    float *scale, *bias; /* owned until packing; count of the node's outputs                */
    int weight_outputs;  /* output channels the weights describe                            */
    /* filled by the memory planner                                                         */
    gn_conv_desc conv;
    gn_conv_weights packed;
    gn_dw_weights dw;
    gn_affine_desc affine;
    gn_pool_desc pool;
    int64_t units;
    int64_t inner;       /* units are [units / inner][inner], inner spatial (see infer.h)     */
    size_t scratch_bytes;
    int order;         /* position in the execution order                                   */
    int zero_borders;  /* first entry in plan->borders this step zeroes, and how many        */
    int num_borders;
} plan_step;

/* A set of steps writing disjoint channel ranges of one value: a plain step, or the two halves
 * of a Ghost module placed into one buffer. Fusing an element-wise op into a group extends
 * every member's epilogue and moves the group to the op's output value. */
typedef struct plan_group {
    int value;
} plan_group;

typedef struct plan_buffer {
    int channels, h, w, pad;
    int first, last;   /* lifetime in execution order                                       */
    size_t bytes, offset;
    gn_view view;      /* at pixel (0, 0) of image 0, inside the zero border                */
    int used;          /* still holds a value after fusion                                  */
} plan_buffer;

struct gn_plan {
    gn_model *model;
    gn_context *ctx;
    const gn_infer_kernels *kernels;
    int n, h, w;
    gn_shape *shapes;  /* per graph value                                                   */
    int *alias;        /* per value: the value it is identical to (dropout at inference)    */
    int *readers;      /* per value: graph readers not yet fused away (+1 for the output)   */
    int *buffer;       /* per value: buffer holding it, or -1                               */
    int *channel;      /* per value: its first channel in that buffer                       */
    int *group_of;     /* per value: the group whose current output it is, or -1            */
    int *gated_x, *gated_gate; /* per value: a channel_scale folded into its reader, or -1  */
    plan_step *steps;  /* in creation order; `order` gives the execution order              */
    int num_steps, cap_steps;
    int *order;        /* execution order: step indices                                     */
    plan_group *groups;
    int num_groups, cap_groups;
    plan_buffer *buffers;
    int num_buffers, cap_buffers;
    int *borders;      /* buffers to zero, listed per step (plan_step.zero_borders)         */
    void *arena;
    size_t arena_bytes;
    char *scratch;     /* per-thread scratch, scratch_stride bytes each, inside the arena    */
    size_t scratch_stride;
    size_t weight_bytes;
    int64_t macs;
    int64_t shared_min_macs;   /* average MACs per step below which a pass runs on 1 thread */
    gn_step_progress *progress; /* per thread, for the threads' sync (step_sync.h)        */
    gn_step_sync sync;
    int sync_ready;
    int64_t sync_base;  /* steps the threads completed in earlier runs                  */
    double *finished;   /* [thread][step]: when thread t finished step i (profiled runs) */
    /* Thread t's band of every banded step: the fraction [band[t], band[t + 1]) of its inner
     * units (ctx->threads + 1 entries), moved toward the threads' measured speeds between
     * runs (plan_run.c, adapt_bands); band_busy[t]: thread t's milliseconds in banded steps
     * during the last timed run. */
    double *band, *band_busy;
    int band_fixed; /* set by gn_plan_set_bands: the bands stay as given */
    int band_timed; /* this run times the threads' banded steps */
    unsigned runs;
    /* per run */
    const float *input;
    float *output;
    double *step_ms;
};

/* Bands adapt to the threads' speeds for up to this many threads (more keep even bands). */
#define GN_MAX_BAND_THREADS 64

/* plan_fuse.c: the steps, groups and value placements from the graph. */
gn_status gn_plan_fuse(gn_plan *p);
/* plan_memory.c: execution order, buffers, arena, kernel descriptors, packed weights. */
gn_status gn_plan_lay_out(gn_plan *p);

/* Shared helpers (plan_fuse.c). */
int gn_plan_new_buffer(gn_plan *p, int channels, int h, int w);
/* The value v stands for once dropouts are skipped. */
int gn_plan_resolve(const gn_plan *p, int v);

#endif
