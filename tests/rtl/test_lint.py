"""rtl/ is lint-clean under `verilator --lint-only -Wall`, normal and broken builds,
over parameter sets that hit the edge cases (one fold, one tile, one lane,
partial tiles and folds, OBITS = 1)."""
import shutil
import subprocess
from pathlib import Path

import pytest

RTL = Path(__file__).resolve().parents[2] / "rtl"

PARAMS = [
    {"K": 64, "NOUT": 8, "WBITS": 1, "ABITS": 1, "PE": 4, "SIMD": 16, "ACC_W": 10, "OBITS": 2},
    {"K": 27, "NOUT": 5, "WBITS": 3, "ABITS": 2, "PE": 4, "SIMD": 8, "ACC_W": 12, "OBITS": 2},
    {"K": 16, "NOUT": 4, "WBITS": 2, "ABITS": 2, "PE": 4, "SIMD": 16, "ACC_W": 10, "OBITS": 1},
    {"K": 8, "NOUT": 1, "WBITS": 1, "ABITS": 3, "PE": 1, "SIMD": 8, "ACC_W": 10, "OBITS": 3},
]


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
@pytest.mark.parametrize("broken", [False, True])
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: "K{K}_N{NOUT}_W{WBITS}A{ABITS}_PE{PE}_S{SIMD}".format(**p))
def test_verilator_lint_wall(params, broken):
    cmd = ["verilator", "--lint-only", "-Wall", "--top-module", "bitops_mb_layer",
           *(f"-G{k}={v}" for k, v in params.items()),
           *(["-DBITOPS_CORRUPT_BIT"] if broken else []),
           str(RTL / "bitops_popcount.v"), str(RTL / "bitops_mb_layer.v")]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "%Warning" not in res.stderr and "%Error" not in res.stderr, res.stderr


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_icarus_compiles_without_warnings(tmp_path):
    res = subprocess.run(["iverilog", "-g2012", "-Wall", "-o", str(tmp_path / "a.vvp"),
                          "-s", "bitops_mb_layer",
                          str(RTL / "bitops_popcount.v"), str(RTL / "bitops_mb_layer.v")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr.lower(), res.stderr
