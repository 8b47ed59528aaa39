/* AVX2 plane kernels. Compiled with AVX2 flags on x86-64 only; elsewhere this file is empty. */
#if defined(__AVX2__) && defined(__FMA__)
#define GN_SIMD_LEVEL 1
#define GN_PLANE_TABLE gn_plane_kernels_avx2
#include "kernels/plane/plane_body.h"
#else
typedef int gn_plane_avx2_unavailable; /* keeps the translation unit non-empty */
#endif
