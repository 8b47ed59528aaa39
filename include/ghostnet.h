/*
 * ghostnet — GhostNet (Han et al., "GhostNet: More Features from Cheap Operations", CVPR 2020)
 * in portable C11.
 *
 * The public API in one header. Conventions:
 *   - every function that can fail returns a gn_status; on failure the context that owns the
 *     object keeps a message naming the file, tensor or argument at fault (gn_context_error);
 *   - no global state: everything hangs off a gn_context (thread count, allocator, last error);
 *   - tensors at the API are float32, NCHW, contiguous, in PyTorch's layout.
 */
#ifndef GHOSTNET_H
#define GHOSTNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GN_VERSION_MAJOR 0
#define GN_VERSION_MINOR 1
#define GN_VERSION_PATCH 0
#define GN_VERSION_STRING "0.1.0"

#if defined(_WIN32) && defined(GN_SHARED_BUILD)
#define GN_API __declspec(dllexport)
#elif defined(__GNUC__)
#define GN_API __attribute__((visibility("default")))
#else
#define GN_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------------------- */
typedef enum gn_status {
    GN_OK = 0,
    GN_ERR_ARGUMENT,    /* a caller passed an invalid argument                              */
    GN_ERR_NOMEM,       /* an allocation failed                                              */
    GN_ERR_IO,          /* open/read/write/rename failed                                     */
    GN_ERR_FORMAT,      /* a file is truncated, corrupt or not what it claims to be          */
    GN_ERR_UNSUPPORTED, /* valid, but something this build does not handle                   */
    GN_ERR_SHAPE,       /* a tensor or input has the wrong shape                             */
    GN_ERR_MISSING,     /* an expected tensor or metadata key is absent                      */
    GN_ERR_DTYPE,       /* a tensor has a dtype we cannot use                                */
    GN_ERR_INTERRUPTED  /* a long job stopped because the caller asked it to                 */
} gn_status;

/* Short upper-case name of a status ("GN_ERR_FORMAT"). Never NULL. */
GN_API const char *gn_status_name(gn_status status);

/* ---------------------------------------------------------------------------------------------
 * Context: owns the allocator, the thread count and the last error message.
 * A context may be used by one thread at a time; use one context per thread otherwise.
 * ------------------------------------------------------------------------------------------- */
typedef struct gn_context gn_context;

typedef struct gn_allocator {
    void *(*alloc)(void *user, size_t size, size_t alignment); /* NULL on failure */
    void (*free)(void *user, void *ptr);
    void *user;
} gn_allocator;

typedef struct gn_context_options {
    int threads;                  /* worker threads for kernels; 0 = 1                     */
    const gn_allocator *allocator; /* NULL = aligned malloc/free                            */
    const char *isa;              /* kernels to use: NULL = best the CPU supports, or
                                     "portable", "avx2", "avx512", "neon" (must be supported) */
} gn_context_options;

GN_API gn_status gn_context_create(const gn_context_options *options, gn_context **out);
GN_API void gn_context_destroy(gn_context *ctx);
/* Message describing the last failure in this context ("" if none). Valid until the next call. */
GN_API const char *gn_context_error(const gn_context *ctx);
GN_API int gn_context_threads(const gn_context *ctx);
/* Name of the kernel instruction set the context uses ("avx512", "avx2", "portable", ...). */
GN_API const char *gn_context_isa(const gn_context *ctx);

/* ---------------------------------------------------------------------------------------------
 * Model configuration: what a model file's metadata carries, and what builders take.
 * ------------------------------------------------------------------------------------------- */
typedef enum gn_arch {
    GN_ARCH_GHOSTNET = 0, /* the official ImageNet GhostNet layout                           */
    GN_ARCH_RESNET,       /* CIFAR ResNet (depth 20/32/44/56/110)                            */
    GN_ARCH_VGG,          /* CIFAR VGG-16                                                     */
    GN_ARCH_CUSTOM        /* built by hand with the graph API below                          */
} gn_arch;

