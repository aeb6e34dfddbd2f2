/* dtrain: sums whose bits do not depend on how the terms are grouped (exsum.h). */
#include "dtrain/exsum.h"

#include <math.h>
#include <string.h>

#include "dtrain/status.h"

/* The conversion loops want AVX-512DQ (vcvttpd2qq: 8 doubles to int64 in one
 * instruction); the vector body and the scalar tail truncate alike, so the
 * bits do not depend on where an element falls. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define EXSUM_HOT __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define EXSUM_HOT
#endif

static int64_t code_max(int64_t field, int64_t all_ones, int64_t code)
{
    const int64_t c = field == all_ones ? EXSUM_NONFINITE : field;
    return c > code ? c : code;
}

EXSUM_HOT int64_t exsum_exp_f32(const float *v, size_t n, int64_t code)
{
    uint32_t mx = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &v[i], sizeof b);
        b &= 0x7f800000u;
        mx = b > mx ? b : mx;
    }
    return code_max(mx >> 23, 255, code);
}

EXSUM_HOT int64_t exsum_exp_f64(const double *v, size_t n, int64_t code)
{
    uint64_t mx = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b;
        memcpy(&b, &v[i], sizeof b);
        b &= 0x7ff0000000000000u;
        mx = b > mx ? b : mx;
    }
    return code_max((int64_t)(mx >> 52), 2047, code);
}

void exsum_exp_each_f64(const double *v, size_t n, int64_t *codes)
{
    for (size_t i = 0; i < n; i++) codes[i] = exsum_exp_f64(v + i, 1, codes[i]);
}

int exsum_shift(int64_t code, int is_f32, int64_t terms)
{
    if (code < 1)
        code = 1; /* zeros and subnormals: |x| < 2^(1 - bias + 1) */
    const int64_t e = code - (is_f32 ? 126 : 1022); /* every |x| < 2^e */
    int bits = 0; /* ceil(log2(terms)): terms of < 2^(62 - bits) sum below 2^62 */
    while (bits < 62 && ((int64_t)1 << bits) < terms) bits++;
    return (int)(62 - bits - e);
}

EXSUM_HOT void exsum_add_f32(int64_t *restrict acc, const float *restrict v, size_t n, int s)
{
    /* x * 2^s is exact in double (|s| < 200: no overflow, no subnormal) */
    const double scale = ldexp(1.0, s);
    for (size_t i = 0; i < n; i++) acc[i] += (int64_t)((double)v[i] * scale);
}

/* 2^e for -1022 <= e <= 1023, from its bits (no call). */
static double pow2(int e)
{
    const uint64_t bits = (uint64_t)(e + 1023) << 52;
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* trunc(x * 2^s) for a double x: s may pass 1023 for tiny terms, so in two
 * factors, each a double; the same bits for every caller. */
static int64_t scaled_f64(double x, int s) { return (int64_t)(x * pow2(s / 2) * pow2(s - s / 2)); }

void exsum_add_f64(int64_t *restrict acc, const double *restrict v, size_t n, int s)
{
    for (size_t i = 0; i < n; i++) acc[i] += scaled_f64(v[i], s);
}

void exsum_add_each_f64(int64_t *restrict acc, const double *restrict v, const int *s, size_t n)
{
    for (size_t i = 0; i < n; i++) acc[i] += scaled_f64(v[i], s[i]);
}

double exsum_value(int64_t sum, int s) { return ldexp((double)sum, -s); }

EXSUM_HOT void exsum_to_f32(float *restrict out, const int64_t *restrict acc, size_t n, int s)
{
    /* a float code's shift lies in [-130, 187]: 2^-s is a normal double and
     * the product is ldexp's, without a call per element */
    const double scale = ldexp(1.0, -s);
    for (size_t i = 0; i < n; i++) out[i] = (float)((double)acc[i] * scale);
}
