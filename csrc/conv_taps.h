/*
 * Convolution geometry shared by the implicit-GEMM drivers (driver.c for
 * branches, qgemm.c for the integer path): which input pixel an output pixel
 * reads under each tap, and the correction a tap in the padding needs.
 *
 * A padded tap reads a row that contributes E_a = -c_a on every channel
 * (c_a = 2^Ma - 1: all-zero planes, or the integer path's zero codes), so it
 * adds -c_a tap_sum[o][t] where pad_value tap_sum[o][t] is due; the correction
 * is (pad_value + c_a) tap_sum[o][t].
 */
#ifndef BITOPS_CONV_TAPS_H
#define BITOPS_CONV_TAPS_H

#include <stdlib.h>

#include "bitops.h"

/* pix[t] = the input pixel (index into batch x in_h x in_w) under tap t of output pixel q, or -1 in
 * the padding, for the kh*kw taps; returns how many are in the padding. */
static inline int bo_row_taps(const bo_conv_args *cv, int64_t q, int64_t *pix)
{
    const int64_t b = q / (cv->out_h * cv->out_w);
    const int64_t oy = (q / cv->out_w) % cv->out_h, ox = q % cv->out_w;
    int npad = 0;
    for (int64_t ky = 0, t = 0; ky < cv->kh; ++ky) {
        const int64_t iy = oy * cv->stride_h - cv->pad_top + ky * cv->dil_h;
        for (int64_t kx = 0; kx < cv->kw; ++kx, ++t) {
            const int64_t ix = ox * cv->stride_w - cv->pad_left + kx * cv->dil_w;
            const int out = iy < 0 || iy >= cv->in_h || ix < 0 || ix >= cv->in_w;
            pix[t] = out ? -1 : (b * cv->in_h + iy) * cv->in_w + ix;
            npad += out;
        }
    }
    return npad;
}

/* corr[t][o] = (pad_value + c_a) tap_sum[o][t], tap-major so that a padded row adds one
 * contiguous row per padded tap. *out = NULL when no correction is due. Returns BO_OK or
 * BO_ERR_NOMEM. */
static inline int bo_tap_corrections(const bo_conv_args *cv, int64_t c_a, int64_t **out)
{
    const int64_t ntaps = cv->kh * cv->kw, pad_corr = cv->pad_value + c_a;
    *out = NULL;
    if (!pad_corr)
        return BO_OK;
    int64_t *corr = malloc(sizeof(int64_t) * (size_t)(ntaps * cv->out_c));
    if (!corr)
        return BO_ERR_NOMEM;
    for (int64_t t = 0; t < ntaps; ++t)
        for (int64_t o = 0; o < cv->out_c; ++o)
            corr[t * cv->out_c + o] = pad_corr * cv->tap_sum[o * ntaps + t];
    *out = corr;
    return BO_OK;
}

#endif
