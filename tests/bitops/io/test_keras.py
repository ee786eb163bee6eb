"""Larq / Keras files (made by tests/fixtures/make_larq_keras.py with the real Larq) against Larq's outputs."""
import os

import numpy as np
import pytest

from bitops.io import FormatError, load

FIX = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))


@pytest.mark.parametrize("backend", ["kernels", "reference"])
@pytest.mark.parametrize("name", ["larq_mb.h5", "larq_mb.keras"])
def test_larq_matches_keras_predict(name, backend):
    pytest.importorskip("h5py")
    d = np.load(os.path.join(FIX, "larq_io.npz"))
    m = load(os.path.join(FIX, name))
    assert m.format == "keras" and m.source_layout == "NHWC"
    y = m.run(d["x"], backend=backend)
    np.testing.assert_allclose(y, d["y_larq"], rtol=0, atol=2e-6 * max(1.0, float(np.abs(d["y_larq"]).max())))


def test_larq_layers():
    pytest.importorskip("h5py")
    m = load(os.path.join(FIX, "larq_mb.h5"))
    convs = [layer for layer in m.layers if layer.op in ("conv", "fc")]
    # first conv: binary kernel on a float input (stays float); then 1x1-bit, 1-bit x 2-bit DoReFa, 1x1-bit dense
    assert [(c.w_bits, c.a_bits) for c in convs] == [(1, None), (1, 1), (1, 2), (1, 1)]
    assert [c.quantized for c in convs] == [False, True, True, True]
    assert convs[1].padding == (1, 1, 1, 1) and convs[2].padding == (0, 0, 0, 0)
    assert convs[1].attrs.get("pad_value") == 1.0 and "pad_value" not in convs[0].attrs   # Larq pad_values
    assert convs[2].weight_scale.size == 12                     # magnitude-aware sign: per channel
    assert [layer.op for layer in m.layers].count("transpose") == 0


def test_keras_weights_only_h5_is_refused(tmp_path):
    h5py = pytest.importorskip("h5py")
    p = tmp_path / "w.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("dense/kernel:0", data=np.zeros((2, 2)))
    with pytest.raises(FormatError, match="model_config"):
        load(str(p))


@pytest.mark.parametrize("name", ["keras3_res.keras", "keras3_res.h5"])
def test_keras3_float_model_with_residual_add(name):
    """Keras 3 config forms (dict inbound nodes, flat output_layers): float layers, numpy backend."""
    pytest.importorskip("h5py")
    d = np.load(os.path.join(FIX, "keras3_io.npz"))
    m = load(os.path.join(FIX, name))
    assert any(layer.op == "add" for layer in m.layers) and not m.quantized_layers
    np.testing.assert_allclose(m.run(d["x"]), d["y_keras"], rtol=0, atol=1e-6)


def test_larq_sequential_depthwise():
    pytest.importorskip("h5py")
    d = np.load(os.path.join(FIX, "larq_io.npz"))
    m = load(os.path.join(FIX, "larq_seq.h5"))
    packed = [(layer.op, layer.w_bits, layer.a_bits, layer.groups) for layer in m.layers if layer.op in ("conv", "fc")]
    assert packed == [("conv", 1, None, 1), ("conv", 1, 1, 1), ("conv", 1, 1, 8), ("fc", 1, 1, 1)]
    for backend in ("kernels", "reference"):
        np.testing.assert_allclose(m.run(d["x_seq"], backend=backend), d["y_seq"], rtol=0, atol=1e-6)
