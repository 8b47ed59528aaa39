/* AVX2+FMA depthwise kernels (8 output columns per vector). Compiled with -mavx2 -mfma on
 * x86-64 only; empty otherwise. */
#if defined(__AVX2__) && defined(__FMA__)
#define GN_SIMD_LEVEL 1
#define GN_DW_TABLE gn_dw_kernels_avx2
#include "kernels/conv/dw_kernels.h"
#else
typedef int gn_dw_avx2_unavailable; /* keeps the translation unit non-empty */
#endif
