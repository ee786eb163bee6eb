"""`bitops vectors` (single layer from .npz, and a model's layers) against numpy."""
import json

import numpy as np
import pytest

from bitops.cli import main


def ref_values(u, bits):
    u = np.asarray(u, dtype=np.int64)
    return sum((1 << i) * np.where((u >> i) & 1, 1, -1) for i in range(bits))


def test_layer_npz_round_trip(tmp_path, capsys):
    rng = np.random.default_rng(21)
    x = rng.integers(-2, 2, (4, 33))          # signed 2-bit codes, qmin -2
    w = rng.integers(0, 2, (3, 33))
    np.savez(tmp_path / "l.npz", x_codes=x, w_codes=w, w_bits=1, a_bits=2, x_qmin=-2,
             name="dense_1")
    rc = main(["vectors", "--layer-npz", str(tmp_path / "l.npz"), "--out", str(tmp_path / "v"),
               "--pe", "2", "--simd", "8"])
    assert rc == 0, capsys.readouterr()
    m = json.loads((tmp_path / "v" / "manifest.json").read_text())
    (entry,) = m["layers"]
    assert entry["name"] == "dense_1" and entry["rtl"]["parameters"]["PE"] == 2
    acc = np.fromfile(tmp_path / "v" / entry["files"]["acc"]["bin"], dtype="<i4").reshape(4, 3)
    np.testing.assert_array_equal(acc, ref_values(x + 2, 2) @ ref_values(w, 1).T)
    # and verify accepts its own golden file
    assert main(["verify", str(tmp_path / "v"), "--actual",
                 str(tmp_path / "v" / entry["files"]["acc"]["hex"])]) == 0


def test_bad_invocations_exit_2(tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", x_codes=np.zeros((2, 3), int))
    assert main(["vectors", "--layer-npz", str(tmp_path / "bad.npz"), "--out", str(tmp_path)]) == 2
    assert "missing array 'w_codes'" in capsys.readouterr().err
    assert main(["vectors", "--out", str(tmp_path)]) == 2
    assert "MODEL" in capsys.readouterr().err
    assert main(["vectors", str(tmp_path / "none.onnx"), "--input", str(tmp_path / "x.npy"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "none.onnx" in err or "bitops.load" in err


class _FakeModel:
    """The model IR's duck type: layers, source_layout, trace(x, backend)."""

    def __init__(self, layers, tensors, layout):
        self.layers = layers
        self._tensors = tensors
        self.source_layout = layout

    def trace(self, x, backend="kernels"):
        assert backend == "reference"
        return self._tensors


def test_model_layers_become_vector_sets(tmp_path):
    Layer = pytest.importorskip("bitops.model.layer").Layer
    QuantSpec = pytest.importorskip("bitops.model.quant").QuantSpec
    from bitops.rtl.model_vectors import write_model_vectors

    rng = np.random.default_rng(22)
    # conv: unsigned 2-bit activations with zero point 1 (so padding = code 1), 1-bit bipolar weights
    aspec = QuantSpec(0.5, 1, 0, 3, name="a")
    wspec = QuantSpec(0.1, 0, -1, 1, bipolar=True, name="w")
    xq = rng.integers(0, 4, (1, 5, 4, 3))
    x_nchw = aspec.dequantize(xq, np.float64).transpose(0, 3, 1, 2)
    wq = np.where(rng.random((4, 3, 3, 3)) < 0.5, -1, 1)
    conv = Layer("conv/0:1", "conv", ["x"], ["y"], (1, 5, 4, 3), (1, 5, 4, 4), kernel=(3, 3),
                 stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1), weight=wq,
                 weight_spec=wspec, act_spec=aspec)
    # fc: signed 3-bit weights, signed 2-bit activations
    a2 = QuantSpec(1.0, 0, -2, 1, name="a2")
    w2 = QuantSpec(1.0, 0, -4, 3, name="w2")
    hq = rng.integers(-2, 2, (1, 80))
    fq = rng.integers(-4, 4, (6, 80))
    fc = Layer("fc", "fc", ["h"], ["z"], (1, 80), (1, 6), weight=fq, weight_spec=w2, act_spec=a2)
    relu = Layer("relu", "relu", ["y"], ["h"])
    model = _FakeModel([conv, relu, fc], {"x": x_nchw, "h": hq.astype(np.float64)}, "NCHW")

    entries = write_model_vectors(model, np.zeros(1), tmp_path / "v", pe=2, simd=16)
    assert [e["name"] for e in entries] == ["conv_0_1", "fc"]
    assert entries[0]["out_bits"] == 2           # the next quantized layer's a_bits
    assert entries[0]["conv"]["pad_code"] == 1
    # conv reference: direct loops, padded taps at real zero = code 1
    xe, we = ref_values(xq, 2), np.where(wq > 0, 1, -1)
    pad = np.full((1, 7, 6, 3), ref_values(1, 2))
    pad[:, 1:6, 1:5] = xe
    want = np.zeros((1, 5, 4, 4), dtype=np.int64)
    for y in range(5):
        for x in range(4):
            want[0, y, x] = np.einsum("ohwc,hwc->o", we, pad[0, y:y + 3, x:x + 3])
    got = np.load(tmp_path / "v" / "conv_0_1" / "layer.npz")["acc"]
    np.testing.assert_array_equal(got, want)
    got = np.load(tmp_path / "v" / "fc" / "layer.npz")["acc"]
    np.testing.assert_array_equal(got, ref_values(hq + 2, 2) @ ref_values(fq + 4, 3).T)


FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures"


def test_vectors_of_a_real_model(tmp_path, capsys):
    """`bitops vectors MODEL` on the Brevitas QONNX fixture: every quantized layer is
    written, and the fc layer's accumulators equal numpy E-domain math on the codes
    of its traced input."""
    model_path = FIXTURES / "brevitas_mb.onnx"
    if not model_path.is_file():
        pytest.skip("fixture brevitas_mb.onnx not present")
    load = pytest.importorskip("bitops.io").load
    x = np.load(FIXTURES / "brevitas_mb_io.npz")["x"][:2]
    np.save(tmp_path / "x.npy", x)
    rc = main(["vectors", str(model_path), "--input", str(tmp_path / "x.npy"),
               "--out", str(tmp_path / "v")])
    assert rc == 0, capsys.readouterr().err
    model = load(str(model_path))
    quantized = [l for l in model.layers if l.quantized]
    m = json.loads((tmp_path / "v" / "manifest.json").read_text())
    assert [l["source_layer"] for l in m["layers"]] == [l.name for l in quantized]
    fc = [l for l in quantized if l.op == "fc"][-1]
    h = model.trace(x, backend="reference")[fc.inputs[0]]
    xq = fc.act_spec.quantize(np.asarray(h, dtype=np.float64))
    xu = xq - fc.act_spec.qmin
    wu = (fc.weight > 0).astype(np.int64) if fc.weight_spec.bipolar else fc.weight - fc.weight_spec.qmin
    want = ref_values(xu, fc.a_bits) @ ref_values(wu, fc.w_bits).T
    entry = [l for l in m["layers"] if l["source_layer"] == fc.name][0]
    got = np.load(tmp_path / "v" / entry["files"]["npz"])["acc"]
    np.testing.assert_array_equal(got, want)
