/*
 * The exact integer path, for GEMM and convolution (a GEMM is a 1x1
 * convolution), taken when Ma x Mw branch pairs would cost more than an
 * integer multiply-accumulate per element.
 *
 * Operands. With codes u (E = 2u - c, c = 2^M - 1), an activation enters as
 * its code u_a in [0, 2^Ma - 1] and a weight as s_w = (E_w - 1)/2 = u_w - 2^(Mw-1)
 * in [-2^(Mw-1), 2^(Mw-1) - 1], so that E_w = 2 s_w + 1 and
 *
 *     E_a . E_w = sum (2 u_a - c_a)(2 s_w + 1) = 4 D + 2 U - c_a T,
 *     D = sum u_a s_w,   U = sum u_a,   T = sum E_w (the weight row's sum).
 *
 * In a convolution the sums run over the taps too. A tap in the padding reads
 * u_a = 0, adding nothing to D or U but -c_a tap_sum[o][t] through T, so it is
 * corrected by (pad_value + c_a) tap_sum[o][t] (conv_taps.h, shared with driver.c).
 *
 * Kernels. vpmaddubsw adds two u8 x s8 products into an int16 lane with
 * saturation; the largest such pair is p = 2 (2^Ma - 1) 2^(Mw-1).
 *
 *   BO_Q_ACC16  p <= 16383 (every W, A but W7A8, W8A7, W8A8): the pairs are
 *               summed in int16 lanes for L = floor(32767 / p) steps, then
 *               widened into int32 by vpmaddwd against ones. The inner loop is
 *               one vpmaddubsw and one vpaddw per 32 MACs, twice the work per
 *               instruction of a kernel that widens every step. With L = 2
 *               (W6A8, W7A7, W8A6) the tile runs as two halves of 3 rows, which
 *               leaves the registers to sum two steps (q_tile_p2).
 *   BO_Q_U8     p <= 32767 (W7A8, W8A7): widened every step.
 *   BO_Q_I16    W8A8, where a u8 x s8 pair can saturate: vpmaddwd on int16
 *               u_a and s_w (16 MACs per instruction).
 *
 * These tiles finish their int32 results into the output rows themselves
 * (q_finish) unless a transform or an int64 result needs the general store.
 *
 *   BO_Q_AMX    AMX tiles (path "amx"): tdpbusd multiplies 16 x 64 u8 codes by
 *               64 x 16 s8 weights into 16 x 16 int32 sums, exact for every W, A.
 *               The weight panels are the same as for the u8 x s8 kernels (a
 *               panel's K step of 16 channels x 4 bytes is one row of a B tile),
 *               with K padded with zeros to whole tiles of 64. Activations are
 *               row-major, one row of kpad bytes per output pixel (a GEMM's
 *               decoded rows are read in place), and a 32 x 32 block of outputs
 *               (2 A tiles x 2 B tiles, 4 accumulator tiles) is swept over K;
 *               whole blocks are stored into the output by the tiles and
 *               finished there (q_amx_rows).
 *
 * Blocking (GotoBLAS): the weights are packed once into panels of 16 output
 * channels, K-interleaved so one 32-byte load feeds 8 channels; each thread
 * packs a block of output pixels (their taps gathered through the same
 * indirection as driver.c, so no im2col is ever formed) into micro-panels of
 * 6 rows, and sweeps every weight panel over the block. A 6 x 16 register tile
 * holds 12 accumulators; its inner loop is inline assembly, because GCC 12
 * spills the accumulators of the intrinsic version to the stack.
 */
#include <stdlib.h>
#include <string.h>

#include "avx2.h"
#include "bitops.h"
#include "conv_taps.h"
#include "output.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define QMR 6                           /* rows of the register tile */
#define QNR 16                          /* output channels of a weight panel */
#define Q_BLOCK_BYTES (192 * 1024)      /* packed activation block per thread: about a third of L2 */

/* Where a tile stores its finished int32 results (the plain int32 path, all QNR channels). */
typedef struct {
    uint32_t *o;             /* the tile's first output element */
    int64_t ld;              /* output row stride */
    const uint32_t *ct;      /* the panel's -c_a T per channel */
    uint32_t base[QMR];      /* 2 U per row */
    int rows;                /* rows of the tile that exist */
} q_out;

#define QAM 32                          /* rows of an AMX block: two A tiles of 16 rows */
#define QAK 64                          /* K bytes of an AMX tile row */
#define Q_AMX_BLOCK_BYTES (32 * 1024)   /* packed activation block per thread on the AMX path: in L1 */

/* Bytes of one packed K step of one row: 4 u8 codes or 2 int16 values, 4 bytes either way. */
static int64_t q_step_k(int kind) { return kind == BO_Q_I16 ? 2 : 4; }

/* K values of a packed weight row and of an activation row in a packed block: ktot, rounded up
 * to whole AMX tiles on that path (the extra values are 0). */
static int64_t q_kpad(int kind, int64_t ktot) { return kind == BO_Q_AMX ? (ktot + QAK - 1) / QAK * QAK : ktot; }

int64_t bo_q_packed_weight_bytes(int kind, int64_t n, int64_t ktot)
{
    const int64_t panels = (n + QNR - 1) / QNR;
    return panels * QNR * q_kpad(kind, ktot) * (kind == BO_Q_I16 ? 2 : 1);
}

