/*
 * The AVX-512 path (driver + micro_avx512.c, intrinsics emulated) against the
 * reference path on random GEMMs and convolutions: every plane count 1..4,
 * int32 and int64 results, K past one chunk, padding with several values.
 * Prints the mismatches and exits non-zero on any.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitops.h"
#include "kernels.h"

static uint64_t state = 88172645463325252ULL;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

/* rows x nw random words, bits past k zero (the layout's invariant) */
static uint64_t *random_rows(int64_t rows, int64_t nw, int64_t k)
{
    uint64_t *p = malloc(sizeof(uint64_t) * (size_t)(rows * nw));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t u = 0; u < nw; ++u) {
            const int64_t left = k - u * 64;
            p[r * nw + u] = next() & (left >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << left) - 1);
        }
    return p;
}

int main(void)
{
    int cases = 0, bad = 0;
    for (int t = 0; t < 200; ++t) {
        const int na = 1 + (int)(next() % 4), nb = 1 + (int)(next() % 4);

        const int64_t rows = 1 + next() % 40, cols = 1 + next() % 30, k = 1 + next() % (t % 3 ? 700 : 20000);
        const int64_t nw = (k + 63) / 64;
        const int out64 = next() % 4 == 0;
        uint64_t *a = random_rows(na * rows, nw, k), *w = random_rows(nb * cols, nw, k);
        int64_t *fast = calloc((size_t)(rows * cols), 8), *ref = calloc((size_t)(rows * cols), 8);
        bo_gemm_args g = {a, w, rows, cols, nw, k, na, nb, fast, out64, NULL};
        bo_mbgemm_fast(&g, BO_PATH_AVX512);
        g.out = ref;
        bo_mbgemm_reference(&g);
        ++cases;
        if (memcmp(fast, ref, (out64 ? 8 : 4) * (size_t)(rows * cols))) {
            ++bad;
            printf("gemm %ldx%ldx%ld na %d nb %d out64 %d\n", (long)rows, (long)cols, (long)k, na, nb, out64);
        }

        const int64_t h = 1 + next() % 7, wd = 1 + next() % 7, c = 1 + next() % 300, o = 1 + next() % 9;
        const int64_t cnw = (c + 63) / 64;
        uint64_t *x = random_rows(na * h * wd, cnw, c), *cw = random_rows(nb * o * 9, cnw, c);
        int64_t *tap_sum = calloc((size_t)(o * 9), 8);
        for (int64_t i = 0; i < o * 9; ++i)
            for (int p = 0; p < nb; ++p) {
                int64_t ones = 0;
                for (int64_t u = 0; u < cnw; ++u)
                    ones += __builtin_popcountll(cw[(p * o * 9 + i) * cnw + u]);
                tap_sum[i] += (2 * ones - c) * ((int64_t)1 << p);
            }
        int64_t *cfast = calloc((size_t)(h * wd * o), 8), *cref = calloc((size_t)(h * wd * o), 8);
        for (int wide = 0; wide < 2; ++wide) {
            const int64_t pad_value = wide ? (int64_t)(next() % 7) - 3 : -(((int64_t)1 << na) - 1);
            bo_conv_args cv = {x, cw, tap_sum, 1, h, wd, c, o, 3, 3, h, wd, 1, 1, 1, 1, 1, 1, cnw, pad_value,
                               na, nb, cfast, wide, NULL};
            bo_mbconv2d_fast(&cv, BO_PATH_AVX512);
            cv.out = cref;
            bo_mbconv2d_reference(&cv);
            ++cases;
            if (memcmp(cfast, cref, (wide ? 8 : 4) * (size_t)(h * wd * o))) {
                ++bad;
                printf("conv %ldx%ldx%ld->%ld na %d nb %d pad_value %ld\n", (long)h, (long)wd, (long)c, (long)o, na,
                       nb, (long)pad_value);
            }
        }
        free(a), free(w), free(fast), free(ref), free(x), free(cw), free(tap_sum), free(cfast), free(cref);
    }
    printf("%d cases, %d mismatches\n", cases, bad);
    return bad != 0;
}
