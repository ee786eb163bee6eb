/*
 * The AVX-512 path (driver + micro_avx512.c, its intrinsics emulated, or the
 * real kernel where the CPU has it) against the reference path on random GEMMs
 * and convolutions: every plane count 1..4, int32 and int64 results, K past
 * one chunk, padding with several values; and the micro-kernel alone against
 * its contract (check_contract). Prints the mismatches and exits non-zero on
 * any.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitops.h"
#include "kernels.h"

#include "../emu_random.h"

/*
 * The micro-kernel contract (kernels.h) called directly, with what the driver
 * never passes: any multiplier (not only +-2^i; also INT32_MIN and 0), shifts
 * 2^j * mult past 2^32, any bias, every ncols up to vw, rows that end inside
 * an A panel, accumulate on and off. Returns the number of mismatches.
 */
static int check_contract(const bo_isa *isa)
{
    const int va = isa->va, vw = isa->vw, uw = isa->unit_words;
    int bad = 0;
    for (int t = 0; t < 2000; ++t) {
        const int64_t kv = 1 + next() % 9, rows = 1 + next() % (3 * va);
        const int na = 1 + (int)(next() % 8), ncols = 1 + (int)(next() % vw), accumulate = (int)(next() % 2);
        const int64_t npanels = (rows + va - 1) / va, ldc = ncols + (int64_t)(next() % 3);
        const int64_t nout = (rows + na - 1) / na;
        static const int32_t special[] = {1, -1, -2, 3, -7, INT32_MIN, INT32_MAX, 0, 1 << 30, -(1 << 29)};
        const int32_t mult = next() % 2 ? special[next() % 10] : (int32_t)next();
        const int32_t bias = (int32_t)next();
        /* panels: A[u][x] and W[u][y], uw words each; rows past `rows` zero as the driver packs them */
        uint64_t *a = calloc((size_t)(npanels * kv * va * uw), 8), *w = calloc((size_t)(kv * vw * uw), 8);
        for (int64_t p = 0; p < npanels; ++p)
            for (int64_t u = 0; u < kv; ++u)
                for (int x = 0; x < va && p * va + x < rows; ++x)
                    for (int i = 0; i < uw; ++i)
                        a[((p * kv + u) * va + x) * uw + i] = next();
        for (int64_t i = 0; i < kv * vw * uw; ++i)
            w[i] = next();
        int32_t *c = malloc(sizeof(int32_t) * (size_t)(nout * ldc)), *e = malloc(sizeof(int32_t) * (size_t)(nout * ldc));
        for (int64_t i = 0; i < nout * ldc; ++i)
            c[i] = e[i] = (int32_t)next();
        for (int64_t x = 0; x < rows; ++x) {
            const int64_t p = x / va, r = x % va, row = x / na;
            const int j = (int)(x % na);
            for (int y = 0; y < ncols; ++y) {
                uint32_t s = 0;
                for (int64_t u = 0; u < kv; ++u)
                    for (int i = 0; i < uw; ++i)
                        s += (uint32_t)__builtin_popcountll(a[((p * kv + u) * va + r) * uw + i] ^ w[(u * vw + y) * uw + i]);
                uint32_t *o = (uint32_t *)&e[row * ldc + y];
                *o = (accumulate || j ? *o : (uint32_t)bias) + ((uint32_t)mult << j) * s;
            }
        }
        isa->micro(kv, a, rows, na, w, c, ldc, ncols, bias, mult, accumulate);
        if (memcmp(c, e, sizeof(int32_t) * (size_t)(nout * ldc))) {
            ++bad;
            printf("micro kv %ld rows %ld na %d ncols %d mult %d accumulate %d\n", (long)kv, (long)rows, na, ncols,
                   mult, accumulate);
        }
        free(a), free(w), free(c), free(e);
    }
    return bad;
}

int main(void)
{
    int cases = 0, bad = 0;
    if (!bo_isa_avx512.nibbles) {
        bad += check_contract(&bo_isa_avx512);
        cases += 2000;
    }
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
