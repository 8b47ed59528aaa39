/* Softmax cross-entropy with label smoothing (torch.nn.CrossEntropyLoss, reduction "mean"):
 *   loss_i = -sum_c t_ic log softmax(z_i)_c,  t_ic = (1 - eps) [c == y_i] + eps / C
 *   d loss / d z_ic = (softmax(z_i)_c - t_ic) / n */
#include "core/internal.h"

#include <math.h>

gn_status gn_cross_entropy(gn_context *ctx, const float *logits, const int32_t *labels, int n,
                           int classes, float label_smoothing, float *loss, float *dlogits)
{
    if (!ctx)
        return GN_ERR_ARGUMENT;
    if (!logits || !labels || !loss || n < 1 || classes < 1)
        return gn_fail(ctx, GN_ERR_ARGUMENT, "gn_cross_entropy: invalid arguments");
    if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
        return gn_fail(ctx, GN_ERR_ARGUMENT, "label smoothing must be in [0, 1), got %g",
                       (double)label_smoothing);
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= classes)
            return gn_fail(ctx, GN_ERR_ARGUMENT, "label %d of image %d is outside [0, %d)",
                           (int)labels[i], i, classes);
        const float *z = logits + (size_t)i * classes;
        float max = z[0];
        for (int c = 1; c < classes; c++)
            max = z[c] > max ? z[c] : max;
        double sum = 0.0;
        for (int c = 0; c < classes; c++)
            sum += exp((double)(z[c] - max));
        double log_sum = log(sum) + max; /* log sum exp z */
        double smooth = 0.0;
        for (int c = 0; c < classes; c++)
            smooth += log_sum - z[c];
        total += (1.0 - label_smoothing) * (log_sum - z[labels[i]]) +
                 label_smoothing * smooth / classes;
        if (!dlogits)
            continue;
        float *d = dlogits + (size_t)i * classes;
        for (int c = 0; c < classes; c++) {
            double target = label_smoothing / classes + (c == labels[i] ? 1.0 - label_smoothing : 0.0);
            d[c] = (float)((exp((double)z[c] - log_sum) - target) / n);
        }
    }
    *loss = (float)(total / n);
    return GN_OK;
}
