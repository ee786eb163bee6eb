/*
 * The blocked driver shared by every ISA (BLIS-style: loops and packing in
 * portable C, only the micro-kernel is ISA-specific; contract in kernels.h).
 *
 * A GEMM and a convolution are one problem here: rows x cols outputs, each the
 * exact dot product of an A row and a W row of K' words per plane. A GEMM row
 * is a row of A; a convolution row is an output pixel (implicit GEMM), whose
 * K' words are the input pixels under its kh*kw taps read one after another,
 * gathered through an indirection list while A is packed (a zero pixel in the
 * padding) and never materialised beyond one row block.
 *
 * Loops, outermost first:
 *   1. W is packed once per call, shared by the threads, in panels of vw
 *      virtual columns (column n, plane i; vw = 4, or 16 for AVX-512): vw
 *      columns of one plane, the Nb planes of those vw columns in
 *      consecutive panels;
 *   2. row blocks go to the threads (dynamic schedule: on a shared machine a
 *      core may be slowed, and fixed shares would wait for it); a block's
 *      packed A (its virtual rows (row r, plane j)) fills half of L1;
 *   3. column blocks (popcount sums only): the int32 sums of a row block x
 *      column block stay in L2 until the epilogue folds them;
 *   4. K chunks within the ISA's accumulation window, a W panel within L1;
 *   5. W panels: each stays in L1 while the micro-kernel sweeps the row block.
 *
 * Output. With int32 results and no transform, the micro-kernel folds the
 * branch pairs straight into the output (kernels.h): each pair (i, j) adds
 * -2^(i+j+1) s to full_scale, so the output ends as v = full_scale - 2 P,
 *
 *     P = sum_{j,i} 2^(i+j) s[(r, j)][(n, i)]   (bitops.h),
 *
 * and only padded rows of a convolution are revisited. For int64 results and
 * output transforms it stores popcount sums s, and the epilogue forms v in
 * int64, adds the padding correction and applies the transform (output.h).
 *
 * Padding correction (convolution). A tap in the padding reads the zero pixel,
 * which is E = -(2^Na - 1) on every channel, so it contributes
 * -(2^Na - 1) * tap_sum[o][t] instead of pad_value * tap_sum[o][t]:
 *
 *     tap inside the image   -> no correction
 *     tap in the padding     -> + (pad_value + 2^Na - 1) * tap_sum[o][t]
 *     pad_value = 0          -> true zero padding
 *     pad_value = -(2^Na-1)  -> no correction (padding with all-zero bits)
 *
 * The products (pad_value + 2^Na - 1) * tap_sum[o][t] are formed once per call
 * (tap_corr, tap-major so that a padded row adds them column by column).
 */
#include <stdlib.h>
#include <string.h>

#include "conv_taps.h"
#include "kernels.h"
#include "output.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define A_BLOCK_BYTES (16 * 1024)     /* packed A of a row block: half of a 32 KiB L1 */
#define W_PANEL_BYTES (8 * 1024)      /* one W panel's K chunk, in L1 beside the A block */
#define SCRATCH_BYTES (64 * 1024)     /* int32 sums of a row block x column block (int64, transforms) */
#define MAX_K_BITS (INT64_C(1) << 30) /* int32 sums and stores stay exact below this (kernels.h) */
#define LOW_NIBBLES UINT64_C(0x0f0f0f0f0f0f0f0f)

static const bo_isa *isa_for(int path)
{
    switch (path) {
    case BO_PATH_AMX:  /* AMX changes the integer kernels only */
    case BO_PATH_AVX512: return &bo_isa_avx512;
    case BO_PATH_AVX2: return &bo_isa_avx2;
    default: return &bo_isa_scalar;
    }
}

