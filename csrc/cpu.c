/*
 * CPU feature detection. A feature counts only if the OS saves the registers
 * it needs (XGETBV): YMM state for AVX2, ZMM and opmask state for AVX-512, tile
 * configuration and tile data for AMX. Linux also makes a process ask for the
 * AMX tile data state before its first tile instruction (arch_prctl
 * ARCH_REQ_XCOMP_PERM); that request is made here, once, and AMX counts only if
 * it was granted. Nothing outside dispatch.c branches on these.
 */
#define _GNU_SOURCE  /* syscall() under -std=c11 */
#include "bitops.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#define BO_ARCH_REQ_XCOMP_PERM 0x1023
#define BO_XFEATURE_XTILEDATA 18
#endif

/* 1 if this process may use AMX tile data (asked once; the answer does not change). */
static int amx_permitted(void)
{
#if defined(__linux__) && defined(__x86_64__)
    static int granted = -1;
    if (granted < 0)
        granted = syscall(SYS_arch_prctl, BO_ARCH_REQ_XCOMP_PERM, BO_XFEATURE_XTILEDATA) == 0;
    return granted;
#else
    return 0;
#endif
}

static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

void bo_cpu_detect(bo_cpu_features *f)
{
    unsigned a, b, c, d;
    *f = (bo_cpu_features){0};
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    f->popcnt = (c >> 23) & 1;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (osxsave && avx) {
        const uint64_t xcr0 = read_xcr0();
        f->os_avx = (xcr0 & 0x6) == 0x6;
        f->os_avx512 = f->os_avx && (xcr0 & 0xE0) == 0xE0;
    }
    if (__get_cpuid_max(0, 0) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        f->avx2 = ((b >> 5) & 1) && f->os_avx;
        f->avx512f = ((b >> 16) & 1) && f->os_avx512;
        f->avx512bw = ((b >> 30) & 1) && f->os_avx512;
        f->avx512vpopcntdq = ((c >> 14) & 1) && f->os_avx512;
        f->avx512vbmi = ((c >> 1) & 1) && f->os_avx512;
        f->gfni = (c >> 8) & 1;
        const int amx_tile = (d >> 24) & 1, amx_int8 = (d >> 25) & 1;
        const int os_amx = f->os_avx512 && (read_xcr0() & 0x60000) == 0x60000;  /* XTILECFG, XTILEDATA */
        f->amx_int8 = amx_tile && amx_int8 && os_amx && amx_permitted();
    }
}
#else
void bo_cpu_detect(bo_cpu_features *f) { *f = (bo_cpu_features){0}; }
#endif

#ifdef _OPENMP
#include <omp.h>
int bo_get_num_threads(void) { return omp_get_max_threads(); }
void bo_set_num_threads(int n) { omp_set_num_threads(n); }
int bo_has_openmp(void) { return 1; }
#else
int bo_get_num_threads(void) { return 1; }
void bo_set_num_threads(int n) { (void)n; }
int bo_has_openmp(void) { return 0; }
#endif