#define GN_MAX_NORM_CHANNELS 4

typedef struct gn_model_config {
    gn_arch arch;
    double width;          /* GhostNet width multiplier (0.5, 1.0, 1.3, ...)                  */
    int depth;             /* ResNet depth (6n+2) or VGG depth (16)                           */
    int num_classes;
    int in_channels;
    int input_h, input_w;  /* the size the model was made for (informative; any size the
                              strides allow runs)                                             */
    float dropout;         /* dropout before the classifier (training only)                   */
    int small_input;       /* GhostNet for 28-32 px images: 1 = stride-1 stem, 2 = also a
                              stride-1 blocks.1 (see src/models/ghostnet.c)                   */
    int ghost_ratio;       /* the paper's plug-and-play (Sec. 4.1), resnet and vgg only: s >= 2
                              makes every 3x3 conv but the first, with its BN, a Ghost module
                              of ratio s (src/models/ghostify.c); 0 for an ordinary model     */
    int ghost_kernel;      /* its cheap depthwise kernel d (odd)                              */
    float mean[GN_MAX_NORM_CHANNELS]; /* input normalisation, per input channel               */
    float std[GN_MAX_NORM_CHANNELS];
} gn_model_config;

/* Fills the defaults for an architecture (GhostNet: width 1.0, 1000 classes, 3x224x224,
 * dropout 0.2, ImageNet mean/std; ResNet: depth 56, VGG: depth 16, both 10 classes, 3x32x32,
 * no dropout, no ghost). */
GN_API void gn_model_config_default(gn_model_config *config, gn_arch arch);

/* ---------------------------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------------------------- */
typedef struct gn_model gn_model;

/* Builds the architecture described by config with PyTorch's default initialisation
 * (kaiming-uniform conv/linear weights, BN weight 1, bias 0, mean 0, var 1) from seed. */
GN_API gn_status gn_model_create(gn_context *ctx, const gn_model_config *config, uint64_t seed,
                                 gn_model **out);
/* Loads a safetensors model file; the architecture comes from its __metadata__. Every expected
 * tensor is checked for presence, dtype (F32/F16/BF16) and shape. */
GN_API gn_status gn_model_load(gn_context *ctx, const char *path, gn_model **out);
/* Loads weights from a safetensors file into an already built model (the file need not carry
 * metadata: use this for timm / Hugging Face files). */
GN_API gn_status gn_model_load_weights(gn_model *model, const char *path);
/* Loads a model from any weights file a user may hold: a ghostnet model file (its metadata gives
 * the architecture, config is ignored), a safetensors file without our metadata (timm / Hugging
 * Face), or a PyTorch checkpoint written by torch.save (zip or legacy format) holding a state
 * dict, possibly wrapped as {"state_dict": ...} or {"model": ...}, keys possibly prefixed
 * "module.". The pickle is parsed, never executed: anything but tensors and plain containers
 * (os.system, a model class, ...) is refused. For files without metadata, config gives the
 * architecture (NULL: GhostNet defaults); its num_classes / in_channels of 0 are read from the
 * classifier and stem tensors. Save the result with gn_model_save to get a model file. */
GN_API gn_status gn_checkpoint_load(gn_context *ctx, const char *path,
                                    const gn_model_config *config, gn_model **out);
/* Writes every parameter and buffer (PyTorch state_dict names) plus metadata, atomically. */
GN_API gn_status gn_model_save(gn_model *model, const char *path);
GN_API void gn_model_free(gn_model *model);

GN_API const gn_model_config *gn_model_get_config(const gn_model *model);
GN_API gn_context *gn_model_context(const gn_model *model);
GN_API int gn_model_num_classes(const gn_model *model);
GN_API int gn_model_in_channels(const gn_model *model);
/* Number of parameters (learnable weights; BN running statistics excluded), as PyTorch counts. */
GN_API int64_t gn_model_param_count(const gn_model *model);
/* Multiply-accumulates of conv and linear layers for one image of h x w. */
GN_API gn_status gn_model_macs(const gn_model *model, int h, int w, int64_t *macs);