/* One GEMM or convolution, as the loops see it. */
typedef struct {
    const bo_isa *isa;
    int64_t rows, cols;      /* outputs: rows (GEMM rows or pixels) x cols (W rows) */
    int na, nb;              /* planes of A and W */
    int64_t ntaps, nw;       /* an A virtual row is ntaps pieces of nw words: K' = ntaps * nw */
    int64_t full_scale;      /* K (2^Na - 1)(2^Nb - 1), K the bits of a dot product: v at P = 0 */
    int fused;               /* the micro-kernel stores v into out (int32, no transform) */
    const bo_gemm_args *g;   /* GEMM, or */
    const bo_conv_args *cv;  /* convolution */
    const uint64_t *zero;    /* nw zero words: the pixel padded taps read */
    const int64_t *tap_corr; /* ntaps x cols correction of a padded tap, NULL when there is none */
    void *out;
    int out64;
    const bo_output *transform;
} problem;

/* The blocking of one call (loops 2-4 in the header). */
typedef struct {
    int64_t nunits, kc, nchunks;   /* K' in units; units per chunk */
    int64_t mr, mv, mvp;           /* rows per row block; its virtual rows; rounded up to whole A panels */
    int64_t nvcp, ncb;             /* virtual columns (whole W panels); per column block */
} blocking;

/* Per-thread buffers, carved from one allocation made before the parallel region. */
typedef struct {
    uint64_t *apack;             /* packed A chunk of a row block */
    int32_t *sums;               /* mvp x ncb popcount sums (int64 results, transforms) */
    int64_t *vrow;               /* one output row of a column block, int64 */
    const uint64_t **asrc;       /* mv x ntaps piece pointers */
    int32_t *npad;               /* per row: how many taps are in the padding */
    int32_t *pad_taps;           /* per row: which (mr x ntaps) */
    int64_t *pix;                /* one row's input pixel per tap (conv_taps.h) */
} scratch;

/*
 * Pack units [k0, k0 + kc) of the nrows virtual rows into panels of G rows
 * (layout in kernels.h). Row x reads its pieces src[x * npieces + p], each
 * piece_words long, one after another; past the last piece, past nrows and
 * where src[x * npieces] is NULL the words are zero.
 */
static void pack(const bo_isa *isa, int G, const uint64_t *const *src, int64_t npieces, int64_t piece_words,
                 int64_t nrows, int64_t k0, int64_t kc, uint64_t *dst)
{
    const int uw = isa->unit_words, pw = isa->packed_words;
    const int64_t npanels = (nrows + G - 1) / G;
    for (int64_t x = 0; x < npanels * G; ++x) {
        uint64_t *d = dst + (x / G) * kc * G * pw + (x % G) * pw;
        if (x >= nrows || !src[x * npieces]) {
            for (int64_t u = 0; u < kc; ++u, d += G * pw)
                for (int i = 0; i < pw; ++i)
                    d[i] = 0;
            continue;
        }
        const uint64_t *const *s = src + x * npieces;
        int64_t p = k0 * uw / piece_words, off = k0 * uw % piece_words;
        if (uw == 1 && pw == 1) {
            /* units of one plain word (scalar, AVX-512): a strided copy of each piece, then zeros */
            int64_t u = 0;
            for (; u < kc && p < npieces; ++p, off = 0) {
                const int64_t n = piece_words - off < kc - u ? piece_words - off : kc - u;
                const uint64_t *sp = s[p] + off;
                for (int64_t i = 0; i < n; ++i)
                    d[(u + i) * G] = sp[i];
                u += n;
            }
            for (; u < kc; ++u)
                d[u * G] = 0;
            continue;
        }
        for (int64_t u = 0; u < kc; ++u, d += G * pw) {
            uint64_t tmp[16];  /* unit_words <= 16 */
            const uint64_t *words = tmp;
            if (p < npieces && off + uw <= piece_words) {
                words = s[p] + off;  /* the unit lies within one piece: read it in place */
                off += uw;
            } else {
                for (int i = 0; i < uw; ++i, ++off) {
                    if (off == piece_words) {
                        off = 0;
                        ++p;
                    }
                    tmp[i] = p < npieces ? s[p][off] : 0;
                }
            }
            if (off == piece_words) {
                off = 0;
                ++p;
            }
            if (isa->nibbles)
                for (int i = 0; i < uw; ++i) {
                    d[i] = words[i] & LOW_NIBBLES;
                    d[uw + i] = words[i] >> 4 & LOW_NIBBLES;
                }
            else
                memcpy(d, words, sizeof(uint64_t) * (size_t)uw);
        }
    }
}

