/* AVX2+FMA GEMM kernels: 6x16 microtiles (12 ymm accumulators + 2 B vectors + 1 broadcast of the
 * 16 registers), 3x4 dot tiles. Compiled with -mavx2 -mfma on x86-64 only; empty otherwise. */
#if defined(__AVX2__) && defined(__FMA__)
#define GN_SIMD_LEVEL 1
#define GN_GEMM_MR 6
#define GN_GEMM_NV 2
#define GN_GEMM_KC 256
#define GN_GEMM_MC 144
#define GN_GEMM_NC 2048
#define GN_DOT_MR 3
#define GN_DOT_NR 4
#define GN_GEMM_TABLE gn_gemm_kernels_avx2
#include "kernels/gemm/gemm_ukr.h"
#else
typedef int gn_gemm_avx2_unavailable; /* keeps the translation unit non-empty */
#endif
