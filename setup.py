"""Build the native core: C11 kernels in csrc/ behind one Cython module.

ISA-specific micro-kernels carry ``__attribute__((target(...)))`` on the
function, so every file compiles with the same baseline flags and the AVX2
and AVX-512 paths are always built; csrc/dispatch.c picks one from CPUID.

Environment:
  BITOPS_SANITIZE=1   build with AddressSanitizer and UBSan (CI runs the
                      kernel tests once this way)
  BITOPS_NO_OPENMP=1  build without OpenMP
"""
import os
import sys
import tempfile
import subprocess
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
C_SOURCES = sorted(str(p.relative_to(HERE)) for p in (HERE / "csrc").glob("*.c"))
# The roofline microbenchmark ships in bench/ as a standalone program and is
# also compiled into the core so that `bitops bench` needs no compiler.
C_SOURCES.append("bench/roofline.c")


def _compiler_accepts(compiler, flag):
    """True if the C compiler compiles and links an OpenMP-free snippet with `flag`."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text("#include <omp.h>\nint main(void){return omp_get_max_threads() < 0;}\n")
        try:
            objs = compiler.compile([str(src)], output_dir=tmp, extra_postargs=[flag])
            compiler.link_executable(objs, str(Path(tmp) / "probe"), extra_postargs=[flag])
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    def build_extensions(self):
        cc = self.compiler
        cflags = ["-std=c11", "-O3", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function",
                  "-Werror=implicit-function-declaration", "-Werror=int-conversion", "-ffp-contract=off"]
        ldflags = []
        if os.environ.get("BITOPS_SANITIZE"):
            san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
            cflags = [f for f in cflags if f != "-O3"] + ["-O1", "-g"] + san
            ldflags += san
        if not os.environ.get("BITOPS_NO_OPENMP") and _compiler_accepts(cc, "-fopenmp"):
            cflags.append("-fopenmp")
            ldflags.append("-fopenmp")
            self.define_openmp = True
        for ext in self.extensions:
            ext.extra_compile_args = cflags
            ext.extra_link_args = ldflags
        build_ext.build_extensions(self)


# Cython emits C that is compiled with the same flags as csrc/; -std=c11 is fine for it.
extensions = [
    Extension(
        "bitops._core",
        sources=["bitops/_core.pyx"] + C_SOURCES,
        include_dirs=[np.get_include(), "csrc"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"), ("BITOPS_IN_EXTENSION", "1")],
    )
]

setup(
    ext_modules=cythonize(extensions, language_level=3, compiler_directives={"boundscheck": False, "wraparound": False}),
    cmdclass={"build_ext": BuildExt},
)
