/* AVX2+FMA Winograd transforms (8 tile positions per vector). Compiled with AVX2 flags on
 * x86-64 only; empty otherwise, and then never named by the dispatcher. */
#if defined(__AVX2__) && defined(__FMA__)
#define GN_SIMD_LEVEL 1
#define GN_WINO_TABLE gn_wino_kernels_avx2
#include "kernels/conv/wino_kernels.h"
#else
typedef int gn_wino_avx2_unavailable; /* keeps the translation unit non-empty */
#endif
