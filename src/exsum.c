/* dtrain: sums whose bits do not depend on how the terms are grouped (exsum.h). */
#include "dtrain/exsum.h"

#include <math.h>
#include <string.h>

void exsum_exp_each(const double *v, size_t n, int64_t *codes)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t b;
        memcpy(&b, &v[i], sizeof b);
        int64_t c = (int64_t)((b >> 52) & 0x7ff);
        c = c == 0x7ff ? EXSUM_NONFINITE : c;
        codes[i] = c > codes[i] ? c : codes[i];
    }
}

int exsum_shift(int64_t code, int64_t terms)
{
    if (code < 1)
        code = 1; /* zeros and subnormals: |x| < 2^-1021 */
    if (code > 2046)
        code = 2046; /* (non-finite: a grid that keeps pow2 in range; the sum is void) */
    const int64_t e = code - 1022; /* every |x| < 2^e */
    int bits = 0; /* ceil(log2(terms)): terms below 2^(62 - bits) sum below 2^62 */
    while (bits < 62 && ((int64_t)1 << bits) < terms) bits++;
    return (int)(62 - bits - e);
}

/* 2^e for -1022 <= e <= 1023, from its bits. */
static double pow2(int e)
{
    const uint64_t bits = (uint64_t)(e + 1023) << 52;
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

void exsum_add_each(int64_t *restrict acc, const double *restrict v, const int *s, size_t n)
{
    /* s reaches 1083 for tiny terms: 2^s as two factors, each a double
     * (multiplying by a power of two is exact short of the subnormals) */
    for (size_t i = 0; i < n; i++)
        acc[i] += (int64_t)(v[i] * pow2(s[i] / 2) * pow2(s[i] - s[i] / 2));
}

double exsum_value(int64_t sum, int s) { return ldexp((double)sum, -s); }
