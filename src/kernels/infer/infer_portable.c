/* Portable inference kernels: the same template with one-lane "vectors" (GEMM tiles of 4 rows
 * by up to 8 scalar columns, which compilers auto-vectorise for the baseline ISA). Any CPU, and
 * the fallback for ISAs this build has no kernels for. */
#define GN_SIMD_LEVEL 0
#define GN_INFER_ISA GN_ISA_PORTABLE
#define GN_INFER_NV_MAX 8
#define GN_INFER_MR1 4
#define GN_INFER_MR2 4
#define GN_INFER_MR3 4
#define GN_INFER_MR4 4
#define GN_INFER_MR5 4
#define GN_INFER_MR6 4
#define GN_INFER_MR7 4
#define GN_INFER_MR8 4
#define GN_INFER_TABLE gn_infer_kernels_portable
#include "kernels/infer/infer_body.h"
