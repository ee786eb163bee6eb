/* Scalar micro-kernel: one POPCNT per 64-bit word (see kernels.h for the contract). */
#include "kernels.h"

__attribute__((target("popcnt")))
void bo_micro_scalar(BO_MICRO_ARGS)
{
    for (int x = 0; x < va; ++x)
        for (int64_t y = 0; y < ncols; ++y) {
            int64_t s = 0;
            for (int64_t t = 0; t < ntaps; ++t) {
                const uint64_t *ap = a[x * ntaps + t], *wp = w[y] + t * w_tap_stride;
                for (int64_t u = 0; u < nw; ++u)
                    s += __builtin_popcountll(ap[u] ^ wp[u]);
            }
            sums[x * ncols + y] = s;
        }
}
