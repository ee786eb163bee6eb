/*
 * The 8-bit integer path: u8 x s8 products with vpmaddubsw, exact because one
 * operand is narrow.
 *
 * With codes u (E = 2u - c, c = 2^M - 1) and the narrow operand re-centred to
 * s = u_n - h, h = 2^(Mn - 1):
 *
 *     E_a . E_w = 4 sum u_a u_w - 2 c_w sum u_a - 2 c_a sum u_w + K c_a c_w
 *     sum u_a u_w = sum u_wide s_narrow + h sum u_wide
 *
 * vpmaddubsw adds two u8 x s8 products into an int16 with saturation; with
 * Mn <= 7, |s| <= 64 and a pair is at most 2 * 255 * 64 = 32640 < 2^15, so
 * it never saturates. vpmaddwd against ones widens the pairs into int32 lanes.
 * D = sum u_wide s_narrow is formed here; the affine step above is
 * bo_rowcol_affine, applied in int64 (the caller checked the result fits int32).
 */
#include "avx2.h"
#include "bitops.h"
#include "output.h"

void bo_decode_codes_u8(const uint64_t *planes, int bits, int64_t rows, int64_t k, int64_t kpad, int offset,
                        int8_t *out)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        int8_t *dst = out + r * kpad;
        bo_decode_row(planes, bits, rows, r, k, (uint8_t *)dst);
        for (int64_t i = 0; i < k; ++i)
            dst[i] = (int8_t)(uint8_t)(((uint8_t *)dst)[i] - offset);
        /* past K both operands hold 0 after re-centring, so the padding adds nothing */
        for (int64_t i = k; i < kpad; ++i)
            dst[i] = 0;
    }
}

/* MR x NR dot products; SWAP = 0: a is the u8 operand, 1: w is. */
INLINE AVX2 void tile8(const int MR, const int NR, const int SWAP, const int8_t *a, const int8_t *w, int64_t kpad,
                       int64_t cols, int32_t *out)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[4][3];
    for (int r = 0; r < MR; ++r)
        for (int n = 0; n < NR; ++n)
            acc[r][n] = _mm256_setzero_si256();
    for (int64_t i = 0; i < kpad; i += 32) {
        __m256i av[4];
        for (int r = 0; r < MR; ++r)
            av[r] = _mm256_loadu_si256((const __m256i *)(a + r * kpad + i));
        for (int n = 0; n < NR; ++n) {
            const __m256i wv = _mm256_loadu_si256((const __m256i *)(w + n * kpad + i));
            for (int r = 0; r < MR; ++r) {
                const __m256i p = SWAP ? _mm256_maddubs_epi16(wv, av[r]) : _mm256_maddubs_epi16(av[r], wv);
                acc[r][n] = _mm256_add_epi32(acc[r][n], _mm256_madd_epi16(p, ones));
            }
        }
    }
    for (int r = 0; r < MR; ++r)
        for (int n = 0; n < NR; ++n)
            out[r * cols + n] = bo_hsum_epi32(acc[r][n]);
}

#define ROW8(MR, SWAP)                                                                                  \
    do {                                                                                                \
        int64_t n = 0;                                                                                  \
        for (; n + 3 <= cols; n += 3) tile8(MR, 3, SWAP, ar, w + n * kpad, kpad, cols, o + n);            \
        if (cols - n == 2) tile8(MR, 2, SWAP, ar, w + n * kpad, kpad, cols, o + n);                      \
        if (cols - n == 1) tile8(MR, 1, SWAP, ar, w + n * kpad, kpad, cols, o + n);                      \
    } while (0)

static AVX2 void igemm8_avx2(const int8_t *a, const int8_t *w, int64_t rows, int64_t cols, int64_t kpad, int swap,
                             int32_t *out)
{
    const int64_t tiles = (rows + 3) / 4;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
        const int64_t r0 = t * 4, m = rows - r0 < 4 ? rows - r0 : 4;
        const int8_t *ar = a + r0 * kpad;
        int32_t *o = out + r0 * cols;
        if (swap) {
            switch (m) {
            case 4: ROW8(4, 1); break;
            case 3: ROW8(3, 1); break;
            case 2: ROW8(2, 1); break;
            default: ROW8(1, 1); break;
            }
        } else {
            switch (m) {
            case 4: ROW8(4, 0); break;
            case 3: ROW8(3, 0); break;
            case 2: ROW8(2, 0); break;
            default: ROW8(1, 0); break;
            }
        }
    }
}

static void igemm8_scalar(const int8_t *a, const int8_t *w, int64_t rows, int64_t cols, int64_t kpad, int swap,
                          int32_t *out)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t n = 0; n < cols; ++n) {
            int64_t s = 0;
            for (int64_t i = 0; i < kpad; ++i) {
                const int x = a[r * kpad + i], y = w[n * kpad + i];
                s += swap ? (int64_t)x * (uint8_t)y : (int64_t)(uint8_t)x * y;
            }
            out[r * cols + n] = (int32_t)s;
        }
}

int bo_igemm_u8s8(const int8_t *a, const int8_t *w, int64_t rows, int64_t cols, int64_t kpad, int swap,
                  int32_t *out)
{
    if (kpad % 32)
        return BO_ERR_ARG;
    if (bo_get_path() >= BO_PATH_AVX2)
        igemm8_avx2(a, w, rows, cols, kpad, swap, out);
    else
        igemm8_scalar(a, w, rows, cols, kpad, swap, out);
    return BO_OK;
}

void bo_rowcol_affine(int32_t *d, int64_t rows, int64_t cols, int64_t mult, const int64_t *row_add,
                      const int64_t *col_add)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        int32_t *restrict dr = d + r * cols;
        const int64_t ra = row_add[r];
        for (int64_t n = 0; n < cols; ++n)
            dr[n] = (int32_t)(mult * dr[n] + ra + col_add[n]);
    }
}
