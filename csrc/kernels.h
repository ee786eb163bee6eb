/*
 * The micro-kernel contract shared by the blocked driver (driver.c) and the
 * per-ISA micro-kernels (micro_scalar.c, micro_avx2.c, micro_avx512.c).
 *
 * A "virtual row" is one bit-plane of one row: (row r, plane j). A micro-kernel
 * takes va virtual A rows and a panel of ncols virtual W rows and returns the
 * va x ncols popcount sums (row stride ncols)
 *
 *     sums[x][y] = sum_{t < ntaps} sum_{u < nw} popcount(a[x][t][u] ^ w[y][t * w_tap_stride + u])
 *
 * sweeping the panel BO_MICRO_VW columns at a time with the va x VW
 * accumulators in registers, so its set-up is paid once per panel.
 * with a[x][t] an indirection pointer (GEMM: ntaps = 1, the row itself;
 * convolution: the input pixel under tap t, or a zero pixel in the padding).
 * The driver weights each sum by 2^(i+j) and applies the affine step of
 * bitops.h. va <= BO_MICRO_VA.
 */
#ifndef BITOPS_KERNELS_H
#define BITOPS_KERNELS_H

#include "bitops.h"

#define BO_MICRO_VA 2
#define BO_MICRO_VW 4

#define BO_MICRO_ARGS int va, int64_t ncols, int64_t ntaps, int64_t nw, const uint64_t *const *a, \
                      const uint64_t *const *w, int64_t w_tap_stride, int64_t *sums

typedef void (*bo_micro_fn)(BO_MICRO_ARGS);

void bo_micro_scalar(BO_MICRO_ARGS);
void bo_micro_avx2(BO_MICRO_ARGS);
void bo_micro_avx512(BO_MICRO_ARGS);

/* Sweep a panel of ncols W rows with TILE(VA, VW, ...) VW = 4 columns at a time,
 * then the 1..3 left over; TILE writes sums[x * ncols + y]. Used inside a
 * micro-kernel, whose BO_MICRO_ARGS are in scope. */
#define BO_PANEL(TILE, VA)                                                                           \
    do {                                                                                             \
        int64_t y_ = 0;                                                                              \
        for (; y_ + 4 <= ncols; y_ += 4) TILE(VA, 4, ntaps, nw, a, w + y_, w_tap_stride, sums + y_, ncols); \
        switch (ncols - y_) {                                                                        \
        case 3: TILE(VA, 3, ntaps, nw, a, w + y_, w_tap_stride, sums + y_, ncols); break;             \
        case 2: TILE(VA, 2, ntaps, nw, a, w + y_, w_tap_stride, sums + y_, ncols); break;             \
        case 1: TILE(VA, 1, ntaps, nw, a, w + y_, w_tap_stride, sums + y_, ncols); break;             \
        }                                                                                            \
    } while (0)

int bo_mbgemm_fast(const bo_gemm_args *g, int path);
int bo_mbconv2d_fast(const bo_conv_args *c, int path);

#endif
