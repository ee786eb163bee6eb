"""The reference accelerator (rtl/) against golden vectors, under Icarus and Verilator.

Per configuration: golden vectors are written for one layer; the RTL is built
with the manifest's parameters; the cocotb bench (cocotb_mb_layer.py) runs it
twice, once with no input gaps and no back-pressure (to measure cycles) and
once with random gaps and back-pressure, feeding the scoreboard; then
`bitops verify` checks the bench's hex and binary dumps and, under Icarus,
the simulator's own VCD. A build with BITOPS_CORRUPT_BIT must be caught by
both the scoreboard and `bitops verify`.
"""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from bitops.cli import main as bitops_main
from bitops.rtl import write_layer_vectors

runner_mod = pytest.importorskip("cocotb_tools.runner")

pytestmark = pytest.mark.rtl

HERE = Path(__file__).resolve().parent
RTL = HERE.parents[1] / "rtl"
SOURCES = [RTL / "bitops_popcount.v", RTL / "bitops_mb_layer.v"]
VCD_DUMP = HERE / "hdl" / "bitops_vcd_dump.v"

# name: (op, w_bits, a_bits, x shape, w shape, conv args, pe, simd)
CONFIGS = {
    "W1A1": ("fc", 1, 1, (48, 100), (10, 100), {}, 4, 32),
    "W1A2": ("conv", 1, 2, (1, 6, 6, 3), (5, 3, 3, 3),
             {"stride": 1, "padding": 1, "pad_code": 0}, 2, 16),
    "W2A2": ("fc", 2, 2, (20, 64), (6, 64), {}, 4, 16),
    "W3A2": ("conv", 3, 2, (2, 5, 6, 4), (5, 2, 2, 4),
             {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2), "pad_code": 2}, 3, 8),
}


def _simulators():
    sims = []
    if shutil.which("iverilog"):
        sims.append("icarus")
    else:
        sims.append(pytest.param("icarus", marks=pytest.mark.skip(reason="iverilog not installed")))
    if shutil.which("verilator"):
        sims.append("verilator")
    else:
        sims.append(pytest.param("verilator", marks=pytest.mark.skip(reason="verilator not installed")))
    return sims


