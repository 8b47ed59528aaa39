/* AVX2 + FMA inference kernels (16 ymm registers: up to 12 accumulators per GEMM tile).
 * Compiled with AVX2 flags on x86-64 only; elsewhere this file is empty. */
#if defined(__AVX2__) && defined(__FMA__)
#define GN_SIMD_LEVEL 1
#define GN_INFER_ISA GN_ISA_AVX2
#define GN_INFER_NV_MAX 4
#define GN_INFER_MR1 12
#define GN_INFER_MR2 6
#define GN_INFER_MR3 4
#define GN_INFER_MR4 2
#define GN_INFER_TABLE gn_infer_kernels_avx2
#include "kernels/infer/infer_body.h"
#else
typedef int gn_infer_avx2_unavailable; /* keeps the translation unit non-empty */
#endif
