/* dtrain: sums whose bits do not depend on how the terms are grouped.
 *
 * Floating-point addition is not associative, so a sum split across ranks
 * (or any other grouping) changes in its last bits with the split.  Here
 * every term is first put on a fixed-point grid that all parties agree on,
 * as a 64-bit integer, and integers add exactly, in any order:
 *
 *   1. each party finds the exponent codes of its terms (exsum_exp_each),
 *   2. the parties agree on the largest (an MPI_MAX of the codes),
 *   3. each term becomes q = trunc(x * 2^s), s = exsum_shift(code, terms),
 *      so that `terms` of them cannot overflow an int64 (exsum_add_each),
 *   4. the integers are summed (an MPI_SUM of int64 is exact), and
 *   5. each sum is read back once as sum * 2^-s (exsum_value).
 *
 * The result is a function of the set of terms only.  It is not the exactly
 * rounded sum: a term keeps 62 - ceil(log2 terms) bits below the largest
 * magnitude of its column (a double has 53), so terms much smaller than the
 * largest lose their low bits -- the same for every grouping.
 *
 * An exponent code is the biased exponent field of the largest magnitude
 * (|x| < 2^(code - 1022)), 0 for zeros and subnormals, EXSUM_NONFINITE for
 * NaN or Inf. */
#ifndef DTRAIN_EXSUM_H
#define DTRAIN_EXSUM_H

#include <stddef.h>
#include <stdint.h>

#define EXSUM_NONFINITE 4096 /* above any exponent field (2047) */

/* codes[i] = the larger of codes[i] and v[i]'s code, i < n (start from 0). */
void exsum_exp_each(const double *v, size_t n, int64_t *codes);

/* The scaling exponent s for terms whose largest code is `code`, at most
 * `terms` of them summed (code EXSUM_NONFINITE: no grid fits; do not sum). */
int exsum_shift(int64_t code, int64_t terms);

/* acc[i] += trunc(v[i] * 2^s[i]), i < n: exact integer additions, whatever
 * the order and grouping of the calls. */
void exsum_add_each(int64_t *acc, const double *v, const int *s, size_t n);

/* The sum's value, sum * 2^-s (one rounding to double). */
double exsum_value(int64_t sum, int s);

#endif