/*
 * Weights: planes (bits x (n*taps) x nw words) -> panels. Row (o, t) gives the
 * cpad values of output channel o at tap t, s = u - 2^(bits-1), 0 past C; K of
 * channel o is the taps' rows one after another (ktot = taps * cpad). Panel j,
 * K step g holds channels 16j..16j+15, each with its step's values together.
 */
int bo_q_pack_weights(const uint64_t *planes, int bits, int64_t n, int64_t taps, int64_t c, int64_t cpad, int kind,
                      void *out)
{
    const int64_t ktot = taps * cpad, kpad = q_kpad(kind, ktot), sk = q_step_k(kind), rows = n * taps;
    const int half = 1 << (bits - 1);
    if (cpad % 4 || cpad < c)
        return BO_ERR_ARG;
    memset(out, 0, (size_t)bo_q_packed_weight_bytes(kind, n, ktot));
    uint8_t *u = malloc((size_t)c);
    if (!u)
        return BO_ERR_NOMEM;
    for (int64_t o = 0; o < n; ++o) {
        const int64_t panel = o / QNR, col = o % QNR;
        for (int64_t t = 0; t < taps; ++t) {
            bo_decode_row(planes, bits, rows, o * taps + t, c, u);
            for (int64_t i = 0; i < c; ++i) {
                const int64_t k = t * cpad + i, g = k / sk;
                const int64_t at = (panel * (kpad / sk) + g) * QNR * sk + col * sk + k % sk;
                const int s = (int)u[i] - half;
                if (kind == BO_Q_I16)
                    ((int16_t *)out)[at] = (int16_t)s;
                else
                    ((int8_t *)out)[at] = (int8_t)s;
            }
        }
    }
    free(u);
    return BO_OK;
}

/* ---- micro-kernels: d[6][16] = A micro-panel (steps x 6 x 4 bytes) . B panel ---- */

#if defined(__GNUC__) && defined(__x86_64__)
#define Q_HAVE_ASM 1

/* One K step of one row: broadcast its 4 bytes, form the products with both
 * halves of the panel (ymm12, ymm13) and add them into its two accumulators. */
#define Q_ROW(MUL, ADD, r, o0, o1)                                                  \
    "vpbroadcastd " #r "*4(%[a]), %%ymm14\n\t"                                      \
    MUL " %%ymm12, %%ymm14, %%ymm15\n\t" ADD " %%ymm15, %[" #o0 "], %[" #o0 "]\n\t" \
    MUL " %%ymm13, %%ymm14, %%ymm15\n\t" ADD " %%ymm15, %[" #o1 "], %[" #o1 "]\n\t"

#define Q_ACC_OPERANDS                                                                            \
    [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10), [c11] "+x"(c11), [c20] "+x"(c20),          \
    [c21] "+x"(c21), [c30] "+x"(c30), [c31] "+x"(c31), [c40] "+x"(c40), [c41] "+x"(c41),          \
    [c50] "+x"(c50), [c51] "+x"(c51)

/* n K steps of the 6-row tile, ROW(r, o0, o1) being one step of row r into accumulators o0, o1. */
#define Q_TILE_LOOP(ROW)                                                                                      \
    __asm__ volatile("1:\n\t"                                                                                 \
                     "vmovdqu (%[b]), %%ymm12\n\t"                                                            \
                     "vmovdqu 32(%[b]), %%ymm13\n\t"                                                          \
                     ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21)                                       \
                     ROW(3, c30, c31) ROW(4, c40, c41) ROW(5, c50, c51)                                       \
                     "add $64, %[b]\n\t"                                                                      \
                     "add $24, %[a]\n\t"                                                                      \
                     "dec %[n]\n\t"                                                                           \
                     "jnz 1b\n\t"                                                                             \
                     : [a] "+r"(a), [b] "+r"(b), [n] "+r"(n), Q_ACC_OPERANDS                                  \
                     :                                                                                        \
                     : "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc")

/* acc (int16 or int32 lanes per MUL/ADD) += products. */
#define Q_ROW_MADDUBSW(r, o0, o1) Q_ROW("vpmaddubsw", "vpaddw", r, o0, o1)
#define Q_ROW_MADDWD(r, o0, o1) Q_ROW("vpmaddwd", "vpaddd", r, o0, o1)

#define Q_ZERO_ACC                                                                                     \
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,        \
            c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00

#define Q_STORE(x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11)                                        \
    do {                                                                                               \
        const __m256i v_[12] = {x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11};                        \
        q_finish(v_, d, fo);                                                                           \
    } while (0)

/* The tile's sums D: into d (6 x 16), or, on the plain int32 path with all 16 channels, straight
 * into the output rows as 4 D + 2 U + col_term (wrapping uint32 arithmetic is exact: the result
 * fits int32), without the round trip through d. */
static AVX2 void q_finish(const __m256i *v, int32_t *d, const q_out *fo)
{
    if (!fo) {
        for (int i = 0; i < 12; ++i)
            _mm256_storeu_si256((__m256i *)(d + 8 * i), v[i]);
        return;
    }
    const __m256i ct0 = _mm256_loadu_si256((const __m256i *)fo->ct);
    const __m256i ct1 = _mm256_loadu_si256((const __m256i *)(fo->ct + 8));
    for (int r = 0; r < fo->rows; ++r) {
        const __m256i base = _mm256_set1_epi32((int)fo->base[r]);
        uint32_t *o = fo->o + r * fo->ld;
        _mm256_storeu_si256((__m256i *)o, _mm256_add_epi32(_mm256_slli_epi32(v[2 * r], 2), _mm256_add_epi32(base, ct0)));
        _mm256_storeu_si256((__m256i *)(o + 8), _mm256_add_epi32(_mm256_slli_epi32(v[2 * r + 1], 2), _mm256_add_epi32(base, ct1)));
    }
}

