"""The AMX integer path on a CPU without AMX.

dispatch.c offers the "amx" path only where CPUID and the OS grant AMX tiles, so
on other machines the test suite cannot run csrc/qgemm.c's tile code. This test
compiles qgemm.c with its tile primitives (the block between its "AMX primitives"
markers) replaced by plain C (amx_emu/amx_emu.h) and the path check dropped, and
checks it against the reference path on random GEMMs and convolutions
(amx_emu/check.c). It proves the driver's logic (weight panels as B tiles, the
row-major activation blocks, whole and ragged 32 x 32 blocks, the in-place
finish, padding corrections), not the instructions; on an AMX machine the kernel
tests run the real ones too."""
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EMU = Path(__file__).resolve().parent / "amx_emu"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


@pytest.mark.skipif(CC is None or platform.machine() not in ("x86_64", "AMD64"), reason="needs a C compiler on x86-64")
def test_amx_integer_path_logic_matches_the_reference(tmp_path):
    src = (ROOT / "csrc" / "qgemm.c").read_text()
    src, n = re.subn(r"/\* AMX primitives: begin.*?/\* AMX primitives: end \*/", '#include "amx_emu.h"\n#if 1',
                     src, flags=re.S)
    assert n == 1, "qgemm.c no longer marks its AMX primitives"
    src, n = re.subn(r"bo_get_path\(\) != BO_PATH_AMX", "0", src)
    assert n == 1, "qgemm.c no longer checks for the amx path in one place"
    (tmp_path / "qgemm_emu.c").write_text(src)
    csrc = ROOT / "csrc"
    flags = ["-std=c11", "-O1", "-DBITOPS_IN_EXTENSION=1", f"-I{csrc}", f"-I{EMU}"]
    others = [str(csrc / f) for f in ("driver.c", "micro_scalar.c", "micro_avx2.c", "micro_avx512.c", "reference.c",
                                      "dispatch.c", "cpu.c", "pack.c")]
    exe = tmp_path / "check"
    build = subprocess.run([CC, *flags, str(EMU / "check.c"), str(tmp_path / "qgemm_emu.c"), *others, "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout
    assert re.search(r"^120 cases, 0 mismatches$", run.stdout, flags=re.M), run.stdout