/* One inference forward pass (BN uses running statistics, dropout is identity).
 * input: n x in_channels x h x w floats; logits: n x num_classes floats. */
GN_API gn_status gn_model_forward(gn_model *model, const float *input, int n, int h, int w,
                                  float *logits);

/* ---------------------------------------------------------------------------------------------
 * Inference plan: gn_model_forward compiles the model once per (n, h, w) into fused steps over
 * one arena (BN folded into the weights, activations and residual adds in the kernels, the
 * Ghost module's concatenation by placement) and reuses it until the size or weights change.
 * ------------------------------------------------------------------------------------------- */
typedef struct gn_plan_info {
    size_t arena_bytes;  /* activations + per-thread scratch: the peak working memory      */
    size_t weight_bytes; /* weights as the plan repacked them                              */
    int steps;           /* fused steps                                                    */
    int64_t macs;        /* multiply-accumulates of one pass over the n images              */
    int threads;         /* threads a pass runs on: the context's, or 1 when the steps are  */
                         /* too small (under 1M MACs on average) to share                   */
} gn_plan_info;

typedef struct gn_step_info {
    char name[64];       /* the graph node that made it ("blocks.3.0.ghost1.primary_conv.0") */
    char op[48];         /* "conv 1x1/1", "dwconv 5x5/2", "global avgpool", ...             */
    char fused[48];      /* what its epilogue does ("bn relu", "bn +residual", ...)          */
    int out_c, out_h, out_w;
    int64_t macs;        /* for the n images                                                */
} gn_step_info;

/* Compiles (or reuses) the plan for n images of h x w and describes it; steps (NULL or up to
 * max entries) gets each step in execution order. */
GN_API gn_status gn_model_plan_info(gn_model *model, int n, int h, int w, gn_plan_info *info,
                                    gn_step_info *steps, int max);
/* gn_model_forward that also measures each step's wall time: step_ms[i] += milliseconds of
 * step i (up to max entries), for per-layer profiles. */
GN_API gn_status gn_model_forward_timed(gn_model *model, const float *input, int n, int h,
                                        int w, float *logits, double *step_ms, int max);

/* ---------------------------------------------------------------------------------------------
 * Images: the evaluation preprocessing of torchvision / timm, pixel-exact, and class names.
 * ------------------------------------------------------------------------------------------- */
typedef struct gn_preprocess {
    int resize;         /* shorter side after resizing, as torchvision's Resize(resize)      */
    int crop_h, crop_w; /* centre crop; must fit in the resized image                        */
    int channels;       /* 3: RGB, 1: gray (PIL's "L" weights)                               */
    float mean[GN_MAX_NORM_CHANNELS], std[GN_MAX_NORM_CHANNELS]; /* (x / 255 - mean) / std  */
} gn_preprocess;

/* What a model expects: crop = its input size (224 x 224), resize = floor(crop / 0.875) (256,
 * timm's crop_pct for GhostNet), channels and mean / std from its config (model-file metadata). */
GN_API void gn_preprocess_for_model(const gn_model *model, gn_preprocess *p);
/* Decodes an image file (JPEG, PNG, BMP or binary PPM/PGM), resizes its shorter side to
 * p->resize (PIL's bilinear, antialiased when shrinking), centre-crops, scales to [0, 1] and
 * normalises: out gets channels x crop_h x crop_w floats. The result equals torchvision's
 * Resize + CenterCrop + ToTensor + Normalize on Image.open(path).convert("RGB") bit for bit on
 * 8-bit images (JPEG decoded by libjpeg-turbo, as PIL does). Files claiming more than 100
 * megapixels or 65535 pixels a side are refused before any pixel memory is allocated. */
GN_API gn_status gn_image_preprocess(gn_context *ctx, const char *path, const gn_preprocess *p,
                                     float *out);
/* Name of ImageNet-1k class index (0..999) in torchvision's list ("tench", ...), or NULL. */
GN_API const char *gn_imagenet_class_name(int index);