static blocking plan_blocks(const problem *pb, int nthreads)
{
    blocking b;
    const int VA = pb->isa->va, VW = pb->isa->vw;
    const int64_t unit_bytes = 8 * (int64_t)pb->isa->packed_words;
    const int64_t kwords = pb->ntaps * pb->nw;
    b.nunits = (kwords + pb->isa->unit_words - 1) / pb->isa->unit_words;
    int64_t kcmax = W_PANEL_BYTES / (VW * unit_bytes);
    kcmax = kcmax > pb->isa->max_units ? pb->isa->max_units : kcmax < 1 ? 1 : kcmax;
    b.nchunks = (b.nunits + kcmax - 1) / kcmax;
    b.kc = (b.nunits + b.nchunks - 1) / b.nchunks;

    const int na = pb->na;
    b.mr = A_BLOCK_BYTES / (b.kc * unit_bytes) / na;
    /* With threads, at least 16 row blocks each when there are rows for it: a thread slowed by
     * another process hands its share to the others, and the last block ends the call soon
     * after the others. A smaller block costs little: its W panels are re-read from L2. */
    const int64_t blocks = nthreads > 1 ? 16 * (int64_t)nthreads : 1;
    const int64_t share = (pb->rows + blocks - 1) / blocks;
    b.mr = b.mr > share ? share : b.mr;
    /* whole A panels, so no block ends in a part-empty one: mr * na a multiple of VA */
    int g = VA, r = na;  /* g = gcd(VA, na) */
    while (r) {
        const int t = g % r;
        g = r;
        r = t;
    }
    const int64_t step = VA / g;
    if (b.mr > step)
        b.mr -= b.mr % step;
    b.mr = b.mr < 1 ? 1 : b.mr;
    b.mv = b.mr * na;
    b.mvp = (b.mv + VA - 1) / VA * VA;

    b.nvcp = (pb->cols + VW - 1) / VW * VW * pb->nb;
    if (pb->fused) {
        b.ncb = b.nvcp;
    } else {
        /* whole columns (nb planes) and whole W panels in a column block */
        const int64_t step = VW * pb->nb;
        b.ncb = SCRATCH_BYTES / (4 * b.mvp) / step * step;
        b.ncb = b.ncb < step ? step : b.ncb > b.nvcp ? b.nvcp : b.ncb;
    }
    return b;
}

/* Piece pointers of the virtual rows (r, j) of rows r0 .. r0 + m - 1, and (convolution) their padded taps. */
static void a_sources(const problem *pb, int64_t r0, int64_t m, scratch *s)
{
    const int na = pb->na;
    if (pb->g) {
        const bo_gemm_args *g = pb->g;
        for (int64_t r = 0; r < m; ++r)
            for (int j = 0; j < na; ++j)
                s->asrc[r * na + j] = g->a + ((int64_t)j * g->rows + r0 + r) * g->nw;
        return;
    }
    const bo_conv_args *cv = pb->cv;
    const int64_t ntaps = pb->ntaps, pixels_in = cv->batch * cv->in_h * cv->in_w;
    for (int64_t r = 0; r < m; ++r) {
        int npad = 0;
        bo_row_taps(cv, r0 + r, s->pix);
        for (int64_t t = 0; t < ntaps; ++t) {
            const int64_t pix = s->pix[t];
            if (pix < 0)
                s->pad_taps[r * ntaps + npad++] = (int32_t)t;
            for (int j = 0; j < na; ++j)
                s->asrc[(r * na + j) * ntaps + t] = pix < 0 ? pb->zero : cv->x + ((int64_t)j * pixels_in + pix) * cv->nw;
        }
        s->npad[r] = npad;
    }
}

