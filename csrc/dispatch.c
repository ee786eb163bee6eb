/*
 * The one dispatch point (BLIS-style): CPUID picks the fastest supported path
 * once; BITOPS_KERNEL=reference|scalar|avx2|avx512|amx in the environment, or
 * bo_set_path, overrides it so every path this machine supports can be tested
 * against the reference.
 */
#include <stdlib.h>
#include <string.h>

#include "bitops.h"
#include "kernels.h"

static const char *const path_names[BO_PATH_COUNT] = {"reference", "scalar", "avx2", "avx512", "amx"};
static int current_path = -1;

const char *bo_path_name(int path)
{
    return (path >= 0 && path < BO_PATH_COUNT) ? path_names[path] : "unknown";
}

int bo_path_supported(int path)
{
    bo_cpu_features f;
    bo_cpu_detect(&f);
    switch (path) {
    case BO_PATH_REFERENCE: return 1;
    case BO_PATH_SCALAR: return f.popcnt;
    case BO_PATH_AVX2: return f.popcnt && f.avx2;
    case BO_PATH_AVX512: return f.popcnt && f.avx512f && f.avx512bw && f.avx512vpopcntdq;
    case BO_PATH_AMX: return f.popcnt && f.avx512f && f.avx512bw && f.avx512vpopcntdq && f.amx_int8;
    default: return 0;
    }
}

static int best_path(void)
{
    for (int p = BO_PATH_COUNT - 1; p > 0; --p)
        if (bo_path_supported(p))
            return p;
    return BO_PATH_REFERENCE;
}

int bo_get_path(void)
{
    if (current_path < 0) {
        int p = best_path();
        const char *env = getenv("BITOPS_KERNEL");
        if (env && *env)
            for (int q = 0; q < BO_PATH_COUNT; ++q)
                if (strcmp(env, path_names[q]) == 0 && bo_path_supported(q))
                    p = q;
        current_path = p;
    }
    return current_path;
}

int bo_set_path(int path)
{
    if (!bo_path_supported(path))
        return BO_ERR_ARG;
    current_path = path;
    return BO_OK;
}

int bo_mbgemm(const bo_gemm_args *g)
{
    const int p = bo_get_path();
    return p == BO_PATH_REFERENCE ? bo_mbgemm_reference(g) : bo_mbgemm_fast(g, p);
}

int bo_mbconv2d(const bo_conv_args *c)
{
    const int p = bo_get_path();
    return p == BO_PATH_REFERENCE ? bo_mbconv2d_reference(c) : bo_mbconv2d_fast(c, p);
}
