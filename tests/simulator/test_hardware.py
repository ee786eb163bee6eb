"""Hardware files: the DESIGN section 6 minimum, defaults, validation, presets."""
import pytest
import yaml

import simulator
from simulator import Hardware, presets
from simulator.hardware import Energy

MINIMAL = """\
name: my-fpga
target: fpga
clock_mhz: 200
style: dataflow
branch_units: 1
pe: 16
simd: 32
folding:
  conv0: {pe: 16, simd: 3}
"""


def write(tmp_path, text, name="hw.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_minimal_file_is_valid_and_keeps_its_values(tmp_path):
    hw = Hardware.from_file(write(tmp_path, MINIMAL))
    assert (hw.name, hw.target, hw.clock_mhz, hw.style, hw.branch_units, hw.pe, hw.simd) == (
        "my-fpga", "fpga", 200.0, "dataflow", 1, 16, 32)
    assert hw.fold_for("conv0") == simulator.Fold(16, 3)
    assert hw.fold_for("other") == simulator.Fold(16, 32)
    assert hw.memory.double_buffer is True


def test_toml_file(tmp_path):
    path = write(tmp_path, 'name = "t"\ntarget = "asic"\npe = 4\nsimd = 8\n[memory]\noffchip_gbps = 2.5\n', "hw.toml")
    hw = Hardware.from_file(path)
    assert (hw.target, hw.pe, hw.simd, hw.memory.offchip_gbps) == ("asic", 4, 8, 2.5)


@pytest.mark.parametrize("text, key", [
    (MINIMAL + "pes: 4\n", "pes"),
    (MINIMAL + "memory: {weight_buffer: 4}\n", "weight_buffer"),
    (MINIMAL.replace("simd: 32", "simd: -32"), "simd"),
    (MINIMAL + "memory: {offchip_gbps: -1}\n", "offchip_gbps"),
    (MINIMAL.replace("style: dataflow", "style: systolic"), "style"),
    (MINIMAL.replace("pe: 16\n", "pe: 0\n"), "pe"),
    (MINIMAL.replace("{pe: 16, simd: 3}", "{pe: 0, simd: 3}"), "conv0"),
    (MINIMAL + "energy: {xnor_bit: oops}\n", "xnor_bit"),
])
def test_bad_files_raise_naming_the_key(tmp_path, text, key):
    with pytest.raises(ValueError, match=key):
        Hardware.from_file(write(tmp_path, text))


def test_impossible_folding_is_reported_with_the_layer(tmp_path):
    wl = simulator.Workload.from_dict({"layers": [
        {"name": "conv0", "op": "conv", "in": [8, 8, 3], "out_channels": 8, "kernel": 3}]})
    too_wide = Hardware.from_dict(yaml.safe_load(MINIMAL))       # pe 16 > 8 output channels
    with pytest.raises(ValueError, match="conv0"):
        simulator.estimate(wl, too_wide)
    stray = too_wide.replace(folding={"convX": simulator.Fold(1, 1)})
    with pytest.raises(ValueError, match="convX"):
        simulator.estimate(wl, stray)


def test_presets_cover_two_fpgas_and_two_asic_nodes():
    hws = [presets.get(name) for name in presets.names()]
    fpgas = [hw for hw in hws if hw.target == "fpga"]
    asics = [hw for hw in hws if hw.target == "asic"]
    assert len(fpgas) >= 2 and len(asics) >= 2
    for hw in fpgas:
        assert all(getattr(hw.resources, k) for k in ("lut", "ff", "bram18", "dsp")), hw.name
    assert len({hw.family for hw in asics}) >= 2
    assert {"fpga-zu3eg-like", "asic-45nm"} <= set(presets.names())


def test_every_preset_energy_number_has_a_source():
    energy_keys = [f for f in Energy.__dataclass_fields__ if f not in ("sources", "sram_ref_kb")]
    for name in presets.names():
        sources = presets.get(name).energy.sources
        missing = [k for k in energy_keys if not sources.get(k, "").strip()]
        assert not missing, f"{name}: no source for {missing}"


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="fpga-zu3eg-like"):
        presets.get("nope")


def test_to_dict_round_trips():
    hw = presets.get("asic-45nm")
    assert Hardware.from_dict(hw.to_dict()) == hw
