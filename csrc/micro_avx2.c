/*
 * AVX2 micro-kernel (contract in kernels.h): Mula's nibble lookup popcount on
 * operands the driver has split into nibbles.
 *
 * vpshufb looks up the popcount of each byte's low nibble in a 16-entry table.
 * The popcount of x = a ^ w is lut[x & 0x0f] + lut[x >> 4 & 0x0f] per byte, and
 * since the nibbles of a ^ w are the nibbles of a xor the nibbles of w,
 *
 *     popcount(a ^ w) = lut[lo(a) ^ lo(w)] + lut[hi(a) ^ hi(w)],
 *
 * with lo and hi computed once per word when the operands are packed. A pair
 * of vectors then costs 2 xor + 2 vpshufb + 2 add instead of the 8 operations
 * of the classic form (xor, and, shift, and, 2 vpshufb, 2 add), and the 3 x 4
 * tile of accumulators forms every pair from one load of each operand.
 *
 * A unit is 4 words (256 bits), packed as 32 bytes of low nibbles and 32 of
 * high ones. A byte accumulator gains at most 8 per unit, so it holds 31 units
 * (248 < 256); the driver keeps kv within that window, and the tile is reduced
 * once at the end (reduce_row) into int32 sums.
 */
#include "avx2.h"
#include "kernels.h"

#define MAX_UNITS 31

/*
 * The sums of one accumulator row as int32, [y0 y1 y2 y3] in each 128-bit lane
 * (each lane a partial sum). Every partial sum is below 2^16 (32 bytes of at
 * most 248), so after vpsadbw the four 64-bit lanes of each accumulator pack
 * into 16-bit words with two rounds of vpackusdw, and vpmaddwd adds the pairs.
 */
INLINE AVX2 __m256i reduce_row(const __m256i acc[BO_MICRO_VW])
{
    const __m256i zero = _mm256_setzero_si256();
    /* per lane, as int32: [y0 y0' y1 y1'] and [y2 y2' y3 y3'] */
    const __m256i s01 = _mm256_packus_epi32(_mm256_sad_epu8(acc[0], zero), _mm256_sad_epu8(acc[1], zero));
    const __m256i s23 = _mm256_packus_epi32(_mm256_sad_epu8(acc[2], zero), _mm256_sad_epu8(acc[3], zero));
    /* as int16 [y0 y0' y1 y1' y2 y2' y3 y3'], then int32 [y0 y1 y2 y3] */
    return _mm256_madd_epi16(_mm256_packus_epi32(s01, s23), _mm256_set1_epi16(1));
}

/* One row of the store in kernels.h: v = s[x][0..3], mult = 2^j * mult, set = plane 0 of a first write. */
INLINE AVX2 void store_row(int32_t *c, __m128i v, __m128i mask, int ncols, int32_t bias, uint32_t mult, int set)
{
    v = _mm_mullo_epi32(v, _mm_set1_epi32((int32_t)mult));
    if (ncols == BO_MICRO_VW) {
        const __m128i base = set ? _mm_set1_epi32(bias) : _mm_loadu_si128((const __m128i *)c);
        _mm_storeu_si128((__m128i *)c, _mm_add_epi32(base, v));
    } else {
        const __m128i base = set ? _mm_set1_epi32(bias) : _mm_maskload_epi32(c, mask);
        _mm_maskstore_epi32(c, mask, _mm_add_epi32(base, v));
    }
}

/*
 * The byte accumulators of a 3 x 4 tile over kv >= 1 units: acc[x][y] holds,
 * per byte, the popcount of A[x] ^ W[y] summed over the units.
 *
 * Written in assembly because it is the whole cost of the kernel and GCC's
 * register allocation of the intrinsics spilled accumulators or copied them
 * around the loop. Per unit: 6 loads of A, 12 pairs x 2 nibbles x (xor with
 * W from memory, vpshufb, add), the loop; the first unit sets the
 * accumulators instead of adding to zeroed ones. Registers: 12 accumulators
 * and the table chosen by the compiler, ymm13 the A vector of a row and
 * nibble half, ymm14 the pair in flight. Panels (kernels.h): an A unit is
 * 192 bytes (rows 0..2, each lo then hi), a W unit 256 (columns 0..3, lo, hi).
 */
#define ROW(OP, X, HALF)                                                                                \
    "vmovdqu " X "*64+" HALF "(%[ap]), %%ymm13\n\t"                                                     \
    OP(HALF, "c" X "0") OP("64+" HALF, "c" X "1") OP("128+" HALF, "c" X "2") OP("192+" HALF, "c" X "3")
