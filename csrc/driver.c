/*
 * The blocked driver shared by every ISA (BLIS-style: loops in portable C,
 * only the micro-kernel is ISA-specific).
 *
 * Loops, outermost first: column blocks sized so their W panel (Nb planes x
 * nc columns x K) stays in L2; row tiles over the threads; within a row tile,
 * chunks of BO_MICRO_VA virtual A rows (row r, plane j) against the whole
 * panel of nc*Nb virtual W rows (column n, plane i), the micro-kernel keeping
 * VA x VW accumulators in registers so that every branch pair of a 1x2 (W2A2)
 * or 2x4 (W1A1) output tile comes from one load of each word. The popcount
 * sums are folded into P[r][n] with weight 2^(i+j), and the affine step of
 * bitops.h gives the exact dot products.
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
#include "output.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* W panel budget for one column block: about half of a 512 KiB L2. */
#define L2_PANEL_BYTES (256 * 1024)

static bo_micro_fn micro_for(int path)
{
    switch (path) {
    case BO_PATH_AVX512: return bo_micro_avx512;
    case BO_PATH_AVX2: return bo_micro_avx2;
    default: return bo_micro_scalar;
    }
}

/* Shape of one output row tile: 2 rows when A is binary (2 virtual rows), else 1. */
static int rows_per_tile(int na) { return na >= BO_MICRO_VA ? 1 : BO_MICRO_VA / na; }

static int64_t column_block(int64_t cols, int64_t bytes_per_col)
{
    int64_t nc = L2_PANEL_BYTES / (bytes_per_col > 0 ? bytes_per_col : 1);
    nc = nc < 4 ? 4 : nc - nc % 4;
    return nc > cols ? cols : nc;
}

typedef struct {
    bo_micro_fn micro;
    int na, nb;
    int64_t ntaps, nw, w_tap_stride;
} plan;

/* Per-thread scratch: popcount sums of one chunk against a panel, and P of a row tile. */
typedef struct {
    int64_t *sums;  /* BO_MICRO_VA x (nc * nb) */
    int64_t *P;     /* mr x nc */
} scratch;

/* P[r][n] = sum_{j,i} 2^(i+j) popcounts for the m rows of a tile against n columns.
 * aind: m*na lists of ntaps pointers (virtual row x = r*na + j);
 * wpanel: n*nb pointers (virtual column y = c*nb + i). */
static void row_tile(const plan *p, int m, int64_t n, const uint64_t *const *aind,
                     const uint64_t *const *wpanel, scratch *s)
{
    const int64_t vcols = n * p->nb;
    if (p->na == 1 && p->nb == 1 && m <= BO_MICRO_VA) {
        /* Binary x binary: the popcount sums are P itself. */
        p->micro(m, n, p->ntaps, p->nw, aind, wpanel, p->w_tap_stride, s->P);
        return;
    }
    memset(s->P, 0, sizeof(int64_t) * (size_t)(m * n));
    for (int x0 = 0; x0 < m * p->na; x0 += BO_MICRO_VA) {
        const int va = m * p->na - x0 < BO_MICRO_VA ? m * p->na - x0 : BO_MICRO_VA;
        p->micro(va, vcols, p->ntaps, p->nw, aind + (int64_t)x0 * p->ntaps, wpanel, p->w_tap_stride, s->sums);
        for (int x = 0; x < va; ++x) {
            const int r = (x0 + x) / p->na, j = (x0 + x) % p->na;
            const int64_t *sx = s->sums + x * vcols;
            int64_t *Pr = s->P + r * n;
            if (p->nb == 1) {
                for (int64_t c = 0; c < n; ++c)
                    Pr[c] += sx[c] << j;
            } else {
                for (int64_t c = 0; c < n; ++c) {
                    int64_t acc = 0;
                    for (int i = 0; i < p->nb; ++i)
                        acc += sx[c * p->nb + i] << i;
                    Pr[c] += acc << j;
                }
            }
        }
    }
}

static int scratch_alloc(scratch *s, int mr, int64_t nc, int nb)
{
    s->sums = malloc(sizeof(int64_t) * (size_t)(BO_MICRO_VA * nc * nb));
    s->P = malloc(sizeof(int64_t) * (size_t)(mr * nc));
    return s->sums && s->P;
}

static void scratch_free(scratch *s)
{
    free(s->sums);
    free(s->P);
}

/* wpanel[c*nb + i] = start of column n0 + c, plane i. */
static void fill_panel(const uint64_t **wpanel, const uint64_t *w, int nb, int64_t cols, int64_t n0, int64_t n,
                       int64_t col_words)
{
    for (int64_t c = 0; c < n; ++c)
        for (int i = 0; i < nb; ++i)
            wpanel[c * nb + i] = w + ((int64_t)i * cols + n0 + c) * col_words;
}

