"""Threads, CPU features and the kernel path (one dispatch point in csrc/dispatch.c)."""
from bitops import _core
from bitops._checks import check_int


def set_num_threads(n):
    """Number of OpenMP threads the kernels use (n >= 1)."""
    n = check_int(n, "n", minimum=1)
    _core.set_num_threads(n)


def get_num_threads():
    return _core.get_num_threads()


def available_kernel_paths():
    """The kernel paths this CPU can run, slowest first ('reference' is always there)."""
    return [name for p, name in enumerate(_core.path_names()) if _core.path_supported(p)]


def get_kernel_path():
    """The kernel path in use: 'reference', 'scalar', 'avx2', 'avx512' or 'amx' (AVX-512 popcounts,
    integer path on AMX tiles)."""
    return _core.path_names()[_core.get_path()]


def set_kernel_path(name):
    """Select a kernel path by name (the environment variable BITOPS_KERNEL does the same at import)."""
    names = _core.path_names()
    if name not in names:
        raise ValueError(f"kernel path must be one of {names}, got {name!r}")
    p = names.index(name)
    if not _core.path_supported(p):
        raise ValueError(f"kernel path {name!r} is not supported by this CPU; available: {available_kernel_paths()}")
    _core.set_path(p)


def cpu_features():
    """CPU features seen by CPUID (with OS support), the selected kernel path and threading."""
    feats = _core.cpu_flags()
    feats["kernel"] = get_kernel_path()
    feats["available_kernels"] = available_kernel_paths()
    feats["openmp"] = _core.has_openmp()
    feats["num_threads"] = get_num_threads()
    return feats
