/*
 * Reference kernels: the identities of bitops.h written as plain loops, with a
 * portable popcount. Always built, never vectorised by hand; every fast path
 * is tested bit for bit against these.
 */
#include "bitops.h"
#include "output.h"

/* SWAR popcount (no compiler builtin, so this path is independent of POPCNT). */
static inline int64_t ref_popcount(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int64_t)((x * 0x0101010101010101ULL) >> 56);
}

/* E_a . E_w for one pair of rows, planes strided by the plane size. */
static int64_t ref_dot(const uint64_t *a, int64_t a_plane_stride, int a_planes,
                       const uint64_t *w, int64_t w_plane_stride, int w_planes,
                       int64_t nw, int64_t k)
{
    int64_t p = 0;
    for (int j = 0; j < a_planes; ++j)
        for (int i = 0; i < w_planes; ++i) {
            const uint64_t *aj = a + j * a_plane_stride, *wi = w + i * w_plane_stride;
            int64_t pc = 0;
            for (int64_t t = 0; t < nw; ++t)
                pc += ref_popcount(aj[t] ^ wi[t]);
            p += pc << (i + j);
        }
    return k * ((INT64_C(1) << a_planes) - 1) * ((INT64_C(1) << w_planes) - 1) - 2 * p;
}

int bo_mbgemm_reference(const bo_gemm_args *g)
{
    const int64_t a_stride = g->rows * g->nw, w_stride = g->cols * g->nw;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < g->rows; ++r)
        for (int64_t n = 0; n < g->cols; ++n)
            bo_output_store(g->transform, g->out, g->out64, g->rows, g->cols, r, n,
                  ref_dot(g->a + r * g->nw, a_stride, g->a_planes,
                          g->w + n * g->nw, w_stride, g->w_planes, g->nw, g->k));
    return BO_OK;
}

int bo_mbconv2d_reference(const bo_conv_args *c)
{
    if (c->pad_value && !c->tap_sum)
        return BO_ERR_ARG;
    const int64_t pixels = c->batch * c->in_h * c->in_w;
    const int64_t taps = c->out_c * c->kh * c->kw;
    const int64_t a_stride = pixels * c->nw, w_stride = taps * c->nw;
    const int64_t out_pixels = c->batch * c->out_h * c->out_w;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < out_pixels; ++p) {
        const int64_t b = p / (c->out_h * c->out_w);
        const int64_t oy = (p / c->out_w) % c->out_h, ox = p % c->out_w;
        for (int64_t o = 0; o < c->out_c; ++o) {
            int64_t acc = 0;
            for (int64_t ky = 0; ky < c->kh; ++ky)
                for (int64_t kx = 0; kx < c->kw; ++kx) {
                    const int64_t iy = oy * c->stride_h - c->pad_top + ky * c->dil_h;
                    const int64_t ix = ox * c->stride_w - c->pad_left + kx * c->dil_w;
                    const int64_t tap = (o * c->kh + ky) * c->kw + kx;
                    if (iy < 0 || iy >= c->in_h || ix < 0 || ix >= c->in_w) {
                        if (c->pad_value)
                            acc += c->pad_value * c->tap_sum[tap];
                        continue;
                    }
                    const int64_t pix = (b * c->in_h + iy) * c->in_w + ix;
                    acc += ref_dot(c->x + pix * c->nw, a_stride, c->a_planes,
                                   c->w + tap * c->nw, w_stride, c->w_planes, c->nw, c->in_c);
                }
            bo_output_store(c->transform, c->out, c->out64, out_pixels, c->out_c, p, o, acc);
        }
    }
    return BO_OK;
}
