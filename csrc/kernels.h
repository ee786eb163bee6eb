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
 * with x < va in an A panel and x < vw in a W panel: va x vw is the ISA's
 * register tile (bo_isa), 3 x 4 for the scalar and AVX2 kernels and 12 x 16
 * for AVX-512, whose units are single words so that a W unit is 16 columns'
 * words side by side (micro_avx512.c). A panel's missing rows are zero. Zero
 * words in both operands add no popcount, so the padding is free of
 * corrections. The AVX2 kernel stores a unit as its
 * low nibbles, then its high nibbles (each byte & 0x0f, then >> 4 & 0x0f):
 * the driver splits every word once instead of the kernel splitting it for
 * every pair (micro_avx2.c).
 *
 * micro(kv, a, rows, na, w, c, ldc, ncols, bias, mult, accumulate) sweeps
 * the `rows` virtual rows of an A block (ceil(rows / va) consecutive
 * A panels of kv >= 1 units each) against one W panel of kv units. Virtual row
 * x is plane j = x % na of output row x / na; with
 *
 *     s[x][y] = sum_{u < kv} popcount(A[x][u] ^ W[y][u]),   x < rows, y < vw,
 *
 * it writes, in increasing x and in 32-bit arithmetic modulo 2^32,
 *
 *     c[(x / na) * ldc + y] = (accumulate || j > 0 ? c[(x / na) * ldc + y] : bias)
 *                             + 2^j * mult * s[x][y]                       for y < ncols <= vw.
 *
 * With bias = full_scale, mult = -2^(i+1) for W plane i, and accumulate set
 * for every plane i > 0 and every K chunk after the first, the output row
 * receives full_scale - 2 sum_{i,j} 2^(i+j) s, the exact result (bitops.h),
 * without a pass over popcount sums: the driver stores int32 results so.
 * The arithmetic may wrap on the way, which is harmless modulo 2^32 because the
 * exact result fits int32. With na = 1, bias = 0, mult = 1 the kernel stores
 * plain popcount sums, for int64 results and output transforms. The driver
 * keeps kv <= max_units (AVX2: the window of its byte accumulators) and every
 * popcount sum below 2^30.
 */
#ifndef BITOPS_KERNELS_H
#define BITOPS_KERNELS_H

#include "bitops.h"

/* the register tile (va x vw) of the scalar and AVX2 kernels */
#define BO_MICRO_VA 3
#define BO_MICRO_VW 4

#define BO_MICRO_ARGS int64_t kv, const uint64_t *a, int64_t rows, int na, const uint64_t *w, int32_t *c, \
                      int64_t ldc, int ncols, int32_t bias, int32_t mult, int accumulate

typedef void (*bo_micro_fn)(BO_MICRO_ARGS);

typedef struct {
    int unit_words;     /* K' words per unit */
    int packed_words;   /* words one unit of one virtual row takes in a panel */
    int nibbles;        /* 1: a unit is packed as its low nibbles, then its high nibbles */
    int64_t max_units;  /* most units per micro-kernel call */
    bo_micro_fn micro;
    int va, vw;         /* virtual rows per A panel, virtual columns per W panel */
} bo_isa;

extern const bo_isa bo_isa_scalar, bo_isa_avx2, bo_isa_avx512;

/* The store above for the virtual rows x0 .. x0 + m - 1 of a tile, s[x - x0][y], y < ncols. */
static inline void bo_micro_store(const int64_t s[BO_MICRO_VA][BO_MICRO_VW], int64_t x0, int m, int na, int32_t *c,
                                  int64_t ldc, int ncols, int32_t bias, int32_t mult, int accumulate)
{
    for (int x = 0; x < m; ++x) {
        const int64_t row = (x0 + x) / na;
        const int j = (int)((x0 + x) % na);
        for (int y = 0; y < ncols; ++y) {
            uint32_t *p = (uint32_t *)(c + row * ldc + y);
            *p = (accumulate || j ? *p : (uint32_t)bias) + ((uint32_t)mult << j) * (uint32_t)s[x][y];
        }
    }
}

int bo_mbgemm_fast(const bo_gemm_args *g, int path);
int bo_mbconv2d_fast(const bo_conv_args *c, int path);

#endif