/* u8 x s8 with int16 accumulation, widened into int32 every `period` steps. */
static AVX2 void q_tile_acc16(const uint8_t *a, const int8_t *b, int64_t steps, int64_t period, int32_t *d,
                              const q_out *fo)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i t[12];
    for (int i = 0; i < 12; ++i)
        t[i] = _mm256_setzero_si256();
    while (steps > 0) {
        int64_t n = steps < period ? steps : period;
        steps -= n;
        Q_ZERO_ACC;
        Q_TILE_LOOP(Q_ROW_MADDUBSW);
        const __m256i c[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
        for (int i = 0; i < 12; ++i)
            t[i] = _mm256_add_epi32(t[i], _mm256_madd_epi16(c[i], ones));
    }
    Q_STORE(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11]);
}

/* Sixteen int16 ones, read by name from the assembly below (an asm statement takes at most 30 operands). */
__attribute__((visibility("hidden"), aligned(32))) const int16_t bo_q_ones16[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                                                                   1, 1, 1, 1, 1, 1, 1, 1};

/* u8 x s8 widened every step: vpmaddubsw, then vpmaddwd by ones from memory (no register is left). */
static AVX2 void q_tile_u8(const uint8_t *a, const int8_t *b, int64_t n, int32_t *d, const q_out *fo)
{
    Q_ZERO_ACC;
#define Q_ROW_WIDEN(r, o0, o1)                                                                    \
    "vpbroadcastd " #r "*4(%[a]), %%ymm14\n\t"                                                    \
    "vpmaddubsw %%ymm12, %%ymm14, %%ymm15\n\t" "vpmaddwd bo_q_ones16(%%rip), %%ymm15, %%ymm15\n\t"           \
    "vpaddd %%ymm15, %[" #o0 "], %[" #o0 "]\n\t"                                                  \
    "vpmaddubsw %%ymm13, %%ymm14, %%ymm15\n\t" "vpmaddwd bo_q_ones16(%%rip), %%ymm15, %%ymm15\n\t"           \
    "vpaddd %%ymm15, %[" #o1 "], %[" #o1 "]\n\t"
    Q_TILE_LOOP(Q_ROW_WIDEN);
#undef Q_ROW_WIDEN
    Q_STORE(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
}

/* u8 x s8 with pairs up to 2^14 (W6A8, W7A7, W8A6): two steps summed in int16, then widened.
 * Summing two steps needs two more registers than the 6-row tile leaves, so the micro-panel's
 * rows go through in two halves of 3, each holding the four weight vectors of two steps in
 * registers; per 32 MACs that is 1.5 multiplies instead of 2.
 * acc[2r], acc[2r + 1] += channels 0-7, 8-15 of row r = 0..2 of the micro-panel at a. */
static AVX2 void q_half_p2(const uint8_t *a, const int8_t *b, int64_t steps, __m256i *acc)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c0 = acc[0], c1 = acc[1], c2 = acc[2], c3 = acc[3], c4 = acc[4], c5 = acc[5];
    int64_t n = steps / 2;
#define Q_ROW_P2(r, o0, o1)                                                                       \
    "vpbroadcastd " #r "*4(%[a]), %%ymm12\n\t"                                                    \
    "vpmaddubsw %%ymm8, %%ymm12, %%ymm13\n\t"                                                     \
    "vpmaddubsw %%ymm9, %%ymm12, %%ymm14\n\t"                                                     \
    "vpbroadcastd 24+" #r "*4(%[a]), %%ymm12\n\t"                                                 \
    "vpmaddubsw %%ymm10, %%ymm12, %%ymm15\n\t"                                                    \
    "vpaddw %%ymm15, %%ymm13, %%ymm13\n\t"                                                        \
    "vpmaddubsw %%ymm11, %%ymm12, %%ymm15\n\t"                                                    \
    "vpaddw %%ymm15, %%ymm14, %%ymm14\n\t"                                                        \
    "vpmaddwd %[ones], %%ymm13, %%ymm13\n\t"                                                      \
    "vpaddd %%ymm13, %[" #o0 "], %[" #o0 "]\n\t"                                                  \
    "vpmaddwd %[ones], %%ymm14, %%ymm14\n\t"                                                      \
    "vpaddd %%ymm14, %[" #o1 "], %[" #o1 "]\n\t"
    if (n > 0)
        __asm__ volatile("1:\n\t"
                         "vmovdqu (%[b]), %%ymm8\n\t"
                         "vmovdqu 32(%[b]), %%ymm9\n\t"
                         "vmovdqu 64(%[b]), %%ymm10\n\t"
                         "vmovdqu 96(%[b]), %%ymm11\n\t"
                         Q_ROW_P2(0, c0, c1) Q_ROW_P2(1, c2, c3) Q_ROW_P2(2, c4, c5)
                         "add $128, %[b]\n\t"
                         "add $48, %[a]\n\t"
                         "dec %[n]\n\t"
                         "jnz 1b\n\t"
                         : [a] "+r"(a), [b] "+r"(b), [n] "+r"(n), [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2),
                           [c3] "+x"(c3), [c4] "+x"(c4), [c5] "+x"(c5)
                         : [ones] "x"(ones)
                         : "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
#undef Q_ROW_P2
    __m256i c[6] = {c0, c1, c2, c3, c4, c5};
    if (steps % 2) {  /* the last, odd step, widened on its own */
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)b), b1 = _mm256_loadu_si256((const __m256i *)b + 1);
        for (int r = 0; r < 3; ++r) {
            const __m256i x = _mm256_set1_epi32(*(const int32_t *)(a + 4 * r));
            c[2 * r] = _mm256_add_epi32(c[2 * r], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b0), ones));
            c[2 * r + 1] = _mm256_add_epi32(c[2 * r + 1], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b1), ones));
        }
    }
    for (int i = 0; i < 6; ++i)
        acc[i] = c[i];
}

