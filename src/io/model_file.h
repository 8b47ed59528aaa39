/* Model files (see model_file.c for the metadata keys). */
#ifndef GN_MODEL_FILE_H
#define GN_MODEL_FILE_H

#include "core/graph.h"
#include "io/safetensors.h"

/* Tensors under this prefix belong to training checkpoints (optimiser state); model loading
 * ignores them, so a checkpoint is also a model file. */
#define GN_OPTIMIZER_PREFIX "optimizer."

/* What a checkpoint adds to a model file. */
typedef struct gn_model_extras {
    const gn_st_entry *entries;
    size_t count;
    const char *const *meta_keys;
    const char *const *meta_values;
    size_t meta_count;
} gn_model_extras;

/* Builds the model config describes on the tensors of f (an opened safetensors file, or any
 * tensor list shaped like one), checking them as gn_model_load does. F32 tensors are used in
 * place; the model owns f from then on, and f is closed on failure. */
gn_status gn_model_from_tensors(gn_context *ctx, const gn_model_config *config, gn_st_file *f,
                                gn_model **out);

/* Writes the model (and extras, if not NULL) atomically. */
gn_status gn_model_write(gn_model *m, const char *path, const gn_model_extras *extras);

#endif
