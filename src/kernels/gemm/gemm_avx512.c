/* AVX-512 GEMM kernels: 14x32 microtiles (28 zmm accumulators + 2 B vectors, A broadcast from
 * memory), 4x6 dot tiles. Compiled with AVX-512 flags on x86-64 only; without them (other
 * targets, other compilers) this file is empty and the dispatcher never names its table. */
#if defined(__AVX512F__) && defined(__FMA__)
#define GN_SIMD_LEVEL 2
#define GN_GEMM_MR 14
#define GN_GEMM_NV 2
#define GN_GEMM_KC 256
#define GN_GEMM_MC 168
#define GN_GEMM_NC 2048
#define GN_DOT_MR 4
#define GN_DOT_NR 6
#define GN_GEMM_TABLE gn_gemm_kernels_avx512
#include "kernels/gemm/gemm_ukr.h"
#else
typedef int gn_gemm_avx512_unavailable; /* keeps the translation unit non-empty */
#endif