static AVX2 void q_tile_p2(const uint8_t *a, const int8_t *b, int64_t steps, int32_t *d, const q_out *fo)
{
    __m256i acc[12];
    for (int i = 0; i < 12; ++i)
        acc[i] = _mm256_setzero_si256();
    q_half_p2(a, b, steps, acc);           /* rows 0-2 */
    q_half_p2(a + 12, b, steps, acc + 6);  /* rows 3-5 */
    q_finish(acc, d, fo);
}

/* int16 x int16 with int32 accumulation. */
static AVX2 void q_tile_i16(const int16_t *a, const int16_t *b, int64_t n, int32_t *d, const q_out *fo)
{
    Q_ZERO_ACC;
    Q_TILE_LOOP(Q_ROW_MADDWD);
    Q_STORE(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
}
#else
#define Q_HAVE_ASM 0
#endif

/* ---- AMX: a 32 x 32 block of D by tiles -------------------------------------------------------
 * The tile instructions are written as assembly (GNU as knows them whatever the compiler flags),
 * each with a memory clobber so that no store to the packed block or load of d moves across them.
 * Tiles 0-3 accumulate D (rows 0-15 / 16-31 x channels 0-15 / 16-31), 4-5 hold A, 6-7 hold B. */
/* AMX primitives: begin (tests/bitops/test_amx_emulated.py swaps this block for plain C) */
#if Q_HAVE_ASM && defined(__linux__)
#define Q_HAVE_AMX 1
#define AMX_LOAD(t, base, stride) \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"(base), "r"((int64_t)(stride)) : "memory")
#define AMX_STORE(t, base, stride) \
    __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"(base), "r"((int64_t)(stride)) : "memory")
#define AMX_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::: "memory")
#define AMX_DPBUSD(c, a, b) __asm__ volatile("tdpbusd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::: "memory")
#define Q_AMX_TARGET __attribute__((target("avx512f")))  /* the finishing loops: every AMX CPU has AVX-512 */

/* The tile configuration (palette 1): every tile 16 rows of 64 bytes. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} q_tilecfg;

static void q_amx_begin(void)
{
    q_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; ++t) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = QAK;
    }
    __asm__ volatile("ldtilecfg %0" ::"m"(cfg) : "memory");
}

static void q_amx_end(void) { __asm__ volatile("tilerelease" ::: "memory"); }
/* AMX primitives: end */

/* Tiles 0-3 = 32 rows of kpad codes (at a, stride lda) . np = 1 or 2 consecutive weight panels
 * (at b, kpad / 4 K steps of 64 bytes each); with np = 1, tiles 1 and 3 are left as they were. */
static inline void q_amx_block(const uint8_t *a, int64_t lda, const int8_t *b, int64_t kpad, int np)
{
    const int8_t *b1 = b + QNR * kpad;
    AMX_ZERO(0);
    AMX_ZERO(2);
    if (np == 2) {
        AMX_ZERO(1);
        AMX_ZERO(3);
        for (int64_t k = 0; k < kpad; k += QAK) {
            AMX_LOAD(4, a + k, lda);
            AMX_LOAD(5, a + 16 * lda + k, lda);
            AMX_LOAD(6, b + k * QNR, QAK);
            AMX_LOAD(7, b1 + k * QNR, QAK);
            AMX_DPBUSD(0, 4, 6);
            AMX_DPBUSD(1, 4, 7);
            AMX_DPBUSD(2, 5, 6);
            AMX_DPBUSD(3, 5, 7);
        }
    } else {
        for (int64_t k = 0; k < kpad; k += QAK) {
            AMX_LOAD(4, a + k, lda);
            AMX_LOAD(5, a + 16 * lda + k, lda);
            AMX_LOAD(6, b + k * QNR, QAK);
            AMX_DPBUSD(0, 4, 6);
            AMX_DPBUSD(2, 5, 6);
        }
    }
}

/* Rows 0-31 x channels 0-31 at d (rows ld int32 apart) = tiles 0-3 (tiles 0 and 2 only for np = 1). */
static inline void q_amx_store(int np, int32_t *d, int64_t ld)
{
    AMX_STORE(0, d, ld * 4);
    AMX_STORE(2, d + 16 * ld, ld * 4);
    if (np == 2) {
        AMX_STORE(1, d + QNR, ld * 4);
        AMX_STORE(3, d + 16 * ld + QNR, ld * 4);
    }
}
#else
#define Q_HAVE_AMX 0
#endif

/* The same tile in portable C, for the paths below AVX2 and as the kernels' reference. */
static void q_tile_c(int kind, const void *a, const void *b, int64_t steps, int32_t *d)
{
    const int sk = kind == BO_Q_I16 ? 2 : 4;
    for (int r = 0; r < QMR; ++r)
        for (int col = 0; col < QNR; ++col) {
            int64_t s = 0;
            for (int64_t g = 0; g < steps; ++g)
                for (int i = 0; i < sk; ++i) {
                    const int64_t ai = (g * QMR + r) * sk + i, bi = (g * QNR + col) * sk + i;
                    s += kind == BO_Q_I16 ? (int64_t)((const int16_t *)a)[ai] * ((const int16_t *)b)[bi]
                                          : (int64_t)((const uint8_t *)a)[ai] * ((const int8_t *)b)[bi];
                }
            d[r * QNR + col] = (int32_t)s;
        }
}

/* The tile's sums D into d, or finished into the output rows when fo is given (see q_finish). */
static void q_tile(const bo_q_args *q, int use_asm, const void *a, const void *b, int64_t steps, int32_t *d,
                   const q_out *fo)
{
#if Q_HAVE_ASM
    if (use_asm && steps > 0) {
        if (q->kind == BO_Q_ACC16 && q->period == 2)
            q_tile_p2(a, b, steps, d, fo);
        else if (q->kind == BO_Q_ACC16)
            q_tile_acc16(a, b, steps, q->period, d, fo);
        else if (q->kind == BO_Q_U8)
            q_tile_u8(a, b, steps, d, fo);
        else
            q_tile_i16(a, b, steps, d, fo);
        return;
    }
#endif
    (void)use_asm;
    q_tile_c(q->kind, a, b, steps, d);
    for (int r = 0; fo && r < fo->rows; ++r)
        for (int col = 0; col < QNR; ++col)
            fo->o[r * fo->ld + col] = 4u * (uint32_t)d[r * QNR + col] + fo->base[r] + fo->ct[col];
}

/* ---- driver ---------------------------------------------------------------------------------- */

static AVX2 int64_t q_code_sum_avx2(const uint8_t *x, int64_t n)
{
    __m256i acc = _mm256_setzero_si256();
    for (int64_t i = 0; i < n; i += 32)
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(x + i)),
                                                    _mm256_setzero_si256()));
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    return _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
}

