/*
 * AVX-512 micro-kernel (contract in kernels.h): VPOPCNTDQ counts each 64-bit
 * lane directly, so the counts accumulate in 64-bit lanes with no widening
 * step and no nibble split.
 *
 * Broadcast form, as in a float GEMM: a unit is one word, and a W panel holds
 * VW = 16 virtual columns, so unit u of a W panel is two vectors of 8 columns'
 * word u. Word u of virtual row x of A is broadcast to all 8 lanes
 * (vpbroadcastq from memory, which uses a load port and no ALU port), and
 *
 *     acc[x][g] += popcount(broadcast(A[x][u]) ^ W[8g .. 8g + 7][u])
 *
 * leaves lane y of acc[x][g] holding s[x][8g + y]: every lane is one output,
 * so no horizontal reduction is needed, only a narrowing to int32 at the end.
 * That matters because a binary GEMM's K is short (K = 1024 bits is 16
 * words), and the old 3 x 4 tile of horizontal vectors spent more on
 * reducing 12 accumulators than on counting. Each vector instruction of the
 * loop (xor, popcount, add: ports 0 and 5) still does 512 bit-ops, as in the
 * roofline loop.
 *
 * Tile: VA = 12 virtual rows x 16 columns, 24 zmm accumulators, 2 for the W
 * vectors of the unit, the rest for the xor/popcount temporaries (GCC keeps
 * all in registers; check with objdump after changes). Per unit: 2 W loads,
 * 12 broadcast loads, 72 ALU uops, where bench/roofline.c's loop loads both
 * operands for every 512 bit-ops; the whole W1A1 GEMM reached 85-97% of that
 * loop's rate on a Sapphire Rapids core (`bitops bench --only gemm --threads 1
 * --bits W1A1`, the `bitops W1A1 popcount` row where AMX is present).
 *
 * Tried and not kept: a carry-save form over 3 words (x1 = a1^w1,
 * d = (a1^a2)^(w1^w2), s = (a1^a2^a3)^(w1^w2^w3) from pre-xored packing,
 * carry = d ? ~s : x1 by vpternlogq, count += popcount(s) + 2 popcount(carry)
 * by vpmadd52luq) needs 8 ALU uops per 3 words instead of 9, but measured
 * only 5% faster in L1 in a scratch harness that was not kept (8-row tile;
 * 12 rows spill), less for K = 16 words,
 * which is not a multiple of 3, and it needs AVX512-IFMA.
 *
 * Always compiled; dispatch.c selects it only when CPUID reports AVX512F,
 * AVX512BW and AVX512_VPOPCNTDQ with OS support for ZMM state.
 */
#include <immintrin.h>

#include "kernels.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vpopcntdq,popcnt")))

#define VA 12
#define VW 16

/* One row of the store in kernels.h: acc = s[x][0..15] as int64, shift/neg or mult the factor 2^j mult. */
static inline __attribute__((always_inline)) AVX512 void store_row(int32_t *c, __m512i acc0, __m512i acc1,
                                                                   __mmask16 mask, int full, int set, int32_t bias,
                                                                   int pow2, int neg, int shift, uint32_t mult)
{
    /* the low 32 bits of each 64-bit lane of two vectors, in order: int64 sums -> 16 int32 */
    const __m512i low = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    __m512i v = _mm512_permutex2var_epi32(acc0, low, acc1);
    /* s * 2^j * mult modulo 2^32: a shift for the driver's factors +-2^i (vpmulld is 2 uops) */
    v = pow2 ? _mm512_sll_epi32(v, _mm_cvtsi32_si128(shift)) : _mm512_mullo_epi32(v, _mm512_set1_epi32((int32_t)mult));
    __m512i base;
    if (set)
        base = _mm512_set1_epi32(bias);
    else
        base = full ? _mm512_loadu_si512((const void *)c) : _mm512_maskz_loadu_epi32(mask, c);
    v = neg ? _mm512_sub_epi32(base, v) : _mm512_add_epi32(base, v);
    if (full)
        _mm512_storeu_si512((void *)c, v);
    else
        _mm512_mask_storeu_epi32(c, mask, v);
}

/* The kernel for one value of na; called with na = 1 as a constant, so that the
 * binary case keeps its row bookkeeping out of the loop. */
static inline __attribute__((always_inline)) AVX512 void sweep(int64_t kv, const uint64_t *a, int64_t rows,
                                                               const int na, const uint64_t *w, int32_t *c,
                                                               int64_t ldc, int ncols, int32_t bias, int32_t mult,
                                                               int accumulate)
{
    const __mmask16 mask = (__mmask16)(ncols >= VW ? 0xffff : (1u << ncols) - 1);
    const int full = ncols == VW;
    /* mult = +-2^e: the product is a shift by e + j, subtracted when negative */
    const uint32_t mag = mult < 0 ? 0u - (uint32_t)mult : (uint32_t)mult;
    const int pow2 = mag && !(mag & (mag - 1));
    const int neg = pow2 && mult < 0;  /* vpmulld takes the sign with the factor */
    const int e = pow2 ? __builtin_ctz(mag) : 0;
    int j = 0;  /* the output row c and plane j of the next virtual row (kernels.h) */
    for (int64_t x0 = 0; x0 < rows; x0 += VA, a += kv * VA) {
        __m512i acc[VA][2];
        const __m512i w0 = _mm512_loadu_si512((const void *)w), w1 = _mm512_loadu_si512((const void *)(w + 8));
        /* the first unit sets the accumulators (kv >= 1) */
        for (int x = 0; x < VA; ++x) {
            const __m512i ax = _mm512_set1_epi64((long long)a[x]);
            acc[x][0] = _mm512_popcnt_epi64(_mm512_xor_si512(ax, w0));
            acc[x][1] = _mm512_popcnt_epi64(_mm512_xor_si512(ax, w1));
        }
        const uint64_t *au = a + VA, *wu = w + VW;
        for (int64_t u = 1; u < kv; ++u, au += VA, wu += VW) {
            const __m512i w0 = _mm512_loadu_si512((const void *)wu), w1 = _mm512_loadu_si512((const void *)(wu + 8));
            for (int x = 0; x < VA; ++x) {
                const __m512i ax = _mm512_set1_epi64((long long)au[x]);
                acc[x][0] = _mm512_add_epi64(acc[x][0], _mm512_popcnt_epi64(_mm512_xor_si512(ax, w0)));
                acc[x][1] = _mm512_add_epi64(acc[x][1], _mm512_popcnt_epi64(_mm512_xor_si512(ax, w1)));
            }
        }
        const int64_t m = rows - x0;
#pragma GCC unroll 12
        for (int x = 0; x < VA; ++x)
            if (x < m) {
                store_row(c, acc[x][0], acc[x][1], mask, full, !accumulate && j == 0, bias, pow2, neg, e + j,
                          (uint32_t)mult << j);
                if (++j == na) {
                    j = 0;
                    c += ldc;
                }
            }
    }
}

AVX512 static void micro_avx512(BO_MICRO_ARGS)
{
    if (na == 1)
        sweep(kv, a, rows, 1, w, c, ldc, ncols, bias, mult, accumulate);
    else
        sweep(kv, a, rows, na, w, c, ldc, ncols, bias, mult, accumulate);
}

/* Units of one word, packed as they are. 64-bit lanes never overflow; the driver's L1 budget
 * bounds the units per call. */
const bo_isa bo_isa_avx512 = {1, 1, 0, 1 << 20, micro_avx512, VA, VW};
