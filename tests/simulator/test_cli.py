"""`bitops estimate` and `bitops sweep` through the simulator's register()."""
import argparse
import csv
import json

import pytest

import simulator
from simulator import cli


def run(argv):
    parser = argparse.ArgumentParser(prog="bitops")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


NET = """\
name: example
layers:
  - {name: conv0, op: conv, in: [32, 32, 3], out_channels: 64, kernel: 3, stride: 1, padding: 0, w_bits: 1, a_bits: 1}
  - {name: fc0, op: fc, in_features: 256, out_features: 512, w_bits: 2, a_bits: 2}
"""
HW = "name: my-fpga\ntarget: fpga\nclock_mhz: 200\nstyle: dataflow\nbranch_units: 1\npe: 16\nsimd: 32\n" \
     "folding:\n  conv0: {pe: 16, simd: 3}\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "net.yaml").write_text(NET)
    (tmp_path / "hw.yaml").write_text(HW)
    return tmp_path


def test_estimate_json_matches_the_api(files, capsys):
    assert run(["estimate", str(files / "net.yaml"), "--hw", str(files / "hw.yaml"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    wl = simulator.Workload.from_file(files / "net.yaml")
    expected = simulator.estimate(wl, simulator.Hardware.from_file(files / "hw.yaml"))
    assert data["total"]["cycles"] == expected.total.cycles
    # conv0 with the file's folding 16 x 3: ceil(64/16) * ceil(27/3) * 30*30 cycles.
    assert data["layers"][0]["cycles"]["compute"] == 4 * 9 * 900


def test_estimate_bits_flags_and_plot(files, capsys):
    plot = files / "p.png"
    run(["estimate", "cnv-cifar10", "--hw", "asic-45nm", "--bits", "2,3", "--bits", "conv0=8,8",
         "--format", "csv", "--plot", str(plot)])
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert (rows[0]["w_bits"], rows[0]["a_bits"], rows[1]["w_bits"], rows[1]["a_bits"]) == ("8", "8", "2", "3")
    assert plot.exists()


def test_estimate_errors_are_value_errors(files):
    with pytest.raises(ValueError, match="--bits"):
        run(["estimate", "cnv-cifar10", "--hw", "asic-45nm", "--bits", "two"])
    with pytest.raises(ValueError, match="no-such-part"):
        run(["estimate", "cnv-cifar10", "--hw", "no-such-part"])
    with pytest.raises(FileNotFoundError):
        run(["estimate", str(files / "missing.yaml"), "--hw", "asic-45nm"])


def test_sweep_writes_csv_with_pareto_and_plot(files, capsys):
    out, plot = files / "s.csv", files / "s.png"
    assert run(["sweep", "cnv-cifar10", "--hw", "fpga-zu3eg-like", "--w-bits", "1,2", "--a-bits", "1,3",
                "--csv", str(out), "--plot", str(plot), "--no-progress"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["config"] for r in rows] == ["w1a1", "w1a3", "w2a1", "w2a3"]
    # w1a1 is cheapest in every objective, so it alone is on the front.
    assert [r["pareto"] for r in rows] == ["True", "False", "False", "False"]
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_sweep_per_layer_mode_keeps_edges(files):
    out = files / "s.csv"
    run(["sweep", str(files / "net.yaml"), "--hw", str(files / "hw.yaml"), "--mode", "per-layer",
         "--samples", "5", "--keep-edges", "--csv", str(out), "--plot", str(files / "s.png"), "--no-progress"])
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5 and all(r["config"] == "w1a1 w2a2" for r in rows)


def test_pareto_front_by_hand():
    rows = [{"latency_s": 1, "energy_j": 5, "model_size_bits": 1},
            {"latency_s": 2, "energy_j": 1, "model_size_bits": 1},
            {"latency_s": 2, "energy_j": 5, "model_size_bits": 1},     # dominated by both
            {"latency_s": 1, "energy_j": 5, "model_size_bits": 1}]     # a tie stays on the front
    assert simulator.pareto_front(rows) == [True, True, False, True]
