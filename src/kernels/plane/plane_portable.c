/* Portable plane kernels: one-lane "vectors" (compilers vectorise them for the baseline ISA).
 * Any CPU, and the fallback for ISAs this build has no kernels for. */
#define GN_SIMD_LEVEL 0
#define GN_PLANE_TABLE gn_plane_kernels_portable
#include "kernels/plane/plane_body.h"
