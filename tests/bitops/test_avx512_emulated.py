"""The AVX-512 micro-kernel on a CPU without AVX-512.

dispatch.c selects csrc/micro_avx512.c only where CPUID reports VPOPCNTDQ, so
the test suite cannot run it here. This test compiles the blocked driver with
that kernel, its intrinsics replaced by plain C (avx512_emu/immintrin.h)
and its target attribute dropped, and checks it against the reference path on
random GEMMs and convolutions (avx512_emu/check.c). It proves the kernel's
logic (packing layout, tile walk, store contract), not the instructions."""
import platform
import re
import shutil
import subprocess

import pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMU = Path(__file__).resolve().parent / "avx512_emu"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


@pytest.mark.skipif(CC is None or platform.machine() not in ("x86_64", "AMD64"), reason="needs a C compiler on x86-64")
def test_avx512_kernel_logic_matches_the_reference(tmp_path):
    kernel = (ROOT / "csrc" / "micro_avx512.c").read_text()
    kernel, n = re.subn(r"^#define AVX512 .*$", "#define AVX512", kernel, flags=re.M)
    assert n == 1, "micro_avx512.c no longer defines its AVX512 target macro on one line"
    (tmp_path / "micro_avx512_emu.c").write_text(kernel)
    csrc = ROOT / "csrc"
    flags = ["-std=c11", "-O1", "-DBITOPS_IN_EXTENSION=1", f"-I{csrc}"]
    # only the kernel sees the stand-in header; everything else uses the real intrinsics
    subprocess.run([CC, *flags, f"-I{EMU}", "-c", str(tmp_path / "micro_avx512_emu.c"), "-o", str(tmp_path / "k.o")],
                   check=True, capture_output=True)
    others = [str(csrc / f) for f in ("driver.c", "micro_scalar.c", "micro_avx2.c", "reference.c", "dispatch.c",
                                      "cpu.c", "pack.c")]
    exe = tmp_path / "check"
    subprocess.run([CC, *flags, str(EMU / "check.c"), str(tmp_path / "k.o"), *others, "-o", str(exe)],
                   check=True, capture_output=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout
