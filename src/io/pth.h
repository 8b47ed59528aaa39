/* PyTorch checkpoints (torch.save) read natively, without Python:
 *   - the zip format (PyTorch >= 1.6): <name>/data.pkl, <name>/data/<key> storages,
 *     optionally <name>/byteorder;
 *   - the legacy format (_use_new_zipfile_serialization=False): pickled magic number, protocol
 *     version and system info, the pickled object, the pickled list of storage keys, then each
 *     storage as an 8-byte element count and its raw bytes.
 * The pickled object must be a state dict (a dict of tensors), possibly wrapped as
 * {"state_dict": ...}, {"model": ...}, {"model_state_dict": ...}, {"state_dict_ema": ...} or
 * {"model_ema": ...}; see pickle.h for what the pickle may contain. */
#ifndef GN_PTH_H
#define GN_PTH_H

#include "io/safetensors.h"

/* Whether data starts like a checkpoint of either format. */
bool gn_pth_is_checkpoint(const unsigned char *data, size_t size);

/* Reads the state dict of the checkpoint at path into a tensor list shaped like an opened
 * safetensors file: tensors in the dict's order, each contiguous (strides applied) in its own
 * dtype, all held in one anonymous mapping that gn_st_close releases. Keys are kept as they are
 * (see gn_checkpoint_load for "module." prefixes). */
gn_status gn_pth_read(gn_context *ctx, const char *path, gn_st_file **out);

#endif
