"""Handlers for the standard ONNX operators (float graph structure).

Conv / Gemm / MatMul become 'conv' / 'fc' layers; when their weight is a
quantized constant and their input a quantized tensor they run on the packed
kernels. Weights move to the kernels' layout here, once: OIHW -> OHWI,
Gemm/MatMul -> (N, K).
"""
import numpy as np

from bitops.io.onnx_common import attrs_of, handles
from bitops.model.layer import Layer
from bitops.model.quant import QuantSpec
from bitops.model.runtime import TO_NCHW, TO_NHWC

OIHW_TO_OHWI = (0, 2, 3, 1)


def weight_of(b, node, i):
    """(array, spec): integer codes + grid for a quantized weight, float array + None otherwise."""
    name = node.input[i]
    if name in b.qconsts:
        q, spec = b.qconsts[name]
        return q, spec
    if name in b.consts:
        return np.asarray(b.consts[name], dtype=np.float64), None
    raise b.error(node, f"weight input {name!r} is computed at run time; only constant weights are supported")


def bias_of(b, node, i, n_out):
    if i >= len(node.input) or not node.input[i]:
        return None
    v = np.asarray(b.const(node, i), dtype=np.float64).reshape(-1)
    if v.size == 1 and n_out > 1:
        v = np.full(n_out, v[0])
    if v.size != n_out:
        raise b.error(node, f"bias has {v.size} values for {n_out} output channels")
    return v


def _layout_weight(q, spec, perm):
    q = np.ascontiguousarray(q.transpose(perm))
    if spec is None:
        return q, None
    if spec.scale.ndim not in (0, len(perm)) and spec.scale.size > 1:
        raise ValueError("weight scale must be per-tensor or broadcast to the weight's rank")
    s, z = spec.scale, spec.zero_point
    s = s.reshape((1,) * (len(perm) - s.ndim) + s.shape) if s.ndim < len(perm) else s
    z = z.reshape((1,) * (len(perm) - z.ndim) + z.shape) if z.ndim < len(perm) else z
    spec = QuantSpec(s, z, spec.qmin, spec.qmax, spec.axis, spec.rounding, spec.bipolar, spec.name)
    return q, spec.with_layout(perm)


def _check_weight_grid(b, node, spec, n_out):
    if spec is None:
        return
    for arr in (spec.scale, spec.zero_point):
        if arr.size > 1:
            nz = [d for d in range(arr.ndim) if arr.shape[d] > 1]
            if nz != [0] or arr.shape[0] != n_out:
                raise b.error(node, f"weight scale/zero point of shape {arr.shape} is not per-output-channel")
    if spec.axis not in (None, 0):
        spec.axis = 0


@handles("Conv")
def conv(b, node):
    a = attrs_of(node)
    x = b.dynamic(node, 0)
    if b.rank(x) != 4:
        raise b.error(node, f"only 2-D convolutions are supported (input rank {b.rank(x)})")
    w, wspec = weight_of(b, node, 1)
    if w.ndim != 4:
        raise b.error(node, f"weight must be 4-D OIHW, got shape {w.shape}")
    try:
        w, wspec = _layout_weight(w, wspec, OIHW_TO_OHWI)
    except ValueError as exc:
        raise b.error(node, str(exc)) from exc
    _check_weight_grid(b, node, wspec, w.shape[0])
    kh, kw = w.shape[1:3]
    ks = tuple(a.get("kernel_shape", (kh, kw)))
    if ks != (kh, kw):
        raise b.error(node, f"kernel_shape {ks} does not match the weight's {(kh, kw)}")
    stride = tuple(a.get("strides", (1, 1)))
    dilation = tuple(a.get("dilations", (1, 1)))
    groups = int(a.get("group", 1))
    n, h, wd, c = b.samples[x].shape
    if groups < 1 or c % groups or w.shape[0] % groups or w.shape[3] * groups != c:
        raise b.error(node, f"weight {w.shape} (OHWI) and group={groups} do not fit {c} input channels")
    pads = _pads(b, node, a, (h, wd), (kh, kw), stride, dilation)
    layer = Layer(b.unique_name(node, "conv"), "conv", [x], [node.output[0]], kernel=(kh, kw), stride=stride,
                  padding=pads, dilation=dilation, groups=groups, weight=w, weight_spec=wspec,
                  bias=bias_of(b, node, 2, w.shape[0]), act_spec=b.act_specs.get(x))
    b.add_layer(node, layer)


