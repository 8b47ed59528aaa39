/* aarch64 Advanced SIMD inference kernels (32 q registers: up to 24 accumulators per GEMM
 * tile). Every aarch64 CPU has them, so no flags are needed; elsewhere this file is empty. */
#if defined(__aarch64__)
#define GN_SIMD_LEVEL 3
#define GN_INFER_ISA GN_ISA_NEON
#define GN_INFER_NV_MAX 4
#define GN_INFER_MR1 12
#define GN_INFER_MR2 10
#define GN_INFER_MR3 6
#define GN_INFER_MR4 5
#define GN_INFER_TABLE gn_infer_kernels_neon
#include "kernels/infer/infer_body.h"
#else
typedef int gn_infer_neon_unavailable; /* keeps the translation unit non-empty */
#endif
