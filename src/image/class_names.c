/* The ImageNet-1k class names, in torchvision's order (data/imagenet_classes.txt, compiled in by
 * CMake so the library needs no data file at run time). */
#include "core/internal.h"

static const char *const imagenet_classes[] = {
#include "imagenet_classes.inc"
};

const char *gn_imagenet_class_name(int index)
{
    int count = (int)(sizeof(imagenet_classes) / sizeof(imagenet_classes[0]));
    return index >= 0 && index < count ? imagenet_classes[index] : NULL;
}
