/*
 * The machine's xor-popcount roofline: how many bit-operations per second one
 * core sustains on data already in L1, for each way this CPU can count bits.
 * The GEMM benchmark reports its throughput as a fraction of the best of these.
 *
 * One "bit-op" is one xor + popcount of one bit pair, the unit a binary GEMM
 * of M x N x K performs M*N*K of. Buffers are 2 x 8 KiB (L1-resident) and
 * swept many times; accumulators are independent so latency is hidden.
 *
 * Build: cc -O2 -o roofline roofline.c   (ISA code is selected per function)
 * Run:   ./roofline [seconds_per_method]  -> one line per method: name Gbitop/s
 *
 * The same file is compiled into bitops' native core (BITOPS_IN_EXTENSION),
 * where bo_roofline() serves `bitops bench` without a compiler at run time.
 */
#define _POSIX_C_SOURCE 199309L  /* clock_gettime under -std=c11 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>
#include <cpuid.h>

#define WORDS 1024  /* 8 KiB per operand */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

__attribute__((target("popcnt"), noinline))
static uint64_t sweep_popcnt(const uint64_t *a, const uint64_t *b)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < WORDS; i += 4) {
        s0 += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
        s1 += (uint64_t)__builtin_popcountll(a[i + 1] ^ b[i + 1]);
        s2 += (uint64_t)__builtin_popcountll(a[i + 2] ^ b[i + 2]);
        s3 += (uint64_t)__builtin_popcountll(a[i + 3] ^ b[i + 3]);
    }
    return s0 + s1 + s2 + s3;
}

__attribute__((target("avx2"), always_inline)) static inline __m256i nib_count(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)),
                           _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
}

__attribute__((target("avx2"), noinline))
static uint64_t sweep_avx2_lookup(const uint64_t *a, const uint64_t *b)
{
    __m256i total = _mm256_setzero_si256();
    for (int blk = 0; blk < WORDS; blk += 4 * 28) {
        __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
        const int end = blk + 4 * 28 < WORDS ? blk + 4 * 28 : WORDS;
        for (int i = blk; i < end; i += 8) {
            const __m256i x0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + i)),
                                                _mm256_loadu_si256((const __m256i *)(b + i)));
            const __m256i x1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + i + 4)),
                                                _mm256_loadu_si256((const __m256i *)(b + i + 4)));
            acc0 = _mm256_add_epi8(acc0, nib_count(x0));
            acc1 = _mm256_add_epi8(acc1, nib_count(x1));
        }
        total = _mm256_add_epi64(total, _mm256_sad_epu8(acc0, _mm256_setzero_si256()));
        total = _mm256_add_epi64(total, _mm256_sad_epu8(acc1, _mm256_setzero_si256()));
    }
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)t, total);
    return t[0] + t[1] + t[2] + t[3];
}

/* Harley-Seal carry-save adders over 16 vectors: one lookup popcount per 16. */
#define CSA(h, l, a, b, c) do { const __m256i u_ = _mm256_xor_si256(a, b); \
    h = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u_, c)); l = _mm256_xor_si256(u_, c); } while (0)

__attribute__((target("avx2"), noinline))
static uint64_t sweep_avx2_harley_seal(const uint64_t *a, const uint64_t *b)
{
    __m256i total = _mm256_setzero_si256(), ones = _mm256_setzero_si256(), twos = ones, fours = ones, eights = ones;
    __m256i twos_a, twos_b, fours_a, fours_b, eights_a, eights_b, sixteens;
#define LD(j) _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + i + 4 * (j))), \
                               _mm256_loadu_si256((const __m256i *)(b + i + 4 * (j))))
    for (int i = 0; i < WORDS; i += 64) {
        CSA(twos_a, ones, ones, LD(0), LD(1));
        CSA(twos_b, ones, ones, LD(2), LD(3));
        CSA(fours_a, twos, twos, twos_a, twos_b);
        CSA(twos_a, ones, ones, LD(4), LD(5));
        CSA(twos_b, ones, ones, LD(6), LD(7));
        CSA(fours_b, twos, twos, twos_a, twos_b);
        CSA(eights_a, fours, fours, fours_a, fours_b);
        CSA(twos_a, ones, ones, LD(8), LD(9));
        CSA(twos_b, ones, ones, LD(10), LD(11));
        CSA(fours_a, twos, twos, twos_a, twos_b);
        CSA(twos_a, ones, ones, LD(12), LD(13));
        CSA(twos_b, ones, ones, LD(14), LD(15));
        CSA(fours_b, twos, twos, twos_a, twos_b);
        CSA(eights_b, fours, fours, fours_a, fours_b);
        CSA(sixteens, eights, eights, eights_a, eights_b);
        total = _mm256_add_epi64(total, _mm256_sad_epu8(nib_count(sixteens), _mm256_setzero_si256()));
    }
