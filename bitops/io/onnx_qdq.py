"""ONNX QDQ / QCDQ and QOperator graphs (onnxruntime quantize_static, PyTorch exporters).

- QuantizeLinear(x, s, z): q = saturate(round_half_even(x / s) + z) into the
  range of z's type (int8, uint8, int4, uint4, int16, uint16), per-tensor or
  per-channel along `axis`; DequantizeLinear(q, s, z): (q - z) * s. The
  com.microsoft domain and the opset-21 `output_dtype` forms mean the same.
- QCDQ: a Clip on the integer tensor between Q and DQ narrows the range, and
  so gives the real bit width (Brevitas exports 2..7-bit tensors this way).
- QOperator: QLinearConv / QLinearMatMul / QGemm take integer tensors and
  requantize their output; com.microsoft QLinearAdd and
  QLinearGlobalAveragePool run in float and requantize.

In the runtime a QuantizeLinear output is a QValue (codes + grid), so a
DequantizeLinear after it restates the grid and float consumers see the
dequantized value; a Conv whose input and weight both come through DQ runs on
the packed kernels.
"""
import numpy as np

from bitops.io.onnx_common import attrs_of, handles
from bitops.io.onnx_ops import OIHW_TO_OHWI, _check_weight_grid, _layout_weight, _pads
from bitops.model.layer import Layer
from bitops.model.quant import QuantSpec

INT_RANGES = {
    "int8": (-128, 127), "uint8": (0, 255), "int4": (-8, 7), "uint4": (0, 15),
    "int16": (-32768, 32767), "uint16": (0, 65535), "int2": (-2, 1), "uint2": (0, 3),
    "int32": (-(1 << 31), (1 << 31) - 1),
}
# TensorProto element types (for output_dtype).
ONNX_INT_TYPES = {2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 21: "uint4", 22: "int4",
                  25: "uint2", 26: "int2"}


def _range_of(b, node, arr, default="uint8"):
    if arr is None:
        name = default
    else:
        name = str(np.asarray(arr).dtype)
    if name not in INT_RANGES:
        raise b.error(node, f"integer type {name!r} is not supported (int8, uint8, int4, uint4, int16, uint16)")
    return INT_RANGES[name]


def _param_shape(b, node, arr, axis, rank, what):
    """A 1-D per-channel parameter -> broadcast shape along `axis` of a rank-`rank` tensor."""
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size == 1:
        return arr.reshape(()), None
    if arr.ndim != 1:
        raise b.error(node, f"{what} must be a scalar or 1-D (blocked quantization is not supported), got {arr.shape}")
    axis = axis % rank
    shape = [1] * rank
    shape[axis] = arr.size
    return arr.reshape(shape), axis


def _spec(b, node, scale_i, zp_i, rank, shape, axis, qrange=None, default="uint8"):
    scale = np.asarray(b.const(node, scale_i), dtype=np.float64)
    zp_raw = b.const(node, zp_i, required=False) if zp_i is not None else None
    a = attrs_of(node)
    if qrange is None:
        if zp_raw is None and "output_dtype" in a and a["output_dtype"]:
            t = ONNX_INT_TYPES.get(int(a["output_dtype"]))
            if t is None:
                raise b.error(node, f"output_dtype {a['output_dtype']} is not an integer type this loader takes")
            qrange = INT_RANGES[t]
        else:
            qrange = _range_of(b, node, zp_raw, default)
    zp = np.zeros(1) if zp_raw is None else np.asarray(zp_raw).astype(np.float64)
    if "block_size" in a and a["block_size"]:
        raise b.error(node, "blocked quantization (block_size) is not supported")
    s, ax = _param_shape(b, node, scale, axis, rank, "scale")
    z, zax = _param_shape(b, node, zp, axis, rank, "zero point")
    ax = ax if ax is not None else zax
    if ax is not None and shape is not None and shape[ax] not in (np.asarray(s).size, np.asarray(z).size):
        raise b.error(node, f"{max(s.size, z.size)} per-channel parameters along axis {ax} of a tensor {tuple(shape)}")
    if np.any(z < qrange[0]) or np.any(z > qrange[1]):
        raise b.error(node, f"zero point outside [{qrange[0]}, {qrange[1]}]")
    return QuantSpec(s, z, qrange[0], qrange[1], axis=ax, rounding="ROUND", name=node.input[0])


def _src_shape(b, name):
    s = b.samples[name].shape
    return tuple(s[i] for i in (0, 3, 1, 2)) if len(s) == 4 else s


