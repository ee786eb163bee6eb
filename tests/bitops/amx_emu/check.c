/*
 * The AMX integer path (csrc/qgemm.c with its tile primitives emulated, amx_emu.h)
 * against the reference path on random GEMMs (activation planes decoded inside
 * the call and read in place) and convolutions (codes gathered through the taps,
 * padding with several values): every width 1..8, int32 results (whole 32 x 32
 * blocks stored into the output) and int64 results (the general store), sizes
 * around whole and ragged blocks and K past several 64-byte tile rows.
 * Prints the mismatches and exits non-zero on any.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitops.h"

#include "../emu_random.h"

/* sum of E over each of `count` rows of nb planes of c values: sum_p 2^p (2 ones - c) */
static int64_t *e_sums(const uint64_t *w, int nb, int64_t count, int64_t nw, int64_t c)
{
    int64_t *s = calloc((size_t)count, 8);
    for (int64_t i = 0; i < count; ++i)
        for (int p = 0; p < nb; ++p) {
            int64_t ones = 0;
            for (int64_t u = 0; u < nw; ++u)
                ones += __builtin_popcountll(w[(p * count + i) * nw + u]);
            s[i] += (2 * ones - c) * ((int64_t)1 << p);
        }
    return s;
}

static void *packed_weights(const uint64_t *w, int nb, int64_t n, int64_t taps, int64_t c, int64_t cpad)
{
    void *out = malloc((size_t)bo_q_packed_weight_bytes(BO_Q_AMX, n, taps * cpad));
    if (bo_q_pack_weights(w, nb, n, taps, c, cpad, BO_Q_AMX, out) != BO_OK) {
        printf("bo_q_pack_weights failed\n");
        exit(2);
    }
    return out;
}

int main(void)
{
    int cases = 0, bad = 0;
    for (int t = 0; t < 60; ++t) {
        const int na = 1 + (int)(next() % 8), nb = 1 + (int)(next() % 8);
        const int64_t rows = 1 + next() % 80, k = 1 + next() % 400;
        const int64_t cols = t % 2 ? 1 + (int64_t)(next() % 70) : 32 * (1 + (int64_t)(next() % 3));
        const int64_t nw = (k + 63) / 64, cpad = (k + 3) / 4 * 4;
        const int out64 = t % 4 == 3;
        uint64_t *a = random_rows(na * rows, nw, k), *w = random_rows(nb * cols, nw, k);
        int64_t *sums = e_sums(w, nb, cols, nw, k);
        void *wpack = packed_weights(w, nb, cols, 1, k, cpad);
        int64_t *fast = calloc((size_t)(rows * cols), 8), *ref = calloc((size_t)(rows * cols), 8);
        bo_conv_args cv = {NULL, NULL, sums, rows, 1, 1, k, cols, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0,
                           0, 0, fast, out64, NULL};
        bo_q_args q = {BO_Q_AMX, 1, NULL, a, na, cpad, wpack, ((int64_t)1 << na) - 1};
        const int status = bo_qconv(&cv, &q);
        bo_gemm_args g = {a, w, rows, cols, nw, k, na, nb, ref, out64, NULL};
        bo_mbgemm_reference(&g);
        ++cases;
        if (status != BO_OK || memcmp(fast, ref, (out64 ? 8 : 4) * (size_t)(rows * cols))) {
            ++bad;
            printf("gemm %ldx%ldx%ld na %d nb %d out64 %d status %d\n", (long)rows, (long)cols, (long)k, na, nb,
                   out64, status);
        }
        free(a), free(w), free(sums), free(wpack), free(fast), free(ref);

        const int64_t h = 1 + next() % 9, wd = 1 + next() % 9, c = 1 + next() % 150;
        const int64_t o = t % 2 ? 32 * (1 + (int64_t)(next() % 3)) : 1 + (int64_t)(next() % 70);
        const int64_t cnw = (c + 63) / 64, ccpad = (c + 3) / 4 * 4;
        uint64_t *x = random_rows(na * h * wd, cnw, c), *cw = random_rows(nb * o * 9, cnw, c);
        int64_t *tap_sum = e_sums(cw, nb, o * 9, cnw, c);
        void *cpack = packed_weights(cw, nb, o, 9, c, ccpad);
        uint8_t *codes = malloc((size_t)(h * wd * ccpad));
        bo_decode_codes(x, na, h * wd, c, ccpad, codes);
        int64_t *cfast = calloc((size_t)(h * wd * o), 8), *cref = calloc((size_t)(h * wd * o), 8);
        const int64_t pad_value = (int64_t)(next() % 7) - 3;
        bo_conv_args cc = {x, cw, tap_sum, 1, h, wd, c, o, 3, 3, h, wd, 1, 1, 1, 1, 1, 1, cnw, pad_value,
                           na, nb, cref, out64, NULL};
        bo_mbconv2d_reference(&cc);
        cc.out = cfast;
        bo_q_args qc = {BO_Q_AMX, 1, codes, NULL, 0, ccpad, cpack, ((int64_t)1 << na) - 1};
        const int cstatus = bo_qconv(&cc, &qc);
        ++cases;
        if (cstatus != BO_OK || memcmp(cfast, cref, (out64 ? 8 : 4) * (size_t)(h * wd * o))) {
            ++bad;
            printf("conv %ldx%ldx%ld->%ld na %d nb %d pad_value %ld out64 %d status %d\n", (long)h, (long)wd,
                   (long)c, (long)o, na, nb, (long)pad_value, out64, cstatus);
        }
        free(x), free(cw), free(tap_sum), free(cpack), free(codes), free(cfast), free(cref);
    }
    printf("%d cases, %d mismatches\n", cases, bad);
    return bad != 0;
}
