/* Portable Winograd transforms: the template with one-lane vectors; any CPU. */
#define GN_SIMD_LEVEL 0
#define GN_WINO_TABLE gn_wino_kernels_portable
#include "kernels/conv/wino_kernels.h"