int bo_mbgemm_fast(const bo_gemm_args *g, int path)
{
    const int mr = rows_per_tile(g->a_planes);
    const plan p = {micro_for(path), g->a_planes, g->w_planes, 1, g->nw, 0};
    const int64_t full_scale = g->k * ((INT64_C(1) << g->a_planes) - 1) * ((INT64_C(1) << g->w_planes) - 1);
    const int64_t nc = column_block(g->cols, (int64_t)g->w_planes * g->nw * 8);
    const int64_t row_tiles = (g->rows + mr - 1) / mr;
    int failed = 0;

#pragma omp parallel reduction(|| : failed)
    {
        scratch s;
        const uint64_t **wpanel = malloc(sizeof(*wpanel) * (size_t)(nc * g->w_planes));
        const uint64_t *aind[BO_MICRO_VA * BO_MAX_BITS];
        if (!scratch_alloc(&s, mr, nc, g->w_planes) || !wpanel)
            failed = 1;
        for (int64_t n0 = 0; n0 < g->cols && !failed; n0 += nc) {
            const int64_t n = g->cols - n0 < nc ? g->cols - n0 : nc;
            fill_panel(wpanel, g->w, g->w_planes, g->cols, n0, n, g->nw);
#pragma omp for schedule(static)
            for (int64_t rt = 0; rt < row_tiles; ++rt) {
                const int64_t r0 = rt * mr;
                const int m = g->rows - r0 < mr ? (int)(g->rows - r0) : mr;
                for (int r = 0; r < m; ++r)
                    for (int j = 0; j < g->a_planes; ++j)
                        aind[r * g->a_planes + j] = g->a + ((int64_t)j * g->rows + r0 + r) * g->nw;
                row_tile(&p, m, n, aind, wpanel, &s);
                for (int r = 0; r < m; ++r) {
                    const int64_t *Pr = s.P + r * n, base = (r0 + r) * g->cols + n0;
                    if (g->transform) {
                        for (int64_t c = 0; c < n; ++c)
                            bo_output_store(g->transform, g->out, g->out64, g->rows, g->cols, r0 + r, n0 + c,
                                            full_scale - 2 * Pr[c]);
                    } else if (g->out64) {
                        int64_t *restrict o = (int64_t *)g->out + base;
                        for (int64_t c = 0; c < n; ++c)
                            o[c] = full_scale - 2 * Pr[c];
                    } else {
                        /* a restrict local: the store cannot alias g, so this loop vectorises */
                        int32_t *restrict o = (int32_t *)g->out + base;
                        for (int64_t c = 0; c < n; ++c)
                            o[c] = (int32_t)(full_scale - 2 * Pr[c]);
                    }
                }
            }
        }
        scratch_free(&s);
        free(wpanel);
    }
    return failed ? BO_ERR_NOMEM : BO_OK;
}

int bo_mbconv2d_fast(const bo_conv_args *cv, int path)
{
    const int mr = rows_per_tile(cv->a_planes);
    const int64_t ntaps = cv->kh * cv->kw;
    const plan p = {micro_for(path), cv->a_planes, cv->w_planes, ntaps, cv->nw, cv->nw};
    const int64_t amax = (INT64_C(1) << cv->a_planes) - 1;
    const int64_t full_scale = ntaps * cv->in_c * amax * ((INT64_C(1) << cv->w_planes) - 1);
    const int64_t pad_corr = cv->pad_value + amax;
    const int64_t pixels_in = cv->batch * cv->in_h * cv->in_w;
    const int64_t rows = cv->batch * cv->out_h * cv->out_w;
    const int64_t nc = column_block(cv->out_c, (int64_t)cv->w_planes * ntaps * cv->nw * 8);
    const int64_t row_tiles = (rows + mr - 1) / mr;
    if (pad_corr && !cv->tap_sum)
        return BO_ERR_ARG;
    uint64_t *zero = calloc((size_t)cv->nw, sizeof(uint64_t));
    if (!zero)
        return BO_ERR_NOMEM;
    int failed = 0;

#pragma omp parallel reduction(|| : failed)
    {
        scratch s;
        const uint64_t **wpanel = malloc(sizeof(*wpanel) * (size_t)(nc * cv->w_planes));
        const uint64_t **aind = malloc(sizeof(*aind) * (size_t)(mr * cv->a_planes * ntaps));
        unsigned char *padded = malloc((size_t)(mr * ntaps));
        if (!scratch_alloc(&s, mr, nc, cv->w_planes) || !wpanel || !aind || !padded)
            failed = 1;
        for (int64_t n0 = 0; n0 < cv->out_c && !failed; n0 += nc) {
            const int64_t n = cv->out_c - n0 < nc ? cv->out_c - n0 : nc;
            fill_panel(wpanel, cv->w, cv->w_planes, cv->out_c, n0, n, ntaps * cv->nw);
#pragma omp for schedule(static)
            for (int64_t rt = 0; rt < row_tiles; ++rt) {
                const int64_t r0 = rt * mr;
                const int m = rows - r0 < mr ? (int)(rows - r0) : mr;
                int any_padded = 0;
                for (int r = 0; r < m; ++r) {
                    const int64_t q = r0 + r, b = q / (cv->out_h * cv->out_w);
                    const int64_t oy = (q / cv->out_w) % cv->out_h, ox = q % cv->out_w;
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
                row_tile(&p, m, n, aind, wpanel, &s);
                for (int r = 0; r < m; ++r)
                    for (int64_t c = 0; c < n; ++c) {
                        int64_t v = full_scale - 2 * s.P[r * n + c];
                        if (any_padded && pad_corr)
                            for (int64_t t = 0; t < ntaps; ++t)
                                if (padded[r * ntaps + t])
                                    v += pad_corr * cv->tap_sum[(n0 + c) * ntaps + t];
                        bo_output_store(cv->transform, cv->out, cv->out64, rows, cv->out_c, r0 + r, n0 + c, v);
                    }
            }
        }
        scratch_free(&s);
        free(wpanel);
        free(aind);
        free(padded);
    }
    free(zero);
    return failed ? BO_ERR_NOMEM : BO_OK;
}