#undef LD
    total = _mm256_slli_epi64(total, 4);
    total = _mm256_add_epi64(total, _mm256_slli_epi64(_mm256_sad_epu8(nib_count(eights), _mm256_setzero_si256()), 3));
    total = _mm256_add_epi64(total, _mm256_slli_epi64(_mm256_sad_epu8(nib_count(fours), _mm256_setzero_si256()), 2));
    total = _mm256_add_epi64(total, _mm256_slli_epi64(_mm256_sad_epu8(nib_count(twos), _mm256_setzero_si256()), 1));
    total = _mm256_add_epi64(total, _mm256_sad_epu8(nib_count(ones), _mm256_setzero_si256()));
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)t, total);
    return t[0] + t[1] + t[2] + t[3];
}

__attribute__((target("avx512f,avx512vpopcntdq"), noinline))
static uint64_t sweep_avx512(const uint64_t *a, const uint64_t *b)
{
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    for (int i = 0; i < WORDS; i += 16) {
        acc0 = _mm512_add_epi64(acc0, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i))));
        acc1 = _mm512_add_epi64(acc1, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i + 8), _mm512_loadu_si512(b + i + 8))));
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(acc0, acc1));
}

static uint64_t sweep_reference(const uint64_t *a, const uint64_t *b)
{
    uint64_t s = 0;
    for (int i = 0; i < WORDS; ++i) {
        uint64_t x = a[i] ^ b[i];
        x = x - ((x >> 1) & 0x5555555555555555ULL);
        x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
        x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
        s += (x * 0x0101010101010101ULL) >> 56;
    }
    return s;
}

typedef uint64_t (*sweep_fn)(const uint64_t *, const uint64_t *);

static int has_avx512_popcnt(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return ((b >> 16) & 1) && ((c >> 14) & 1);
}

#define N_METHODS 5
static const char *const method_names[N_METHODS] = {
    "reference", "popcnt", "avx2_lookup", "avx2_harley_seal", "avx512_vpopcntdq"};
static const sweep_fn method_fns[N_METHODS] = {
    sweep_reference, sweep_popcnt, sweep_avx2_lookup, sweep_avx2_harley_seal, sweep_avx512};

const char *bo_roofline_method_name(int m) { return m >= 0 && m < N_METHODS ? method_names[m] : 0; }

static int method_supported(int m)
{
    switch (m) {
    case 0: return 1;
    case 1: return __builtin_cpu_supports("popcnt");
    case 2: case 3: return __builtin_cpu_supports("avx2");
    case 4: return has_avx512_popcnt();
    default: return 0;
    }
}

/* Gbit-ops per second of method m on one core over `seconds`; 0 if this CPU
 * lacks it, -1 if it miscounted (a failed self-check). */
double bo_roofline(int m, double seconds)
{
    if (!method_supported(m))
        return 0.0;
    static uint64_t a[WORDS] __attribute__((aligned(64))), b[WORDS] __attribute__((aligned(64)));
    uint64_t seed = 0x9E3779B97F4A7C15ULL, expect = 0;
    for (int i = 0; i < WORDS; ++i) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; a[i] = seed;
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; b[i] = seed;
        uint64_t x = a[i] ^ b[i];
        while (x) { x &= x - 1; ++expect; }
    }
    if (method_fns[m](a, b) != expect)
        return -1.0;
    /* best of many timed bursts; the volatile sink keeps the work alive */
    volatile uint64_t sink = 0;
    double best = 1e30;
    const double stop = now() + seconds;
    const long reps = 256;
    do {
        const double t0 = now();
        for (long r = 0; r < reps; ++r)
            sink += method_fns[m](a, b);
        const double dt = (now() - t0) / reps;
        if (dt < best)
            best = dt;
    } while (now() < stop);
    (void)sink;
    return WORDS * 64.0 / best / 1e9;
}

#ifndef BITOPS_IN_EXTENSION
int main(int argc, char **argv)
{
    const double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    for (int m = 0; m < N_METHODS; ++m) {
        const double g = bo_roofline(m, seconds);
        if (g < 0) {
            fprintf(stderr, "%s: wrong count\n", method_names[m]);
            return 1;
        }
        if (g > 0)
            printf("%s %.2f\n", method_names[m], g);
    }
    return 0;
}
#endif
