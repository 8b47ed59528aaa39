/* Architecture names as they appear in model files and on the command line. */
#include "models/models.h"

#include <string.h>

static const char *const arch_names[] = {
    [GN_ARCH_GHOSTNET] = "ghostnet",
    [GN_ARCH_RESNET] = "resnet",
    [GN_ARCH_VGG] = "vgg",
    [GN_ARCH_CUSTOM] = "custom",
};

const char *gn_arch_name(gn_arch arch)
{
    if ((unsigned)arch < sizeof(arch_names) / sizeof(arch_names[0]))
        return arch_names[arch];
    return "unknown";
}

int gn_arch_parse(const char *name, gn_arch *out)
{
    for (unsigned i = 0; i < sizeof(arch_names) / sizeof(arch_names[0]); i++)
        if (strcmp(name, arch_names[i]) == 0) {
            *out = (gn_arch)i;
            return 0;
        }
    return -1;
}
