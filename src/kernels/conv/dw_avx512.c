/* AVX-512 depthwise kernels (16 output columns per vector). Compiled with AVX-512 flags on
 * x86-64 only; empty otherwise, and then never named by the dispatcher. */
#if defined(__AVX512F__) && defined(__FMA__)
#define GN_SIMD_LEVEL 2
#define GN_DW_TABLE gn_dw_kernels_avx512
#include "kernels/conv/dw_kernels.h"
#else
typedef int gn_dw_avx512_unavailable; /* keeps the translation unit non-empty */
#endif
