/*
 * Plain-C stand-ins for the AVX-512 intrinsics csrc/micro_avx512.c uses, so
 * that its logic runs (and is tested) on a CPU without AVX-512. Only that file
 * is compiled against this header; see test_avx512_emulated.py.
 */
#ifndef BITOPS_AVX512_EMU_H
#define BITOPS_AVX512_EMU_H

#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t v[8];
} __m512i;

static inline __m512i _mm512_setzero_si512(void)
{
    __m512i r;
    memset(&r, 0, sizeof r);
    return r;
}

static inline __m512i _mm512_loadu_si512(const void *p)
{
    __m512i r;
    memcpy(r.v, p, sizeof r.v);
    return r;
}

static inline __m512i _mm512_xor_si512(__m512i a, __m512i b)
{
    for (int i = 0; i < 8; ++i)
        a.v[i] ^= b.v[i];
    return a;
}

static inline __m512i _mm512_add_epi64(__m512i a, __m512i b)
{
    for (int i = 0; i < 8; ++i)
        a.v[i] += b.v[i];
    return a;
}

static inline __m512i _mm512_popcnt_epi64(__m512i a)
{
    for (int i = 0; i < 8; ++i)
        a.v[i] = (uint64_t)__builtin_popcountll(a.v[i]);
    return a;
}

static inline long long _mm512_reduce_add_epi64(__m512i a)
{
    uint64_t s = 0;
    for (int i = 0; i < 8; ++i)
        s += a.v[i];
    return (long long)s;
}

#endif