/* v[c] += the padding correction of row r for columns n0 .. n0 + n - 1. */
static void add_padding(const problem *pb, const scratch *s, int64_t r, int64_t n0, int64_t n, int64_t *v)
{
    if (!pb->tap_corr)
        return;
    for (int k = 0; k < s->npad[r]; ++k) {
        const int64_t *corr = pb->tap_corr + (int64_t)s->pad_taps[r * pb->ntaps + k] * pb->cols + n0;
        for (int64_t c = 0; c < n; ++c)
            v[c] += corr[c];
    }
}

static void store_row(const problem *pb, int64_t row, int64_t n0, int64_t n, const int64_t *v)
{
    if (pb->transform) {
        for (int64_t c = 0; c < n; ++c)
            bo_output_store(pb->transform, pb->out, pb->out64, pb->rows, pb->cols, row, n0 + c, v[c]);
    } else if (pb->out64) {
        memcpy((int64_t *)pb->out + row * pb->cols + n0, v, sizeof(int64_t) * (size_t)n);
    } else {
        /* a restrict local: the store cannot alias v, so this loop vectorises */
        int32_t *restrict o = (int32_t *)pb->out + row * pb->cols + n0;
        for (int64_t c = 0; c < n; ++c)
            o[c] = (int32_t)v[c];
    }
}

/* Fold the sums of rows r0 .. r0 + m - 1 x virtual columns [y0, y1) into outputs (header). */
static void epilogue(const problem *pb, const blocking *b, const scratch *s, int64_t r0, int64_t m, int64_t y0,
                     int64_t y1)
{
    const int na = pb->na, nb = pb->nb, VW = pb->isa->vw;
    /* columns [n0, n0 + n): whole groups of VW columns, each in nb panels of VW virtual columns */
    const int64_t n0 = y0 / nb, n = (y1 / nb < pb->cols ? y1 / nb : pb->cols) - n0;
    for (int64_t r = 0; r < m; ++r) {
        int64_t *v = s->vrow;
        if (pb->fused) {
            /* the micro-kernel has stored v; only padded rows change */
            if (!pb->tap_corr || !s->npad[r])
                continue;
            int32_t *o = (int32_t *)pb->out + (r0 + r) * pb->cols + n0;
            for (int64_t c = 0; c < n; ++c)
                v[c] = o[c];
            add_padding(pb, s, r, n0, n, v);
            store_row(pb, r0 + r, n0, n, v);
            continue;
        }
        for (int64_t c = 0; c < (y1 - y0) / nb; ++c)
            v[c] = 0;
        for (int j = 0; j < na; ++j) {
            const int32_t *sx = s->sums + (r * na + j) * b->ncb;
            for (int64_t q = 0; q < (y1 - y0) / (VW * nb); ++q)
                for (int i = 0; i < nb; ++i)
                    for (int k = 0; k < VW; ++k)
                        v[q * VW + k] += (int64_t)sx[(q * nb + i) * VW + k] << (i + j);
        }
        for (int64_t c = 0; c < n; ++c)
            v[c] = pb->full_scale - 2 * v[c];
        if (pb->cv)
            add_padding(pb, s, r, n0, n, v);
        store_row(pb, r0 + r, n0, n, v);
    }
}

