/*
 * Output transforms, applied to each exact accumulator v of output column c.
 *
 *   BO_OUT_INT:        store v (int32 or int64, as before)
 *   BO_OUT_AFFINE:     y = clamp((float)(v * scale[c] + bias[c]), lo, hi), float32;
 *                      computed in double, where v * scale[c] is exact for
 *                      |v| < 2^29, so fused and unfused paths round once, alike
 *   BO_OUT_THRESHOLD:  u = #{t : thr[c][t] <= v} over T sorted thresholds, the
 *                      next layer's code (T = 2^bits - 1), written straight into
 *                      its packed planes: bit c%64 of word c/64 of row r in plane m
 *                      is bit m of u (DESIGN §3), found by binary search (bits
 *                      comparisons per value)
 *
 * One inline function serves the fused driver and the unfused paths, so the
 * reference, integer and branch paths give the same bits.
 */
#ifndef BITOPS_OUTPUT_H
#define BITOPS_OUTPUT_H

#include "bitops.h"

static inline int64_t bo_threshold_code(const int64_t *thr, int64_t T, int64_t v)
{
    int64_t lo = 0, hi = T;  /* count of thresholds <= v, in [0, T] */
    while (lo < hi) {
        const int64_t mid = (lo + hi) / 2;
        if (thr[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Store accumulator v of (row, col) of a rows x cols result through transform t. */
static inline void bo_output_store(const bo_output *t, void *out, int out64, int64_t rows, int64_t cols,
                                   int64_t row, int64_t col, int64_t v)
{
    switch (t ? t->kind : BO_OUT_INT) {
    case BO_OUT_AFFINE: {
        double y = (double)v * t->scale[t->per_channel ? col : 0] + (t->bias ? t->bias[col] : 0.0);
        float f = (float)y;
        if (t->clamp) {
            f = f < t->lo ? t->lo : f;
            f = f > t->hi ? t->hi : f;
        }
        ((float *)t->out)[row * cols + col] = f;
        return;
    }
    case BO_OUT_THRESHOLD: {
        const int64_t u = bo_threshold_code(t->thresholds + col * t->n_thresholds, t->n_thresholds, v);
        const int64_t nw = bo_words_for(cols);
        uint64_t *planes = (uint64_t *)t->out;
        for (int m = 0; m < t->out_bits; ++m) {
            uint64_t *word = planes + ((int64_t)m * rows + row) * nw + col / 64;
            const uint64_t bit = (uint64_t)1 << (col % 64);
            *word = ((u >> m) & 1) ? (*word | bit) : (*word & ~bit);
        }
        return;
    }
    default:
        if (out64)
            ((int64_t *)out)[row * cols + col] = v;
        else
            ((int32_t *)out)[row * cols + col] = (int32_t)v;
    }
}

#endif
