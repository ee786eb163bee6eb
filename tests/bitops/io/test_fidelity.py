"""Exports made by the real trainers run to the trainers' own outputs.

Stored oracle outputs sit beside each fixture (tests/fixtures/make_*.py made
both); where the oracle is installed (qonnx, onnxruntime) it is also run live.
"""
import os

import numpy as np
import pytest

from bitops.io import load

FIX = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))

CASES = [
    # (model, io file, oracle key)
    ("brevitas_mb.onnx", "brevitas_mb_io.npz", "y_qonnx"),
    ("brevitas_mb_clean.onnx", "brevitas_mb_io.npz", "y_qonnx"),
    ("brevitas_qcdq.onnx", "brevitas_qcdq_io.npz", "y_ort"),
    ("brevitas_res.onnx", "brevitas_res_io.npz", "y_qonnx"),
    ("ort_qdq_s8.onnx", "ort_io.npz", "y_ort_qdq_s8"),
    ("ort_qdq_u8.onnx", "ort_io.npz", "y_ort_qdq_u8"),
    ("ort_qdq_int4.onnx", "ort_io.npz", "y_ort_qdq_int4"),
    ("ort_qdq_int4_act.onnx", "ort_io.npz", "y_ort_qdq_int4_act"),
    ("ort_qdq_contrib.onnx", "ort_io.npz", "y_ort_qdq_contrib"),
    ("ort_qop.onnx", "ort_io.npz", "y_ort_qop"),
    ("ort_qop_s8.onnx", "ort_io.npz", "y_ort_qop_s8"),
    ("ort_mix_qdq.onnx", "ort_io.npz", "y_ort_mix_qdq"),
    ("ort_mix_qop.onnx", "ort_io.npz", "y_ort_mix_qop"),
]


def _fx(name):
    return os.path.join(FIX, name)


