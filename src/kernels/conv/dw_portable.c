/* Portable depthwise kernels: the template with one-lane vectors; any CPU. */
#define GN_SIMD_LEVEL 0
#define GN_DW_TABLE gn_dw_kernels_portable
#include "kernels/conv/dw_kernels.h"
