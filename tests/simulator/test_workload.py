"""Workloads from YAML, from a duck-typed model, from ONNX shapes; built-ins."""
from types import SimpleNamespace

import numpy as np
import pytest

from simulator import Workload, workloads

NET = {
    "name": "example",
    "layers": [
        {"name": "conv0", "op": "conv", "in": [32, 32, 3], "out_channels": 64, "kernel": 3, "stride": 1,
         "padding": 0, "w_bits": 1, "a_bits": 1},
        {"name": "fc0", "op": "fc", "in_features": 256, "out_features": 512, "w_bits": 2, "a_bits": 2},
    ],
}


def test_design_example_shapes_by_hand():
    wl = Workload.from_dict(NET)
    conv, fc = wl.layers
    assert (conv.out_h, conv.out_w, conv.k) == (30, 30, 27)
    assert conv.macs == 64 * 27 * 30 * 30
    assert fc.macs == 256 * 512 and (fc.w_bits, fc.a_bits) == (2, 2)


def test_pairs_padding_stride_dilation_groups_batch():
    wl = Workload.from_dict({"batch": 4, "layers": [
        {"name": "c", "op": "conv", "in": [15, 9, 8], "out_channels": 16, "kernel": [3, 1],
         "stride": [2, 1], "padding": [1, 0], "dilation": [2, 1], "groups": 4}]})
    layer = wl.layers[0]
    # H: (15 + 2 - 2*(3-1) - 1) // 2 + 1 = 7; W: (9 - 1) // 1 + 1 = 9
    assert (layer.out_h, layer.out_w, layer.k, layer.pixels) == (7, 9, 3 * 1 * 2, 4 * 7 * 9)


@pytest.mark.parametrize("patch, key", [
    ({"kernel": 0}, "kernel"), ({"bogus": 1}, "bogus"), ({"groups": 5}, "groups"),
    ({"in": [2, 2, 3], "kernel": 5}, "kernel"), ({"out_channels": -4}, "out_c"),
])
def test_bad_layers_raise_naming_layer_and_key(patch, key):
    layer = {**NET["layers"][0], **patch}
    with pytest.raises(ValueError, match=f"conv0.*{key}|{key}.*conv0"):
        Workload.from_dict({"layers": [layer]})


def test_bits_override_forms():
    wl = Workload.from_dict(NET)
    assert [(l.w_bits, l.a_bits) for l in wl.with_bits((3, 4)).layers] == [(3, 4), (3, 4)]
    assert [(l.w_bits, l.a_bits) for l in wl.with_bits({"fc0": (1, 5)}).layers] == [(1, 1), (1, 5)]
    with pytest.raises(ValueError, match="nope"):
        wl.with_bits({"nope": (1, 1)})


# Published multiply-accumulate counts (torchvision model docs: GFLOPS counted as MACs; MobileNet-V2 paper).
PUBLISHED_MACS = {"resnet18": 1.814e9, "resnet50": 4.089e9, "mobilenet-v2": 300e6}


@pytest.mark.parametrize("name", sorted(PUBLISHED_MACS))
def test_builtin_workloads_match_published_macs(name):
    assert workloads.get(name).macs == pytest.approx(PUBLISHED_MACS[name], rel=0.01)


def test_builtin_cnv_shapes():
    wl = workloads.get("cnv-cifar10")
    assert [l.out_h for l in wl.layers if l.op == "conv"] == [30, 28, 12, 10, 3, 1]
    assert wl.layers[-1].out_c == 10


def test_from_model_duck_typed():
    conv = SimpleNamespace(name="c1", op="conv", in_shape=(2, 16, 16, 8), out_shape=(2, 8, 8, 32), kernel=(3, 3),
                           stride=(2, 2), padding=(1, 1, 0, 0), dilation=(1, 1), groups=1, w_bits=2, a_bits=None,
                           macs=0)
    pool = SimpleNamespace(name="p", op="maxpool", in_shape=(2, 8, 8, 32), out_shape=(2, 4, 4, 32))
    fc = SimpleNamespace(name="f", op="fc", in_shape=(2, 512), out_shape=(2, 10), kernel=(1, 1), stride=(1, 1),
                         padding=(0, 0, 0, 0), dilation=(1, 1), groups=1, w_bits=1, a_bits=1, macs=0)
    wl = Workload.from_model(SimpleNamespace(layers=[conv, pool, fc]))
    c, f = wl.layers
    # H: (16 + 1 + 0 - 3) // 2 + 1 = 8
    assert (c.out_h, c.out_w, c.batch, c.a_bits, c.w_bits) == (8, 8, 2, 8, 2)
    assert (f.k, f.out_c, f.pixels) == (512, 10, 2)


def test_from_onnx_shapes_and_qonnx_bits(tmp_path):
    from onnx import TensorProto, helper, numpy_helper, save

    w = numpy_helper.from_array(np.zeros((16, 3, 3, 3), np.float32), "w")
    fw = numpy_helper.from_array(np.zeros((10, 16 * 4 * 4), np.float32), "fw")
    consts = [numpy_helper.from_array(np.array(v, np.float32), n)
              for n, v in (("s", 1.0), ("z", 0.0), ("b2", 2.0))]
    nodes = [
        helper.make_node("Quant", ["w", "s", "z", "b2"], ["wq"], domain="qonnx.custom_op.general",
                         signed=1, narrow=0, rounding_mode="ROUND"),
        helper.make_node("Conv", ["x", "wq"], ["y"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["y"], ["yf"]),
        helper.make_node("Gemm", ["yf", "fw"], ["out"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 10])],
                              initializer=[w, fw] + consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 1)])
    path = tmp_path / "net.onnx"
    save(model, path)
    wl = Workload.from_onnx(path)
    conv, fc = wl.layers
    assert (conv.in_h, conv.in_c, conv.out_c, conv.out_h, conv.w_bits, conv.a_bits) == (8, 3, 16, 4, 2, 8)
    assert (fc.k, fc.out_c) == (256, 10)


def test_from_model_with_the_bitops_loader():
    io = pytest.importorskip("bitops.io")
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bitops" / "model" / "data" / "digits_mb.onnx"
    if not path.exists():
        pytest.skip("shipped example model not present")
    model = io.load(str(path))
    wl = Workload.from_model(model)
    compute = [l for l in model.layers if l.op in ("conv", "fc")]
    assert [l.name for l in wl.layers] == [l.name for l in compute]
    # the loader computes MACs on its own, from its shapes
    assert [l.macs for l in wl.layers] == [l.macs for l in compute]
    assert [(l.w_bits, l.a_bits) for l in wl.layers] == [(l.w_bits or 8, l.a_bits or 8) for l in compute]
    assert wl.name == "digits_mb"


def test_from_model_rejects_a_conv_without_nhwc_shape():
    bad = SimpleNamespace(name="c", op="conv", in_shape=(1, 8, 8), out_shape=(1, 8, 8, 4), kernel=3, stride=1,
                          padding=1, dilation=1, groups=1, w_bits=1, a_bits=1)
    with pytest.raises(ValueError, match="'c'.*NHWC"):
        Workload.from_model(SimpleNamespace(layers=[bad]))