@handles("QuantizeLinear")
def quantize_linear(b, node):
    axis = int(attrs_of(node).get("axis", 1))
    x = node.input[0]
    if b.is_const(x):
        w = np.asarray(b.const(node, 0), dtype=np.float64)
        spec = _spec(b, node, 1, 2, max(1, w.ndim), w.shape, axis)
        if not np.all(np.isfinite(w)):
            raise b.error(node, f"constant {x!r} has non-finite values")
        b.qconsts[node.output[0]] = (spec.quantize(w), spec)
        return
    x = b.dynamic(node, 0)
    spec = _spec(b, node, 1, 2, b.rank(x), _src_shape(b, x), axis)
    rspec = b.spec_to_runtime(spec, b.rank(x))
    layer = Layer(b.unique_name(node, "quant"), "quant", [x], [node.output[0]], out_spec=rspec,
                  attrs={"source_op": "QuantizeLinear"})
    b.add_layer(node, layer, act_out=rspec, int_out=True)


@handles("DequantizeLinear")
def dequantize_linear(b, node):
    axis = int(attrs_of(node).get("axis", 1))
    x = node.input[0]
    if b.is_const(x):
        if x in b.qconsts:
            q, prev = b.qconsts[x]
            qrange = (prev.qmin, prev.qmax)
        else:
            q = np.asarray(b.consts[x])
            if q.dtype.kind not in "iu" and str(q.dtype) not in INT_RANGES:
                raise b.error(node, f"input {x!r} must be an integer tensor, got {q.dtype}")
            qrange = b.const_ranges.get(x) or _range_of(b, node, q)
            q = q.astype(np.int64)
        spec = _spec(b, node, 1, 2, max(1, q.ndim), q.shape, axis, qrange=qrange)
        if q.size and (q.min() < spec.qmin or q.max() > spec.qmax):
            raise b.error(node, "integer values outside their type's range")
        b.qconsts[node.output[0]] = (q.astype(np.int64), spec)
        return
    x = b.dynamic(node, 0)
    src = b.act_specs.get(x)
    if x not in b.int_tensors or src is None:
        raise b.error(node, f"input {x!r} is not an integer tensor")
    spec = _spec(b, node, 1, 2, b.rank(x), _src_shape(b, x), axis, qrange=(src.qmin, src.qmax))
    rspec = b.spec_to_runtime(spec, b.rank(x))
    layer = Layer(b.unique_name(node, "dequant"), "dequant", [x], [node.output[0]], out_spec=rspec,
                  attrs={"source_op": "DequantizeLinear"})
    b.add_layer(node, layer, act_out=rspec)


def clip_int_const(b, node, lo, hi):
    """Clip on a constant integer tensor (a QCDQ weight before its DequantizeLinear): remember the range."""
    q = np.asarray(b.consts[node.input[0]])
    tlo, thi = b.const_ranges.get(node.input[0]) or _range_of(b, node, q)
    lo = tlo if lo is None else max(tlo, int(np.ceil(float(np.asarray(lo)))))
    hi = thi if hi is None else min(thi, int(np.floor(float(np.asarray(hi)))))
    if lo > hi:
        raise b.error(node, f"Clip range [{lo}, {hi}] is empty")
    b.consts[node.output[0]] = np.clip(q, lo, hi).astype(q.dtype)
    b.const_ranges[node.output[0]] = (lo, hi)


def clip_codes(b, node, lo, hi):
    """Clip on an integer tensor (QCDQ): the same grid with a narrower range."""
    x = node.input[0]
    lo = -np.inf if lo is None else float(np.asarray(lo))
    hi = np.inf if hi is None else float(np.asarray(hi))
    if x in b.qconsts:
        q, spec = b.qconsts[x]
        nspec = _narrow(b, node, spec, lo, hi)
        b.qconsts[node.output[0]] = (np.clip(q, nspec.qmin, nspec.qmax), nspec)
        return
    x = b.dynamic(node, 0)
    nspec = _narrow(b, node, b.act_specs[x], lo, hi)
    layer = Layer(b.unique_name(node, "quant"), "quant", [x], [node.output[0]], out_spec=nspec,
                  attrs={"source_op": "Clip"})
    b.add_layer(node, layer, act_out=nspec, int_out=True)


def _narrow(b, node, spec, lo, hi):
    qmin = max(spec.qmin, int(np.ceil(lo)))
    qmax = min(spec.qmax, int(np.floor(hi)))
    if qmin > qmax:
        raise b.error(node, f"Clip range [{lo}, {hi}] leaves no integer of [{spec.qmin}, {spec.qmax}]")
    return QuantSpec(spec.scale, spec.zero_point, qmin, qmax, spec.axis, spec.rounding, spec.bipolar, spec.name)