/* The sum of n codes. */
static int64_t q_code_sum(const uint8_t *x, int64_t n, int use_avx2)
{
    const int64_t n32 = use_avx2 ? n / 32 * 32 : 0;
    int64_t s = n32 ? q_code_sum_avx2(x, n32) : 0;
    for (int64_t i = n32; i < n; ++i)
        s += x[i];
    return s;
}

/* Pack rows [r0, r0 + m) of the implicit A (each tap's cpad codes in turn) as micro-panels:
 * panel p holds rows r0 + 6p .. r0 + 6p + 5, K step g, row r at ((p * steps + g) * 6 + r) * 4 bytes.
 * Rows past m are zero. rowp[r * taps + t] is the code row under tap t (a zero row in the padding). */
static void q_pack_rows(int kind, const uint8_t *const *rowp, int m, int64_t taps, int64_t cpad, void *dst)
{
    const int64_t ktot = taps * cpad, sk = q_step_k(kind), steps = ktot / sk;
    const int panels = (m + QMR - 1) / QMR;
    for (int p = 0; p < panels; ++p)
        for (int r = 0; r < QMR; ++r) {
            const int row = p * QMR + r;
            if (kind == BO_Q_I16) {
                int16_t *o = (int16_t *)dst + (int64_t)p * steps * QMR * 2 + r * 2;
                for (int64_t t = 0; t < taps; ++t) {
                    const uint8_t *src = row < m ? rowp[row * taps + t] : NULL;
                    for (int64_t i = 0; i < cpad; i += 2, o += QMR * 2) {
                        o[0] = src ? src[i] : 0;
                        o[1] = src ? src[i + 1] : 0;
                    }
                }
            } else {
                uint8_t *o = (uint8_t *)dst + (int64_t)p * steps * QMR * 4 + r * 4;
                for (int64_t t = 0; t < taps; ++t) {
                    const uint8_t *src = row < m ? rowp[row * taps + t] : NULL;
                    for (int64_t i = 0; i < cpad; i += 4, o += QMR * 4) {
                        if (src)
                            memcpy(o, src + i, 4);
                        else
                            memset(o, 0, 4);
                    }
                }
            }
        }
}

/* Rows (output pixels) per packed block: a multiple of `unit` that keeps the block within `budget`
 * bytes; with threads, at least 8 blocks each, handed out dynamically (as driver.c does), so a core
 * the host takes away for a while delays one block, not half of the call. */
static int64_t q_block_rows(int64_t rows, int64_t row_bytes, int threads, int64_t budget, int64_t unit)
{
    int64_t mc = budget / (row_bytes > 0 ? row_bytes : 1);
    mc = mc < unit ? unit : mc > 16 * unit ? 16 * unit : mc;
    int64_t blocks = (rows + mc - 1) / mc;
    if (threads > 1 && blocks < 8 * threads)
        blocks = 8 * threads;
    mc = (rows + blocks - 1) / blocks;
    return (mc + unit - 1) / unit * unit;
}

/* What every block of one call shares. */
typedef struct {
    const bo_conv_args *cv;
    int64_t n, taps, c_a;
    const int64_t *t_sum;      /* per output channel: T */
    const uint32_t *col_term;  /* per output channel: -c_a T, modulo 2^32 */
    const int64_t *tap_corr;   /* tap-major padding corrections (conv_taps.h), or NULL */
    int plain;                 /* int32 results, no transform */
} q_call;

/* One packed block of rows: r0 .. r0 + m - 1. */
typedef struct {
    int64_t r0;
    const int64_t *u_row;      /* per row: U */
    const int32_t *npad;       /* per row: its taps in the padding, */
    const int32_t *pad_taps;   /* which are pad_taps[row * taps ..] */
} q_rows;

