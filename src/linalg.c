/* dtrain: BLAS.  The only file that includes <cblas.h>. */
#include "dtrain/linalg.h"

#include <cblas.h>

void linalg_sgemm(int transa, int transb, int m, int n, int k, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc)
{
    if (m == 0 || n == 0)
        return;
    cblas_sgemm(CblasRowMajor, transa ? CblasTrans : CblasNoTrans,
                transb ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, lda, B, ldb, beta,
                C, ldc);
}

void linalg_set_threads(int n) { openblas_set_num_threads(n); }

const char *linalg_library_version(void) { return openblas_get_config(); }
