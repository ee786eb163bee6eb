/*
 * The blocked driver shared by every ISA (BLIS-style: loops in portable C,
 * only the micro-kernel is ISA-specific).
 *
 * An output tile of mr rows x nr columns has mr*Na virtual A rows (row, plane
 * j) and nr*Nb virtual W rows (column, plane i). The driver feeds them to the
 * micro-kernel in chunks of at most BO_MICRO_VA x BO_MICRO_VW and folds each
 * popcount sum into the tile's P with weight 2^(i+j); the affine step of
 * bitops.h then gives the exact dot products. mr and nr are chosen so that a
 * tile's virtual rows fill the micro-kernel: W1A1 runs 2x4 output tiles,
 * W2A2 1x2 tiles with all four branch pairs in one call.
 *
 * Convolution is the same loop over output pixels (implicit GEMM): the A
 * "row" of a pixel is an indirection list of kh*kw pointers to the input
 * pixels under its taps. Taps in the padding point at a zero pixel, which
 * reads as E = -(2^Na - 1) on every channel; the tap then contributes
 * -(2^Na - 1) * tap_sum[o][t] instead of pad_value * tap_sum[o][t], so each
 * padded tap is corrected by (pad_value + 2^Na - 1) * tap_sum[o][t]:
 *
 *     tap inside the image   -> no correction
 *     tap in the padding     -> + (pad_value + 2^Na - 1) * tap_sum[o][t]
 *     pad_value = 0          -> true zero padding
 *     pad_value = -(2^Na-1)  -> no correction (padding with all-zero bits)
 */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* W panel budget for one column block: about half of a 512 KiB L2. */
#define L2_PANEL_BYTES (256 * 1024)
#define MAX_TILE 8

static bo_micro_fn micro_for(int path)
{
    switch (path) {
    case BO_PATH_AVX512: return bo_micro_avx512;
    case BO_PATH_AVX2: return bo_micro_avx2;
    default: return bo_micro_scalar;
    }
}

typedef struct {
    bo_micro_fn micro;
    int na, nb;
    int64_t ntaps, nw;
} tile_ctx;

/* P[r][n] for one tile: aind holds mr*na lists of ntaps pointers (virtual row
 * x = r*na + j), wbase holds nr*nb base pointers (virtual row y = n*nb + i). */
static void compute_tile(const tile_ctx *c, int mr, int nr, const uint64_t *const *aind,
                         const uint64_t *const *wbase, int64_t w_tap_stride, int64_t *P)
{
    const int ta = mr * c->na, tw = nr * c->nb;
    int64_t sums[BO_MICRO_VA * BO_MICRO_VW];
    memset(P, 0, sizeof(int64_t) * mr * nr);
    for (int x0 = 0; x0 < ta; x0 += BO_MICRO_VA) {
        const int va = ta - x0 < BO_MICRO_VA ? ta - x0 : BO_MICRO_VA;
        for (int y0 = 0; y0 < tw; y0 += BO_MICRO_VW) {
            const int vw = tw - y0 < BO_MICRO_VW ? tw - y0 : BO_MICRO_VW;
            c->micro(va, vw, c->ntaps, c->nw, aind + x0 * c->ntaps, wbase + y0, w_tap_stride, sums);
            for (int x = 0; x < va; ++x)
                for (int y = 0; y < vw; ++y) {
                    const int r = (x0 + x) / c->na, j = (x0 + x) % c->na;
                    const int n = (y0 + y) / c->nb, i = (y0 + y) % c->nb;
                    P[r * nr + n] += sums[x * vw + y] << (i + j);
                }
        }
    }
}

static void tile_shape(int na, int nb, int *mr, int *nr)
{
    *mr = na >= BO_MICRO_VA ? 1 : BO_MICRO_VA / na;
    *nr = nb >= BO_MICRO_VW ? 1 : BO_MICRO_VW / nb;
}

static int64_t column_block(int64_t cols, int64_t bytes_per_col, int nr)
{
    int64_t nc = L2_PANEL_BYTES / (bytes_per_col > 0 ? bytes_per_col : 1);
    nc = nc < nr ? nr : nc - nc % nr;
    return nc > cols ? cols : nc;
}

static inline void store(void *out, int out64, int64_t idx, int64_t v)
{
    if (out64)
        ((int64_t *)out)[idx] = v;
    else
        ((int32_t *)out)[idx] = (int32_t)v;
}

int bo_mbgemm_fast(const bo_gemm_args *g, int path)
{
    int mr, nr;
    tile_shape(g->a_planes, g->w_planes, &mr, &nr);
    const tile_ctx c = {micro_for(path), g->a_planes, g->w_planes, 1, g->nw};
    const int64_t full_scale = g->k * ((INT64_C(1) << g->a_planes) - 1) * ((INT64_C(1) << g->w_planes) - 1);
    const int64_t nc = column_block(g->cols, (int64_t)g->w_planes * g->nw * 8, nr);
    const int64_t row_tiles = (g->rows + mr - 1) / mr;

#pragma omp parallel
    {
        const uint64_t *aind[MAX_TILE * BO_MAX_BITS];
        const uint64_t *wbase[MAX_TILE * BO_MAX_BITS];
        int64_t P[MAX_TILE * MAX_TILE];
        for (int64_t n0 = 0; n0 < g->cols; n0 += nc) {
            const int64_t n1 = n0 + nc < g->cols ? n0 + nc : g->cols;
#pragma omp for schedule(static)
            for (int64_t rt = 0; rt < row_tiles; ++rt) {
                const int64_t r0 = rt * mr;
                const int m = g->rows - r0 < mr ? (int)(g->rows - r0) : mr;
                for (int r = 0; r < m; ++r)
                    for (int j = 0; j < g->a_planes; ++j)
                        aind[r * g->a_planes + j] = g->a + ((int64_t)j * g->rows + r0 + r) * g->nw;
                for (int64_t c0 = n0; c0 < n1; c0 += nr) {
                    const int n = n1 - c0 < nr ? (int)(n1 - c0) : nr;
                    for (int q = 0; q < n; ++q)
                        for (int i = 0; i < g->w_planes; ++i)
                            wbase[q * g->w_planes + i] = g->w + ((int64_t)i * g->cols + c0 + q) * g->nw;
                    compute_tile(&c, m, n, aind, wbase, 0, P);
                    for (int r = 0; r < m; ++r)
                        for (int q = 0; q < n; ++q)
                            store(g->out, g->out64, (r0 + r) * g->cols + c0 + q, full_scale - 2 * P[r * n + q]);
                }
            }
        }
    }
    return BO_OK;
}

