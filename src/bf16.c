/* dtrain: rounding fp32 to bf16 (bf16.h). */
#include "dtrain/bf16.h"

#include <immintrin.h>

/* AVX512_BF16 comes with AVX-512 F, BW and VL on every CPU that has it
 * (oneDNN's avx512_core_bf16 level, which callers check, includes them);
 * BW and VL give the masked loads and stores of a last partial vector. */
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* The lanes of a vector of 16 that hold values when left remain. */
static inline __mmask16 lanes(size_t left)
{
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

BF16_TARGET void bf16_round(dt_bf16 *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh r = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
        _mm512_storeu_si512((void *)(dst + i), (__m512i)r);
    }
    /* the last 0-31 values: the same instruction on masked vectors, so that
     * a value rounds the same wherever it lies */
    for (; i < n; i += 16) {
        const __mmask16 k = lanes(n - i);
        const __m256bh r = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, src + i));
        _mm256_mask_storeu_epi16(dst + i, k, (__m256i)r);
    }
}

BF16_TARGET void bf16_round_u8(dt_bf16 *dst, const uint8_t *in, const float *norm, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 k = lanes(n - i);
        __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, in + i)));
        if (norm) /* (x - shift) * scale, rounded after each operation */
            x = _mm512_mul_ps(_mm512_sub_ps(x, _mm512_maskz_loadu_ps(k, norm + i)),
                              _mm512_maskz_loadu_ps(k, norm + n + i));
        const __m256bh r = _mm512_cvtneps_pbh(x);
        _mm256_mask_storeu_epi16(dst + i, k, (__m256i)r);
    }
}
