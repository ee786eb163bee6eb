"""The AVX-512 micro-kernel on a CPU without AVX-512.

dispatch.c selects csrc/micro_avx512.c only where CPUID reports VPOPCNTDQ, so
the test suite cannot run it here. This test compiles the blocked driver with
that kernel, its intrinsics replaced by plain C (avx512_emu/immintrin.h)
and its target attribute dropped, and checks it against the reference path on
random GEMMs and convolutions and against the micro-kernel contract itself
(avx512_emu/check.c). It proves the kernel's logic (packing layout, tile walk,
store contract), not the instructions; where the CPU has AVX-512 the second
test runs the same checks on the real kernel."""
import platform
import re
import shutil
import subprocess

import pytest
from pathlib import Path

import bitops

ROOT = Path(__file__).resolve().parents[2]
EMU = Path(__file__).resolve().parent / "avx512_emu"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def _build_and_run(tmp_path, emulated):
    kernel = (ROOT / "csrc" / "micro_avx512.c").read_text()
    include = []
    if emulated:
        kernel, n = re.subn(r"^#define AVX512 .*$", "#define AVX512", kernel, flags=re.M)
        assert n == 1, "micro_avx512.c no longer defines its AVX512 target macro on one line"
        include = [f"-I{EMU}"]  # only the kernel sees the stand-in header; the rest uses the real intrinsics
    (tmp_path / "micro_avx512_k.c").write_text(kernel)
    csrc = ROOT / "csrc"
    flags = ["-std=c11", "-O1", "-DBITOPS_IN_EXTENSION=1", f"-I{csrc}"]
    subprocess.run([CC, *flags, *include, "-c", str(tmp_path / "micro_avx512_k.c"), "-o", str(tmp_path / "k.o")],
                   check=True, capture_output=True)
    others = [str(csrc / f) for f in ("driver.c", "micro_scalar.c", "micro_avx2.c", "reference.c", "dispatch.c",
                                      "cpu.c", "pack.c")]
    exe = tmp_path / "check"
    subprocess.run([CC, *flags, str(EMU / "check.c"), str(tmp_path / "k.o"), *others, "-o", str(exe)],
                   check=True, capture_output=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout


@pytest.mark.skipif(CC is None or platform.machine() not in ("x86_64", "AMD64"), reason="needs a C compiler on x86-64")
def test_avx512_kernel_logic_matches_the_reference(tmp_path):
    _build_and_run(tmp_path, emulated=True)


@pytest.mark.skipif(CC is None or "avx512" not in bitops.available_kernel_paths(),
                    reason="needs a C compiler and a CPU with AVX-512 VPOPCNTDQ")
def test_avx512_kernel_matches_the_reference_on_this_cpu(tmp_path):
    """The same checks with the real instructions: the micro-kernel's contract cases reach
    multipliers and biases the Python API never passes."""
    _build_and_run(tmp_path, emulated=False)
