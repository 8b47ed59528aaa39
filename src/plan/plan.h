/* The compiled inference plan: a model's graph turned, for one batch size and input size, into
 * a short list of fused steps over NHWC buffers in one arena.
 *
 *   create (once per model, batch and input size): fuse the primitive graph (BN folded into
 *       the convolution weights; ReLU, hard-sigmoid and residual adds into the producing
 *       kernel's epilogue; the squeeze-excite multiply folded into the next convolution's
 *       weights; the Ghost module's concatenation by placement, so its two halves write their
 *       channels of one buffer), order the steps, place every buffer in one arena by lifetime
 *       and repack the weights for the context's ISA.
 *   run (any number of times): no allocation; the context's threads run every step together,
 *       claiming chunks of each step's work units, moving on once the step is complete
 *       (step_sync.h).
 *
 * The plan copies (repacks) the weights: it must be dropped when they change
 * (gn_model_drop_cache). */
#ifndef GN_PLAN_H
#define GN_PLAN_H

#include "core/graph.h"

typedef struct gn_plan gn_plan;

gn_status gn_plan_create(gn_model *m, int n, int h, int w, gn_plan **out);
/* The model's cached plan for (n, h, w), created (and the old one dropped) if needed. Fails
 * with GN_ERR_UNSUPPORTED for graphs the plan cannot compile (they run on the reference
 * execution). */
gn_status gn_model_plan(gn_model *m, int n, int h, int w, gn_plan **out);
void gn_plan_free(gn_plan *plan);
/* The batch and input size the plan was made for. */
void gn_plan_size(const gn_plan *plan, int *n, int *h, int *w);
/* One forward pass: input n x C x h x w (NCHW), output the output value in NCHW (n x classes
 * for a classifier). If step_ms is not NULL, step_ms[i] += the wall time of the i-th step in
 * execution order, in milliseconds. */
void gn_plan_run(gn_plan *plan, const float *input, float *output, double *step_ms);
/* The threads a pass runs on: the context's, or 1 for plans whose steps are too small to share. */
int gn_plan_threads(const gn_plan *plan);
/* Shares every pass between the context's threads, however small its steps (tests). */
void gn_plan_share_always(gn_plan *plan);
/* Fixes the threads' bands (tests): thread t takes the fraction [bounds[t], bounds[t + 1]) of
 * every banded step, bounds[0] = 0 and bounds[threads] = 1, increasing; no adaptation after. */
void gn_plan_set_bands(gn_plan *plan, const double *bounds);

/* Sizes and counts (info) and step i in execution order (gn_plan_step). */
void gn_plan_describe(const gn_plan *plan, gn_plan_info *info);
void gn_plan_step(const gn_plan *plan, int i, gn_step_info *info);

#endif
