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

typedef uint16_t __mmask16;

/* 32-bit views of a vector */
static inline void emu_get32(__m512i a, uint32_t d[16]) { memcpy(d, a.v, sizeof a.v); }

static inline __m512i emu_put32(const uint32_t d[16])
{
    __m512i r;
    memcpy(r.v, d, sizeof r.v);
    return r;
}

static inline void _mm512_storeu_si512(void *p, __m512i a) { memcpy(p, a.v, sizeof a.v); }

static inline __m512i _mm512_set1_epi64(long long x)
{
    __m512i r;
    for (int i = 0; i < 8; ++i)
        r.v[i] = (uint64_t)x;
    return r;
}

static inline __m512i _mm512_set1_epi32(int x)
{
    uint32_t d[16];
    for (int i = 0; i < 16; ++i)
        d[i] = (uint32_t)x;
    return emu_put32(d);
}

/* arguments from element 15 down to element 0 */
static inline __m512i _mm512_set_epi32(int e15, int e14, int e13, int e12, int e11, int e10, int e9, int e8, int e7,
                                       int e6, int e5, int e4, int e3, int e2, int e1, int e0)
{
    const uint32_t d[16] = {(uint32_t)e0, (uint32_t)e1, (uint32_t)e2, (uint32_t)e3, (uint32_t)e4, (uint32_t)e5,
                            (uint32_t)e6, (uint32_t)e7, (uint32_t)e8, (uint32_t)e9, (uint32_t)e10, (uint32_t)e11,
                            (uint32_t)e12, (uint32_t)e13, (uint32_t)e14, (uint32_t)e15};
    return emu_put32(d);
}

static inline __m512i _mm512_add_epi32(__m512i a, __m512i b)
{
    uint32_t x[16], y[16];
    emu_get32(a, x), emu_get32(b, y);
    for (int i = 0; i < 16; ++i)
        x[i] += y[i];
    return emu_put32(x);
}

static inline __m512i _mm512_mullo_epi32(__m512i a, __m512i b)
{
    uint32_t x[16], y[16];
    emu_get32(a, x), emu_get32(b, y);
    for (int i = 0; i < 16; ++i)
        x[i] *= y[i];
    return emu_put32(x);
}

/* element i: idx bit 4 picks b over a, bits 0..3 the element */
static inline __m512i _mm512_permutex2var_epi32(__m512i a, __m512i idx, __m512i b)
{
    uint32_t x[16], y[16], k[16], r[16];
    emu_get32(a, x), emu_get32(b, y), emu_get32(idx, k);
    for (int i = 0; i < 16; ++i)
        r[i] = (k[i] & 16 ? y : x)[k[i] & 15];
    return emu_put32(r);
}

/* masked-off elements are neither read nor written */
static inline __m512i _mm512_maskz_loadu_epi32(__mmask16 k, const void *p)
{
    uint32_t d[16];
    for (int i = 0; i < 16; ++i)
        d[i] = k >> i & 1 ? ((const uint32_t *)p)[i] : 0;
    return emu_put32(d);
}

static inline void _mm512_mask_storeu_epi32(void *p, __mmask16 k, __m512i a)
{
    uint32_t d[16];
    emu_get32(a, d);
    for (int i = 0; i < 16; ++i)
        if (k >> i & 1)
            ((uint32_t *)p)[i] = d[i];
}

static inline __m512i _mm512_sub_epi32(__m512i a, __m512i b)
{
    uint32_t x[16], y[16];
    emu_get32(a, x), emu_get32(b, y);
    for (int i = 0; i < 16; ++i)
        x[i] -= y[i];
    return emu_put32(x);
}

typedef struct {
    uint64_t v[2];
} __m128i;

static inline __m128i _mm_cvtsi32_si128(int x)
{
    __m128i r = {{(uint32_t)x, 0}};
    return r;
}

/* every element shifted left by the count in the low 64 bits of n; zero from 32 on */
static inline __m512i _mm512_sll_epi32(__m512i a, __m128i n)
{
    uint32_t x[16];
    emu_get32(a, x);
    for (int i = 0; i < 16; ++i)
        x[i] = n.v[0] < 32 ? x[i] << n.v[0] : 0;
    return emu_put32(x);
}

#endif
