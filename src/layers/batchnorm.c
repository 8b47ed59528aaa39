/* batchnorm: y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel.
 * Inference uses the running statistics. Training uses the batch's mean and biased variance,
 * and updates running = (1 - momentum) * running + momentum * batch, with the unbiased
 * variance, as PyTorch does; the batch mean and 1/sqrt(var + eps) are kept for backward. */
#include "layers/layer.h"

#include "kernels/plane/plane.h"

#include <math.h>
#include <stdio.h>

static int batchnorm_shape(const gn_node *node, const gn_shape *in, gn_shape *out, char *why,
                           size_t why_size)
{
    if (in[0].c != node->attr.bn.channels) {
        snprintf(why, why_size, "expects %d channels, got %d", node->attr.bn.channels, in[0].c);
        return -1;
    }
    *out = in[0];
    return 0;
}

static size_t batchnorm_saved(const gn_node *node, int n, const gn_shape *in,
                              const gn_shape *out)
{
    (void)node;
    (void)n;
    (void)out;
    return 4 * (size_t)in[0].c; /* batch mean, inverse std; scale, shift for a fused add */
}

/* Mean and biased variance of channel c over the batch (E[x^2] - E[x]^2 from sums in double,
 * exact enough for activations of any sensible scale). The per-plane sums come from the conv
 * that wrote x when it computed them (io->plane_sums), else from a pass over x here; both add
 * the same per-plane totals in image order, so the bits are the same. */
static void channel_moments(const gn_layer_io *io, const gn_plane_kernels *pk, int c,
                            double *mean, double *var)
{
    size_t plane = (size_t)io->out.h * io->out.w;
    double sum = 0.0, sq = 0.0;
    for (int b = 0; b < io->n; b++) {
        if (io->plane_sums) {
            const double *at = io->plane_sums + ((size_t)b * io->out.c + c) * 2;
            sum += at[0];
            sq += at[1];
            continue;
        }
        const float *x = io->x[0] + ((size_t)b * io->out.c + c) * plane;
        double s = 0.0, q = 0.0;
        pk->sums(x, x, plane, &s, &q);
        sum += s;
        sq += q;
    }
    double count = (double)plane * io->n;
    *mean = sum / count;
    double v = sq / count - *mean * *mean;
    *var = v > 0.0 ? v : 0.0;
}

static void batchnorm_forward_channels(gn_layer_io *io, int64_t first, int64_t end)
{
    const float *gamma = io->params[0]->data, *beta = io->params[1]->data;
    float *running_mean = io->params[2]->data, *running_var = io->params[3]->data;
    const gn_bn_attr *a = &io->node->attr.bn;
    size_t plane = (size_t)io->out.h * io->out.w;
    double count = (double)plane * io->n;
    int channels = io->out.c;
    const gn_plane_kernels *pk = gn_plane_kernels_for(io->ctx->isa);
    for (int c = (int)first; c < (int)end; c++) {
        float mean, invstd;
        if (io->training) {
            double bmean, bvar;
            channel_moments(io, pk, c, &bmean, &bvar);
            mean = (float)bmean;
            invstd = (float)(1.0 / sqrt(bvar + a->eps));
            double unbiased = count > 1 ? bvar * count / (count - 1) : bvar;
            running_mean[c] = (1.0f - a->momentum) * running_mean[c] + a->momentum * mean;
            running_var[c] = (1.0f - a->momentum) * running_var[c] +
                             a->momentum * (float)unbiased;
            io->saved[c] = mean;
            io->saved[channels + c] = invstd;
        } else {
            mean = running_mean[c];
            invstd = 1.0f / sqrtf(running_var[c] + a->eps);
        }
        float scale = gamma[c] * invstd;
        float shift = beta[c] - mean * scale;
        if (io->bn_into_add || io->bn_into_conv) { /* the reader applies them (layer.h) */
            io->saved[2 * channels + c] = scale;
            io->saved[3 * channels + c] = shift;
            continue;
        }
        float floor = io->fused_relu ? 0.0f : -INFINITY;
        for (int b = 0; b < io->n; b++) {
            size_t at = ((size_t)b * channels + c) * plane;
            pk->affine(io->x[0] + at, io->y + at, plane, scale, shift, floor);
        }
    }
}