def _int_input(b, node, i, scale_i, zp_i):
    x = b.dynamic(node, i)
    src = b.act_specs.get(x)
    if x not in b.int_tensors or src is None:
        raise b.error(node, f"input {x!r} is not an integer tensor")
    spec = _spec(b, node, scale_i, zp_i, b.rank(x), _src_shape(b, x), 1, qrange=(src.qmin, src.qmax))
    if spec.per_channel:
        raise b.error(node, "per-channel activation quantization is not supported")
    return x, b.spec_to_runtime(spec, b.rank(x))


def _int_weight(b, node, i, scale_i, zp_i, axis):
    name = node.input[i]
    if name in b.qconsts:
        q = b.qconsts[name][0]
    elif name in b.consts and np.asarray(b.consts[name]).dtype.kind in "iu" or \
            name in b.consts and str(np.asarray(b.consts[name]).dtype) in INT_RANGES:
        q = np.asarray(b.consts[name])
    else:
        raise b.error(node, f"weight {name!r} must be a constant integer tensor")
    qrange = _range_of(b, node, q) if name not in b.qconsts else None
    q = q.astype(np.int64)
    spec = _spec(b, node, scale_i, zp_i, q.ndim, q.shape, axis, qrange=qrange or (b.qconsts[name][1].qmin,
                                                                                   b.qconsts[name][1].qmax))
    return q, spec


def _out_spec(b, node, scale_i, zp_i, rank):
    spec = _spec(b, node, scale_i, zp_i, rank, None, 1)
    if spec.per_channel:
        raise b.error(node, "per-channel output quantization is not supported")
    return spec


def _int_bias(b, node, i, xspec, wspec, n_out):
    if i >= len(node.input) or not node.input[i]:
        return None
    bias = np.asarray(b.const(node, i)).astype(np.float64).reshape(-1)
    if bias.size != n_out:
        raise b.error(node, f"bias has {bias.size} values for {n_out} outputs")
    return bias * xspec.scale.reshape(-1)[0] * wspec.channel_vector(wspec.scale, n_out)


@handles("QLinearConv")
def qlinear_conv(b, node):
    a = attrs_of(node)
    x, xspec = _int_input(b, node, 0, 1, 2)
    if b.rank(x) != 4:
        raise b.error(node, "only 2-D convolutions are supported")
    w, wspec = _int_weight(b, node, 3, 4, 5, 0)
    if w.ndim != 4:
        raise b.error(node, f"weight must be 4-D OIHW, got {w.shape}")
    w, wspec = _layout_weight(w, wspec, OIHW_TO_OHWI)
    _check_weight_grid(b, node, wspec, w.shape[0])
    kh, kw = w.shape[1:3]
    stride = tuple(a.get("strides", (1, 1)))
    dilation = tuple(a.get("dilations", (1, 1)))
    groups = int(a.get("group", 1))
    n, h, wd, c = b.samples[x].shape
    if groups < 1 or c % groups or w.shape[3] * groups != c or w.shape[0] % groups:
        raise b.error(node, f"weight {w.shape} (OHWI) and group={groups} do not fit {c} input channels")
    pads = _pads(b, node, a, (h, wd), (kh, kw), stride, dilation)
    yspec = b.spec_to_runtime(_out_spec(b, node, 6, 7, 4), 4)
    layer = Layer(b.unique_name(node, "conv"), "conv", [x], [node.output[0]], kernel=(kh, kw), stride=stride,
                  padding=pads, dilation=dilation, groups=groups, weight=w, weight_spec=wspec,
                  bias=_int_bias(b, node, 8, xspec, wspec, w.shape[0]), act_spec=xspec, out_spec=yspec,
                  attrs={"source_op": "QLinearConv"})
    b.add_layer(node, layer, act_out=yspec, int_out=True)


@handles("QLinearMatMul")
def qlinear_matmul(b, node):
    x, xspec = _int_input(b, node, 0, 1, 2)
    w, wspec = _int_weight(b, node, 3, 4, 5, 1)
    if w.ndim != 2:
        raise b.error(node, f"weight must be 2-D, got {w.shape}")
    w, wspec = _layout_weight(w, wspec, (1, 0))
    _qfc(b, node, x, xspec, w, wspec, None, _out_spec(b, node, 6, 7, 2), 1.0)


@handles("QGemm")
def qgemm(b, node):
    a = attrs_of(node)
    if a.get("transA", 0):
        raise b.error(node, "transA=1 is not supported")
    x, xspec = _int_input(b, node, 0, 1, 2)
    w, wspec = _int_weight(b, node, 3, 4, 5, 0 if a.get("transB", 0) else 1)
    if w.ndim != 2:
        raise b.error(node, f"weight must be 2-D, got {w.shape}")
    w, wspec = _layout_weight(w, wspec, (0, 1) if a.get("transB", 0) else (1, 0))
    bias = _int_bias(b, node, 6, xspec, wspec, w.shape[0])
    yspec = _out_spec(b, node, 7, 8, 2) if len(node.input) > 7 and node.input[7] else None
    _qfc(b, node, x, xspec, w, wspec, bias, yspec, float(a.get("alpha", 1.0)))


