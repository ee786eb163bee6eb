/*
 * Bit packing along K (DESIGN §3): element k is bit k % 64 of word k / 64,
 * little-endian, and the bits past K in the last word are 0. Encoding an
 * M-bit code u into planes is packing each bit-plane c_i of u, because the
 * branch b_i = 2 c_i - 1 is +1 exactly when the stored bit is 1.
 */
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

void bo_unpack_rows(const uint64_t *words, int64_t rows, int64_t k, uint8_t *bits)
{
    const int64_t nw = bo_words_for(k);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < k; ++i)
            bits[r * k + i] = (uint8_t)((words[r * nw + i / BO_WORD_BITS] >> (i % BO_WORD_BITS)) & 1u);
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