@pytest.mark.parametrize("backend", ["kernels", "reference"])
@pytest.mark.parametrize("model,io,key", CASES)
def test_matches_stored_trainer_output(model, io, key, backend):
    d = np.load(_fx(io))
    m = load(_fx(model))
    y = m.run(d["x"], backend=backend)
    ref = d[key]
    assert y.shape == ref.shape
    # float rounding of float32 math: a few ulps of the output's magnitude
    np.testing.assert_allclose(y, ref, rtol=0, atol=2e-6 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("model,io", [("brevitas_mb.onnx", "brevitas_mb_io.npz"),
                                      ("brevitas_res.onnx", "brevitas_res_io.npz"),
                                      ("brevitas_qcdq.onnx", "brevitas_qcdq_io.npz")])
def test_matches_the_brevitas_module_itself(model, io):
    """Not only the export oracle: the PyTorch module's own forward pass (stored by the fixture script)."""
    d = np.load(_fx(io))
    ref = d["y_brevitas"]
    y = load(_fx(model)).run(d["x"])
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


def test_brevitas_every_intermediate_matches_qonnx_context():
    """Not only the output: each tensor qonnx's executor computed that our graph also holds."""
    d = np.load(_fx("brevitas_mb_io.npz"))
    m = load(_fx("brevitas_mb.onnx"))
    tr = m.trace(d["x"][:1])
    checked = 0
    for key in d.files:
        if not key.startswith("ctx/"):
            continue
        name = key[4:]
        if name in tr:
            ref = d[key][:1]
            np.testing.assert_allclose(tr[name], ref, rtol=0, atol=2e-6 * max(1.0, float(np.abs(ref).max())),
                                       err_msg=name)
            checked += 1
    assert checked >= 10


def test_brevitas_layers_and_bits():
    m = load(_fx("brevitas_mb.onnx"))
    convs = [layer for layer in m.layers if layer.op == "conv"]
    assert [(c.w_bits, c.a_bits) for c in convs] == [(2, 4), (1, 1), (2, 2)]
    assert [c.quantized for c in convs] == [True, True, True]
    assert convs[0].in_shape == (1, 10, 10, 3) and convs[0].out_shape == (1, 10, 10, 8)
    assert convs[0].kernel == (3, 3) and convs[0].padding == (1, 1, 1, 1)
    assert convs[2].stride == (2, 2) and convs[2].weight_scale.size == 16     # per-channel
    assert convs[0].macs == 10 * 10 * 8 * 3 * 3 * 3
    assert convs[0].binary_ops == convs[0].macs * 2 * 4
    assert convs[0].weight.shape == (8, 3, 3, 3)                                  # OHWI
    assert convs[0].weight.dtype.kind == "i"
    fc = m.layers[-1]
    assert fc.op == "fc" and fc.weight.shape == (10, 16) and (fc.w_bits, fc.a_bits) == (2, 4)
    # weights decode to the grid: q in range and real = s (q - z)
    for c in convs:
        assert c.weight.min() >= c.weight_spec.qmin and c.weight.max() <= c.weight_spec.qmax


def test_brevitas_residual_layers():
    m = load(_fx("brevitas_res.onnx"))
    packed = [(layer.op, layer.w_bits, layer.a_bits, layer.groups) for layer in m.layers if layer.op in ("conv", "fc")]
    # the fc reads the Trunc (TruncAvgPool) output, which lies on a 4-bit grid
    assert packed == [("conv", 3, 4, 1), ("conv", 4, 4, 8), ("conv", 2, 3, 1), ("fc", 2, 4, 1)]
    assert any(layer.op == "trunc" for layer in m.layers) and any(layer.op == "add" for layer in m.layers)
    assert not any(layer.op == "batchnorm" for layer in load(_fx("brevitas_mb.onnx")).layers)   # folded


def test_qcdq_clip_gives_the_bit_width():
    m = load(_fx("brevitas_qcdq.onnx"))
    conv = [layer for layer in m.layers if layer.op == "conv"][0]
    fc = [layer for layer in m.layers if layer.op == "fc"][0]
    assert (conv.w_bits, conv.a_bits) == (3, 4)
    assert (fc.w_bits, fc.a_bits) == (4, 4)


def test_ort_int4_weights_are_4_bit():
    m = load(_fx("ort_qdq_int4.onnx"))
    assert {layer.w_bits for layer in m.quantized_layers} == {4}
    assert {layer.a_bits for layer in m.quantized_layers} == {8}


def test_int4_activations_and_contrib_domain_bits():
    m = load(_fx("ort_qdq_int4_act.onnx"))
    assert {(layer.w_bits, layer.a_bits) for layer in m.quantized_layers} == {(4, 4)}
    m = load(_fx("ort_qdq_contrib.onnx"))
    assert {(layer.w_bits, layer.a_bits) for layer in m.quantized_layers} == {(4, 8)}
    assert all(not layer.weight_spec.signed for layer in m.quantized_layers)        # uint4


def test_batch_larger_than_export():
    d = np.load(_fx("ort_io.npz"))
    m = load(_fx("ort_qdq_s8.onnx"))
    y_all = m.run(d["x"])
    y_one = np.concatenate([m.run(d["x"][i:i + 1]) for i in range(len(d["x"]))])
    np.testing.assert_array_equal(y_all, y_one)


def _naive_conv_int(xq, wq, stride, pads):
    """Independent integer convolution: plain loops over output pixels, int64."""
    t, l, b, r = pads
    xp = np.pad(xq, ((0, 0), (t, b), (l, r), (0, 0)))
    n, h, w, c = xp.shape
    o, kh, kw, _ = wq.shape
    oh, ow = (h - kh) // stride[0] + 1, (w - kw) // stride[1] + 1
    out = np.zeros((n, oh, ow, o), dtype=np.int64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw, :].astype(np.int64)
            out[:, i, j, :] = np.einsum("nhwc,ohwc->no", patch, wq.astype(np.int64))
    return out


def test_integer_accumulators_match_trainer_codes_exactly():
    """Each quantized conv: the packed kernels' integer accumulator, from the trainer's own integer
    activations (qonnx's context divided by the scale), equals plain integer convolution."""
    from bitops.model import kernels

    if not kernels.kernels_available():
        pytest.skip("packed kernels not built")
    d = np.load(_fx("brevitas_mb_io.npz"))
    m = load(_fx("brevitas_mb.onnx"))
    tr = m.trace(d["x"], backend="reference")
    n_checked = 0
    for layer in m.quantized_layers:
        if layer.op != "conv":
            continue
        x_real = tr[layer.inputs[0]].transpose(0, 2, 3, 1)                 # NCHW -> NHWC
        ctx_key = "ctx/" + layer.inputs[0]
        if ctx_key in d.files:
            x_real = d[ctx_key].transpose(0, 2, 3, 1)
        xs = layer.act_spec
        codes = np.rint(x_real / xs.scale.reshape(-1)[0] + xs.zero_point.reshape(-1)[0]).astype(np.int64)
        if xs.bipolar:
            codes = np.where(x_real >= 0, 1, -1)
        acc = kernels.accumulators(codes, xs, layer.weight, layer.weight_spec, layer.stride, layer.padding,
                                   layer.dilation)
        xi = codes if xs.bipolar else codes - int(xs.zero_point.reshape(-1)[0])
        wi = layer.weight if layer.weight_spec.bipolar else layer.weight - layer.weight_spec.zero_point.astype(int)
        expect = _naive_conv_int(xi, wi, layer.stride, layer.padding)
        np.testing.assert_array_equal(acc, expect, err_msg=layer.name)
        n_checked += 1
    assert n_checked == 3


# -- live oracles (installed in CI by .ci/install-trainers.sh) -------------------------------------
def test_live_qonnx_executor_on_fixture():
    pytest.importorskip("qonnx")
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    rng = np.random.default_rng(7)
    from qonnx.util.cleanup import cleanup_model

    for name, shape in (("brevitas_mb.onnx", (1, 3, 10, 10)), ("brevitas_mb_clean.onnx", (1, 3, 10, 10)),
                        ("brevitas_res.onnx", (1, 3, 8, 8))):
        x = rng.standard_normal(shape).astype(np.float32) * 2
        w = cleanup_model(ModelWrapper(_fx(name)))
        ref = execute_onnx(w, {w.graph.input[0].name: x})[w.graph.output[0].name]
        y = load(_fx(name)).run(x)
        np.testing.assert_allclose(y, ref, rtol=0, atol=2e-6 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("name", ["ort_qdq_s8.onnx", "ort_qdq_u8.onnx", "ort_qdq_int4.onnx", "ort_qop.onnx",
                                  "ort_qdq_int4_act.onnx", "ort_qdq_contrib.onnx",
                                  "ort_qop_s8.onnx", "brevitas_qcdq.onnx", "ort_mix_qdq.onnx", "ort_mix_qop.onnx"])
def test_live_onnxruntime_on_fixture(name):
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(_fx(name), so, providers=["CPUExecutionProvider"])
    shape = [d if isinstance(d, int) else 1 for d in s.get_inputs()[0].shape]
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    ref = s.run(None, {s.get_inputs()[0].name: x})[0]
    y = load(_fx(name)).run(x)
    np.testing.assert_allclose(y, ref, rtol=0, atol=2e-6 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("version", [1, 2])
def test_live_qonnx_trunc_versions(tmp_path, version):
    """Trunc v1 (x, scale, zeropt, in_bits, out_bits) and v2 (..., out_scale, out_bits) against qonnx."""
    pytest.importorskip("qonnx")
    from onnx import TensorProto, helper, numpy_helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    q = "qonnx.custom_op.general"
    inits = {"s": np.float32(0.125), "z": np.float32(0), "ib": np.float32(8), "ob": np.float32(4),
             "os": np.float32(0.5), "qb": np.float32(8)}
    tin = ["xq", "s", "z", "ib", "ob"] if version == 1 else ["xq", "s", "z", "ib", "os", "ob"]
    nodes = [helper.make_node("Quant", ["x", "s", "z", "qb"], ["xq"], domain=q, signed=1, narrow=0),
             helper.make_node("Trunc", tin, ["y"], domain=q, rounding_mode="FLOOR")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 3])],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    path = str(tmp_path / "t.onnx")
    import onnx

    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(q, version)]),
              path)
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 3)).astype(np.float32) * 8
    w = cleanup_model(ModelWrapper(path))
    ref = execute_onnx(w, {w.graph.input[0].name: x})[w.graph.output[0].name]
    np.testing.assert_array_equal(load(path).run(x), ref)
