/* AVX-512 inference kernels (32 zmm registers: up to 24 accumulators per GEMM tile). Compiled
 * with AVX-512 flags on x86-64 only; elsewhere this file is empty and the dispatcher never
 * names its table. */
#if defined(__AVX512F__) && defined(__FMA__)
#define GN_SIMD_LEVEL 2
#define GN_INFER_ISA GN_ISA_AVX512
#define GN_INFER_NV_MAX 4
#define GN_INFER_MR1 8
#define GN_INFER_MR2 10
#define GN_INFER_MR3 8
#define GN_INFER_MR4 6
#define GN_DW_COLUMNS 8
#define GN_INFER_TABLE gn_infer_kernels_avx512
#include "kernels/infer/infer_body.h"
#else
typedef int gn_infer_avx512_unavailable; /* keeps the translation unit non-empty */
#endif