int bo_mbconv2d_fast(const bo_conv_args *cv, int path)
{
    int mr, nr;
    tile_shape(cv->a_planes, cv->w_planes, &mr, &nr);
    const int64_t ntaps = cv->kh * cv->kw;
    const tile_ctx c = {micro_for(path), cv->a_planes, cv->w_planes, ntaps, cv->nw};
    const int64_t amax = (INT64_C(1) << cv->a_planes) - 1;
    const int64_t full_scale = ntaps * cv->in_c * amax * ((INT64_C(1) << cv->w_planes) - 1);
    const int64_t pad_corr = cv->pad_value + amax;
    const int64_t pixels_in = cv->batch * cv->in_h * cv->in_w;
    const int64_t rows = cv->batch * cv->out_h * cv->out_w;
    const int64_t nc = column_block(cv->out_c, (int64_t)cv->w_planes * ntaps * cv->nw * 8, nr);
    const int64_t row_tiles = (rows + mr - 1) / mr;

    if (pad_corr && !cv->tap_sum && (cv->pad_top || cv->pad_left || cv->out_h * cv->stride_h > cv->in_h ||
                                     cv->out_w * cv->stride_w > cv->in_w))
        return BO_ERR_ARG;
    uint64_t *zero = calloc((size_t)cv->nw, sizeof(uint64_t));
    const uint64_t **aind_all = malloc(sizeof(*aind_all) * (size_t)(mr * cv->a_planes * ntaps) *
                                       (size_t)bo_get_num_threads());
    unsigned char *padded_all = malloc((size_t)(mr * ntaps) * (size_t)bo_get_num_threads());
    int status = BO_OK;
    if (!zero || !aind_all || !padded_all) {
        status = BO_ERR_NOMEM;
        goto done;
    }

#pragma omp parallel
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        const uint64_t **aind = aind_all + (size_t)tid * (size_t)(mr * cv->a_planes * ntaps);
        unsigned char *padded = padded_all + (size_t)tid * (size_t)(mr * ntaps);
        const uint64_t *wbase[MAX_TILE * BO_MAX_BITS];
        int64_t P[MAX_TILE * MAX_TILE];
        for (int64_t n0 = 0; n0 < cv->out_c; n0 += nc) {
            const int64_t n1 = n0 + nc < cv->out_c ? n0 + nc : cv->out_c;
#pragma omp for schedule(static)
            for (int64_t rt = 0; rt < row_tiles; ++rt) {
                const int64_t r0 = rt * mr;
                const int m = rows - r0 < mr ? (int)(rows - r0) : mr;
                int any_padded = 0;
                for (int r = 0; r < m; ++r) {
                    const int64_t p = r0 + r, b = p / (cv->out_h * cv->out_w);
                    const int64_t oy = (p / cv->out_w) % cv->out_h, ox = p % cv->out_w;
                    for (int64_t t = 0; t < ntaps; ++t) {
                        const int64_t iy = oy * cv->stride_h - cv->pad_top + (t / cv->kw) * cv->dil_h;
                        const int64_t ix = ox * cv->stride_w - cv->pad_left + (t % cv->kw) * cv->dil_w;
                        const int out = iy < 0 || iy >= cv->in_h || ix < 0 || ix >= cv->in_w;
                        padded[r * ntaps + t] = (unsigned char)out;
                        any_padded |= out;
                        const int64_t pix = (b * cv->in_h + iy) * cv->in_w + ix;
                        for (int j = 0; j < cv->a_planes; ++j)
                            aind[(r * cv->a_planes + j) * ntaps + t] =
                                out ? zero : cv->x + ((int64_t)j * pixels_in + pix) * cv->nw;
                    }
                }
                for (int64_t c0 = n0; c0 < n1; c0 += nr) {
                    const int n = n1 - c0 < nr ? (int)(n1 - c0) : nr;
                    for (int q = 0; q < n; ++q)
                        for (int i = 0; i < cv->w_planes; ++i)
                            wbase[q * cv->w_planes + i] =
                                cv->w + ((int64_t)i * cv->out_c * ntaps + (c0 + q) * ntaps) * cv->nw;
                    compute_tile(&c, m, n, aind, wbase, cv->nw, P);
                    for (int r = 0; r < m; ++r)
                        for (int q = 0; q < n; ++q) {
                            int64_t v = full_scale - 2 * P[r * n + q];
                            if (any_padded && pad_corr)
                                for (int64_t t = 0; t < ntaps; ++t)
                                    if (padded[r * ntaps + t])
                                        v += pad_corr * cv->tap_sum[(c0 + q) * ntaps + t];
                            store(cv->out, cv->out64, (r0 + r) * cv->out_c + c0 + q, v);
                        }
                }
            }
        }
    }
done:
    free(zero);
    free(aind_all);
    free(padded_all);
    return status;
}