/* One row block: rows r0 .. r0 + m - 1 against every column. */
static void row_block(const problem *pb, const blocking *b, const uint64_t *wpack, scratch *s, int64_t r0,
                      int64_t m)
{
    const bo_isa *isa = pb->isa;
    const int64_t pw = isa->packed_words, mv = m * pb->na;
    const int VA = isa->va, VW = isa->vw;
    const int64_t wpanel_words = b->nunits * VW * pw;
    a_sources(pb, r0, m, s);
    for (int64_t y0 = 0; y0 < b->nvcp; y0 += b->ncb) {
        const int64_t y1 = y0 + b->ncb < b->nvcp ? y0 + b->ncb : b->nvcp;
        for (int64_t ci = 0; ci < b->nchunks; ++ci) {
            const int64_t k0 = ci * b->kc, kc = b->nunits - k0 < b->kc ? b->nunits - k0 : b->kc;
            if (b->nchunks > 1 || y0 == 0)
                pack(isa, VA, s->asrc, pb->ntaps, pb->nw, mv, k0, kc, s->apack);
            for (int64_t y = y0; y < y1; y += VW) {
                const uint64_t *wp = wpack + (y / VW) * wpanel_words + k0 * VW * pw;
                if (pb->fused) {
                    /* panel y: columns n .. n + VW - 1 of W plane i (loop 1) */
                    const int64_t n = y / (VW * pb->nb) * VW;
                    const int i = (int)(y / VW % pb->nb);
                    const int ncols = pb->cols - n < VW ? (int)(pb->cols - n) : VW;
                    isa->micro(kc, s->apack, mv, pb->na, wp, (int32_t *)pb->out + r0 * pb->cols + n, pb->cols, ncols,
                               (int32_t)pb->full_scale, -2 * (1 << i), ci > 0 || i > 0);
                } else {
                    isa->micro(kc, s->apack, mv, 1, wp, s->sums + (y - y0), b->ncb, VW, 0, 1, ci > 0);
                }
            }
        }
        epilogue(pb, b, s, r0, m, y0, y1);
    }
}

static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

static int run(const problem *pb)
{
    const bo_isa *isa = pb->isa;
    const int VW = isa->vw;
    int nthreads = 1;
#ifdef _OPENMP
    nthreads = omp_get_max_threads();
#endif
    const blocking b = plan_blocks(pb, nthreads);
    const int64_t pw = isa->packed_words, kwords = pb->ntaps * pb->nw;
    const int64_t npanels = b.nvcp / VW, row_blocks = (pb->rows + b.mr - 1) / b.mr;
    const size_t wpack_bytes = round64(sizeof(uint64_t) * (size_t)(b.nvcp * b.nunits * pw));

    /* per-thread slab: apack | sums | vrow | asrc | npad | pad_taps | pix, each 64-byte aligned */
    const size_t sz_apack = round64(sizeof(uint64_t) * (size_t)(b.mvp * b.kc * pw));
    const size_t sz_sums = pb->fused ? 0 : round64(sizeof(int32_t) * (size_t)(b.mvp * b.ncb));
    const size_t sz_vrow = round64(sizeof(int64_t) * (size_t)(b.ncb / pb->nb + 1));
    const size_t sz_asrc = round64(sizeof(uint64_t *) * (size_t)(b.mv * pb->ntaps));
    const size_t sz_npad = round64(sizeof(int32_t) * (size_t)b.mr);
    const size_t sz_taps = round64(sizeof(int32_t) * (size_t)(b.mr * pb->ntaps));
    const size_t sz_pix = round64(sizeof(int64_t) * (size_t)pb->ntaps);
    const size_t slab = sz_apack + sz_sums + sz_vrow + sz_asrc + sz_npad + sz_taps + sz_pix;

    uint64_t *wpack = aligned_alloc(64, wpack_bytes);
    const uint64_t **wsrc = malloc(sizeof(*wsrc) * (size_t)b.nvcp);
    char *slabs = aligned_alloc(64, slab * (size_t)nthreads);
    if (!wpack || !wsrc || !slabs) {
        free(wpack);
        free(wsrc);
        free(slabs);
        return BO_ERR_NOMEM;
    }
    /* W virtual column (n, i): row n of plane i, K' contiguous words (OHWI for a convolution), at
     * panel (n / VW) * nb + i, column n % VW; NULL (zeros) past the last column */
    const uint64_t *w = pb->g ? pb->g->w : pb->cv->w;
    for (int64_t y = 0; y < b.nvcp; ++y) {
        const int64_t n = y / (VW * pb->nb) * VW + y % VW;
        const int i = (int)(y / VW % pb->nb);
        wsrc[y] = n < pb->cols ? w + ((int64_t)i * pb->cols + n) * kwords : NULL;
    }

#pragma omp parallel
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        char *p = slabs + slab * (size_t)tid;
        scratch s;
        s.apack = (uint64_t *)p;
        s.sums = (int32_t *)(p += sz_apack);
        s.vrow = (int64_t *)(p += sz_sums);
        s.asrc = (const uint64_t **)(p += sz_vrow);
        s.npad = (int32_t *)(p += sz_asrc);
        s.pad_taps = (int32_t *)(p += sz_npad);
        s.pix = (int64_t *)(p += sz_taps);

        /* dynamic here too: a thread that the OS has parked must not hold the others at the barrier */
#pragma omp for schedule(dynamic, 16)
        for (int64_t q = 0; q < npanels; ++q) {
            const int64_t y = q * VW;
            pack(isa, VW, wsrc + y, 1, kwords, VW, 0, b.nunits, wpack + q * b.nunits * VW * pw);
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t rb = 0; rb < row_blocks; ++rb) {
            const int64_t r0 = rb * b.mr, m = pb->rows - r0 < b.mr ? pb->rows - r0 : b.mr;
            row_block(pb, &b, wpack, &s, r0, m);
        }
    }
    free(wpack);
    free(wsrc);
    free(slabs);
    return BO_OK;
}

