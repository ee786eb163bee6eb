"""Report exporters carry the same numbers as the report objects."""
import csv
import io
import json

import pytest

import simulator


@pytest.fixture(scope="module")
def rep():
    return simulator.estimate(simulator.workloads.get("cnv-cifar10"), simulator.presets.get("fpga-zu3eg-like"))


def test_json_and_dict_agree(rep):
    data = json.loads(rep.to_json())
    assert data["total"]["cycles"] == rep.total.cycles
    assert data["total"]["energy"]["total"] == pytest.approx(rep.total.energy_j)
    assert [l["name"] for l in data["layers"]] == [l.name for l in rep.layers]
    assert set(data["layers"][0]["cycles"]) == {"compute", "memory", "stall", "fill", "total"}
    assert set(data["layers"][0]["resources"]) == {"lut", "ff", "bram18", "dsp"}


def test_csv_has_a_row_per_layer_and_a_total(rep):
    rows = list(csv.DictReader(io.StringIO(rep.to_csv())))
    assert len(rows) == len(rep.layers) + 1 and rows[-1]["layer"] == "TOTAL"
    assert int(rows[0]["cycles_total"]) == rep.layers[0].cycles.total
    assert float(rows[-1]["energy_j"]) == pytest.approx(rep.total.energy_j)


def test_markdown_and_table_list_every_layer(rep):
    md = rep.to_markdown()
    table = rep.to_table()
    for layer in rep.layers:
        assert f"| {layer.name} |" in md and layer.name in table
    assert "fits" in table


def test_plot_writes_an_image(rep, tmp_path):
    path = tmp_path / "r.png"
    rep.plot(path)
    assert path.read_bytes()[:4] == b"\x89PNG"
