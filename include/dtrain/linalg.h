/* dtrain: the only interface to BLAS and LAPACK (OpenBLAS).  The GEMMs of
 * training run on oneDNN (matmul.h); what is left here is LAPACK's dense
 * solves and OpenBLAS's threads and version. */
#ifndef DTRAIN_LINALG_H
#define DTRAIN_LINALG_H

/* Number of threads BLAS may use (OpenBLAS); 1 by default in dtrain. */
void linalg_set_threads(int n);
/* The count now (OpenBLAS's, the whole process's). */
int linalg_threads(void);

/* BLAS library description, e.g. "OpenBLAS 0.3.21 ...". */
const char *linalg_library_version(void);

/* --- LAPACK (double precision) ---------------------------------------------
 * Dense solves for the second-order methods.  Matrices are n x n, row-major,
 * leading dimension n; B holds nrhs right-hand sides, each a contiguous vector
 * of n (so one vector b is simply B with nrhs = 1).  Both overwrite A with its
 * factorisation and B with the solution X of A X = B.  The return value is
 * LAPACK's info: 0 on success, k > 0 when the factorisation broke down at
 * step k (dposv: A is not positive definite; dgesv: U(k,k) = 0, A singular),
 * < 0 for a bad argument. */

/* A symmetric positive definite: Cholesky A = L L^T (LAPACK dposv).  Only the
 * lower triangle (row-major) is read, the same numbers as the upper one in
 * LAPACK's column-major view. */
int linalg_dposv(int n, int nrhs, double *A, double *B);

/* A general: LU with partial pivoting (LAPACK dgetrf + dgetrs).  ipiv (n) is
 * caller-provided scratch. */
int linalg_dgesv(int n, int nrhs, double *A, int *ipiv, double *B);

#endif
