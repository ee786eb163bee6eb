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
 * O(rows * K) against the GEMM's O(rows * cols * K). A GEMM takes this path
 * as a convolution with a 1x1 kernel over a rows x 1 image (bo_iconv_e16).
 */
#include <stdlib.h>
#include <string.h>

#include "avx2.h"
#include "bitops.h"
#include "output.h"

int bo_decode_e16(const uint64_t *planes, int bits, int64_t rows, int64_t k, int64_t kpad, int16_t *out)
{
    const int16_t emax = (int16_t)((1 << bits) - 1);
    int failed = 0;
#pragma omp parallel reduction(|| : failed)
    {
        uint8_t *u = malloc((size_t)k);
        failed = !u;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            if (!u)
                continue;
            int16_t *dst = out + r * kpad;
            bo_decode_row(planes, bits, rows, r, k, u);
            for (int64_t i = 0; i < k; ++i)
                dst[i] = (int16_t)(2 * u[i] - emax);
            memset(dst + k, 0, sizeof(int16_t) * (size_t)(kpad - k));
        }
        free(u);
    }
    return failed ? BO_ERR_NOMEM : BO_OK;
}

void bo_apply_output(const bo_output *t, const int32_t *acc, int64_t rows, int64_t cols)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            bo_output_store(t, NULL, 0, rows, cols, r, c, acc[r * cols + c]);
}

/*
 * Integer convolution (implicit GEMM, as driver.c does for branches): output
 * pixel p and channel o sum x[pixel under tap t] . w[o][t] over the taps, each
 * a row of cpad int16 E values. Taps in the padding read a zero row and are
 * corrected afterwards by pad_value * tap_sum[o][t] (a zero row contributes 0).
 */
INLINE AVX2 void iconv_tile(const int MR, const int NR, const int16_t *const *xrows, int64_t ntaps,
                            const int16_t *w, int64_t cpad, int64_t wstride, int64_t *out, int64_t ld)
{
    __m256i acc[4][3];
    for (int r = 0; r < MR; ++r)
        for (int n = 0; n < NR; ++n)
            acc[r][n] = _mm256_setzero_si256();
    for (int64_t t = 0; t < ntaps; ++t)
        for (int64_t i = 0; i < cpad; i += 16) {
            __m256i av[4];
            for (int r = 0; r < MR; ++r)
                av[r] = _mm256_loadu_si256((const __m256i *)(xrows[r * ntaps + t] + i));
            for (int n = 0; n < NR; ++n) {
                const __m256i wv = _mm256_loadu_si256((const __m256i *)(w + n * wstride + t * cpad + i));
                for (int r = 0; r < MR; ++r)
                    acc[r][n] = _mm256_add_epi32(acc[r][n], _mm256_madd_epi16(av[r], wv));
            }
        }
    for (int r = 0; r < MR; ++r)
        for (int n = 0; n < NR; ++n)
            out[r * ld + n] = bo_hsum_epi32(acc[r][n]);
}

static void iconv_tile_scalar(int m, int n, const int16_t *const *xrows, int64_t ntaps, const int16_t *w,
                              int64_t cpad, int64_t wstride, int64_t *out, int64_t ld)
{
    for (int r = 0; r < m; ++r)
        for (int q = 0; q < n; ++q) {
            int64_t s = 0;
            for (int64_t t = 0; t < ntaps; ++t)
                for (int64_t i = 0; i < cpad; ++i)
                    s += (int32_t)xrows[r * ntaps + t][i] * w[q * wstride + t * cpad + i];
            out[r * ld + q] = s;
        }
}

#define ICONV_ROW(MR)                                                                                   \
    do {                                                                                                \
        int64_t q = 0;                                                                                  \
        for (; q + 3 <= c->out_c; q += 3) iconv_tile(MR, 3, xrows, ntaps, w + q * wstride, cpad, wstride, acc + q, c->out_c); \
        if (c->out_c - q == 2) iconv_tile(MR, 2, xrows, ntaps, w + q * wstride, cpad, wstride, acc + q, c->out_c);          \
        if (c->out_c - q == 1) iconv_tile(MR, 1, xrows, ntaps, w + q * wstride, cpad, wstride, acc + q, c->out_c);          \
    } while (0)

static AVX2 void iconv_rows_avx2(int m, const bo_conv_args *c, const int16_t *const *xrows, int64_t ntaps,
                                 const int16_t *w, int64_t cpad, int64_t wstride, int64_t *acc)
{
    switch (m) {
    case 4: ICONV_ROW(4); break;
    case 3: ICONV_ROW(3); break;
    case 2: ICONV_ROW(2); break;
    default: ICONV_ROW(1); break;
    }
}

int bo_iconv_e16(const bo_conv_args *c, const int16_t *x, const int16_t *w, int64_t cpad)
{
    const int64_t ntaps = c->kh * c->kw, wstride = ntaps * cpad;
    const int64_t rows = c->batch * c->out_h * c->out_w, tiles = (rows + 3) / 4;
    const int avx2 = bo_get_path() >= BO_PATH_AVX2;
    if (cpad % 16 || (c->pad_value && !c->tap_sum))
        return BO_ERR_ARG;
    int16_t *zero = calloc((size_t)cpad, sizeof(int16_t));
    if (!zero)
        return BO_ERR_NOMEM;
    int failed = 0;
#pragma omp parallel reduction(|| : failed)
    {
        const int16_t **xrows = malloc(sizeof(*xrows) * (size_t)(4 * ntaps));
        unsigned char *padded = malloc((size_t)(4 * ntaps));
        int64_t *acc = malloc(sizeof(int64_t) * (size_t)(4 * c->out_c));
        if (!xrows || !padded || !acc)
            failed = 1;
#pragma omp for schedule(static)
        for (int64_t tile = 0; tile < tiles; ++tile) {
            if (failed)
                continue;
            const int64_t r0 = tile * 4;
            const int m = rows - r0 < 4 ? (int)(rows - r0) : 4;
            for (int r = 0; r < m; ++r) {
                const int64_t q = r0 + r, b = q / (c->out_h * c->out_w);
                const int64_t oy = (q / c->out_w) % c->out_h, ox = q % c->out_w;
                for (int64_t t = 0; t < ntaps; ++t) {
                    const int64_t iy = oy * c->stride_h - c->pad_top + (t / c->kw) * c->dil_h;
                    const int64_t ix = ox * c->stride_w - c->pad_left + (t % c->kw) * c->dil_w;
                    const int out = iy < 0 || iy >= c->in_h || ix < 0 || ix >= c->in_w;
                    padded[r * ntaps + t] = (unsigned char)out;
                    xrows[r * ntaps + t] = out ? zero : x + ((b * c->in_h + iy) * c->in_w + ix) * cpad;
                }
            }
            if (avx2)
                iconv_rows_avx2(m, c, xrows, ntaps, w, cpad, wstride, acc);
            else
                iconv_tile_scalar(m, (int)c->out_c, xrows, ntaps, w, cpad, wstride, acc, c->out_c);
            for (int r = 0; r < m; ++r)
                for (int64_t o = 0; o < c->out_c; ++o) {
                    int64_t v = acc[r * c->out_c + o];
                    if (c->pad_value)
                        for (int64_t t = 0; t < ntaps; ++t)
                            if (padded[r * ntaps + t])
                                v += c->pad_value * c->tap_sum[o * ntaps + t];
                    bo_output_store(c->transform, c->out, c->out64, rows, c->out_c, r0 + r, o, v);
                }
        }
        free(xrows);
        free(padded);
        free(acc);
    }
    free(zero);
    return failed ? BO_ERR_NOMEM : BO_OK;
}
