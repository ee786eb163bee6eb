"""Quantized conv paths of the runtime (packed kernels and numpy fallbacks) against loop arithmetic.

Hand-built QDQ graphs: uint8 activations with a non-zero zero point (so real-zero padding is not
code zero), asymmetric pads, strides, groups, an explicit Pad node, per-channel int8 weights.
"""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from bitops.io import load  # noqa: E402
from tests.bitops.reference import conv2d_nhwc  # noqa: E402


@pytest.mark.parametrize("groups,pads,stride,explicit_pad", [
    (1, (1, 0, 2, 1), 1, False),
    (1, (1, 1, 1, 1), 2, False),
    (2, (0, 1, 1, 0), 1, False),
    (1, (2, 1, 0, 1), 1, True),
])
def test_qdq_conv_matches_loop_math(tmp_path, groups, pads, stride, explicit_pad):
    rng = np.random.default_rng(groups * 10 + stride)
    c, o = 4, 6
    w_q = rng.integers(-8, 8, (o, c // groups, 3, 3)).astype(np.int8)
    w_s = np.linspace(0.02, 0.07, o).astype(np.float32)
    x_s, x_z = np.float32(0.05), np.uint8(37)
    inits = {"xs": x_s, "xz": x_z, "wq": w_q, "ws": w_s, "wz": np.zeros(o, np.int8),
             "bias": rng.standard_normal(o).astype(np.float32)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0)]
    conv_in, conv_pads = "xd", list(pads)
    if explicit_pad:
        t, l, b, r = pads
        inits["pads"] = np.array([0, 0, t, l, 0, 0, b, r], np.int64)
        nodes.append(helper.make_node("Pad", ["xd", "pads"], ["xp"], mode="constant"))
        conv_in, conv_pads = "xp", [0, 0, 0, 0]
    nodes.append(helper.make_node("Conv", [conv_in, "wd", "bias"], ["y"], kernel_shape=[3, 3], pads=conv_pads,
                                  strides=[stride, stride], group=groups))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 7, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    path = tmp_path / "m.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    m = load(str(path))
    conv = [layer for layer in m.layers if layer.op == "conv"][0]
    assert conv.quantized and conv.w_bits == 8 and conv.a_bits == 8     # the int8 type, not the values, sets the width

    x = rng.standard_normal((2, c, 7, 6)).astype(np.float32)
    # independent: ONNX QuantizeLinear by its definition, float64 loops
    xq = np.clip(np.rint(x / x_s) + 37, 0, 255)
    xd = (xq - 37) * np.float64(x_s)
    wd = w_q.astype(np.float64) * w_s.astype(np.float64)[:, None, None, None]
    # the reference is NHWC x OHWI; the ONNX graph is NCHW x OIHW
    ref = conv2d_nhwc(xd.transpose(0, 2, 3, 1), wd.transpose(0, 2, 3, 1), (stride, stride), pads, (1, 1),
                      groups=groups).transpose(0, 3, 1, 2)
    ref = ref + inits["bias"].astype(np.float64)[None, :, None, None]
    for backend in ("kernels", "reference"):
        np.testing.assert_allclose(m.run(x, backend=backend), ref, rtol=0, atol=1e-5, err_msg=backend)
