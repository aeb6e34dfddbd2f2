/* dtrain: the only interface to CBLAS.  Row-major single precision. */
#ifndef DTRAIN_LINALG_H
#define DTRAIN_LINALG_H

/* C (m,n) = alpha * op(A) (m,k) * op(B) (k,n) + beta * C, all row-major.
 * transa/transb: 0 = as stored, 1 = transposed.  lda/ldb/ldc are the row
 * strides of A, B and C as stored. */
void linalg_sgemm(int transa, int transb, int m, int n, int k, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc);

/* Number of threads BLAS may use (OpenBLAS); 1 by default in dtrain. */
void linalg_set_threads(int n);

/* BLAS library description, e.g. "OpenBLAS 0.3.21 ...". */
const char *linalg_library_version(void);

#endif
