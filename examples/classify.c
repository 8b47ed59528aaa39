/* Loads a ghostnet model file and classifies one tensor with the public API only.
 *
 *   classify MODEL.safetensors [INPUT.f32]
 *
 * INPUT.f32 holds C x H x W little-endian float32 values, already normalised, at the model's
 * input size (see `ghostnet info --weights MODEL`). Without it, a synthetic gradient image is
 * used so the program runs anywhere. Prints the top-5 classes and their probabilities. */
#include <ghostnet.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int read_tensor(const char *path, float *data, size_t count)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        return -1;
    }
    size_t got = fread(data, sizeof(float), count, fp);
    int extra = fgetc(fp) != EOF;
    fclose(fp);
    if (got != count || extra) {
        fprintf(stderr, "%s: expected exactly %zu float32 values\n", path, count);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL.safetensors [INPUT.f32]\n", argv[0]);
        return 2;
    }
    gn_context *ctx = NULL;
    gn_model *model = NULL;
    float *input = NULL, *logits = NULL;
    int rc = 1;
    if (gn_context_create(NULL, &ctx) != GN_OK)
        return 1;
    if (gn_model_load(ctx, argv[1], &model) != GN_OK) {
        fprintf(stderr, "error: %s\n", gn_context_error(ctx));
        goto done;
    }
    const gn_model_config *config = gn_model_get_config(model);
    int c = config->in_channels, h = config->input_h, w = config->input_w;
    int classes = gn_model_num_classes(model);
    size_t count = (size_t)c * h * w;
    input = malloc(count * sizeof(float));
    logits = malloc((size_t)classes * sizeof(float));
    if (!input || !logits)
        goto done;
    if (argc == 3) {
        if (read_tensor(argv[2], input, count) != 0)
            goto done;
    } else {
        for (size_t i = 0; i < count; i++)
            input[i] = (float)(i % (size_t)w) / (float)w - 0.5f;
    }
    if (gn_model_forward(model, input, 1, h, w, logits) != GN_OK) {
        fprintf(stderr, "error: %s\n", gn_context_error(ctx));
        goto done;
    }
    /* softmax, then the five largest */
    float max = logits[0], sum = 0.0f;
    for (int i = 1; i < classes; i++)
        max = logits[i] > max ? logits[i] : max;
    for (int i = 0; i < classes; i++)
        sum += expf(logits[i] - max);
    printf("model: %s, %d classes, input %dx%dx%d\n", argv[1], classes, c, h, w);
    for (int k = 0; k < 5 && k < classes; k++) {
        int best = -1;
        for (int i = 0; i < classes; i++)
            if (!isnan(logits[i]) && (best < 0 || logits[i] > logits[best]))
                best = i;
        if (best < 0)
            break;
        printf("  class %4d  p = %.4f\n", best, expf(logits[best] - max) / sum);
        logits[best] = NAN;
    }
    rc = 0;
done:
    free(input);
    free(logits);
    gn_model_free(model);
    gn_context_destroy(ctx);
    return rc;
}
