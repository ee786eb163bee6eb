/*
 * The micro-kernel contract shared by the blocked driver (driver.c) and the
 * per-ISA micro-kernels (micro_scalar.c, micro_avx2.c, micro_avx512.c).
 *
 * A "virtual row" is one bit-plane of one row: (row r, plane j) of A, or
 * (column n, plane i) of W. Its K' words (a GEMM row; for a convolution, the
 * input pixels under the kernel taps one after another) are cut into units of
 * `unit_words` words, the last one zero-padded, and packed by the driver:
 *
 *     panel[u][x] = unit u of virtual row x of the panel, `packed_words` words,
 *
 * with x < BO_MICRO_VA in an A panel and x < BO_MICRO_VW in a W panel; a
 * panel's missing rows are zero. Zero words in both operands add no popcount,
 * so the padding is free of corrections. The AVX2 kernel stores a unit as its
 * low nibbles, then its high nibbles (each byte & 0x0f, then >> 4 & 0x0f):
 * the driver splits every word once instead of the kernel splitting it for
 * every pair (micro_avx2.c).
 *
 * micro(kv, a, rows, w, c, ldc, ncols, bias, mult, accumulate) sweeps the
 * `rows` virtual rows of an A block (ceil(rows / BO_MICRO_VA) consecutive A
 * panels of kv >= 1 units each) against one W panel of kv units and, with
 *
 *     s[x][y] = sum_{u < kv} popcount(A[x][u] ^ W[y][u]),   x < rows, y < 4,
 *
 * writes, in int32,
 *
 *     c[x * ldc + y] = (accumulate ? c[x * ldc + y] : bias) + mult * s[x][y]   for y < ncols <= 4.
 *
 * The driver uses bias = K, mult = -2 to store a binary product straight into
 * the output (K - 2 popcount, bitops.h) and bias = 0, mult = 1 for the popcount
 * sums of multi-branch tiles. It keeps kv <= max_units (AVX2: the window of
 * its byte accumulators) and every total below 2^30, so int32 never wraps.
 */
#ifndef BITOPS_KERNELS_H
#define BITOPS_KERNELS_H

#include "bitops.h"

#define BO_MICRO_VA 3
#define BO_MICRO_VW 4

#define BO_MICRO_ARGS int64_t kv, const uint64_t *a, int64_t rows, const uint64_t *w, int32_t *c, int64_t ldc, \
                      int ncols, int32_t bias, int32_t mult, int accumulate

typedef void (*bo_micro_fn)(BO_MICRO_ARGS);

typedef struct {
    int unit_words;     /* K' words per unit */
    int packed_words;   /* words one unit of one virtual row takes in a panel */
    int nibbles;        /* 1: a unit is packed as its low nibbles, then its high nibbles */
    int64_t max_units;  /* most units per micro-kernel call */
    bo_micro_fn micro;
} bo_isa;

extern const bo_isa bo_isa_scalar, bo_isa_avx2, bo_isa_avx512;

/* Store row x < rows of an int32 tile computed in r[x][y] (the epilogue above), y < ncols. */
static inline void bo_micro_store(const int64_t r[BO_MICRO_VA][BO_MICRO_VW], int rows, int32_t *c, int64_t ldc,
                                  int ncols, int32_t bias, int32_t mult, int accumulate)
{
    for (int x = 0; x < rows; ++x)
        for (int y = 0; y < ncols; ++y) {
            int32_t *p = c + x * ldc + y;
            *p = (int32_t)((accumulate ? *p : bias) + (int64_t)mult * r[x][y]);
        }
}

int bo_mbgemm_fast(const bo_gemm_args *g, int path);
int bo_mbconv2d_fast(const bo_conv_args *c, int path);

#endif