/* The padding correction of the padded rows among row0 .. row0 + mr - 1 of a block, channels
 * col0 .. col0 + ncols - 1, added to int32 results already in the output (the general store adds
 * it to v itself). Wrapping uint32 arithmetic is exact: every result fits int32. */
static void q_pad_fix(const q_call *x, const q_rows *b, int row0, int mr, int64_t col0, int64_t ncols)
{
    for (int r = 0; x->tap_corr && r < mr; ++r) {
        const int row = row0 + r;
        uint32_t *o = (uint32_t *)x->cv->out + (b->r0 + row) * x->n + col0;
        for (int t = 0; t < b->npad[row]; ++t) {
            const int64_t *tc = x->tap_corr + b->pad_taps[row * x->taps + t] * x->n + col0;
            for (int64_t col = 0; col < ncols; ++col)
                o[col] += (uint32_t)tc[col];
        }
    }
}

/* q_store_slab on the plain int32 path: out = 4 D + 2 U + col_term, then the padding correction.
 * Wrapping uint32 arithmetic is exact here: every result fits int32. Plain loops over restrict
 * pointers, which the compiler vectorizes (with AVX-512 where inlined into q_amx_finish). */
static inline void q_store_plain(const q_call *x, const q_rows *b, const int32_t *d, int64_t ldd, int row0, int mr,
                                 int64_t col0, int64_t nc)
{
    const uint32_t *restrict ct = x->col_term + col0;
    for (int r = 0; r < mr; ++r) {
        uint32_t *restrict o = (uint32_t *)x->cv->out + (b->r0 + row0 + r) * x->n + col0;
        const uint32_t *restrict dr = (const uint32_t *)d + r * ldd;
        const uint32_t base = (uint32_t)(2 * b->u_row[row0 + r]);
        for (int64_t c = 0; c < nc; ++c)
            o[c] = 4u * dr[c] + base + ct[c];
    }
    q_pad_fix(x, b, row0, mr, col0, nc);
}

/* Finish rows row0 .. row0 + mr - 1 of a block x channels col0 .. col0 + nc - 1 from their sums D
 * (d[r * ldd + col]): v = 4 D + 2 U - c_a T, plus the padding correction, stored as the call asks. */
static void q_store_slab(const q_call *x, const q_rows *b, const int32_t *d, int64_t ldd, int row0, int mr,
                         int64_t col0, int nc)
{
    const bo_conv_args *cv = x->cv;
    const int64_t n = x->n, rows = cv->batch * cv->out_h * cv->out_w;
    if (x->plain) {
        q_store_plain(x, b, d, ldd, row0, mr, col0, nc);
        return;
    }
    for (int r = 0; r < mr; ++r) {
        const int row = row0 + r;
        const int32_t *dr = d + r * ldd;
        const int corrected = x->tap_corr && b->npad[row];
        for (int col = 0; col < nc; ++col) {
            const int64_t o = col0 + col;
            int64_t v = 4 * (int64_t)dr[col] + 2 * b->u_row[row] - x->c_a * x->t_sum[o];
            for (int k = 0; corrected && k < b->npad[row]; ++k)
                v += x->tap_corr[b->pad_taps[row * x->taps + k] * n + o];
            bo_output_store(cv->transform, cv->out, cv->out64, rows, n, b->r0 + row, o, v);
        }
    }
}

#if Q_HAVE_AMX
/* A block of tiles stored to d, to be finished from there: row group g, panels j and j + 1 (np). */
typedef struct {
    int g, np;
    int64_t j;
} q_amx_done;

Q_AMX_TARGET static void q_amx_finish_block(const q_call *x, const q_rows *b, const int32_t *d, q_amx_done k,
                                            int m)
{
    const int mr = m - k.g * QAM < QAM ? m - k.g * QAM : QAM;
    const int64_t col0 = k.j * QNR, ncols = x->n - col0 < k.np * QNR ? x->n - col0 : k.np * QNR;
    if (x->plain) {
        q_store_plain(x, b, d, 2 * QNR, k.g * QAM, mr, col0, ncols);
        return;
    }
    for (int h = 0; h * QNR < ncols; ++h)
        q_store_slab(x, b, d + h * QNR, 2 * QNR, k.g * QAM, mr, col0 + h * QNR,
                     (int)(ncols - h * QNR < QNR ? ncols - h * QNR : QNR));
}

/* out = 4 out + 2 U + col_term in place, for 32 rows from row0 of a block and the first ncols
 * channels (a multiple of 32), whose sums D the tiles stored there directly. */
Q_AMX_TARGET static void q_amx_fixup(const q_call *x, const q_rows *b, int row0, int64_t ncols)
{
    const uint32_t *restrict ct = x->col_term;
    for (int r = 0; r < QAM; ++r) {
        uint32_t *restrict o = (uint32_t *)x->cv->out + (b->r0 + row0 + r) * x->n;
        const uint32_t base = (uint32_t)(2 * b->u_row[row0 + r]);
        for (int64_t c = 0; c < ncols; ++c)
            o[c] = 4u * o[c] + base + ct[c];
    }
    q_pad_fix(x, b, row0, QAM, 0, ncols);
}

