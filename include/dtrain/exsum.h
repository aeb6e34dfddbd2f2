/* dtrain: sums whose bits do not depend on how the terms are grouped.
 *
 * Floating-point addition is not associative, so a sum split across ranks
 * (or across any other grouping) changes in its last bits with the split.
 * Here every term is first turned into a 64-bit integer on a fixed-point grid
 * that all parties agree on, and integers are added exactly, in any order:
 *
 *   1. each party finds the exponent of its terms (exsum_exp_*: a bound
 *      2^e > |x| per block of terms, as the float's biased exponent field),
 *   2. the parties agree on the largest (an MPI_MAX of these small integers),
 *   3. each term becomes q = trunc(x * 2^s) with s = exsum_shift(e, terms),
 *      so that `terms` of them cannot overflow an int64 (exsum_add_*),
 *   4. the integers are summed (an MPI_SUM of int64 is exact), and
 *   5. the sum is read back once as sum * 2^-s (exsum_value).
 *
 * The result is a function of the set of terms only.  It is not the exactly
 * rounded sum: each term keeps 62 - ceil(log2 terms) bits below the block's
 * largest magnitude (a float has 24), so terms smaller than 2^-38 of the
 * largest, say, lose bits -- the same for every grouping.
 *
 * Exponent codes: 0 for a block of zeros (and subnormals: code 1 bounds
 * them), EXSUM_NONFINITE if any term is NaN or Inf, else the biased exponent
 * field of the largest magnitude (|x| < 2^(code - 126) for float,
 * 2^(code - 1022) for double). */
#ifndef DTRAIN_EXSUM_H
#define DTRAIN_EXSUM_H

#include <stddef.h>
#include <stdint.h>

#define EXSUM_NONFINITE 4096 /* above any double's exponent field (2047) */

/* The largest exponent code of v (n), or of *code if larger: a running
 * maximum over several calls.  Returns the new code. */
int64_t exsum_exp_f32(const float *v, size_t n, int64_t code);
int64_t exsum_exp_f64(const double *v, size_t n, int64_t code);

/* codes[i] = the larger of codes[i] and v[i]'s code, i < n: a code per
 * element, for sums kept element by element (a column per feature). */
void exsum_exp_each_f64(const double *v, size_t n, int64_t *codes);

/* The scaling exponent s for terms of exponent code `code` (the agreed
 * maximum, float codes if is_f32 else double codes) of which at most `terms`
 * are summed.  A block of zeros gets 0. */
int exsum_shift(int64_t code, int is_f32, int64_t terms);

/* acc[i] += trunc(v[i] * 2^s), i < n: exact integer additions, whatever
 * the order and grouping of the calls. */
void exsum_add_f32(int64_t *acc, const float *v, size_t n, int s);
void exsum_add_f64(int64_t *acc, const double *v, size_t n, int s);

/* acc[i] += trunc(v[i] * 2^s[i]), i < n: exsum_add_f64 with a shift per
 * element (the same bits as exsum_add_f64 with s[i]). */
void exsum_add_each_f64(int64_t *acc, const double *v, const int *s, size_t n);

/* The sum's value, sum * 2^-s (one rounding to double). */
double exsum_value(int64_t sum, int s);
/* out[i] = (float)exsum_value(acc[i], s) for float codes' shifts, i < n. */
void exsum_to_f32(float *out, const int64_t *acc, size_t n, int s);

#endif
