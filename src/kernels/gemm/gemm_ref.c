/* Reference SGEMM: the definition as a triple loop, accumulated in double so that it is a
 * tighter oracle than the float kernels it checks. */
#include "kernels/gemm/gemm.h"

void gn_sgemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double sum = 0.0;
            for (int p = 0; p < k; p++) {
                float av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                sum += (double)av * bv;
            }
            float *cp = c + (size_t)i * ldc + j;
            /* beta == 0 never reads C: it may hold NaN */
            *cp = beta == 0.0f ? (float)(alpha * sum) : (float)(alpha * sum + (double)beta * *cp);
        }
}
