/* Winograd F(2x2, 3x3) kernels, compiled once per ISA (wino_portable.c, wino_avx2.c,
 * wino_avx512.c): the including file defines GN_SIMD_LEVEL and GN_WINO_TABLE. The transforms
 * run along a flat range of tile positions q, one vector of q at a time, over input planes
 * split into their four (row, column) phases, so every load and store is contiguous
 * (conv_winograd.c lays the tiles out that way); split makes those phases from input rows and
 * output interleaves a tile's two columns again in registers. Lavin & Gray, "Fast Algorithms
 * for Convolutional Neural Networks" (2016), F(2x2, 3x3):
 *   V = B^T d B,  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   (d: a 4x4 input tile)
 *   Y = A^T M A,  A^T = [1 1 1 0; 0 1 -1 -1]                      (M: the 4x4 products) */
#include "kernels/conv/conv_internal.h"
#include "kernels/infer/vec.h"

/* split_pairs: the even and the odd lanes of the 2 * GN_VL floats a, b (in order); store_pairs:
 * the inverse, e and o lane by lane into the 2 * GN_VL floats at p. */
#if GN_SIMD_LEVEL == 2
GN_INLINE void split_pairs(gn_vf a, gn_vf b, gn_vf *even, gn_vf *odd)
{
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *even = _mm512_permutex2var_ps(a, ie, b);
    *odd = _mm512_permutex2var_ps(a, io, b);
}
GN_INLINE void store_pairs(float *p, gn_vf e, gn_vf o)
{
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    gn_vstore(p, _mm512_permutex2var_ps(e, lo, o));
    gn_vstore(p + 16, _mm512_permutex2var_ps(e, hi, o));
}
#elif GN_SIMD_LEVEL == 1
GN_INLINE void split_pairs(gn_vf a, gn_vf b, gn_vf *even, gn_vf *odd)
{
    /* [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit quarters reordered 0, 2, 1, 3 */
    __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}
