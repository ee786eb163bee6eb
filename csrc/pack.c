/*
 * Bit packing along K (DESIGN §3): element k is bit k % 64 of word k / 64,
 * little-endian, and the bits past K in the last word are 0. Encoding an
 * M-bit code u into planes is packing each bit-plane c_i of u, because the
 * branch b_i = 2 c_i - 1 is +1 exactly when the stored bit is 1.
 */
#include <string.h>

#include "avx2.h"
#include "bitops.h"

void bo_pack_rows(const uint8_t *bits, int64_t rows, int64_t k, uint64_t *words)
{
    const int64_t nw = bo_words_for(k);
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t *src = bits + r * k;
        uint64_t *dst = words + r * nw;
        for (int64_t w = 0; w < nw; ++w) {
            const int64_t k0 = w * BO_WORD_BITS;
            const int64_t n = (k - k0 < BO_WORD_BITS) ? k - k0 : BO_WORD_BITS;
            uint64_t word = 0;
            for (int64_t b = 0; b < n; ++b)
                word |= (uint64_t)(src[k0 + b] != 0) << b;
            dst[w] = word;
        }
    }
}

/* SPREAD[v]: byte j is bit j of v, so 8 bits of a plane land on 8 codes at once. */
#define SPREAD1(v) ((((uint64_t)(v) >> 0) & 1) | ((((uint64_t)(v) >> 1) & 1) << 8) |           \
                    ((((uint64_t)(v) >> 2) & 1) << 16) | ((((uint64_t)(v) >> 3) & 1) << 24) |   \
                    ((((uint64_t)(v) >> 4) & 1) << 32) | ((((uint64_t)(v) >> 5) & 1) << 40) |   \
                    ((((uint64_t)(v) >> 6) & 1) << 48) | ((((uint64_t)(v) >> 7) & 1) << 56))
#define SPREAD4(v) SPREAD1(v), SPREAD1(v + 1), SPREAD1(v + 2), SPREAD1(v + 3)
#define SPREAD16(v) SPREAD4(v), SPREAD4(v + 4), SPREAD4(v + 8), SPREAD4(v + 12)
#define SPREAD64(v) SPREAD16(v), SPREAD16(v + 16), SPREAD16(v + 32), SPREAD16(v + 48)
static const uint64_t SPREAD[256] = {SPREAD64(0), SPREAD64(64), SPREAD64(128), SPREAD64(192)};

/*
 * 32 codes at a time: each plane's 32 bits are broadcast, byte b of the
 * chunk is copied to codes 8b..8b+7 (vpshufb works within 128-bit lanes, so
 * the low lane takes bytes 0-1 and the high lane bytes 2-3), and code j keeps
 * its bit by comparing with 1 << (j % 8).
 */
static AVX2 int64_t decode_row_avx2(const uint64_t *planes, int nbits, int64_t rows, int64_t r, int64_t k,
                                    uint8_t *u)
{
    const int64_t nw = bo_words_for(k), k32 = k / 32 * 32;
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i select = _mm256_set1_epi64x((int64_t)0x8040201008040201ull);
    for (int64_t i = 0; i < k32; i += 32) {
        __m256i code = _mm256_setzero_si256();
        for (int m = 0; m < nbits; ++m) {
            const uint64_t *src = planes + ((int64_t)m * rows + r) * nw;
            const __m256i chunk = _mm256_set1_epi32((int)(uint32_t)(src[i / 64] >> (i % 64)));
            const __m256i bit = _mm256_and_si256(_mm256_shuffle_epi8(chunk, spread), select);
            const __m256i set = _mm256_cmpeq_epi8(bit, select);
            code = _mm256_or_si256(code, _mm256_and_si256(set, _mm256_set1_epi8((char)(1 << m))));
        }
        _mm256_storeu_si256((__m256i *)(u + i), code);
    }
    return k32;
}

/* 64 codes at a time: a plane's word is the byte mask of the codes that have its bit. */
__attribute__((target("avx512f,avx512bw"))) static int64_t decode_row_avx512(const uint64_t *planes, int nbits,
                                                                             int64_t rows, int64_t r, int64_t k,
                                                                             uint8_t *u)
{
    const int64_t nw = bo_words_for(k), k64 = k / 64 * 64;
    for (int64_t i = 0; i < k64; i += 64) {
        __m512i code = _mm512_setzero_si512();
        for (int m = 0; m < nbits; ++m) {
            const __mmask64 has = (__mmask64)planes[((int64_t)m * rows + r) * nw + i / 64];
            code = _mm512_mask_add_epi8(code, has, code, _mm512_set1_epi8((char)(1 << m)));
        }
        _mm512_storeu_si512(u + i, code);
    }
    return k64;
}

/* 64 codes at a time as 8 x 8 bit transposes: the chunk's word of every plane in one register,
 * a byte permute that puts byte j of plane m into byte 7 - m of qword j, and a GF(2)
 * affine transform with that qword as the matrix: for x = 1 << c it returns bit i = bit c of
 * matrix byte 7 - i, i.e. bit c of plane i: the code of 8j + c. */
