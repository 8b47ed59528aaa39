/* Portable GEMM kernels: the same template with one-lane "vectors" (4x8 tiles of scalars, which
 * compilers auto-vectorise for the baseline ISA); any CPU, and the fallback for ISAs this build
 * has no kernels for. */
#define GN_SIMD_LEVEL 0
#define GN_GEMM_MR 4
#define GN_GEMM_NV 8
#define GN_GEMM_KC 256
#define GN_GEMM_MC 64
#define GN_GEMM_NC 1024
#define GN_DOT_MR 2
#define GN_DOT_NR 4
#define GN_GEMM_TABLE gn_gemm_kernels_portable
#include "kernels/gemm/gemm_ukr.h"
