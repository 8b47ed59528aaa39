/* AVX-512 plane kernels. Compiled with AVX-512 flags on x86-64 only; elsewhere this file is
 * empty. */
#if defined(__AVX512F__) && defined(__FMA__)
#define GN_SIMD_LEVEL 2
#define GN_PLANE_TABLE gn_plane_kernels_avx512
#include "kernels/plane/plane_body.h"
#else
typedef int gn_plane_avx512_unavailable; /* keeps the translation unit non-empty */
#endif