/* The rows of a block (m rows of kpad codes at a, stride lda) against every weight panel, by
 * 32 x 32 blocks of tiles. On the plain int32 path, a block of 32 rows x 32 channels that exist
 * goes from the tiles straight into the output, and the row group's results are finished there
 * in one pass afterwards. Any other block goes through d and is finished while the tiles compute
 * the next one: read straight after the tile store, d would wait for it (a tile store does not
 * forward to loads). */
static void q_amx_rows(const q_call *x, const q_rows *b, const bo_q_args *q, const uint8_t *a, int64_t lda, int m,
                       int64_t kpad)
{
    int32_t d[QAM * 2 * QNR] __attribute__((aligned(64)));
    const int64_t panels = (x->n + QNR - 1) / QNR;
    /* Direct stores: every pair of panels whose 32 channels all exist (whole 64-byte lines of
     * every output row when n is a multiple of 16; split lines otherwise, still faster than d). */
    const int64_t direct_panels = x->plain ? x->n / (2 * QNR) * 2 : 0;
    q_amx_done prev = {0, 0, 0};
    int have_prev = 0;
    for (int g = 0; g * QAM < m; ++g) {
        const int full = m - g * QAM >= QAM;
        uint32_t *o = (uint32_t *)x->cv->out + (b->r0 + (int64_t)g * QAM) * x->n;
        for (int64_t j = 0; j < panels; j += 2) {
            const int np = panels - j >= 2 ? 2 : 1;
            q_amx_block(a + (int64_t)g * QAM * lda, lda, (const int8_t *)q->w + j * QNR * kpad, kpad, np);
            if (have_prev)
                q_amx_finish_block(x, b, d, prev, m);
            have_prev = !(full && j < direct_panels);
            if (have_prev) {
                q_amx_store(np, d, 2 * QNR);
                prev = (q_amx_done){g, np, j};
            } else {
                q_amx_store(np, (int32_t *)o + j * QNR, x->n);
            }
        }
        if (full && direct_panels)
            q_amx_fixup(x, b, g * QAM, direct_panels * QNR);
    }
    if (have_prev)
        q_amx_finish_block(x, b, d, prev, m);
}
#endif

