/* Scalar micro-kernel: one POPCNT per 64-bit word (contract and packing in kernels.h: units of one word). */
#include "kernels.h"

__attribute__((target("popcnt")))
static void micro_scalar(BO_MICRO_ARGS)
{
    for (int64_t x0 = 0; x0 < rows; x0 += BO_MICRO_VA, a += kv * BO_MICRO_VA) {
        int64_t s[BO_MICRO_VA][BO_MICRO_VW] = {{0}};
        for (int64_t u = 0; u < kv; ++u) {
            const uint64_t *au = a + u * BO_MICRO_VA, *wu = w + u * BO_MICRO_VW;
            for (int x = 0; x < BO_MICRO_VA; ++x)
                for (int y = 0; y < BO_MICRO_VW; ++y)
                    s[x][y] += __builtin_popcountll(au[x] ^ wu[y]);
        }
        const int m = rows - x0 < BO_MICRO_VA ? (int)(rows - x0) : BO_MICRO_VA;
        bo_micro_store(s, x0, m, na, c, ldc, ncols, bias, mult, accumulate);
    }
}

/* 1024 words per unit row keeps a 4-column W panel within 32 KiB; int64 sums never overflow. */
const bo_isa bo_isa_scalar = {1, 1, 0, 1024, micro_scalar, BO_MICRO_VA, BO_MICRO_VW};
