/*
 * AVX-512 micro-kernel (contract in kernels.h): VPOPCNTDQ counts each 64-bit
 * lane directly, so the counts accumulate in 64-bit lanes with no widening
 * step and no nibble split (units of 8 plain words). Always compiled;
 * dispatch.c selects it only when CPUID reports AVX512F, AVX512BW and
 * AVX512_VPOPCNTDQ with OS support for ZMM state.
 */
#include <immintrin.h>

#include "kernels.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vpopcntdq,popcnt")))

AVX512 static void micro_avx512(BO_MICRO_ARGS)
{
    for (int64_t x0 = 0; x0 < rows; x0 += BO_MICRO_VA, a += kv * BO_MICRO_VA * 8) {
        __m512i acc[BO_MICRO_VA][BO_MICRO_VW];
        for (int x = 0; x < BO_MICRO_VA; ++x)
            for (int y = 0; y < BO_MICRO_VW; ++y)
                acc[x][y] = _mm512_setzero_si512();
        for (int64_t u = 0; u < kv; ++u) {
            const uint64_t *au = a + u * BO_MICRO_VA * 8, *wu = w + u * BO_MICRO_VW * 8;
            __m512i av[BO_MICRO_VA];
            for (int x = 0; x < BO_MICRO_VA; ++x)
                av[x] = _mm512_loadu_si512((const void *)(au + 8 * x));
            for (int y = 0; y < BO_MICRO_VW; ++y) {
                const __m512i wv = _mm512_loadu_si512((const void *)(wu + 8 * y));
                for (int x = 0; x < BO_MICRO_VA; ++x)
                    acc[x][y] = _mm512_add_epi64(acc[x][y], _mm512_popcnt_epi64(_mm512_xor_si512(av[x], wv)));
            }
        }
        int64_t s[BO_MICRO_VA][BO_MICRO_VW];
        for (int x = 0; x < BO_MICRO_VA; ++x)
            for (int y = 0; y < BO_MICRO_VW; ++y)
                s[x][y] = _mm512_reduce_add_epi64(acc[x][y]);
        const int m = rows - x0 < BO_MICRO_VA ? (int)(rows - x0) : BO_MICRO_VA;
        bo_micro_store(s, x0, m, na, c, ldc, ncols, bias, mult, accumulate);
    }
}

/* 64-bit lanes never overflow; the driver's L1 budget bounds the units per call. */
const bo_isa bo_isa_avx512 = {8, 8, 0, 1024, micro_avx512, BO_MICRO_VA, BO_MICRO_VW};