/* ---------------------------------------------------------------------------------------------
 * Per-block summary (the paper's Table 1): one row per block the builder declared.
 * ------------------------------------------------------------------------------------------- */
typedef struct gn_block_info {
    char name[48];       /* "conv_stem", "blocks.3.0", "conv_head", ...                      */
    char op[32];         /* "conv2d 3x3", "G-bneck", "AvgPool 7x7", "FC", ...                */
    int in_c, in_h, in_w;
    int exp;             /* expansion channels (bottlenecks), else 0                          */
    int out_c, out_h, out_w;
    int se;              /* 1 if the block has squeeze-excite                                 */
    int stride;
    int64_t params;
    int64_t macs;
} gn_block_info;

/* Fills up to max rows for an input of h x w; *count gets the number of blocks. */
GN_API gn_status gn_model_summary(const gn_model *model, int h, int w, gn_block_info *rows,
                                  int max, int *count);

/* ---------------------------------------------------------------------------------------------
 * Graph API: build your own network from the paper's parts. Values are activations; value 0 is
 * the model input. Every function appends to the graph and returns the new value in *out.
 * Names are PyTorch state_dict prefixes ("blocks.0.0.ghost1"), used for the model file.
 * ------------------------------------------------------------------------------------------- */
typedef int gn_value;

/* An empty network taking in_channels-channel images. config->arch is set to GN_ARCH_CUSTOM. */
GN_API gn_status gn_graph_create(gn_context *ctx, int in_channels, gn_model **out);
/* Starts a summary row; nodes added until the next call belong to it. */
GN_API gn_status gn_graph_begin_block(gn_model *m, const char *name, const char *op, int exp,
                                      int se, int stride);

GN_API gn_status gn_graph_conv2d(gn_model *m, const char *name, gn_value in, int out_channels,
                                 int kernel, int stride, int padding, int groups, int bias,
                                 gn_value *out);
GN_API gn_status gn_graph_batchnorm(gn_model *m, const char *name, gn_value in, gn_value *out);
GN_API gn_status gn_graph_relu(gn_model *m, gn_value in, gn_value *out);
/* hard_sigmoid(x) = relu6(x + 3) / 6 */
GN_API gn_status gn_graph_hard_sigmoid(gn_model *m, gn_value in, gn_value *out);
GN_API gn_status gn_graph_global_avgpool(gn_model *m, gn_value in, gn_value *out);
GN_API gn_status gn_graph_maxpool(gn_model *m, gn_value in, int kernel, int stride, int padding,
                                  gn_value *out);
/* y = x W^T + b on the flattened input (n x c x 1 x 1 or any n x c x h x w). */
GN_API gn_status gn_graph_linear(gn_model *m, const char *name, gn_value in, int out_features,
                                 gn_value *out);
GN_API gn_status gn_graph_dropout(gn_model *m, gn_value in, float p, gn_value *out);
/* y = a + b (same shape) */
GN_API gn_status gn_graph_add(gn_model *m, gn_value a, gn_value b, gn_value *out);
/* y[n,c,h,w] = x[n,c,h,w] * gate[n,c,0,0] */
GN_API gn_status gn_graph_channel_scale(gn_model *m, gn_value x, gn_value gate, gn_value *out);
/* y = concat(a, b) along channels, keeping the first keep channels (keep <= ca + cb). */
GN_API gn_status gn_graph_concat(gn_model *m, gn_value a, gn_value b, int keep, gn_value *out);

/* Ghost module (paper Sec. 3.1, Eq. 2-3): a primary conv makes init = ceil(out/ratio)
 * intrinsic maps, a depthwise cheap_kernel x cheap_kernel conv makes init*(ratio-1) ghost maps,
 * concat, keep the first out. BN after both halves; ReLU after both if relu. */
GN_API gn_status gn_graph_ghost_module(gn_model *m, const char *name, gn_value in,
                                       int out_channels, int kernel, int stride, int ratio,
                                       int cheap_kernel, int relu, gn_value *out);
