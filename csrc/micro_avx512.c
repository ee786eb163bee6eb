/*
 * AVX-512 micro-kernel (contract in kernels.h): VPOPCNTDQ counts each 64-bit
 * lane directly, so the counts accumulate in 64-bit lanes with no widening
 * step. Always compiled; dispatch.c selects it only when CPUID reports
 * AVX512F, AVX512BW and AVX512_VPOPCNTDQ with OS support for ZMM state.
 */
#include <immintrin.h>

#include "kernels.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vpopcntdq,popcnt")))
#define INLINE static inline __attribute__((always_inline))

INLINE AVX512 void tile(const int VA, const int VW, int64_t ntaps, int64_t nw, const uint64_t *const *a,
                        const uint64_t *const *w, int64_t w_tap_stride, int64_t *sums, int64_t ld)
{
    const int64_t full = nw / 8, tail = nw % 8;
    const __mmask8 tail_mask = (__mmask8)((1u << tail) - 1u);
    __m512i acc[BO_MICRO_VA][BO_MICRO_VW];
    for (int x = 0; x < VA; ++x)
        for (int y = 0; y < VW; ++y)
            acc[x][y] = _mm512_setzero_si512();

    for (int64_t t = 0; t < ntaps; ++t) {
        const uint64_t *ap[BO_MICRO_VA], *wp[BO_MICRO_VW];
        for (int x = 0; x < VA; ++x)
            ap[x] = a[x * ntaps + t];
        for (int y = 0; y < VW; ++y)
            wp[y] = w[y] + t * w_tap_stride;
        int64_t u = 0;
        for (int64_t n = 0; n < full; ++n, u += 8) {
            __m512i av[BO_MICRO_VA];
            for (int x = 0; x < VA; ++x)
                av[x] = _mm512_loadu_si512((const void *)(ap[x] + u));
            for (int y = 0; y < VW; ++y) {
                const __m512i wv = _mm512_loadu_si512((const void *)(wp[y] + u));
                for (int x = 0; x < VA; ++x)
                    acc[x][y] = _mm512_add_epi64(acc[x][y], _mm512_popcnt_epi64(_mm512_xor_si512(av[x], wv)));
            }
        }
        if (tail) {
            __m512i av[BO_MICRO_VA];
            for (int x = 0; x < VA; ++x)
                av[x] = _mm512_maskz_loadu_epi64(tail_mask, (const void *)(ap[x] + u));
            for (int y = 0; y < VW; ++y) {
                const __m512i wv = _mm512_maskz_loadu_epi64(tail_mask, (const void *)(wp[y] + u));
                for (int x = 0; x < VA; ++x)
                    acc[x][y] = _mm512_add_epi64(acc[x][y], _mm512_popcnt_epi64(_mm512_xor_si512(av[x], wv)));
            }
        }
    }
    for (int x = 0; x < VA; ++x)
        for (int y = 0; y < VW; ++y)
            sums[x * ld + y] = _mm512_reduce_add_epi64(acc[x][y]);
}

AVX512 void bo_micro_avx512(BO_MICRO_ARGS)
{
    if (va == 2)
        BO_PANEL(tile, 2);
    else if (va == 1)
        BO_PANEL(tile, 1);
    else
        bo_micro_scalar(va, ncols, ntaps, nw, a, w, w_tap_stride, sums);
}
