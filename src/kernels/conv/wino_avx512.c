/* AVX-512 Winograd transforms (16 tile positions per vector). Compiled with AVX-512 flags on
 * x86-64 only; empty otherwise, and then never named by the dispatcher. */
#if defined(__AVX512F__) && defined(__FMA__)
#define GN_SIMD_LEVEL 2
#define GN_WINO_TABLE gn_wino_kernels_avx512
#include "kernels/conv/wino_kernels.h"
#else
typedef int gn_wino_avx512_unavailable; /* keeps the translation unit non-empty */
#endif
