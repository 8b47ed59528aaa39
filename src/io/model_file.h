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

/* Writes the model (and extras, if not NULL) atomically. */
gn_status gn_model_write(gn_model *m, const char *path, const gn_model_extras *extras);

#endif