static void batchnorm_forward(gn_layer_io *io)
{
    gn_layer_parallel(io, io->out.c, batchnorm_forward_channels);
    if (io->training)
        io->bn->num_batches_tracked++;
}

/* With xhat = (x - mean) * invstd and M values per channel:
 *   dgamma = sum(dy * xhat), dbeta = sum(dy),
 *   dx = gamma * invstd * (dy - dbeta / M - xhat * dgamma / M). */
static void batchnorm_backward_channels(gn_layer_io *io, int64_t first, int64_t end)
{
    const float *gamma = io->params[0]->data, *beta = io->params[1]->data;
    float *dgamma = io->params[0]->grad, *dbeta = io->params[1]->grad;
    size_t plane = (size_t)io->out.h * io->out.w;
    int channels = io->out.c;
    float count = (float)plane * (float)io->n;
    const gn_plane_kernels *pk = gn_plane_kernels_for(io->ctx->isa);
    for (int c = (int)first; c < (int)end; c++) {
        float mean = io->saved[c], invstd = io->saved[channels + c];
        /* the forward's scale and shift (the same floats): a fused ReLU passes the gradient
         * where x * scale + shift > 0, so its mask comes from x, not from a read of y, and
         * the masked gradient is never stored */
        float scale = gamma[c] * invstd;
        float shift = beta[c] - mean * scale;
        int relu = io->fused_relu && !io->bn_grad_sums;
        double sum_dy = 0.0, sum_dy_x = 0.0;
        for (int b = 0; b < io->n; b++) {
            size_t at = ((size_t)b * channels + c) * plane;
            /* one channel's planes lie a whole image apart, each in pages of its own, where
             * the hardware's stream prefetch starts over: ask for the next image's first */
            if (!io->bn_grad_sums && b + 1 < io->n) {
                gn_prefetch_floats(io->x[0] + at + (size_t)channels * plane, plane);
                gn_prefetch_floats(io->dy + at + (size_t)channels * plane, plane);
            }
            if (io->bn_grad_sums) { /* the add took them (layer.h) */
                sum_dy += io->bn_grad_sums[((size_t)b * channels + c) * 2];
                sum_dy_x += io->bn_grad_sums[((size_t)b * channels + c) * 2 + 1];
            } else if (relu)
                pk->relu_sums(io->x[0] + at, scale, shift, io->dy + at, plane, &sum_dy,
                              &sum_dy_x);
            else
                pk->sums(io->dy + at, io->x[0] + at, plane, &sum_dy, &sum_dy_x);
        }
        /* sum(dy * xhat) = invstd * (sum(dy * x) - mean * sum(dy)) */
        double sum_dy_xhat = invstd * (sum_dy_x - (double)mean * sum_dy);
        dgamma[c] += (float)sum_dy_xhat;
        dbeta[c] += (float)sum_dy;
        if (!io->dx[0])
            continue;
        float k = gamma[c] * invstd, mean_dy = (float)sum_dy / count;
        float mean_dy_xhat = (float)sum_dy_xhat / count;
        for (int b = 0; b < io->n; b++) {
            size_t at = ((size_t)b * channels + c) * plane;
            if (b + 1 < io->n) {
                gn_prefetch_floats(io->x[0] + at + (size_t)channels * plane, plane);
                gn_prefetch_floats(io->dy + at + (size_t)channels * plane, plane);
            }
            if (relu)
                pk->bn_relu_dx(io->x[0] + at, io->dy + at, io->dx[0] + at, plane, mean, invstd,
                               k, mean_dy, mean_dy_xhat, scale, shift, io->dx_fresh[0]);
            else
                pk->bn_dx(io->x[0] + at, io->dy + at, io->dx[0] + at, plane, mean, invstd, k,
                          mean_dy, mean_dy_xhat, io->dx_fresh[0]);
        }
    }
}

static void batchnorm_backward(gn_layer_io *io)
{
    gn_layer_parallel(io, io->out.c, batchnorm_backward_channels);
}

const gn_layer_kind gn_layer_batchnorm = {
    .name = "batchnorm",
    .shape = batchnorm_shape,
    .saved_floats = batchnorm_saved,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .fresh_dx = 1,
};