def _qfc(b, node, x, xspec, w, wspec, bias, yspec, alpha):
    _check_weight_grid(b, node, wspec, w.shape[0])
    if b.samples[x].shape[-1] != w.shape[1]:
        raise b.error(node, f"input has {b.samples[x].shape[-1]} features, weight expects {w.shape[1]}")
    if bias is not None and alpha != 1.0:
        bias = bias / alpha
    layer = Layer(b.unique_name(node, "fc"), "fc", [x], [node.output[0]], weight=w, weight_spec=wspec, bias=bias,
                  act_spec=xspec, out_spec=yspec, attrs={"alpha": alpha, "source_op": node.op_type})
    b.add_layer(node, layer, act_out=yspec, int_out=yspec is not None)


@handles("QLinearAdd", "QLinearMul")
def qlinear_binary(b, node):
    xa, _ = _int_input(b, node, 0, 1, 2)
    xb = node.input[3]
    op = "add" if node.op_type == "QLinearAdd" else "mul"
    attrs = {}
    ins = [xa]
    if xb in b.samples:
        _int_input(b, node, 3, 4, 5)
        ins.append(xb)
    else:
        q, spec = _int_weight(b, node, 3, 4, 5, 1)
        attrs["const1"] = b.to_runtime_layout(spec.dequantize(q, np.float64), b.rank(xa))
        ins.append("")
    mid = node.output[0] + "__float"
    b.add_layer(node, Layer(b.unique_name(node, op), op, ins, [mid], attrs=attrs))
    _requant(b, node, mid, 6, 7)


@handles("QLinearGlobalAveragePool")
def qlinear_gap(b, node):
    if attrs_of(node).get("channels_last", 0):
        raise b.error(node, "channels_last=1 is not supported")
    x, _ = _int_input(b, node, 0, 1, 2)
    mid = node.output[0] + "__float"
    b.add_layer(node, Layer(b.unique_name(node, "gap"), "gap", [x], [mid]))
    _requant(b, node, mid, 3, 4)


def _requant(b, node, mid, scale_i, zp_i):
    rank = b.samples[mid].ndim
    yspec = b.spec_to_runtime(_out_spec(b, node, scale_i, zp_i, rank), rank)
    layer = Layer(b.unique_name(node, "quant"), "quant", [mid], [node.output[0]], out_spec=yspec,
                  attrs={"source_op": node.op_type})
    b.add_layer(node, layer, act_out=yspec, int_out=True)


def _via_float(b, node, std_op, data_inputs, scale_i, zp_i, **attrs):
    """A com.microsoft QLinear op as its standard float op on dequantized inputs, then requantized."""
    from onnx import helper

    from bitops.io.onnx_common import HANDLERS

    for i in data_inputs:
        _int_input(b, node, i, i + 1, i + 2)
    mid = node.output[0] + "__float"
    keep = {a.name: a for a in node.attribute if a.name != "channels_last"}
    if attrs_of(node).get("channels_last", 0):
        raise b.error(node, "channels_last=1 is not supported")
    std = helper.make_node(std_op, [node.input[i] for i in data_inputs], [mid], name=node.name, **attrs)
    for name, a in keep.items():
        if name not in attrs:
            std.attribute.append(a)
    HANDLERS[std_op](b, std)
    _requant(b, node, mid, scale_i, zp_i)


@handles("QLinearSigmoid")
def qlinear_sigmoid(b, node):
    _via_float(b, node, "Sigmoid", [0], 3, 4)


@handles("QLinearSoftmax")
def qlinear_softmax(b, node):
    keep = {k: v for k, v in attrs_of(node).items() if k == "axis"}
    node_attrs = [a for a in node.attribute if a.name == "axis"]
    del node.attribute[:]
    node.attribute.extend(node_attrs)
    _via_float(b, node, "Softmax", [0], 3, 4, **({} if keep else {"axis": -1}))


@handles("QLinearAveragePool")
def qlinear_avgpool(b, node):
    _via_float(b, node, "AveragePool", [0], 3, 4)


@handles("QLinearConcat")
def qlinear_concat(b, node):
    n = (len(node.input) - 2) // 3
    if n < 1 or len(node.input) != 2 + 3 * n:
        raise b.error(node, "expects Y_scale, Y_zero_point and (X, scale, zero point) triples")
    _via_float(b, node, "Concat", [2 + 3 * i for i in range(n)], 0, 1)
