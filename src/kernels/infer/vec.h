/* Vector operations for the inference kernels: the ISA levels of kernels/gemm/simd.h (0 scalar,
 * 1 AVX2+FMA, 2 AVX-512) plus level 3, aarch64 Advanced SIMD, and the few operations the
 * epilogues and the plane kernels need beyond the GEMM's (max, min, divide, subtract, and
 * gn_vkeep_positive(y, v): v where y > 0, else 0), and, for vector levels, the pair
 * operations of the k-paired GEMM tile:
 *   gn_vset1_pair(p):  p[0], p[1], p[0], p[1], ... (one 64-bit broadcast)
 *   gn_vpair_sums(v):  lane j < GN_VL / 2 gets v[2j] + v[2j + 1].
 * The including file defines GN_SIMD_LEVEL first. */
#ifndef GN_INFER_VEC_H
#define GN_INFER_VEC_H

/* A read prefetch hint (no effect on results; nothing where the compiler lacks the builtin). */
#if defined(__GNUC__) || defined(__clang__)
#define GN_PREFETCH(p) __builtin_prefetch(p)
#else
#define GN_PREFETCH(p) ((void)(p))
#endif

#if GN_SIMD_LEVEL == 3
#if !defined(__aarch64__)
#error "GN_SIMD_LEVEL 3 (NEON) needs an aarch64 target"
#endif
#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GN_INLINE static inline __attribute__((always_inline))
#define GN_VL 4
typedef float32x4_t gn_vf;
typedef int gn_vmask; /* lanes in use, 1 <= n <= 4: NEON has no masked loads */
GN_INLINE gn_vf gn_vzero(void) { return vdupq_n_f32(0.0f); }
GN_INLINE gn_vf gn_vset1(float x) { return vdupq_n_f32(x); }
GN_INLINE gn_vf gn_vload(const float *p) { return vld1q_f32(p); }
GN_INLINE void gn_vstore(float *p, gn_vf v) { vst1q_f32(p, v); }
GN_INLINE gn_vmask gn_vmask_first(int n) { return n; }
GN_INLINE gn_vf gn_vload_m(const float *p, gn_vmask m)
{
    float lanes[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(lanes, p, (size_t)m * sizeof(float));
    return vld1q_f32(lanes);
}
GN_INLINE void gn_vstore_m(float *p, gn_vmask m, gn_vf v)
{
    float lanes[4];
    vst1q_f32(lanes, v);
    memcpy(p, lanes, (size_t)m * sizeof(float));
}
GN_INLINE gn_vf gn_vfma(gn_vf a, gn_vf b, gn_vf c) { return vfmaq_f32(c, a, b); }
GN_INLINE gn_vf gn_vadd(gn_vf a, gn_vf b) { return vaddq_f32(a, b); }
GN_INLINE gn_vf gn_vmul(gn_vf a, gn_vf b) { return vmulq_f32(a, b); }
GN_INLINE float gn_vsum(gn_vf v) { return vaddvq_f32(v); }
GN_INLINE gn_vf gn_vmax(gn_vf a, gn_vf b) { return vmaxq_f32(a, b); }
GN_INLINE gn_vf gn_vmin(gn_vf a, gn_vf b) { return vminq_f32(a, b); }
GN_INLINE gn_vf gn_vdiv(gn_vf a, gn_vf b) { return vdivq_f32(a, b); }
GN_INLINE gn_vf gn_vsub(gn_vf a, gn_vf b) { return vsubq_f32(a, b); }
GN_INLINE gn_vf gn_vkeep_positive(gn_vf y, gn_vf v)
{
    return vreinterpretq_f32_u32(vandq_u32(vcgtq_f32(y, vdupq_n_f32(0.0f)),
                                           vreinterpretq_u32_f32(v)));
}
GN_INLINE gn_vf gn_vset1_pair(const float *p)
{
    return vreinterpretq_f32_f64(vld1q_dup_f64((const double *)(const void *)p));
}
GN_INLINE gn_vf gn_vpair_sums(gn_vf v) { return vpaddq_f32(v, v); }
#else
#include "kernels/gemm/simd.h"

#include <string.h>

#if GN_SIMD_LEVEL == 2
GN_INLINE gn_vf gn_vmax(gn_vf a, gn_vf b) { return _mm512_max_ps(a, b); }
GN_INLINE gn_vf gn_vmin(gn_vf a, gn_vf b) { return _mm512_min_ps(a, b); }
GN_INLINE gn_vf gn_vdiv(gn_vf a, gn_vf b) { return _mm512_div_ps(a, b); }
GN_INLINE gn_vf gn_vsub(gn_vf a, gn_vf b) { return _mm512_sub_ps(a, b); }
GN_INLINE gn_vf gn_vkeep_positive(gn_vf y, gn_vf v)
{
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), v);
}
GN_INLINE gn_vf gn_vset1_pair(const float *p)
{
    double pair;
    memcpy(&pair, p, sizeof(pair));
    return _mm512_castpd_ps(_mm512_set1_pd(pair));
}
GN_INLINE gn_vf gn_vpair_sums(gn_vf v)
{
    gn_vf sums = _mm512_add_ps(v, _mm512_permute_ps(v, 0xb1));
    return _mm512_permutexvar_ps(_mm512_set_epi32(14, 12, 10, 8, 6, 4, 2, 0, 14, 12, 10, 8, 6,
                                                  4, 2, 0),
                                 sums);
}
#elif GN_SIMD_LEVEL == 1
GN_INLINE gn_vf gn_vmax(gn_vf a, gn_vf b) { return _mm256_max_ps(a, b); }
GN_INLINE gn_vf gn_vmin(gn_vf a, gn_vf b) { return _mm256_min_ps(a, b); }
GN_INLINE gn_vf gn_vdiv(gn_vf a, gn_vf b) { return _mm256_div_ps(a, b); }
GN_INLINE gn_vf gn_vsub(gn_vf a, gn_vf b) { return _mm256_sub_ps(a, b); }
GN_INLINE gn_vf gn_vkeep_positive(gn_vf y, gn_vf v)
{
    return _mm256_and_ps(_mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ), v);
}
GN_INLINE gn_vf gn_vset1_pair(const float *p)
{
    double pair;
    memcpy(&pair, p, sizeof(pair));
    return _mm256_castpd_ps(_mm256_set1_pd(pair));
}
GN_INLINE gn_vf gn_vpair_sums(gn_vf v)
{
    gn_vf sums = _mm256_add_ps(v, _mm256_permute_ps(v, 0xb1));
    return _mm256_permutevar8x32_ps(sums, _mm256_set_epi32(6, 4, 2, 0, 6, 4, 2, 0));
}
#else
GN_INLINE gn_vf gn_vmax(gn_vf a, gn_vf b) { return a > b ? a : b; }
GN_INLINE gn_vf gn_vmin(gn_vf a, gn_vf b) { return a < b ? a : b; }
GN_INLINE gn_vf gn_vdiv(gn_vf a, gn_vf b) { return a / b; }
GN_INLINE gn_vf gn_vsub(gn_vf a, gn_vf b) { return a - b; }
GN_INLINE gn_vf gn_vkeep_positive(gn_vf y, gn_vf v) { return y > 0.0f ? v : 0.0f; }
#endif
#endif

#endif