MAX_PAD = 1024


def _check_geometry(b, node, k, stride, dilation):
    for what, v in (("kernel_shape", k), ("strides", stride), ("dilations", dilation)):
        if len(v) != 2 or min(v) < 1 or max(v) > MAX_PAD:
            raise b.error(node, f"{what} {tuple(v)} must be two integers in [1, {MAX_PAD}]")


def _pads(b, node, a, hw, k, stride, dilation):
    _check_geometry(b, node, k, stride, dilation)
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        p = tuple(int(v) for v in a.get("pads", (0, 0, 0, 0)))
        if len(p) != 4 or min(p) < 0 or max(p) > MAX_PAD:
            raise b.error(node, f"pads {p} must be four values in [0, {MAX_PAD}]")
        return p[0], p[1], p[2], p[3]
    if auto == "VALID":
        return 0, 0, 0, 0
    out = []
    for size, kk, s, d in zip(hw, k, stride, dilation):
        o = -(-size // s)
        total = max(0, (o - 1) * s + (kk - 1) * d + 1 - size)
        lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
        out.append((lo, total - lo))
    return out[0][0], out[1][0], out[0][1], out[1][1]


@handles("Gemm")
def gemm(b, node):
    a = attrs_of(node)
    if a.get("transA", 0):
        raise b.error(node, "transA=1 is not supported")
    x = b.dynamic(node, 0)
    w, wspec = weight_of(b, node, 1)
    if w.ndim != 2:
        raise b.error(node, f"weight must be 2-D, got {w.shape}")
    if not a.get("transB", 0):
        w, wspec = _layout_weight(w, wspec, (1, 0))
    else:
        w, wspec = _layout_weight(w, wspec, (0, 1))
    _fc(b, node, x, w, wspec, a.get("alpha", 1.0), a.get("beta", 1.0))


@handles("MatMul")
def matmul(b, node):
    x = b.dynamic(node, 0)
    if not b.is_const(node.input[1]):
        raise b.error(node, "MatMul of two computed tensors is not supported")
    w, wspec = weight_of(b, node, 1)
    if w.ndim != 2:
        raise b.error(node, f"weight must be 2-D, got {w.shape}")
    w, wspec = _layout_weight(w, wspec, (1, 0))
    _fc(b, node, x, w, wspec, 1.0, 1.0, has_bias=False)


def _fc(b, node, x, w, wspec, alpha, beta, has_bias=True):
    _check_weight_grid(b, node, wspec, w.shape[0])
    if b.samples[x].shape[-1] != w.shape[1]:
        raise b.error(node, f"input has {b.samples[x].shape[-1]} features, weight expects {w.shape[1]}")
    bias = bias_of(b, node, 2, w.shape[0]) if has_bias else None
    if bias is not None and beta != 1.0:
        bias = bias * beta
    if bias is not None and alpha != 1.0:
        bias = bias / alpha       # the runtime applies alpha after the bias
    layer = Layer(b.unique_name(node, "fc"), "fc", [x], [node.output[0]], weight=w, weight_spec=wspec, bias=bias,
                  act_spec=b.act_specs.get(x), attrs={"alpha": float(alpha)})
    b.add_layer(node, layer)


@handles("BatchNormalization")
def batchnorm(b, node):
    a = attrs_of(node)
    x = b.dynamic(node, 0)
    gamma, beta, mean, var = (np.asarray(b.const(node, i), np.float64).reshape(-1) for i in (1, 2, 3, 4))
    c = b.samples[x].shape[-1] if b.rank(x) in (2, 4) else None
    if c is None or not (gamma.size == beta.size == mean.size == var.size == c):
        raise b.error(node, f"parameters of sizes {gamma.size},{beta.size},{mean.size},{var.size} "
                            f"do not fit input {b.samples[x].shape}")
    b.add_layer(node, Layer(b.unique_name(node, "batchnorm"), "batchnorm", [x], [node.output[0]],
                            attrs=dict(gamma=gamma, beta=beta, mean=mean, var=var,
                                       eps=float(a.get("epsilon", 1e-5)))))


@handles("Relu")
def relu(b, node):
    b.simple(node, "relu")


@handles("Clip")
def clip(b, node):
    a = attrs_of(node)
    lo = a.get("min")
    hi = a.get("max")
    if len(node.input) > 1 and node.input[1]:
        lo = b.const(node, 1)
    if len(node.input) > 2 and node.input[2]:
        hi = b.const(node, 2)
    x = node.input[0]
    if x in b.consts and np.asarray(b.consts[x]).dtype.kind in "iu":
        from bitops.io.onnx_qdq import clip_int_const

        return clip_int_const(b, node, lo, hi)
    if x in b.consts:
        b.consts[node.output[0]] = np.clip(b.consts[x], lo, hi)
        return
    if x in b.int_tensors or x in b.qconsts:
        from bitops.io.onnx_qdq import clip_codes

        return clip_codes(b, node, lo, hi)
    b.simple(node, "clip", min=None if lo is None else float(np.asarray(lo)),
             max=None if hi is None else float(np.asarray(hi)))


@handles("Sigmoid")
def sigmoid(b, node):
    b.simple(node, "sigmoid")


@handles("Tanh")
def tanh(b, node):
    b.simple(node, "tanh")


@handles("Identity", "Dropout")
def identity(b, node):
    x = node.input[0]
    if b.is_const(x):
        if x in b.qconsts:
            b.qconsts[node.output[0]] = b.qconsts[x]
        else:
            b.consts[node.output[0]] = b.consts[x]
        return
    b.simple(node, "identity")


@handles("Softmax", "LogSoftmax")
def softmax(b, node):
    if node.op_type == "LogSoftmax":
        raise b.error(node, "unsupported operator 'LogSoftmax'")
    x = b.dynamic(node, 0)
    axis = int(attrs_of(node).get("axis", -1)) % b.rank(x)
    if b.rank(x) == 4:
        axis = list(TO_NHWC).index(axis)
    b.simple(node, "softmax", axis=axis)


def _pool_geometry(b, node):
    """(attrs, input, kernel, stride, pads, dilation) of a 2-D MaxPool / AveragePool node."""
    a = attrs_of(node)
    x = b.dynamic(node, 0)
    if b.rank(x) != 4:
        raise b.error(node, "only 2-D pooling is supported")
    k = tuple(a["kernel_shape"]) if "kernel_shape" in a else None
    if k is None or len(k) != 2:
        raise b.error(node, "kernel_shape must give two values")
    stride = tuple(a.get("strides", (1, 1)))
    dilation = tuple(a.get("dilations", (1, 1)))
    h, w = b.samples[x].shape[1:3]
    return a, x, k, stride, _pads(b, node, a, (h, w), k, stride, dilation), dilation


@handles("MaxPool")
def maxpool(b, node):
    if len(node.output) > 1 and node.output[1]:
        raise b.error(node, "the Indices output is not supported")
    a, x, k, s, p, d = _pool_geometry(b, node)
    layer = Layer(b.unique_name(node, "maxpool"), "maxpool", [x], [node.output[0]], kernel=k, stride=s, padding=p,
                  dilation=d, attrs={"ceil_mode": bool(a.get("ceil_mode", 0))})
    spec = b.act_specs.get(x)
    b.add_layer(node, layer, act_out=spec if spec is not None and not spec.per_channel else None,
                int_out=x in b.int_tensors)


@handles("AveragePool")
def avgpool(b, node):
    a, x, k, s, p, d = _pool_geometry(b, node)
    if d != (1, 1):
        raise b.error(node, "dilated average pooling is not supported")
    layer = Layer(b.unique_name(node, "avgpool"), "avgpool", [x], [node.output[0]], kernel=k, stride=s, padding=p,
                  dilation=d, attrs={"ceil_mode": bool(a.get("ceil_mode", 0)),
                                     "count_include_pad": bool(a.get("count_include_pad", 0))})
    b.add_layer(node, layer)


@handles("GlobalAveragePool", "GlobalMaxPool")
def global_pool(b, node):
    x = b.dynamic(node, 0)
    if b.rank(x) != 4:
        raise b.error(node, "only 2-D pooling is supported")
    b.simple(node, "gap" if node.op_type == "GlobalAveragePool" else "gmp")


@handles("Add", "Sub", "Mul", "Div")
def binary(b, node):
    op = node.op_type.lower()
    dyn = [n for n in node.input[:2] if n in b.samples]
    if not dyn:
        raise b.error(node, "needs at least one computed input")
    rank = max(b.rank(n) for n in dyn)
    ins, attrs = [], {}
    for i, name in enumerate(node.input[:2]):
        if name in b.samples:
            ins.append(name)
        else:
            c = np.asarray(b.const(node, i), dtype=np.float64)
            if c.ndim > rank:
                raise b.error(node, f"constant input {name!r} has rank {c.ndim} > {rank}")
            attrs[f"const{i}"] = b.to_runtime_layout(c, rank)
            ins.append("")
    b.add_layer(node, Layer(b.unique_name(node, op), op, ins, [node.output[0]], attrs=attrs))


@handles("Flatten")
def flatten(b, node):
    x = b.dynamic(node, 0)
    axis = int(attrs_of(node).get("axis", 1)) % max(1, b.rank(x))
    b.simple(node, "flatten", axis=axis, source_layout="NCHW")


@handles("Reshape")
def reshape(b, node):
    x = b.dynamic(node, 0)
    shape = [int(v) for v in np.asarray(b.const(node, 1)).reshape(-1)]
    in_shape = b.samples[x].shape
    if shape and in_shape and shape[0] == in_shape[0] == 1:
        shape[0] = 0   # a batch size baked in at export: keep whatever batch comes in
    b.simple(node, "reshape", shape=shape, source_layout="NCHW")


@handles("Transpose")
def transpose(b, node):
    x = b.dynamic(node, 0)
    perm = attrs_of(node).get("perm") or list(range(b.rank(x)))[::-1]
    b.simple(node, "transpose", perm=[int(p) for p in perm], source_layout="NCHW")


@handles("Concat")
def concat(b, node):
    ins = [b.dynamic(node, i) for i in range(len(node.input))]
    rank = b.rank(ins[0])
    axis = int(attrs_of(node)["axis"]) % rank
    if rank == 4:
        axis = list(TO_NHWC).index(axis)
    b.add_layer(node, Layer(b.unique_name(node, "concat"), "concat", ins, [node.output[0]], attrs={"axis": axis}))


@handles("Shape")
def shape(b, node):
    x = node.input[0]
    s = b.samples[x].shape if x in b.samples else b.const(node, 0).shape
    if len(s) == 4 and x in b.samples:
        s = tuple(s[i] for i in TO_NCHW)
    b.consts[node.output[0]] = np.array(s, dtype=np.int64)


@handles("Pad")
def pad(b, node):
    """Constant padding of H and W (a ZeroPadding2D, an explicit Pad before a conv or pool)."""
    a = attrs_of(node)
    x = b.dynamic(node, 0)
    if a.get("mode", "constant") != "constant":
        raise b.error(node, f"mode {a.get('mode')!r} is not supported (constant only)")
    pads = a.get("pads")
    if pads is None:
        pads = np.asarray(b.const(node, 1)).astype(np.int64).tolist()
    value = a.get("value", 0.0)
    if len(node.input) > 2 and node.input[2]:
        value = float(np.asarray(b.const(node, 2)).reshape(-1)[0])
    if len(node.input) > 3 and node.input[3]:
        raise b.error(node, "the axes input is not supported")
    r = b.rank(x)
    if r != 4 or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
        raise b.error(node, f"only spatial padding of a 4-D tensor is supported, got pads {pads}")
    t, l, bo, ri = pads[2], pads[3], pads[6], pads[7]
    if min(t, l, bo, ri) < 0 or max(t, l, bo, ri) > MAX_PAD:
        raise b.error(node, f"pads {pads} must lie in [0, {MAX_PAD}]")
    spec = b.act_specs.get(x)
    on_grid = spec is not None and spec.code_of(value) is not None
    layer = Layer(b.unique_name(node, "pad"), "pad", [x], [node.output[0]], padding=(t, l, bo, ri),
                  attrs={"value": float(value)})
    b.add_layer(node, layer, act_out=spec if on_grid else None, int_out=False)