/* Ghost bottleneck (paper Fig. 3): ghost1 (relu) -> [depthwise k x k stride 2 + BN] -> [SE]
 * -> ghost2 (no relu) + shortcut. se_ratio 0 means no SE. */
GN_API gn_status gn_graph_ghost_bottleneck(gn_model *m, const char *name, gn_value in, int mid,
                                           int out_channels, int kernel, int stride,
                                           float se_ratio, gn_value *out);
/* Squeeze-excite as in GhostNet: avgpool -> conv_reduce (1x1, bias) -> ReLU -> conv_expand
 * (1x1, bias) -> hard_sigmoid -> scale x. reduced = make_divisible(c * se_ratio, 4). */
GN_API gn_status gn_graph_squeeze_excite(gn_model *m, const char *name, gn_value in,
                                         float se_ratio, gn_value *out);
/* Marks the network's output (logits) and finishes the graph. */
GN_API gn_status gn_graph_set_output(gn_model *m, gn_value out);
/* Channels of a value. */
GN_API int gn_graph_channels(const gn_model *m, gn_value v);
/* Re-initialises every parameter with PyTorch's default scheme from seed. */
GN_API gn_status gn_model_init_params(gn_model *m, uint64_t seed);

/* ---------------------------------------------------------------------------------------------
 * Training: SGD with momentum on softmax cross-entropy, as torch.optim.SGD and
 * torch.nn.CrossEntropyLoss compute them, so runs agree with PyTorch step for step.
 * ------------------------------------------------------------------------------------------- */
typedef enum gn_lr_schedule {
    GN_LR_CONSTANT = 0,
    GN_LR_STEP,   /* lr * gamma^(floor(step / step_size))                                   */
    GN_LR_COSINE  /* min_lr + (lr - min_lr) * (1 + cos(pi * t / T)) / 2 after the warm-up     */
} gn_lr_schedule;

typedef struct gn_train_config {
    float lr;               /* base learning rate                                            */
    float momentum;         /* 0 = plain SGD                                                 */
    int nesterov;
    float weight_decay;     /* L2 added to the gradient, as torch.optim.SGD does             */
    int decay_norm_and_bias;/* 0: BN weights/biases and conv/linear biases get no decay      */
    float label_smoothing;  /* as CrossEntropyLoss(label_smoothing=...)                      */
    gn_lr_schedule schedule;
    int64_t total_steps;    /* cosine: length of the schedule (after warm-up)                */
    int64_t step_size;      /* step schedule: steps between decays                           */
    float gamma;            /* step schedule: decay factor                                   */
    float min_lr;           /* cosine: final learning rate                                   */
    int64_t warmup_steps;   /* linear warm-up from lr / warmup_steps to lr                   */
    uint64_t seed;          /* dropout masks: step s uses a generator seeded from (seed, s)  */
} gn_train_config;

/* lr 0.1, momentum 0.9, weight decay 5e-4 (not on BN and biases), constant schedule. */
GN_API void gn_train_config_default(gn_train_config *config);
/* The learning rate a config gives at step (0-based). */
GN_API float gn_train_lr_at(const gn_train_config *config, int64_t step);

typedef struct gn_trainer gn_trainer;

typedef struct gn_step_stats {
    float loss;      /* mean loss over the batch                                             */
    int correct;     /* images whose arg-max logit is the label                              */
    float lr;        /* learning rate used for this step                                     */
} gn_step_stats;

/* A trainer owns the optimiser state and a training execution for up to max_batch images of
 * h x w. The model must stay alive while the trainer exists. */
GN_API gn_status gn_trainer_create(gn_model *model, const gn_train_config *config, int max_batch,
                                   int h, int w, gn_trainer **out);
GN_API void gn_trainer_free(gn_trainer *trainer);
/* One SGD step on n <= max_batch images (NCHW, normalised) with labels in [0, classes):
 * forward in training mode (batch statistics, dropout), loss, backward, update. */
