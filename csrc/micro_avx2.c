/*
 * AVX2 micro-kernel (contract in kernels.h): Mula's nibble lookup popcount on
 * operands the driver has split into nibbles.
 *
 * vpshufb looks up the popcount of each byte's low nibble in a 16-entry table.
 * The popcount of x = a ^ w is lut[x & 0x0f] + lut[x >> 4 & 0x0f] per byte, and
 * since the nibbles of a ^ w are the nibbles of a xor the nibbles of w,
 *
 *     popcount(a ^ w) = lut[lo(a) ^ lo(w)] + lut[hi(a) ^ hi(w)],
 *
 * with lo and hi computed once per word when the operands are packed. A pair
 * of vectors then costs 2 xor + 2 vpshufb + 2 add instead of the 8 operations
 * of the classic form (xor, and, shift, and, 2 vpshufb, 2 add), and the 2 x 4
 * tile of accumulators forms every pair from one load of each operand.
 *
 * A unit is 4 words (256 bits), packed as 32 bytes of low nibbles and 32 of
 * high ones. A byte accumulator gains at most 8 per unit, so it holds 31 units
 * (248 < 256); the driver keeps kv within that window, and the tile is reduced
 * once at the end (reduce_tile) into the 8 sums as int32 in one register.
 */
#include "avx2.h"
#include "kernels.h"

#define MAX_UNITS 31

/*
 * [sum acc[0][0..3] | sum acc[1][0..3]] as int32, from the 8 byte accumulators.
 * Every partial sum is below 2^16 (32 bytes of at most 248), so after vpsadbw
 * the four 64-bit lanes of each accumulator can be packed into 16-bit words
 * with two rounds of vpackusdw and the pairs of words added by vpmaddwd.
 */
INLINE AVX2 __m256i reduce_tile(const __m256i acc[BO_MICRO_VA][BO_MICRO_VW])
{
    const __m256i zero = _mm256_setzero_si256(), ones = _mm256_set1_epi16(1);
    __m256i row[BO_MICRO_VA];
    for (int x = 0; x < BO_MICRO_VA; ++x) {
        /* per 128-bit lane, as int32: [y0 y0' y1 y1'] and [y2 y2' y3 y3'] */
        const __m256i s01 = _mm256_packus_epi32(_mm256_sad_epu8(acc[x][0], zero), _mm256_sad_epu8(acc[x][1], zero));
        const __m256i s23 = _mm256_packus_epi32(_mm256_sad_epu8(acc[x][2], zero), _mm256_sad_epu8(acc[x][3], zero));
        /* as int16 [y0 y0' y1 y1' y2 y2' y3 y3'], then int32 [y0 y1 y2 y3] per lane */
        row[x] = _mm256_madd_epi16(_mm256_packus_epi32(s01, s23), ones);
    }
    return _mm256_add_epi32(_mm256_permute2x128_si256(row[0], row[1], 0x20),
                            _mm256_permute2x128_si256(row[0], row[1], 0x31));
}

INLINE AVX2 void store_row(int32_t *c, __m128i v, __m128i mask, int ncols, int32_t bias, __m128i mult,
                           int accumulate)
{
    v = _mm_mullo_epi32(v, mult);
    if (ncols == BO_MICRO_VW) {
        const __m128i base = accumulate ? _mm_loadu_si128((const __m128i *)c) : _mm_set1_epi32(bias);
        _mm_storeu_si128((__m128i *)c, _mm_add_epi32(base, v));
    } else {
        const __m128i base = accumulate ? _mm_maskload_epi32(c, mask) : _mm_set1_epi32(bias);
        _mm_maskstore_epi32(c, mask, _mm_add_epi32(base, v));
    }
}

AVX2 static void micro_avx2(BO_MICRO_ARGS)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m128i mask = _mm_setr_epi32(-1, ncols > 1 ? -1 : 0, ncols > 2 ? -1 : 0, ncols > 3 ? -1 : 0);
    const __m128i vmult = _mm_set1_epi32(mult);

    for (int64_t x0 = 0; x0 < rows; x0 += BO_MICRO_VA, a += kv * BO_MICRO_VA * 8) {
        __m256i acc[BO_MICRO_VA][BO_MICRO_VW];
        for (int x = 0; x < BO_MICRO_VA; ++x)
            for (int y = 0; y < BO_MICRO_VW; ++y)
                acc[x][y] = _mm256_setzero_si256();
        const __m256i *ap = (const __m256i *)a, *wp = (const __m256i *)w;
        for (int64_t u = 0; u < kv; ++u, ap += 2 * BO_MICRO_VA, wp += 2 * BO_MICRO_VW) {
            /* Low nibbles of every pair, then high ones: 8 accumulators, the table and 4 temporaries
             * fit the 16 ymm registers. The empty asm pins each accumulator in a register between
             * the halves; without it GCC re-associates lut[lo] + lut[hi] across them and spills. */
            for (int h = 0; h < 2; ++h) {
                __m256i av[BO_MICRO_VA];
                for (int x = 0; x < BO_MICRO_VA; ++x)
                    av[x] = _mm256_loadu_si256(ap + 2 * x + h);
                for (int y = 0; y < BO_MICRO_VW; ++y) {
                    const __m256i wv = _mm256_loadu_si256(wp + 2 * y + h);
                    for (int x = 0; x < BO_MICRO_VA; ++x)
                        acc[x][y] = _mm256_add_epi8(acc[x][y], _mm256_shuffle_epi8(lut, _mm256_xor_si256(av[x], wv)));
                }
                for (int x = 0; x < BO_MICRO_VA; ++x)
                    for (int y = 0; y < BO_MICRO_VW; ++y)
                        __asm__("" : "+x"(acc[x][y]));
            }
        }
        const __m256i r = reduce_tile(acc);
        store_row(c + x0 * ldc, _mm256_castsi256_si128(r), mask, ncols, bias, vmult, accumulate);
        if (x0 + 1 < rows)
            store_row(c + (x0 + 1) * ldc, _mm256_extracti128_si256(r, 1), mask, ncols, bias, vmult, accumulate);
    }
}

const bo_isa bo_isa_avx2 = {4, 8, 1, MAX_UNITS, micro_avx2};
