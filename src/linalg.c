/* dtrain: BLAS and LAPACK.  The only file that includes <cblas.h> or calls LAPACK. */
#include "dtrain/linalg.h"

#include <stddef.h>

#include <cblas.h>

void linalg_set_threads(int n) { openblas_set_num_threads(n); }
int linalg_threads(void) { return openblas_get_num_threads(); }

const char *linalg_library_version(void) { return openblas_get_config(); }

/* LAPACK's Fortran interface (no LAPACKE header is needed or installed):
 * arguments by reference, 32-bit integers (OpenBLAS and reference LAPACK as
 * Debian builds them), and gfortran's hidden length of each CHARACTER argument
 * appended last, so the call is also correct for a Fortran-compiled LAPACK. */
extern void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda,
                   double *b, const int *ldb, int *info, size_t uplo_len);
extern void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv,
                    int *info);
extern void dgetrs_(const char *trans, const int *n, const int *nrhs, const double *a,
                    const int *lda, const int *ipiv, double *b, const int *ldb, int *info,
                    size_t trans_len);

int linalg_dposv(int n, int nrhs, double *A, double *B)
{
    if (n == 0 || nrhs == 0)
        return 0;
    /* Row-major A is column-major A^T = A; its row-major lower triangle is the
     * column-major upper one, hence "U". */
    int info = 0, lda = n, ldb = n;
    dposv_("U", &n, &nrhs, A, &lda, B, &ldb, &info, 1);
    return info;
}

int linalg_dgesv(int n, int nrhs, double *A, int *ipiv, double *B)
{
    if (n == 0 || nrhs == 0)
        return 0;
    /* LAPACK sees row-major A as A^T: factor A^T = P L U, then solve
     * (A^T)^T X = B with trans = "T". */
    int info = 0, lda = n, ldb = n;
    dgetrf_(&n, &n, A, &lda, ipiv, &info);
    if (info != 0)
        return info;
    dgetrs_("T", &n, &nrhs, A, &lda, ipiv, B, &ldb, &info, 1);
    return info;
}