__attribute__((target("avx512f,avx512bw,avx512vbmi,gfni"))) static int64_t
decode_row_gfni(const uint64_t *planes, int nbits, int64_t rows, int64_t r, int64_t k, uint8_t *u)
{
    /* byte 8 j + 7 - m of the result = byte 8 m + j of the source */
#define BO_Q8(j) 56 + j, 48 + j, 40 + j, 32 + j, 24 + j, 16 + j, 8 + j, j
    static const uint8_t perm[64] = {BO_Q8(0), BO_Q8(1), BO_Q8(2), BO_Q8(3), BO_Q8(4), BO_Q8(5), BO_Q8(6), BO_Q8(7)};
#undef BO_Q8
    const int64_t nw = bo_words_for(k), k64 = k / 64 * 64;
    const __m512i idx = _mm512_loadu_si512(perm);
    const __m512i unit = _mm512_set1_epi64((int64_t)0x8040201008040201ull);
    const int64_t stride = rows * nw;  /* words from one plane to the next */
    const __mmask8 have = (__mmask8)((1u << nbits) - 1);
    const uint64_t *row = planes + r * nw;
    for (int64_t i = 0; i < k64; i += 64) {
        /* Eight plain loads, not a gather: gathers are slow on CPUs with the GDS mitigation.
         * Missing planes read plane 0 and are masked to zero. */
        const uint64_t *w = row + i / 64;
        const __m512i words = _mm512_maskz_mov_epi64(have, _mm512_setr_epi64(
            (int64_t)w[0], (int64_t)w[nbits > 1 ? stride : 0], (int64_t)w[nbits > 2 ? 2 * stride : 0],
            (int64_t)w[nbits > 3 ? 3 * stride : 0], (int64_t)w[nbits > 4 ? 4 * stride : 0],
            (int64_t)w[nbits > 5 ? 5 * stride : 0], (int64_t)w[nbits > 6 ? 6 * stride : 0],
            (int64_t)w[nbits > 7 ? 7 * stride : 0]));
        const __m512i t = _mm512_permutexvar_epi8(idx, words);
        _mm512_storeu_si512(u + i, _mm512_gf2p8affine_epi64_epi8(unit, t, 0));
    }
    return k64;
}

/* Codes [start, k) of row r (start a multiple of 8), eight at a time through SPREAD. */
static void decode_row_table(const uint64_t *planes, int nbits, int64_t rows, int64_t r, int64_t start, int64_t k,
                             uint8_t *u)
{
    const int64_t nw = bo_words_for(k), k8 = k / 8 * 8;
    memset(u + start, 0, (size_t)(k - start));
    for (int m = 0; m < nbits; ++m) {
        const uint64_t *src = planes + ((int64_t)m * rows + r) * nw;
        for (int64_t i = start; i < k8; i += 8) {
            const unsigned byte = (unsigned)(src[i / 64] >> (i % 64)) & 0xFFu;
            uint64_t eight;
            memcpy(&eight, u + i, 8);
            eight |= SPREAD[byte] << m;
            memcpy(u + i, &eight, 8);
        }
        for (int64_t i = k8 > start ? k8 : start; i < k; ++i)
            u[i] |= (uint8_t)(((src[i / 64] >> (i % 64)) & 1u) << m);
    }
}

void bo_decode_row(const uint64_t *planes, int nbits, int64_t rows, int64_t r, int64_t k, uint8_t *u)
{
    /* The transposes on the amx path (every AMX CPU has GFNI and VBMI, checked once anyway), the
     * mask adds on the avx512 one: so that a machine with AMX tests both. */
    static int gfni = -1;
    if (gfni < 0) {
        bo_cpu_features f;
        bo_cpu_detect(&f);
        gfni = f.avx512vbmi && f.gfni;
    }
    const int path = bo_get_path();
    const int64_t done = path >= BO_PATH_AMX && gfni ? decode_row_gfni(planes, nbits, rows, r, k, u)
                         : path >= BO_PATH_AVX512 ? decode_row_avx512(planes, nbits, rows, r, k, u)
                         : path >= BO_PATH_AVX2   ? decode_row_avx2(planes, nbits, rows, r, k, u)
                                                  : 0;
    if (done < k)
        decode_row_table(planes, nbits, rows, r, done, k, u);
}

void bo_unpack_rows(const uint64_t *words, int64_t rows, int64_t k, uint8_t *bits)
{
    for (int64_t r = 0; r < rows; ++r)
        bo_decode_row(words, 1, rows, r, k, bits + r * k);
}

void bo_encode_rows(const uint8_t *codes, int64_t rows, int64_t k, int nbits, uint64_t *planes)
{
    const int64_t nw = bo_words_for(k);
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t *src = codes + r * k;
        for (int64_t w = 0; w < nw; ++w) {
            const int64_t k0 = w * BO_WORD_BITS;
            const int64_t n = (k - k0 < BO_WORD_BITS) ? k - k0 : BO_WORD_BITS;
            uint64_t word[BO_MAX_BITS] = {0};
            for (int64_t b = 0; b < n; ++b) {
                const unsigned u = src[k0 + b];
                for (int m = 0; m < nbits; ++m)
                    word[m] |= (uint64_t)((u >> m) & 1u) << b;
            }
            for (int m = 0; m < nbits; ++m)
                planes[((int64_t)m * rows + r) * nw + w] = word[m];
        }
    }
}

void bo_decode_codes(const uint64_t *planes, int bits, int64_t rows, int64_t k, int64_t kpad, uint8_t *out)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        bo_decode_row(planes, bits, rows, r, k, out + r * kpad);
        memset(out + r * kpad + k, 0, (size_t)(kpad - k));
    }
}
