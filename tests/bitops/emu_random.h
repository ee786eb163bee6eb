/*
 * Random operands for the emulated-ISA checks (avx512_emu/check.c, amx_emu/check.c):
 * a fixed xorshift stream, so a failing case repeats, and packed rows that keep
 * the layout's invariant.
 */
#ifndef BITOPS_TESTS_EMU_RANDOM_H
#define BITOPS_TESTS_EMU_RANDOM_H

#include <stdint.h>
#include <stdlib.h>

static uint64_t state = 88172645463325252ULL;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

/* rows x nw random words, bits past k zero (the layout's invariant) */
static uint64_t *random_rows(int64_t rows, int64_t nw, int64_t k)
{
    uint64_t *p = malloc(sizeof(uint64_t) * (size_t)(rows * nw));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t u = 0; u < nw; ++u) {
            const int64_t left = k - u * 64;
            p[r * nw + u] = next() & (left >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << left) - 1);
        }
    return p;
}

#endif
