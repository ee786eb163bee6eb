"""Bad files raise FormatError (a ValueError) naming what is wrong; never a crash or a hang."""
import os
import time

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from bitops.io import FormatError, load  # noqa: E402

FIX = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))
QONNX = "qonnx.custom_op.general"


def _save(tmp_path, nodes, inits, name="m.onnx", in_shape=(1, 3, 6, 6), out="y"):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)])
    p = tmp_path / name
    p.write_bytes(m.SerializeToString())
    return str(p)


def _quant_conv(tmp_path, w_bits=2.0, a_bits=4.0, scale=0.1, w_shape=(4, 3, 3, 3), name="m.onnx"):
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Quant", ["x", "s", "z", "ab"], ["xq"], domain=QONNX, signed=1, narrow=0),
        helper.make_node("Quant", ["w", "s", "z", "wb"], ["wq"], domain=QONNX, signed=1, narrow=1),
        helper.make_node("Conv", ["xq", "wq"], ["y"], name="conv0", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    ]
    inits = {"w": rng.standard_normal(w_shape).astype(np.float32), "s": np.float32(scale), "z": np.float32(0),
             "ab": np.float32(a_bits), "wb": np.float32(w_bits)}
    return _save(tmp_path, nodes, inits, name)


def test_a_valid_hand_made_qonnx_loads_and_matches_numpy(tmp_path):
    """The helper model itself is fine (so the failures below are about what each test breaks)."""
    m = load(_quant_conv(tmp_path))
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    layer = m.layers[-1]
    assert (layer.w_bits, layer.a_bits) == (2, 4)
    # independent: fake-quantize with the QONNX formula, float64 conv by loops
    xq = np.clip(np.rint(x / np.float32(0.1)), -8, 7) * 0.1
    w = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    wq = np.clip(np.rint(w / np.float32(0.1)), -1, 1) * 0.1
    xp = np.pad(xq, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((2, 4, 6, 6))
    for i in range(6):
        for j in range(6):
            ref[:, :, i, j] = np.einsum("nchw,ochw->no", xp[:, :, i:i + 3, j:j + 3], wq)
    np.testing.assert_allclose(m.run(x), ref, atol=1e-5)


def test_truncated_files(tmp_path):
    src = open(os.path.join(FIX, "brevitas_mb_clean.onnx"), "rb").read()
    for cut in (1, 10, 100, len(src) // 3, len(src) // 2, len(src) - 7):
        p = tmp_path / f"t{cut}.onnx"
        p.write_bytes(src[:cut])
        with pytest.raises(FormatError):
            load(str(p))


def test_wrong_magic_and_empty(tmp_path):
    for name, data in (("a.onnx", b"\xff\xfe garbage \x00\x01" * 10), ("b.bin", b"hello world, not a model"),
                       ("c.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 40), ("d.onnx", b""),
                       ("e.npz", b"PK\x03\x04" + b"\x00" * 30), ("f.safetensors", (20).to_bytes(8, "little") + b"{x")):
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(FormatError):
            load(str(p))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(str(tmp_path / "nope.onnx"))


def test_unsupported_op_names_node_and_type(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Einsum", ["r"], ["y"], name="weird_node",
                                                                       equation="ij->ji")]
    with pytest.raises(FormatError, match=r"weird_node.*Einsum"):
        load(_save(tmp_path, nodes, {}))


def test_unknown_domain(tmp_path):
    nodes = [helper.make_node("Foo", ["x"], ["y"], name="n0", domain="my.domain")]
    with pytest.raises(FormatError, match="n0.*domain"):
        load(_save(tmp_path, nodes, {}))


def test_bit_width_the_packing_cannot_take(tmp_path):
    with pytest.raises(FormatError, match="12 bits"):
        load(_quant_conv(tmp_path, a_bits=12.0))
    with pytest.raises(FormatError, match="bitwidth"):
        load(_quant_conv(tmp_path, w_bits=2.5, name="b.onnx"))
    with pytest.raises(FormatError, match="bitwidth"):
        load(_quant_conv(tmp_path, w_bits=0.0, name="c.onnx"))


@pytest.mark.parametrize("scale", [0.0, float("nan"), float("inf")])
def test_zero_or_nan_scale(tmp_path, scale):
    with pytest.raises(FormatError, match="scale"):
        load(_quant_conv(tmp_path, scale=scale))


def test_inconsistent_shapes(tmp_path):
    with pytest.raises(FormatError, match="conv0"):
        load(_quant_conv(tmp_path, w_shape=(4, 5, 3, 3)))   # 5 input channels for a 3-channel input
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"], name="fc0")]
    with pytest.raises(FormatError, match="fc0"):
        load(_save(tmp_path, nodes, {"w": np.zeros((10, 7), np.float32)}, name="g.onnx"))


def test_absurd_padding_is_refused_not_allocated(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c", pads=[10 ** 8, 0, 0, 0])]
    with pytest.raises(FormatError, match="pads"):
        load(_save(tmp_path, nodes, {"w": np.zeros((2, 3, 1, 1), np.float32)}))


def _external_copy(tmp_path):
    m = onnx.load(os.path.join(FIX, "ort_qdq_s8.onnx"))
    p = tmp_path / "ext.onnx"
    onnx.save(m, str(p), save_as_external_data=True, all_tensors_to_one_file=True, location="ext.onnx.data",
              size_threshold=0)
    return p


def test_external_data_loads_like_inline(tmp_path):
    p = _external_copy(tmp_path)
    assert (tmp_path / "ext.onnx.data").stat().st_size > 1000
    d = np.load(os.path.join(FIX, "ort_io.npz"))
    np.testing.assert_array_equal(load(str(p)).run(d["x"]), load(os.path.join(FIX, "ort_qdq_s8.onnx")).run(d["x"]))


def test_external_data_outside_the_folder_or_missing(tmp_path):
    p = _external_copy(tmp_path)
    m = onnx.load(str(p), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../../etc/passwd"
    p.write_bytes(m.SerializeToString())
    with pytest.raises(FormatError, match="outside"):
        load(str(p))
    p = _external_copy(tmp_path)
    (tmp_path / "ext.onnx.data").unlink()
    with pytest.raises(FormatError, match="missing"):
        load(str(p))


def _mutations(data, rng, n):
    for _ in range(n):
        b = bytearray(data)
        kind = rng.integers(4)
        if kind == 0:                                   # flip bytes
            for _ in range(rng.integers(1, 8)):
                b[rng.integers(len(b))] = rng.integers(256)
        elif kind == 1:                                 # truncate
            b = b[:rng.integers(1, len(b))]
        elif kind == 2:                                 # insert junk
            i = rng.integers(len(b))
            b[i:i] = bytes(rng.integers(0, 256, rng.integers(1, 16)).astype(np.uint8))
        else:                                           # delete a span
            i = rng.integers(len(b))
            del b[i:i + rng.integers(1, 32)]
        yield bytes(b)


def _schema_graph():
    return {"format": "bitops-graph", "version": 1, "inputs": [{"name": "x", "shape": [1, 2, 4, 4]}],
         "outputs": ["y"], "layers": [
             {"op": "quant", "name": "q", "input": "x", "output": "xq", "bits": 2, "scale": 0.5},
             {"op": "conv", "name": "c", "input": "xq", "output": "y", "weight": "w", "padding": 1,
              "weight_quant": {"bipolar": True, "scale": 0.1}}]}


def _schema_file(tmp_path, name):
    """The same small schema model as .npz, .safetensors or a torch state dict."""
    import json

    g = json.dumps(_schema_graph())
    w = np.ones((3, 2, 3, 3), np.int8)
    p = tmp_path / name
    if name.endswith(".npz"):
        np.savez(p, __bitops_graph__=g, w=w)
    elif name.endswith(".safetensors"):
        st = pytest.importorskip("safetensors.numpy")
        st.save_file({"w": w}, str(p), metadata={"__bitops_graph__": g})
    else:
        torch = pytest.importorskip("torch")
        torch.save({"w": torch.from_numpy(w), "__bitops_graph__": g}, p)
    return str(p)


@pytest.mark.parametrize("fixture", ["brevitas_mb_clean.onnx", "ort_qdq_s8.onnx", "ort_qop.onnx",
                                     "brevitas_qcdq.onnx", "larq_mb.h5", "larq_mb.keras", "schema.npz",
                                     "schema.safetensors", "schema.pt"])
def test_fuzz_mutated_fixtures(tmp_path, fixture, monkeypatch):
    """Seeded, bounded: each mutant loads and runs, or raises FormatError; nothing else."""
    if fixture.startswith("larq"):
        pytest.importorskip("h5py")
        from bitops.io import keras

        # some damaged HDF5 files make the HDF5 library loop: the child reader is killed after this
        monkeypatch.setattr(keras, "HDF5_TIMEOUT_S", 3.0)
    src = _schema_file(tmp_path, fixture) if fixture.startswith("schema") else os.path.join(FIX, fixture)
    data = open(src, "rb").read()
    rng = np.random.default_rng(1234)
    deadline = time.monotonic() + 6.0
    outcomes = {"ok": 0, "format_error": 0}
    p = tmp_path / ("mut_" + fixture)
    for mutant in _mutations(data, rng, 400):
        if time.monotonic() > deadline:
            break
        p.write_bytes(mutant)
        try:
            m = load(str(p))
        except FormatError:
            outcomes["format_error"] += 1
            continue
        x = np.zeros((1,) + tuple(m.inputs[0][1][1:]), dtype=np.float32)
        if x.ndim == 4:
            x = x.transpose(0, 3, 1, 2)
        if m.source_layout == "NHWC":
            x = np.zeros((1,) + tuple(m.inputs[0][1][1:]), dtype=np.float32)
        with np.errstate(all="ignore"):
            m.run(x, backend="reference")
        outcomes["ok"] += 1
    assert outcomes["format_error"] > 0
    assert sum(outcomes.values()) >= 20


def test_regression_hdf5_file_that_makes_the_library_loop(monkeypatch):
    """Found by the fuzz test: a 1-byte-damaged larq_mb.h5 on which HDF5 never returns from an
    attribute read. The child reader is killed and the file reported, within the time limit."""
    pytest.importorskip("h5py")
    from bitops.io import keras

    monkeypatch.setattr(keras, "HDF5_TIMEOUT_S", 2.0)
    t0 = time.monotonic()
    with pytest.raises(FormatError, match="did not finish|died"):
        load(os.path.join(FIX, "bad", "hdf5_loops.h5"))
    assert time.monotonic() - t0 < 10
