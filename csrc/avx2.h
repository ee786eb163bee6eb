/* Helpers shared by the AVX2 kernels (micro_avx2.c, qgemm.c, pack.c). */
#ifndef BITOPS_AVX2_H
#define BITOPS_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#define AVX2 __attribute__((target("avx2,popcnt")))
#define INLINE static inline __attribute__((always_inline))

#endif