int bo_qconv(const bo_conv_args *cv, const bo_q_args *q)
{
    const int64_t taps = cv->kh * cv->kw, cpad = q->cpad, ktot = taps * cpad, kpad = q_kpad(q->kind, ktot);
    const int64_t sk = q_step_k(q->kind), steps = ktot / sk, esize = q->kind == BO_Q_I16 ? 2 : 1;
    const int64_t rows = cv->batch * cv->out_h * cv->out_w, pixels = cv->batch * cv->in_h * cv->in_w;
    const int64_t n = cv->out_c, panels = (n + QNR - 1) / QNR;
    const int64_t c_a = q->c_a;
    const int use_asm = Q_HAVE_ASM && bo_get_path() >= BO_PATH_AVX2;
    const int amx = q->kind == BO_Q_AMX;
    /* Planes are decoded row by row into the block being packed, so only a GEMM (every output
     * pixel reads its own input pixel) may pass them. */
    const int gemm = taps == 1 && rows == pixels && cv->stride_h == 1 && cv->stride_w == 1 && !cv->pad_top &&
                     !cv->pad_left && cv->out_h == cv->in_h && cv->out_w == cv->in_w;
    if (cpad % 4 || cpad < cv->in_c || (q->kind == BO_Q_ACC16 && q->period < 1) || !cv->tap_sum ||
        q->kind < BO_Q_ACC16 || q->kind > BO_Q_AMX || (amx && (!Q_HAVE_AMX || bo_get_path() != BO_PATH_AMX)) ||
        !q->x == !q->planes || (q->planes && (!gemm || q->bits < 1 || q->bits > BO_MAX_BITS)))
        return BO_ERR_ARG;
#ifdef _OPENMP
    const int threads = omp_get_max_threads();
#else
    const int threads = 1;
#endif
    const int64_t mc = amx ? q_block_rows(rows, kpad, threads, Q_AMX_BLOCK_BYTES, QAM)
                           : q_block_rows(rows, ktot * esize, threads, Q_BLOCK_BYTES, QMR);
    const int64_t blocks = (rows + mc - 1) / mc;
    const int64_t srow = amx ? kpad : cpad;  /* a decoded GEMM row in the stage; read in place by AMX */

    /* Per input pixel, the sum of its codes (U is a sum of these over the valid taps);
     * per output channel, T = the sum of its tap sums. */
    int64_t *pix_sum = malloc(sizeof(int64_t) * (size_t)(pixels > 0 ? pixels : 1));
    int64_t *t_sum = malloc(sizeof(int64_t) * (size_t)n);
    uint32_t *col_term = malloc(sizeof(uint32_t) * (size_t)(panels * QNR));
    uint8_t *zero = calloc((size_t)cpad, 1);
    int64_t *tap_corr = NULL;
    if (!pix_sum || !t_sum || !zero || !col_term || bo_tap_corrections(cv, c_a, &tap_corr) != BO_OK) {
        free(pix_sum), free(t_sum), free(zero), free(col_term);
        return BO_ERR_NOMEM;
    }
    /* (A GEMM's planes are summed per block instead; no thread team is started for nothing.) */
#pragma omp parallel for schedule(static) if (q->x != NULL)
    for (int64_t p = 0; p < (q->x ? pixels : 0); ++p)
        pix_sum[p] = q_code_sum(q->x + p * cpad, cpad, use_asm);
    for (int64_t o = 0; o < n; ++o) {
        int64_t s = 0;
        for (int64_t t = 0; t < taps; ++t)
            s += cv->tap_sum[o * taps + t];
        t_sum[o] = s;
        col_term[o] = (uint32_t)(-c_a * s);
    }
    const q_call call = {cv, n, taps, c_a, t_sum, col_term, tap_corr, !cv->transform && !cv->out64};

    int failed = 0;
#pragma omp parallel reduction(|| : failed)
    {
        void *apack = NULL;
        const uint8_t **rowp = malloc(sizeof(*rowp) * (size_t)(mc * taps));
        int32_t *pad_taps = malloc(sizeof(int32_t) * (size_t)(mc * taps));  /* per row: its taps in the padding */
        int32_t *npad = malloc(sizeof(int32_t) * (size_t)mc);
        int64_t *u_row = malloc(sizeof(int64_t) * (size_t)mc);
        int64_t *pix = malloc(sizeof(int64_t) * (size_t)taps);
        void *stage_ = NULL;  /* a block's decoded codes (64-byte aligned rows for AMX tiles) */
        if (q->planes && !posix_memalign(&stage_, 64, (size_t)(mc * srow)))
            memset(stage_, 0, (size_t)(mc * srow));
        uint8_t *stage = stage_;
        int32_t d[QMR * QNR] __attribute__((aligned(32)));
        const int need_apack = !(amx && q->planes);  /* AMX reads a GEMM's stage in place */
        if (need_apack && posix_memalign(&apack, 64, (size_t)(mc * kpad * esize)))
            apack = NULL;
        if (amx && apack)  /* the K padding of every row, and rows past the last, read as zeros */
            memset(apack, 0, (size_t)(mc * kpad));
        if ((need_apack && !apack) || !rowp || !pad_taps || !npad || !u_row || !pix || (q->planes && !stage))
            failed = 1;
#if Q_HAVE_AMX
        if (amx && !failed)
            q_amx_begin();
#endif
#pragma omp for schedule(dynamic, 1)
        for (int64_t blk = 0; blk < blocks; ++blk) {
            if (failed)
                continue;
            const int64_t r0 = blk * mc;
            const int m = (int)(rows - r0 < mc ? rows - r0 : mc);
            for (int r = 0; q->planes && r < m; ++r) {
                /* A GEMM row: decoded here (0 past in_c, as calloc left it), summed while it is in cache. */
                uint8_t *row = stage + r * srow;
                bo_decode_row(q->planes, q->bits, rows, r0 + r, cv->in_c, row);
                rowp[r] = row;
                npad[r] = 0;
                u_row[r] = q_code_sum(row, cpad, use_asm);
            }
            for (int r = 0; !q->planes && r < m; ++r) {
                int64_t u = 0;
                int np = 0;
                bo_row_taps(cv, r0 + r, pix);
                for (int64_t t = 0; t < taps; ++t) {
                    const int64_t src = pix[t];
                    if (src < 0)
                        pad_taps[r * taps + np++] = (int32_t)t;
                    rowp[r * taps + t] = src < 0 ? zero : q->x + src * cpad;
                    u += src < 0 ? 0 : pix_sum[src];
                }
                npad[r] = np;
                u_row[r] = u;
            }
            const q_rows blk_rows = {r0, u_row, npad, pad_taps};
#if Q_HAVE_AMX
            if (amx) {
                /* Row-major codes: a GEMM's stage as it is, a convolution's taps one after another. */
                for (int r = 0; !q->planes && r < m; ++r)
                    for (int64_t t = 0; t < taps; ++t)
                        memcpy((uint8_t *)apack + r * kpad + t * cpad, rowp[r * taps + t], (size_t)cpad);
                q_amx_rows(&call, &blk_rows, q, q->planes ? stage : apack, kpad, m, kpad);
                continue;
            }
#endif
            q_pack_rows(q->kind, rowp, m, taps, cpad, apack);
            for (int64_t j = 0; j < panels; ++j) {
                const char *bp = (const char *)q->w + j * QNR * ktot * esize;
                const int nc = (int)(n - j * QNR < QNR ? n - j * QNR : QNR);
                for (int p = 0; p * QMR < m; ++p) {
                    const char *ap = (const char *)apack + (int64_t)p * QMR * ktot * esize;
                    const int mr = m - p * QMR < QMR ? m - p * QMR : QMR;
                    if (call.plain && nc == QNR) {
                        /* The tile finishes its results into the output rows; padded rows are patched. */
                        q_out fo = {(uint32_t *)cv->out + (r0 + p * QMR) * n + j * QNR, n, col_term + j * QNR,
                                    {0}, mr};
                        for (int r = 0; r < mr; ++r)
                            fo.base[r] = (uint32_t)(2 * u_row[p * QMR + r]);
                        q_tile(q, use_asm, ap, bp, steps, d, &fo);
                        q_pad_fix(&call, &blk_rows, p * QMR, mr, j * QNR, QNR);
                        continue;
                    }
                    q_tile(q, use_asm, ap, bp, steps, d, NULL);
                    q_store_slab(&call, &blk_rows, d, QNR, p * QMR, mr, j * QNR, nc);
                }
            }
        }
#if Q_HAVE_AMX
        if (amx && !failed)
            q_amx_end();
#endif
        free(apack);
        free(stage);
        free(rowp);
        free(pad_taps);
        free(npad);
        free(u_row);
        free(pix);
    }
    free(pix_sum);
    free(t_sum);
    free(col_term);
    free(zero);
    free(tap_corr);
    return failed ? BO_ERR_NOMEM : BO_OK;
}
