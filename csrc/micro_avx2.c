/*
 * AVX2 micro-kernel (contract in kernels.h): Mula's nibble lookup popcount.
 *
 * Each byte of x = a ^ w is split into two nibbles, vpshufb looks up their
 * popcounts in a 16-entry table, and the byte counts (at most 8 per vector)
 * are summed with vpaddb. A byte accumulator therefore holds at most 31
 * vectors (31 * 8 = 248 < 256) before it is widened with vpsadbw into 64-bit
 * totals; `pending` counts the vectors since the last widening.
 *
 * The va x vw accumulators stay in registers while the words stream past, so
 * all branch pairs of a tile are formed from one load of each word.
 */
#include "avx2.h"
#include "kernels.h"
#define MAX_PENDING 31

INLINE AVX2 __m256i popcount_bytes(__m256i v, __m256i lut, __m256i low)
{
    const __m256i lo = _mm256_and_si256(v, low);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

/* Widen the byte accumulators of one A row into its 64-bit totals. */
INLINE AVX2 void widen_row(const int VW, __m256i *acc, int64_t *total)
{
    const __m256i zero = _mm256_setzero_si256();
    if (VW == 4) {
        /* Transpose-and-add: lanes of s0..s3 end as [sum s0, sum s1, sum s2, sum s3]. */
        const __m256i s0 = _mm256_sad_epu8(acc[0], zero), s1 = _mm256_sad_epu8(acc[1], zero);
        const __m256i s2 = _mm256_sad_epu8(acc[2], zero), s3 = _mm256_sad_epu8(acc[3], zero);
        const __m256i t01 = _mm256_add_epi64(_mm256_unpacklo_epi64(s0, s1), _mm256_unpackhi_epi64(s0, s1));
        const __m256i t23 = _mm256_add_epi64(_mm256_unpacklo_epi64(s2, s3), _mm256_unpackhi_epi64(s2, s3));
        const __m256i r = _mm256_add_epi64(_mm256_permute2x128_si256(t01, t23, 0x20),
                                           _mm256_permute2x128_si256(t01, t23, 0x31));
        __m256i t = _mm256_loadu_si256((const __m256i *)total);
        _mm256_storeu_si256((__m256i *)total, _mm256_add_epi64(t, r));
    } else {
        for (int y = 0; y < VW; ++y) {
            const __m256i s = _mm256_sad_epu8(acc[y], zero);
            const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            total[y] += _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
        }
    }
    for (int y = 0; y < VW; ++y)
        acc[y] = _mm256_setzero_si256();
}

/* One vector step: VA A vectors against VW W vectors at word u (masked on the tail). */
INLINE AVX2 void step(const int VA, const int VW, const uint64_t *const *ap, const uint64_t *const *wp, int64_t u,
                      const int masked, __m256i mask, __m256i acc[BO_MICRO_VA][BO_MICRO_VW], __m256i lut,
                      __m256i low)
{
    __m256i av[BO_MICRO_VA];
    for (int x = 0; x < VA; ++x)
        av[x] = masked ? _mm256_maskload_epi64((const long long *)(ap[x] + u), mask)
                       : _mm256_loadu_si256((const __m256i *)(ap[x] + u));
    for (int y = 0; y < VW; ++y) {
        const __m256i wv = masked ? _mm256_maskload_epi64((const long long *)(wp[y] + u), mask)
                                  : _mm256_loadu_si256((const __m256i *)(wp[y] + u));
        for (int x = 0; x < VA; ++x)
            acc[x][y] = _mm256_add_epi8(acc[x][y], popcount_bytes(_mm256_xor_si256(av[x], wv), lut, low));
    }
}

/* The A and W rows under tap t (kernels.h: a is an indirection list, w strided by tap). */
INLINE void tap_rows(const int VA, const int VW, const uint64_t *const *a, const uint64_t *const *w, int64_t ntaps,
                     int64_t t, int64_t w_tap_stride, const uint64_t **ap, const uint64_t **wp)
{
    for (int x = 0; x < VA; ++x)
        ap[x] = a[x * ntaps + t];
    for (int y = 0; y < VW; ++y)
        wp[y] = w[y] + t * w_tap_stride;
}

INLINE AVX2 void tile(const int VA, const int VW, int64_t ntaps, int64_t nw, const uint64_t *const *a,
                      const uint64_t *const *w, int64_t w_tap_stride, int64_t *sums, int64_t ld)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    const int64_t full = nw / 4, tail = nw % 4;
    const __m256i tail_mask = _mm256_setr_epi64x(tail > 0 ? -1 : 0, tail > 1 ? -1 : 0, tail > 2 ? -1 : 0, 0);
    __m256i acc[BO_MICRO_VA][BO_MICRO_VW];
    for (int x = 0; x < VA; ++x)
        for (int y = 0; y < VW; ++y)
            acc[x][y] = _mm256_setzero_si256();

    if (ntaps * (full + (tail != 0)) <= MAX_PENDING) {
        /* Everything fits one byte-accumulation window: no widening until the end. */
        for (int64_t t = 0; t < ntaps; ++t) {
            const uint64_t *ap[BO_MICRO_VA], *wp[BO_MICRO_VW];
            tap_rows(VA, VW, a, w, ntaps, t, w_tap_stride, ap, wp);
            int64_t u = 0;
            for (; u < 4 * full; u += 4) {
                step(VA, VW, ap, wp, u, 0, tail_mask, acc, lut, low);
            }
            if (tail)
                step(VA, VW, ap, wp, u, 1, tail_mask, acc, lut, low);
        }
        for (int x = 0; x < VA; ++x) {
            int64_t row[BO_MICRO_VW] = {0};
            widen_row(VW, acc[x], row);
            for (int y = 0; y < VW; ++y)
                sums[x * ld + y] = row[y];
        }
        return;
    }

    int64_t total[BO_MICRO_VA][BO_MICRO_VW] = {{0}};
    int pending = 0;

    for (int64_t t = 0; t < ntaps; ++t) {
        const uint64_t *ap[BO_MICRO_VA], *wp[BO_MICRO_VW];
        tap_rows(VA, VW, a, w, ntaps, t, w_tap_stride, ap, wp);
        int64_t u = 0;  /* in words; vectors are 4 words */
        for (int64_t left = full; left > 0;) {
            int64_t n = left < MAX_PENDING - pending ? left : MAX_PENDING - pending;
            left -= n;
            pending += (int)n;
            for (; n > 0; --n, u += 4) {
                step(VA, VW, ap, wp, u, 0, tail_mask, acc, lut, low);
            }
            if (pending == MAX_PENDING) {
                for (int x = 0; x < VA; ++x)
                    widen_row(VW, acc[x], total[x]);
                pending = 0;
            }
        }
        if (tail) {
            step(VA, VW, ap, wp, u, 1, tail_mask, acc, lut, low);
            if (++pending == MAX_PENDING) {
                for (int x = 0; x < VA; ++x)
                    widen_row(VW, acc[x], total[x]);
                pending = 0;
            }
        }
    }
    for (int x = 0; x < VA; ++x) {
        widen_row(VW, acc[x], total[x]);
        for (int y = 0; y < VW; ++y)
            sums[x * ld + y] = total[x][y];
    }
}

AVX2 void bo_micro_avx2(BO_MICRO_ARGS)
{
    if (va == 2)
        BO_PANEL(tile, 2);
    else if (va == 1)
        BO_PANEL(tile, 1);
    else
        bo_micro_scalar(va, ncols, ntaps, nw, a, w, w_tap_stride, sums);
}
