/* Architecture builders: each appends its layers to an empty graph made for config. */
#ifndef GN_MODELS_H
#define GN_MODELS_H

#include "core/graph.h"

/* Builds the graph for config (any arch); parameters get no storage yet. */
gn_status gn_model_build_graph(gn_context *ctx, const gn_model_config *config, gn_model **out);

/* The official GhostNet (paper Table 1) at config->width, or its small-input variant. */
gn_status gn_build_ghostnet(gn_model *m, const gn_model_config *config);

/* Name used in model-file metadata and on the command line ("ghostnet", "resnet", ...). */
const char *gn_arch_name(gn_arch arch);
/* Parses an arch name; returns 0 on success. */
int gn_arch_parse(const char *name, gn_arch *out);

#endif
