/* Opening any weights file a user may hold (model file, timm safetensors, PyTorch checkpoint),
 * shared by convert and classify. */
#include "cli.h"

int cli_open_checkpoint(const char *command, gn_context *ctx, const cli_model_spec *spec,
                        const char *path, gn_model **out)
{
    gn_model_config config = spec->config;
    if (!spec->have_classes)
        config.num_classes = 0; /* read from the classifier's weight */
    gn_status st = gn_checkpoint_load(ctx, path, &config, out);
    return st == GN_OK ? CLI_OK : cli_lib_error(command, ctx, st);
}