#define NIBBLES(OP, HALF) ROW(OP, "0", HALF) ROW(OP, "1", HALF) ROW(OP, "2", HALF)
/* acc = lut[a ^ w] (first unit) or acc += lut[a ^ w] */
#define SET(OFF, ACC) "vpxor " OFF "(%[wp]), %%ymm13, %%ymm14\n\t" "vpshufb %%ymm14, %[lut], %[" ACC "]\n\t"
#define ADD(OFF, ACC) "vpxor " OFF "(%[wp]), %%ymm13, %%ymm14\n\t" "vpshufb %%ymm14, %[lut], %%ymm14\n\t" \
                      "vpaddb %%ymm14, %[" ACC "], %[" ACC "]\n\t"

INLINE AVX2 void tile_bytes(int64_t kv, const uint64_t *ap, const uint64_t *wp, __m256i lut,
                            __m256i acc[BO_MICRO_VA][BO_MICRO_VW])
{
    __asm__(NIBBLES(SET, "0") NIBBLES(ADD, "32")
            "add $192, %[ap]\n\t"
            "add $256, %[wp]\n\t"
            "dec %[n]\n\t"
            "jz 2f\n"
            "1:\n\t"
            NIBBLES(ADD, "0") NIBBLES(ADD, "32")
            "add $192, %[ap]\n\t"
            "add $256, %[wp]\n\t"
            "dec %[n]\n\t"
            "jnz 1b\n"
            "2:\n\t"
            : [ap] "+r"(ap), [wp] "+r"(wp), [n] "+r"(kv),
              [c00] "=&x"(acc[0][0]), [c01] "=&x"(acc[0][1]), [c02] "=&x"(acc[0][2]), [c03] "=&x"(acc[0][3]),
              [c10] "=&x"(acc[1][0]), [c11] "=&x"(acc[1][1]), [c12] "=&x"(acc[1][2]), [c13] "=&x"(acc[1][3]),
              [c20] "=&x"(acc[2][0]), [c21] "=&x"(acc[2][1]), [c22] "=&x"(acc[2][2]), [c23] "=&x"(acc[2][3])
            : [lut] "x"(lut), "m"(*(const char(*)[])ap), "m"(*(const char(*)[])wp)
            : "xmm13", "xmm14", "cc");
}
#undef ROW
#undef NIBBLES
#undef SET
#undef ADD

/* The kernel for one value of na; called with na = 1 as a constant, so that the
 * binary case keeps its row bookkeeping and multiplier out of the loop. */
INLINE AVX2 void sweep(int64_t kv, const uint64_t *a, int64_t rows, const int na, const uint64_t *w, int32_t *c,
                       int64_t ldc, int ncols, int32_t bias, int32_t mult, int accumulate)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m128i mask = _mm_setr_epi32(-1, ncols > 1 ? -1 : 0, ncols > 2 ? -1 : 0, ncols > 3 ? -1 : 0);
    int j = 0;  /* the output row c and plane j of virtual row x (kernels.h), without a division per row */
#define STORE(V)                                                                           \
    do {                                                                                   \
        store_row(c, (V), mask, ncols, bias, (uint32_t)mult << j, !accumulate && j == 0); \
        if (++j == na) {                                                                   \
            j = 0;                                                                         \
            c += ldc;                                                                      \
        }                                                                                  \
    } while (0)

    for (int64_t x0 = 0; x0 < rows; x0 += BO_MICRO_VA, a += kv * BO_MICRO_VA * 8) {
        __m256i acc[BO_MICRO_VA][BO_MICRO_VW];
        tile_bytes(kv, a, w, lut, acc);
        /* rows 0 and 1: add the lanes across the two rows at once */
        const __m256i r0 = reduce_row(acc[0]), r1 = reduce_row(acc[1]), r2 = reduce_row(acc[2]);
        const __m256i r01 = _mm256_add_epi32(_mm256_permute2x128_si256(r0, r1, 0x20),
                                             _mm256_permute2x128_si256(r0, r1, 0x31));
        STORE(_mm256_castsi256_si128(r01));
        if (x0 + 1 < rows)
            STORE(_mm256_extracti128_si256(r01, 1));
        if (x0 + 2 < rows)
            STORE(_mm_add_epi32(_mm256_castsi256_si128(r2), _mm256_extracti128_si256(r2, 1)));
    }
#undef STORE
}

AVX2 static void micro_avx2(BO_MICRO_ARGS)
{
    if (na == 1)
        sweep(kv, a, rows, 1, w, c, ldc, ncols, bias, mult, accumulate);
    else
        sweep(kv, a, rows, na, w, c, ldc, ncols, bias, mult, accumulate);
}

const bo_isa bo_isa_avx2 = {4, 8, 1, MAX_UNITS, micro_avx2, BO_MICRO_VA, BO_MICRO_VW};