int bo_mbgemm_fast(const bo_gemm_args *g, int path)
{
    if (g->nw * 64 >= MAX_K_BITS)
        return bo_mbgemm_reference(g);
    problem pb = {0};
    pb.isa = isa_for(path);
    pb.rows = g->rows;
    pb.cols = g->cols;
    pb.na = g->a_planes;
    pb.nb = g->w_planes;
    pb.ntaps = 1;
    pb.nw = g->nw;
    pb.full_scale = g->k * ((INT64_C(1) << g->a_planes) - 1) * ((INT64_C(1) << g->w_planes) - 1);
    pb.fused = !g->transform && !g->out64;
    pb.g = g;
    pb.out = g->out;
    pb.out64 = g->out64;
    pb.transform = g->transform;
    return run(&pb);
}

int bo_mbconv2d_fast(const bo_conv_args *cv, int path)
{
    const int64_t ntaps = cv->kh * cv->kw;
    if (ntaps * cv->nw * 64 >= MAX_K_BITS)
        return bo_mbconv2d_reference(cv);
    const int64_t amax = (INT64_C(1) << cv->a_planes) - 1;
    const int64_t pad_corr = cv->pad_value + amax;
    if (pad_corr && !cv->tap_sum)
        return BO_ERR_ARG;
    problem pb = {0};
    pb.isa = isa_for(path);
    pb.rows = cv->batch * cv->out_h * cv->out_w;
    pb.cols = cv->out_c;
    pb.na = cv->a_planes;
    pb.nb = cv->w_planes;
    pb.ntaps = ntaps;
    pb.nw = cv->nw;
    pb.full_scale = ntaps * cv->in_c * amax * ((INT64_C(1) << cv->w_planes) - 1);
    pb.fused = !cv->transform && !cv->out64;
    pb.cv = cv;
    pb.out = cv->out;
    pb.out64 = cv->out64;
    pb.transform = cv->transform;

    uint64_t *zero = calloc((size_t)cv->nw, sizeof(uint64_t));
    int64_t *tap_corr = NULL;
    if (!zero || bo_tap_corrections(cv, amax, &tap_corr) != BO_OK) {
        free(zero);
        return BO_ERR_NOMEM;
    }
    pb.zero = zero;
    pb.tap_corr = tap_corr;
    const int status = run(&pb);
    free(zero);
    free(tap_corr);
    return status;
}
