/*
 * The exact integer path for high W x A bit widths.
 *
 * Branches cost Ma*Mw xor-popcounts per bit pair, so their cost grows with the
 * product of the widths, while an integer MAC on the values themselves does
 * not. The E values of an M-bit code are odd integers with |E| <= 2^M - 1 <= 255,
 * so they fit int16, and AVX2's vpmaddwd forms 16 exact int16 products per
 * instruction, summed pairwise into int32 lanes. Each lane adds at most
 * 2 * 255 * 255 per step; the caller takes this path only when the whole dot
 * product fits int32 (K (2^Ma - 1)(2^Mw - 1) <= INT32_MAX), so no lane can wrap.
 *
 * Decoding planes to int16 rows (E = sum_i 2^i (2 c_i - 1), 0 past K) is
 * O(rows * K) against the GEMM's O(rows * cols * K).
 */
#include <immintrin.h>
#include <string.h>

#include "bitops.h"
#include "output.h"

void bo_decode_e16(const uint64_t *planes, int bits, int64_t rows, int64_t k, int64_t kpad, int16_t *out)
{
    const int64_t nw = bo_words_for(k);
    const int16_t emax = (int16_t)((1 << bits) - 1);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        int16_t *dst = out + r * kpad;
        for (int64_t i = 0; i < k; ++i) {
            int u = 0;
            for (int m = 0; m < bits; ++m)
                u |= (int)((planes[((int64_t)m * rows + r) * nw + i / 64] >> (i % 64)) & 1u) << m;
            dst[i] = (int16_t)(2 * u - emax);
        }
        memset(dst + k, 0, sizeof(int16_t) * (size_t)(kpad - k));
    }
}

static void igemm_scalar(const int16_t *a, const int16_t *w, int64_t rows, int64_t cols, int64_t kpad, int32_t *out)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t n = 0; n < cols; ++n) {
            int64_t s = 0;
            for (int64_t i = 0; i < kpad; ++i)
                s += (int32_t)a[r * kpad + i] * w[n * kpad + i];
            out[r * cols + n] = (int32_t)s;
        }
}

#define AVX2 __attribute__((target("avx2")))
#define INLINE static inline __attribute__((always_inline))

INLINE AVX2 int32_t hsum8(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* An MR x NR tile of dot products over kpad (a multiple of 16) int16 values. */
INLINE AVX2 void itile(const int MR, const int NR, const int16_t *a, const int16_t *w, int64_t kpad,
                       int64_t cols, int32_t *out)
{
    __m256i acc[4][3];
    for (int r = 0; r < MR; ++r)
        for (int n = 0; n < NR; ++n)
            acc[r][n] = _mm256_setzero_si256();
    for (int64_t i = 0; i < kpad; i += 16) {
        __m256i av[4];
        for (int r = 0; r < MR; ++r)
            av[r] = _mm256_loadu_si256((const __m256i *)(a + r * kpad + i));
        for (int n = 0; n < NR; ++n) {
            const __m256i wv = _mm256_loadu_si256((const __m256i *)(w + n * kpad + i));
            for (int r = 0; r < MR; ++r)
                acc[r][n] = _mm256_add_epi32(acc[r][n], _mm256_madd_epi16(av[r], wv));
        }
    }
    for (int r = 0; r < MR; ++r)
        for (int n = 0; n < NR; ++n)
            out[r * cols + n] = hsum8(acc[r][n]);
}

#define ROW_TILE(MR)                                                                   \
    do {                                                                               \
        int64_t n = 0;                                                                 \
        for (; n + 3 <= cols; n += 3) itile(MR, 3, ar, w + n * kpad, kpad, cols, o + n); \
        if (cols - n == 2) itile(MR, 2, ar, w + n * kpad, kpad, cols, o + n);           \
        if (cols - n == 1) itile(MR, 1, ar, w + n * kpad, kpad, cols, o + n);           \
    } while (0)

static AVX2 void igemm_avx2(const int16_t *a, const int16_t *w, int64_t rows, int64_t cols, int64_t kpad,
                            int32_t *out)
{
    const int64_t tiles = (rows + 3) / 4;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
        const int64_t r0 = t * 4, m = rows - r0 < 4 ? rows - r0 : 4;
        const int16_t *ar = a + r0 * kpad;
        int32_t *o = out + r0 * cols;
        switch (m) {
        case 4: ROW_TILE(4); break;
        case 3: ROW_TILE(3); break;
        case 2: ROW_TILE(2); break;
        default: ROW_TILE(1); break;
        }
    }
}

int bo_igemm_e16(const int16_t *a, const int16_t *w, int64_t rows, int64_t cols, int64_t kpad, int32_t *out)
{
    if (kpad % 16)
        return BO_ERR_ARG;
    if (bo_get_path() >= BO_PATH_AVX2)
        igemm_avx2(a, w, rows, cols, kpad, out);
    else
        igemm_scalar(a, w, rows, cols, kpad, out);
    return BO_OK;
}

void bo_apply_output(const bo_output *t, const int32_t *acc, int64_t rows, int64_t cols)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            bo_output_store(t, NULL, 0, rows, cols, r, c, acc[r * cols + c]);
}
