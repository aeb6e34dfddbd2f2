/* dtrain: rounding fp32 to bf16 with the CPU's own instruction.
 *
 * One rule for every value, wherever it lies in a buffer: that of
 * VCVTNEPS2BF16 (AVX512_BF16), which does not consult MXCSR: round to
 * nearest even; a NaN stays a NaN, quieted ((bits >> 16) | 0x40); a
 * subnormal fp32 reads as a zero of its sign (as under DAZ).  The kernels
 * run only where the CPU has the instruction: callers check
 * matmul_bf16_support() == 2 (matmul_cvt_run does; elsewhere it rounds with
 * oneDNN's reorder). */
#ifndef DTRAIN_BF16_H
#define DTRAIN_BF16_H

#include <stddef.h>
#include <stdint.h>

/* A bf16 value: the upper 16 bits of an fp32 (sign, 8-bit exponent, 7-bit
 * mantissa), rounded to nearest even. */
typedef uint16_t dt_bf16;

/* dst (n) = bf16(src (n)). */
void bf16_round(dt_bf16 *dst, const float *src, size_t n);

/* dst (n) = bf16((in - shift) * scale) with norm = shift (n) then scale (n),
 * or bf16(in) when norm is NULL.  The fp32 value is computed as the data set
 * converts a uint8 row to float (the same two operations, no fused
 * multiply-add), so dst is bf16_round of the row dataset_gather writes. */
void bf16_round_u8(dt_bf16 *dst, const uint8_t *in, const float *norm, size_t n);

#endif