GN_API gn_status gn_trainer_step(gn_trainer *trainer, const float *images, const int32_t *labels,
                                 int n, gn_step_stats *stats);
/* Steps taken so far (also the index of the next step's learning rate). */
GN_API int64_t gn_trainer_steps(const gn_trainer *trainer);
/* Checkpoints: the model file plus the optimiser's momentum buffers and step count, and the
 * caller's extra metadata (keys should start with "train."). Written atomically. */
GN_API gn_status gn_trainer_save(gn_trainer *trainer, const char *path,
                                 const char *const *meta_keys, const char *const *meta_values,
                                 size_t meta_count);
/* Restores momentum buffers and step count from a checkpoint written by gn_trainer_save; the
 * model's weights are loaded with gn_model_load from the same file. */
GN_API gn_status gn_trainer_restore(gn_trainer *trainer, const char *path);

/* Softmax cross-entropy of logits (n x classes) against labels, mean over the batch, with label
 * smoothing eps: target = (1 - eps) * onehot + eps / classes. If dlogits is not NULL it gets
 * d loss / d logits. */
GN_API gn_status gn_cross_entropy(gn_context *ctx, const float *logits, const int32_t *labels,
                                  int n, int classes, float label_smoothing, float *loss,
                                  float *dlogits);

/* ---------------------------------------------------------------------------------------------
 * Data sets for training and evaluation: images held in memory as 8-bit NCHW, batches made on
 * demand with augmentation. Sources: "fashion-mnist" (Debian's dataset-fashion-mnist), a folder
 * of IDX files (MNIST layout, gzipped or not), a folder of CIFAR-10/100 binary batches, or a
 * folder of images with one sub-folder per class (DIR/train/<class>/, DIR/test/<class>/; see
 * src/data/folder.c).
 * ------------------------------------------------------------------------------------------- */
typedef struct gn_dataset gn_dataset;

typedef enum gn_split { GN_SPLIT_TRAIN = 0, GN_SPLIT_TEST } gn_split;

GN_API gn_status gn_dataset_open(gn_context *ctx, const char *source, gn_split split,
                                 gn_dataset **out);
GN_API void gn_dataset_free(gn_dataset *dataset);
GN_API int64_t gn_dataset_size(const gn_dataset *dataset);
GN_API void gn_dataset_shape(const gn_dataset *dataset, int *channels, int *h, int *w);
GN_API int gn_dataset_classes(const gn_dataset *dataset);
/* "T-shirt/top", "airplane", ... or "class N" when the source names none. */
GN_API const char *gn_dataset_class_name(const gn_dataset *dataset, int label);
/* Per-channel mean and standard deviation of the pixels in [0, 1] (for normalisation). */
GN_API void gn_dataset_stats(const gn_dataset *dataset, float *mean, float *std);

typedef struct gn_augment {
    int out_h, out_w;     /* centre the image on a zero canvas of this size (0 = keep)     */
    int crop_padding;     /* random crop: shift by up to this many pixels, zero fill       */
    int hflip;            /* random horizontal flips                                        */
    float mean[GN_MAX_NORM_CHANNELS], std[GN_MAX_NORM_CHANNELS]; /* (x / 255 - mean) / std */
} gn_augment;

/* Images indices[0..n) as floats (n x C x out_h x out_w) and their labels. Random choices of
 * image i come from (seed, indices[i]) alone, so a batch is the same whatever the thread count
 * and however the epoch was cut into batches. aug NULL: no augmentation, no normalisation. */
GN_API gn_status gn_dataset_batch(const gn_dataset *dataset, const int64_t *indices, int n,
                                  const gn_augment *aug, uint64_t seed, float *images,
                                  int32_t *labels);

/* GhostNet's channel rounding: max(4, int(v + 2) // 4 * 4), plus 4 if below 0.9 v. */
GN_API int gn_make_divisible(double v, int divisor);

#ifdef __cplusplus
}
#endif
#endif /* GHOSTNET_H */
