/* A minimal vector abstraction so that each kernel template (gemm_ukr.h, conv/dw_kernels.h) is
 * written once and compiled once per ISA. The including file defines GN_SIMD_LEVEL before the
 * include: 0 = scalar (one-lane "vectors", any CPU), 1 = AVX2+FMA, 2 = AVX-512; levels 1 and 2
 * are only valid in files compiled with the matching -m flags (see the CMake block). Everything
 * is static inline: each translation unit gets its own copy at its own ISA. */
#ifndef GN_SIMD_H
#define GN_SIMD_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define GN_INLINE static inline __attribute__((always_inline))
#else
#define GN_INLINE static inline
#endif

#if !defined(GN_SIMD_LEVEL)
#error "define GN_SIMD_LEVEL (0, 1 or 2) before including simd.h"
#elif GN_SIMD_LEVEL == 2
#if !defined(__AVX512F__) || !defined(__FMA__)
#error "GN_SIMD_LEVEL 2 needs -mavx512f -mfma"
#endif
#include <immintrin.h>
#define GN_VL 16
typedef __m512 gn_vf;
typedef __mmask16 gn_vmask;
GN_INLINE gn_vf gn_vzero(void) { return _mm512_setzero_ps(); }
GN_INLINE gn_vf gn_vset1(float x) { return _mm512_set1_ps(x); }
GN_INLINE gn_vf gn_vload(const float *p) { return _mm512_loadu_ps(p); }
GN_INLINE void gn_vstore(float *p, gn_vf v) { _mm512_storeu_ps(p, v); }
/* Mask of the first n lanes, 1 <= n <= GN_VL. */
GN_INLINE gn_vmask gn_vmask_first(int n) { return (gn_vmask)((1u << n) - 1u); }
/* Masked lanes are neither read (no fault past the end of a buffer) nor written. */
GN_INLINE gn_vf gn_vload_m(const float *p, gn_vmask m) { return _mm512_maskz_loadu_ps(m, p); }
GN_INLINE void gn_vstore_m(float *p, gn_vmask m, gn_vf v) { _mm512_mask_storeu_ps(p, m, v); }
GN_INLINE gn_vf gn_vfma(gn_vf a, gn_vf b, gn_vf c) { return _mm512_fmadd_ps(a, b, c); }
GN_INLINE gn_vf gn_vadd(gn_vf a, gn_vf b) { return _mm512_add_ps(a, b); }
GN_INLINE gn_vf gn_vmul(gn_vf a, gn_vf b) { return _mm512_mul_ps(a, b); }
GN_INLINE float gn_vsum(gn_vf v) { return _mm512_reduce_add_ps(v); }

#elif GN_SIMD_LEVEL == 1
#if !defined(__AVX2__) || !defined(__FMA__)
#error "GN_SIMD_LEVEL 1 needs -mavx2 -mfma"
#endif
#include <immintrin.h>
#define GN_VL 8
typedef __m256 gn_vf;
typedef __m256i gn_vmask;
GN_INLINE gn_vf gn_vzero(void) { return _mm256_setzero_ps(); }
GN_INLINE gn_vf gn_vset1(float x) { return _mm256_set1_ps(x); }
GN_INLINE gn_vf gn_vload(const float *p) { return _mm256_loadu_ps(p); }
GN_INLINE void gn_vstore(float *p, gn_vf v) { _mm256_storeu_ps(p, v); }
GN_INLINE gn_vmask gn_vmask_first(int n)
{
    /* a sliding window over 8 ones then 8 zeros gives the first n lanes set */
    static const int32_t window[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(const void *)(window + 8 - n));
}
GN_INLINE gn_vf gn_vload_m(const float *p, gn_vmask m) { return _mm256_maskload_ps(p, m); }
GN_INLINE void gn_vstore_m(float *p, gn_vmask m, gn_vf v) { _mm256_maskstore_ps(p, m, v); }
GN_INLINE gn_vf gn_vfma(gn_vf a, gn_vf b, gn_vf c) { return _mm256_fmadd_ps(a, b, c); }
GN_INLINE gn_vf gn_vadd(gn_vf a, gn_vf b) { return _mm256_add_ps(a, b); }
GN_INLINE gn_vf gn_vmul(gn_vf a, gn_vf b) { return _mm256_mul_ps(a, b); }
GN_INLINE float gn_vsum(gn_vf v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

#elif GN_SIMD_LEVEL == 0
#define GN_VL 1
typedef float gn_vf;
typedef int gn_vmask;
GN_INLINE gn_vf gn_vzero(void) { return 0.0f; }
GN_INLINE gn_vf gn_vset1(float x) { return x; }
GN_INLINE gn_vf gn_vload(const float *p) { return *p; }
GN_INLINE void gn_vstore(float *p, gn_vf v) { *p = v; }
GN_INLINE gn_vmask gn_vmask_first(int n) { return n > 0; }
GN_INLINE gn_vf gn_vload_m(const float *p, gn_vmask m) { return m ? *p : 0.0f; }
GN_INLINE void gn_vstore_m(float *p, gn_vmask m, gn_vf v)
{
    if (m)
        *p = v;
}
GN_INLINE gn_vf gn_vfma(gn_vf a, gn_vf b, gn_vf c) { return a * b + c; }
GN_INLINE gn_vf gn_vadd(gn_vf a, gn_vf b) { return a + b; }
GN_INLINE gn_vf gn_vmul(gn_vf a, gn_vf b) { return a * b; }
GN_INLINE float gn_vsum(gn_vf v) { return v; }
#else
#error "unknown GN_SIMD_LEVEL"
#endif

#endif