GN_INLINE void store_pairs(float *p, gn_vf e, gn_vf o)
{
    __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);
    gn_vstore(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    gn_vstore(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}
#elif GN_SIMD_LEVEL == 0
GN_INLINE void split_pairs(gn_vf a, gn_vf b, gn_vf *even, gn_vf *odd)
{
    *even = a;
    *odd = b;
}
GN_INLINE void store_pairs(float *p, gn_vf e, gn_vf o)
{
    p[0] = e;
    p[1] = o;
}
#else
#error "the Winograd transforms have no lane split for this GN_SIMD_LEVEL"
#endif

/* First n lanes (none when n <= 0) of the vector at p. */
GN_INLINE gn_vf load_first(const float *p, int n)
{
    return n >= GN_VL ? gn_vload(p) : n > 0 ? gn_vload_m(p, gn_vmask_first(n)) : gn_vzero();
}

GN_INLINE void store_first(float *p, int n, gn_vf v)
{
    if (n >= GN_VL)
        gn_vstore(p, v);
    else if (n > 0)
        gn_vstore_m(p, gn_vmask_first(n), v);
}

/* For each row r < rows: even[r * ers + t] = f(x[r * xrs + 2t]), t < (count + 1) / 2, and
 * odd[r * ers + t] = f(x[r * xrs + 2t + 1]), t < count / 2, with f(v) = max(v * scale + shift,
 * floor) (a multiply, then an add: the bits of the plane kernels' affine) when affine, else
 * f(v) = v. */
static void wino_split(const float *x, ptrdiff_t xrs, int rows, int count, int affine,
                       float scale, float shift, float floor, float *even, float *odd,
                       ptrdiff_t ers)
{
    gn_vf vs = gn_vset1(scale), vb = gn_vset1(shift), vf = gn_vset1(floor);
    for (int r = 0; r < rows; r++, x += xrs, even += ers, odd += ers)
        for (int t = 0; 2 * t < count; t += GN_VL) {
            int left = count - 2 * t;
            gn_vf a = load_first(x + 2 * t, left), b = load_first(x + 2 * t + GN_VL, left - GN_VL);
            if (affine) {
                a = gn_vmax(gn_vadd(gn_vmul(a, vs), vb), vf);
                b = gn_vmax(gn_vadd(gn_vmul(b, vs), vb), vf);
            }
            gn_vf e, o;
            split_pairs(a, b, &e, &o);
            store_first(even + t, (left + 1) / 2, e);
            store_first(odd + t, left / 2, o);
        }
}

/* v[(a * 4 + b) * vs + q] = (B^T d B)[a][b] for q in [0, count), count a multiple of GN_VL,
 * where d[i][j] = ph[(i % 2) * 2 + j % 2][(i / 2) * wp + j / 2 + q]. */
static void wino_input(const float *const ph[4], ptrdiff_t wp, size_t count, float *v,
                       ptrdiff_t vs)
{
    for (size_t q = 0; q < count; q += GN_VL) {
        gn_vf h[4][4];
        for (int i = 0; i < 4; i++) {
            const float *e = ph[(i % 2) * 2] + (i / 2) * wp + q;     /* columns 0 and 2 */
            const float *o = ph[(i % 2) * 2 + 1] + (i / 2) * wp + q; /* columns 1 and 3 */
            gn_vf d0 = gn_vload(e), d1 = gn_vload(o), d2 = gn_vload(e + 1), d3 = gn_vload(o + 1);
            h[i][0] = gn_vsub(d0, d2);
            h[i][1] = gn_vadd(d1, d2);
            h[i][2] = gn_vsub(d2, d1);
            h[i][3] = gn_vsub(d1, d3);
        }
        for (int b = 0; b < 4; b++) {
            gn_vstore(v + (0 * 4 + b) * vs + q, gn_vsub(h[0][b], h[2][b]));
            gn_vstore(v + (1 * 4 + b) * vs + q, gn_vadd(h[1][b], h[2][b]));
            gn_vstore(v + (2 * 4 + b) * vs + q, gn_vsub(h[2][b], h[1][b]));
            gn_vstore(v + (3 * 4 + b) * vs + q, gn_vsub(h[1][b], h[3][b]));
        }
    }
}

/* y[r * ys + 2 * q + c] = (A^T M A)[r][c] for q in [0, count), count a multiple of GN_VL, where
 * M[a][b] = m[(a * 4 + b) * ms + q]. */
static void wino_output(const float *m, ptrdiff_t ms, size_t count, float *y, ptrdiff_t ys)
{
    for (size_t q = 0; q < count; q += GN_VL) {
        gn_vf s0[4], s1[4];
        for (int b = 0; b < 4; b++) {
            gn_vf m0 = gn_vload(m + (0 * 4 + b) * ms + q), m1 = gn_vload(m + (1 * 4 + b) * ms + q);
            gn_vf m2 = gn_vload(m + (2 * 4 + b) * ms + q), m3 = gn_vload(m + (3 * 4 + b) * ms + q);
            s0[b] = gn_vadd(gn_vadd(m0, m1), m2);
            s1[b] = gn_vsub(gn_vsub(m1, m2), m3);
        }
        store_pairs(y + 2 * q, gn_vadd(gn_vadd(s0[0], s0[1]), s0[2]),
                    gn_vsub(gn_vsub(s0[1], s0[2]), s0[3]));
        store_pairs(y + ys + 2 * q, gn_vadd(gn_vadd(s1[0], s1[1]), s1[2]),
                    gn_vsub(gn_vsub(s1[1], s1[2]), s1[3]));
    }
}

/* dst[r * drs + j] (=, +=, or = 0.0f +, as store says) src[r * srs + j], r < rows, j < count. */
static void wino_store(float *dst, ptrdiff_t drs, const float *src, ptrdiff_t srs, int rows,
                       int count, gn_store_mode store)
{
    for (int r = 0; r < rows; r++, dst += drs, src += srs)
        for (int j = 0; j < count; j += GN_VL) {
            gn_vf v = load_first(src + j, count - j);
            if (store == GN_STORE_ADD)
                v = gn_vadd(load_first(dst + j, count - j), v);
            else if (store == GN_STORE_FRESH)
                v = gn_vadd(gn_vzero(), v);
            store_first(dst + j, count - j, v);
        }
}

const gn_wino_kernels GN_WINO_TABLE = {
    .split = wino_split,
    .input = wino_input,
    .store = wino_store,
    .output = wino_output,
};
