/* Helpers shared by the AVX2 kernels (micro_avx2.c, igemm.c, igemm8.c). */
#ifndef BITOPS_AVX2_H
#define BITOPS_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#define AVX2 __attribute__((target("avx2,popcnt")))
#define INLINE static inline __attribute__((always_inline))

/* Sum of the eight int32 lanes of v. */
INLINE AVX2 int32_t bo_hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

#endif
