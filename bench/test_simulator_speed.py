"""Simulator speed: a whole ResNet-18 estimate, a bit sweep, and ZigZag beside it.

Run: python3 -m pytest bench/test_simulator_speed.py --benchmark-only
(ZigZag runs only when `zigzag-dse` is installed; it takes minutes.)

The issue's budget is 10 ms per ResNet-18 estimate per bit configuration; the
numbers are reported, never asserted, because absolute time on a shared
machine says little. The ZigZag case reports the ratio of its time to ours on
the same ONNX file, measured in the same run.
"""
import importlib.util
import tempfile
import time
from pathlib import Path

import pytest

import simulator

HAVE_ZIGZAG = importlib.util.find_spec("zigzag") is not None


@pytest.fixture(scope="module")
def resnet18():
    return simulator.workloads.get("resnet18")


@pytest.mark.parametrize("preset", simulator.presets.names())
def test_resnet18_estimate(benchmark, resnet18, preset):
    hw = simulator.presets.get(preset)
    rep = benchmark(simulator.estimate, resnet18, hw, (2, 2))
    benchmark.extra_info["ms_per_estimate"] = benchmark.stats.stats.mean * 1e3
    benchmark.extra_info["budget_ms"] = 10.0
    assert rep.total.cycles > 0


def test_resnet18_uniform_sweep_16_configs(benchmark, resnet18):
    hw = simulator.presets.get("fpga-zu3eg-like")
    configs = [(w, a) for w in (1, 2, 3, 4) for a in (1, 2, 3, 4)]
    rows = benchmark(simulator.sweep, resnet18, hw, configs)
    benchmark.extra_info["ms_per_config"] = benchmark.stats.stats.mean * 1e3 / len(configs)
    assert len(rows) == len(configs)


def _zigzag_inputs():
    import zigzag

    root = Path(zigzag.__file__).parent / "inputs"
    return (root / "workload" / "resnet18.onnx", root / "hardware" / "tpu_like.yaml",
            root / "mapping" / "tpu_like.yaml")


@pytest.mark.skipif(not HAVE_ZIGZAG, reason="zigzag-dse not installed (pip install zigzag-dse)")
def test_zigzag_resnet18_beside_simulator(benchmark):
    from zigzag.api import get_hardware_performance_zigzag

    onnx_path, accelerator, mapping = _zigzag_inputs()
    wl = simulator.Workload.from_onnx(onnx_path)
    hw = simulator.presets.get("asic-45nm")
    runs = 50
    start = time.perf_counter()
    for _ in range(runs):
        simulator.estimate(wl, hw)
    ours = (time.perf_counter() - start) / runs

    def zigzag_once():
        with tempfile.TemporaryDirectory() as out:
            return get_hardware_performance_zigzag(str(onnx_path), str(accelerator), str(mapping), opt="latency",
                                                   dump_folder=out, loma_show_progress_bar=False)

    benchmark.pedantic(zigzag_once, rounds=1, iterations=1)
    theirs = benchmark.stats.stats.mean
    benchmark.extra_info.update(simulator_ms=ours * 1e3, zigzag_s=theirs, ratio=theirs / ours)
    print(f"\nResNet-18 from {onnx_path.name}: simulator {ours * 1e3:.2f} ms, ZigZag {theirs:.1f} s, "
          f"ratio {theirs / ours:,.0f}x")
