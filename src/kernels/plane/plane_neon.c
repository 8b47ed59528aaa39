/* aarch64 Advanced SIMD plane kernels; elsewhere this file is empty. */
#if defined(__aarch64__)
#define GN_SIMD_LEVEL 3
#define GN_PLANE_TABLE gn_plane_kernels_neon
#include "kernels/plane/plane_body.h"
#else
typedef int gn_plane_neon_unavailable; /* keeps the translation unit non-empty */
#endif