def make_vectors(out, name):
    op, wb, ab, xs, ws, conv, pe, simd = CONFIGS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    x = rng.integers(0, 1 << ab, xs)
    w = rng.integers(0, 1 << wb, ws)
    n_out = ws[0]
    # random ascending thresholds inside the accumulator range, two output bits
    k = int(np.prod(ws[1:]))
    m = k * ((1 << wb) - 1) * ((1 << ab) - 1)
    thr = np.sort(rng.integers(-m // 2, m // 2 + 1, (n_out, 3)), axis=1)
    return write_layer_vectors(out, name, x, w, w_bits=wb, a_bits=ab, op=op,
                               thresholds=thr, out_bits=2, pe=pe, simd=simd, **conv)


_built = {}


def build(sim, entry, build_root, broken=False):
    """Build (once per simulator, configuration and brokenness) -> runner."""
    key = (sim, entry["name"], broken)
    if key in _built:
        return _built[key]
    runner = runner_mod.get_runner(sim)
    params = {k: v for k, v in entry["rtl"]["parameters"].items() if isinstance(v, int)}
    sources = list(SOURCES)
    build_args = []
    if sim == "icarus":
        sources.append(VCD_DUMP)
        build_args = ["-s", "bitops_vcd_dump"]
    else:
        build_args = ["-Wno-fatal"]   # lint is checked by test_lint.py with -Wall
    runner.build(sources=sources, hdl_toplevel="bitops_mb_layer", parameters=params,
                 defines={"BITOPS_CORRUPT_BIT": 1} if broken else {},
                 build_args=build_args, build_dir=build_root / f"{sim}_{entry['name']}_{int(broken)}",
                 timescale=("1ns", "1ps"), always=False)
    _built[key] = runner
    return runner


def run(runner, vdir, entry, run_dir, gap, stall, expect_bad=False, seed=7):
    """Run the bench once in run_dir -> run.json contents."""
    run_dir.mkdir(parents=True, exist_ok=True)
    # vvp's last waveform option wins: cocotb passes -none, SIM_CMD_SUFFIX
    # (a cocotb setting) appends -vcd so bitops_vcd_dump.v writes a VCD.
    saved = os.environ.pop("SIM_CMD_SUFFIX", None)
    if isinstance(runner, runner_mod.Icarus):
        os.environ["SIM_CMD_SUFFIX"] = "-vcd"
    # the ROM images are read by $readmemh relative to the simulation's cwd
    for img in ("w_rom", "t_rom"):
        shutil.copy(vdir / entry["rtl"]["files"][img]["hex"], run_dir / f"{img}.hex")
    runner.test(test_module="cocotb_mb_layer", hdl_toplevel="bitops_mb_layer",
                test_dir=run_dir, seed=seed,
                extra_env={"BITOPS_VECTORS": str(vdir), "BITOPS_LAYER": entry["name"],
                           "BITOPS_GAP": str(gap), "BITOPS_STALL": str(stall),
                           "BITOPS_SEED": str(seed), "BITOPS_OUT": str(run_dir),
                           "BITOPS_EXPECT_MISMATCH": "1" if expect_bad else "0"})
    os.environ.pop("SIM_CMD_SUFFIX", None)
    if saved is not None:
        os.environ["SIM_CMD_SUFFIX"] = saved
    return json.loads((run_dir / "run.json").read_text())


def expected_cycles(entry):
    """Cycle formula of docs/rtl.md, from the layer's own shape (not engine.py)."""
    p = entry["rtl"]["parameters"]
    nfold = -(-p["K"] // p["SIMD"])
    ntile = -(-p["NOUT"] // p["PE"])
    rows = int(np.prod(entry["output_shape"][:-1]))
    return nfold + rows * ntile * p["WBITS"] * p["ABITS"] * nfold + 1


def simulator_cycles(entry):
    """Cycles the simulator predicts for this layer on rtl/hw-reference.yaml."""
    import simulator
    from simulator.hardware import Hardware
    from simulator.workload import Workload

    p = entry["rtl"]["parameters"]
    name = entry["name"]
    if entry["op"] == "fc":
        layer = {"name": name, "op": "fc", "in_features": p["K"], "out_features": p["NOUT"]}
        batch = entry["input_shape"][0]
    else:
        n, h, w, c = entry["input_shape"]
        cv = entry["conv"]
        layer = {"name": name, "op": "conv", "in": [h, w, c], "out_channels": p["NOUT"],
                 "kernel": cv["kernel"], "stride": cv["stride"], "padding": cv["padding"],
                 "dilation": cv["dilation"]}
        batch = n
    layer.update(w_bits=p["WBITS"], a_bits=p["ABITS"])
    wl = Workload.from_dict({"name": name, "batch": batch, "layers": [layer]})
    hw = Hardware.from_file(RTL / "hw-reference.yaml")
    hw = hw.replace(pe=p["PE"], simd=p["SIMD"])
    return simulator.estimate(wl, hw).total.cycles


def verify_rc(vdir, entry, actual, *extra):
    return bitops_main(["verify", str(vdir), "--actual", str(actual), "--layer", entry["name"],
                        *extra])


@pytest.fixture(scope="module")
def build_root(tmp_path_factory):
    return tmp_path_factory.mktemp("rtl_build")


@pytest.mark.parametrize("sim", _simulators())
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_rtl_matches_golden(sim, config, build_root, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    vdir = tmp_path / "vectors"
    entry = make_vectors(vdir, config)
    runner = build(sim, entry, build_root)

    steady = run(runner, vdir, entry, tmp_path / "steady", gap=0.0, stall=0.0)
    noisy = run(runner, vdir, entry, tmp_path / "noisy", gap=0.3, stall=0.4)
    for res in (steady, noisy):
        assert res["scoreboard"]["acc"]["ok"] and res["scoreboard"]["codes"]["ok"], res
        assert res["beats"] == entry["rtl"]["output"]["beats"]
        assert res["bad_m_last_beats"] == []
    # cycles: exact formula without stalls; gaps and back-pressure only add cycles
    assert steady["cycles"] == expected_cycles(entry)
    assert noisy["cycles"] > steady["cycles"]
    predicted = simulator_cycles(entry)
    (tmp_path / "cycles.json").write_text(json.dumps(
        {"layer": entry["name"], "simulator": sim, "cycles": steady["cycles"],
         "cycles_with_gaps_and_backpressure": noisy["cycles"], "predicted": predicted}))
    # calibration: the cost model configured as this RTL (rtl/hw-reference.yaml)
    # predicts the cycles measured in simulation exactly
    assert predicted == steady["cycles"], (predicted, steady)

    for d in (tmp_path / "steady", tmp_path / "noisy"):
        assert verify_rc(vdir, entry, d / "acc_actual.hex") == 0
        assert verify_rc(vdir, entry, d / "acc_beats.hex", "--beats") == 0
        assert verify_rc(vdir, entry, d / "codes_actual.bin", "--what", "codes") == 0
        if sim == "icarus":
            assert verify_rc(vdir, entry, d / "layer.vcd") == 0
            assert verify_rc(vdir, entry, d / "layer.vcd", "--what", "codes") == 0


@pytest.mark.parametrize("sim", _simulators())
def test_broken_build_is_caught(sim, build_root, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(HERE))
    vdir = tmp_path / "vectors"
    entry = make_vectors(vdir, "W2A2")
    runner = build(sim, entry, build_root, broken=True)
    res = run(runner, vdir, entry, tmp_path / "run", gap=0.2, stall=0.2, expect_bad=True)

    # the scoreboard caught it (the bench asserts so too): one flipped bit of
    # channel 0 per vector, so exactly one accumulator per batch row is wrong
    sb = res["scoreboard"]["acc"]
    assert not sb["ok"]
    assert sb["mismatches"] == entry["output_shape"][0]
    capsys.readouterr()
    assert verify_rc(vdir, entry, tmp_path / "run" / "acc_actual.hex") == 1
    err = capsys.readouterr().err
    assert f"{entry['output_shape'][0]} mismatches" in err
    assert "batch=0 channel=0" in err
    assert verify_rc(vdir, entry, tmp_path / "run" / "acc_beats.hex", "--beats") == 1
    assert "batch=0 channel=0" in capsys.readouterr().err
    if sim == "icarus":
        assert verify_rc(vdir, entry, tmp_path / "run" / "layer.vcd") == 1
        assert "batch=0 channel=0" in capsys.readouterr().err
