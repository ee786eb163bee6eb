"""ONNX graph -> Model: the standard operators, shared by the QONNX and QDQ loaders.

The builder walks the nodes in file order (ONNX requires topological order)
and keeps three kinds of tensors apart:

- constants (`consts`): initializers, Constant nodes and anything computed
  only from them, in the file's layout;
- quantized constants (`qconsts`): weights that a Quant / BipolarQuant /
  QuantizeLinear / DequantizeLinear node turns into integer codes + a grid;
- dynamic tensors: computed at run time by a layer. For each the builder keeps
  a sample value in the runtime's layout (4-D = NHWC), obtained by running
  the new layer on the reference backend over zeros, which gives every
  layer's shapes and catches inconsistent shapes at load time; and, where the
  tensor is quantized, its grid (`act_specs`).

Format-specific nodes are handled by `bitops.io.qonnx` and
`bitops.io.onnx_qdq`, which add entries to the handler table.
"""
import os

import numpy as np

from bitops.io.errors import FormatError
from bitops.model.layer import Layer
from bitops.model.model import Model
from bitops.model.quant import MAX_PACKED_BITS, QuantSpec, QValue
from bitops.model.runtime import TO_NHWC, Runtime

QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "finn")
STANDARD_DOMAINS = ("", "ai.onnx")

HANDLERS = {}        # op_type -> fn(builder, node); format modules register theirs


def handles(*op_types):
    def deco(fn):
        for t in op_types:
            HANDLERS[t] = fn
        return fn
    return deco


def read_onnx(path):
    """Parse an ONNX file with the onnx package (external data resolved beside it)."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError, UnicodeDecodeError, OSError) as exc:
        raise FormatError(f"{path}: not a readable ONNX file ({type(exc).__name__}: {exc})") from exc
    if not model.graph.node:
        raise FormatError(f"{path}: ONNX graph has no nodes")
    has_external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    if has_external:
        base = os.path.dirname(os.path.abspath(os.fspath(path)))
        for t in model.graph.initializer:
            if t.data_location != onnx.TensorProto.EXTERNAL:
                continue
            loc = {e.key: e.value for e in t.external_data}.get("location", "")
            full = os.path.abspath(os.path.join(base, loc))
            if os.path.isabs(loc) or not full.startswith(base + os.sep):
                raise FormatError(f"{path}: initializer {t.name!r} points outside the model's folder ({loc!r})")
            if not os.path.exists(full):
                raise FormatError(f"{path}: external data file {loc!r} of initializer {t.name!r} is missing")
        try:
            from onnx.external_data_helper import load_external_data_for_model

            load_external_data_for_model(model, base)
        except Exception as exc:
            raise FormatError(f"{path}: cannot read external data ({type(exc).__name__}: {exc})") from exc
    return model


def tensor_to_array(t, where):
    from onnx import numpy_helper

    try:
        a = numpy_helper.to_array(t)
    except Exception as exc:
        raise FormatError(f"{where}: tensor {t.name!r} is malformed ({type(exc).__name__}: {exc})") from exc
    return np.array(a)


def attrs_of(node):
    from onnx import helper

    out = {}
    for a in node.attribute:
        try:
            v = helper.get_attribute_value(a)
        except Exception as exc:
            raise FormatError(f"node {node.name!r} ({node.op_type}): bad attribute {a.name!r}: {exc}") from exc
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        out[a.name] = v
    return out


class GraphBuilder:
    def __init__(self, model, path, fmt):
        self.path = path
        self.fmt = fmt
        self.onnx_model = model
        self.graph = model.graph
        self.consts = {}
        self.const_ranges = {}  # integer constant -> (lo, hi) after a Clip (QCDQ weights)
        self.qconsts = {}      # name -> (codes int64 in file layout, QuantSpec in file layout)
        self.samples = {}      # dynamic tensor -> sample value in runtime layout
        self.act_specs = {}    # dynamic tensor -> QuantSpec (runtime layout) when quantized
        self.int_tensors = set()  # dynamic tensors that hold integer codes in the file (QDQ)
        self.layers = []
        self.names = set()
        self.rt = Runtime("reference")

    # -- errors --------------------------------------------------------------------------
    def error(self, node, msg):
        return FormatError(f"{self.path}: node {node.name!r} ({node.op_type}): {msg}")

    # -- tensors ---------------------------------------------------------------------------
    def const(self, node, i, required=True):
        name = node.input[i] if i < len(node.input) else ""
        if not name:
            if required:
                raise self.error(node, f"input {i} is missing")
            return None
        if name in self.consts:
            return self.consts[name]
        if name in self.qconsts:
            q, spec = self.qconsts[name]
            return spec.dequantize(q, np.float64)
        raise self.error(node, f"input {i} ({name!r}) must be a constant")

    def is_const(self, name):
        return name in self.consts or name in self.qconsts

    def dynamic(self, node, i):
        name = node.input[i] if i < len(node.input) else ""
        if name not in self.samples:
            if self.is_const(name):
                raise self.error(node, f"input {i} ({name!r}) is a constant where a computed tensor was expected")
            raise self.error(node, f"input {i} ({name!r}) is used before it is produced")
        return name

    def rank(self, name):
        return self.samples[name].ndim

    def to_runtime_layout(self, arr, rank):
        """A constant broadcast against a rank-`rank` tensor, moved to NHWC if that tensor is 4-D."""
        a = np.asarray(arr)
        if rank == 4 and a.ndim >= 1 and a.size > 1:
            a = a.reshape((1,) * (4 - a.ndim) + a.shape) if a.ndim < 4 else a
            return a.transpose(TO_NHWC)
        return a

    def spec_to_runtime(self, spec, rank):
        if rank != 4:
            return spec
        if spec.scale.ndim < 4 and spec.scale.size > 1 or spec.zero_point.ndim < 4 and spec.zero_point.size > 1:
            s = spec.scale.reshape((1,) * (4 - spec.scale.ndim) + spec.scale.shape)
            z = spec.zero_point.reshape((1,) * (4 - spec.zero_point.ndim) + spec.zero_point.shape)
            spec = QuantSpec(s, z, spec.qmin, spec.qmax, spec.axis, spec.rounding, spec.bipolar, spec.name)
        return spec.with_layout(TO_NHWC)

    # -- layers -----------------------------------------------------------------------------
    def unique_name(self, node, op):
        base = node.name or f"{op}_{len(self.layers)}"
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def add_layer(self, node, layer, act_out=None, int_out=False):
        """Append a layer, run it on the sample values to fix its shapes."""
        args = [self.samples[n] if n else None for n in layer.inputs]
        try:
            with np.errstate(all="ignore"):
                out = self.rt.run_layer(layer, args)
        except FormatError:
            raise
        except (ValueError, IndexError, TypeError, ZeroDivisionError) as exc:
            raise self.error(node, f"inconsistent shapes or parameters: {exc}") from exc
        first = next((a for a in args if a is not None), None)
        layer.in_shape = tuple(first.shape) if first is not None else ()
        out = out.real(np.float64) if isinstance(out, QValue) else np.asarray(out)
        layer.out_shape = tuple(out.shape)
        self.samples[layer.outputs[0]] = out
        if act_out is not None:
            self.act_specs[layer.outputs[0]] = act_out
        if int_out:
            self.int_tensors.add(layer.outputs[0])
        self.layers.append(layer)
        return layer

    def simple(self, node, op, n_inputs=1, **attrs):
        ins = [self.dynamic(node, i) for i in range(n_inputs)]
        layer = Layer(self.unique_name(node, op), op, ins, [node.output[0]], attrs=attrs)
        keep = self.act_specs.get(ins[0]) if op in ("identity", "maxpool", "relu") else None
        if op in ("flatten", "reshape", "transpose") and ins[0] in self.act_specs:
            spec = self.act_specs[ins[0]]
            keep = spec if not spec.per_channel else None
        return self.add_layer(node, layer, act_out=keep, int_out=ins[0] in self.int_tensors)

    # -- the walk ---------------------------------------------------------------------------
    def build(self):
        g = self.graph
        for t in g.initializer:
            self.consts[t.name] = tensor_to_array(t, self.path)
        for t in getattr(g, "sparse_initializer", []):
            raise FormatError(f"{self.path}: sparse initializer {t.values.name!r} is not supported")
        inputs = []
        for vi in g.input:
            if vi.name in self.consts:
                continue
            shape = self._input_shape(vi)
            rt_shape = tuple(shape[i] for i in TO_NHWC) if len(shape) == 4 else tuple(shape)
            self.samples[vi.name] = np.zeros(rt_shape)
            inputs.append((vi.name, rt_shape))
        if not inputs:
            raise FormatError(f"{self.path}: graph has no inputs")
        for node in g.node:
            self.visit(node)
        outputs = []
        for vi in g.output:
            if vi.name not in self.samples:
                if self.is_const(vi.name):
                    raise FormatError(f"{self.path}: output {vi.name!r} is a constant")
                raise FormatError(f"{self.path}: output {vi.name!r} is never produced")
            outputs.append(vi.name)
        self._check_packing()
        self._fold_batchnorm(outputs)
        return Model(self.layers, inputs, outputs, source_layout="NCHW", fmt=self.fmt, path=os.fspath(self.path))

    def _input_shape(self, vi):
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            raise FormatError(f"{self.path}: input {vi.name!r} has no shape")
        dims = []
        for i, d in enumerate(t.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(int(d.dim_value))
            elif i == 0:
                dims.append(1)       # a symbolic batch: build for batch 1
            else:
                raise FormatError(f"{self.path}: input {vi.name!r} has a symbolic dimension {i} ({d.dim_param!r})")
        if int(np.prod(dims)) > 1 << 26:
            raise FormatError(f"{self.path}: input {vi.name!r} shape {dims} is too large")
        return dims

    def visit(self, node):
        op = node.op_type
        if op == "Constant":
            return self._constant(node)
        if node.domain not in STANDARD_DOMAINS + QONNX_DOMAINS + ("com.microsoft",):
            raise self.error(node, f"unsupported operator domain {node.domain!r}")
        live = [n for n in node.input if n]
        if live and all(self.is_const(n) for n in live) and op in CONST_FOLD:
            return self._fold(node)
        handler = HANDLERS.get(op)
        if handler is None:
            raise self.error(node, f"unsupported operator {op!r}" + (f" (domain {node.domain})" if node.domain else ""))
        handler(self, node)

    def _constant(self, node):
        a = attrs_of(node)
        if "value" in a:
            self.consts[node.output[0]] = tensor_to_array(a["value"], self.path)
        elif "value_float" in a:
            self.consts[node.output[0]] = np.array(a["value_float"], dtype=np.float32)
        elif "value_int" in a:
            self.consts[node.output[0]] = np.array(a["value_int"], dtype=np.int64)
        elif "value_floats" in a:
            self.consts[node.output[0]] = np.array(a["value_floats"], dtype=np.float32)
        elif "value_ints" in a:
            self.consts[node.output[0]] = np.array(a["value_ints"], dtype=np.int64)
        else:
            raise self.error(node, "Constant without a supported value attribute")

    def _fold(self, node):
        if node.input[0] in self.qconsts and node.op_type in ("Identity", "Transpose", "Reshape", "Flatten"):
            return self._fold_codes(node)
        fn = CONST_FOLD[node.op_type]
        try:
            with np.errstate(all="ignore"):
                out = fn(self, node)
        except FormatError:
            raise
        except Exception as exc:
            raise self.error(node, f"cannot evaluate on constants: {exc}") from exc
        if out is not None:
            self.consts[node.output[0]] = np.asarray(out)

    def _fold_codes(self, node):
        """Layout ops on quantized weights keep them as codes (a DQ -> Transpose -> MatMul weight)."""
        q, spec = self.qconsts[node.input[0]]
        if node.op_type == "Identity":
            self.qconsts[node.output[0]] = (q, spec)
            return
        if node.op_type == "Transpose":
            perm = attrs_of(node).get("perm") or list(range(q.ndim))[::-1]
            if spec.per_channel and spec.scale.ndim != q.ndim:
                raise self.error(node, "per-channel weight grid does not match the weight's rank")
            nspec = spec.with_layout(perm) if spec.per_channel else spec
            self.qconsts[node.output[0]] = (np.transpose(q, perm), nspec)
            return
        if spec.per_channel:
            raise self.error(node, "reshaping a per-channel quantized weight is not supported")
        out = CONST_FOLD[node.op_type](_CodesView(self, q), node)
        self.qconsts[node.output[0]] = (np.asarray(out), spec)

    def _fold_batchnorm(self, outputs):
        """conv/fc -> BatchNormalization becomes one layer with a per-channel output transform
        y = acc * post_scale + post_bias (post_scale = gamma / sqrt(var + eps),
        post_bias = beta - mean * post_scale), when nothing else reads the conv's output."""
        readers = {}
        for layer in self.layers:
            for n in layer.inputs:
                readers[n] = readers.get(n, 0) + 1
        keep = []
        for layer in self.layers:
            prev = keep[-1] if keep else None
            if (layer.op == "batchnorm" and prev is not None and prev.op in ("conv", "fc")
                    and prev.outputs[0] == layer.inputs[0] and readers.get(prev.outputs[0]) == 1
                    and prev.outputs[0] not in outputs and prev.out_spec is None
                    and "post_scale" not in prev.attrs and len(prev.out_shape) in (2, 4)):
                a = layer.attrs
                k = a["gamma"] / np.sqrt(a["var"] + a["eps"])
                prev.attrs["post_scale"] = k
                prev.attrs["post_bias"] = a["beta"] - a["mean"] * k
                prev.attrs["folded"] = layer.name
                prev.outputs = list(layer.outputs)
                continue
            keep.append(layer)
        self.layers = keep

    def _check_packing(self):
        for layer in self.layers:
            if layer.op not in ("conv", "fc"):
                continue
            for what, spec in (("weight", layer.weight_spec), ("input", layer.act_spec)):
                if spec is not None and spec.bits > MAX_PACKED_BITS:
                    raise FormatError(
                        f"{self.path}: layer {layer.name!r}: {what} is quantized to {spec.bits} bits "
                        f"(range [{spec.qmin}, {spec.qmax}]); the packed kernels take at most {MAX_PACKED_BITS}")


class _CodesView:
    """Stands in for the builder so a fold function sees integer codes as input 0."""

    def __init__(self, b, q):
        self.b, self.q = b, q

    def const(self, node, i, required=True):
        return self.q if i == 0 else self.b.const(node, i, required)


# -- constant folding (shape arithmetic and weight preprocessing in exports) --------------------
def _fold_unary(fn):
    return lambda b, n: fn(b.const(n, 0))


def _fold_binary(fn):
    return lambda b, n: fn(b.const(n, 0), b.const(n, 1))


def _fold_reshape(b, n):
    x, shape = b.const(n, 0), b.const(n, 1).astype(np.int64)
    shape = [x.shape[i] if d == 0 else int(d) for i, d in enumerate(shape)]
    return x.reshape(shape)


def _fold_transpose(b, n):
    perm = attrs_of(n).get("perm")
    return np.transpose(b.const(n, 0), perm)


def _fold_unsqueeze(b, n):
    x = b.const(n, 0)
    axes = attrs_of(n).get("axes")
    if axes is None:
        axes = b.const(n, 1).astype(np.int64).tolist()
    for ax in sorted(int(a) % (x.ndim + len(axes)) for a in axes):
        x = np.expand_dims(x, ax)
    return x


def _fold_squeeze(b, n):
    x = b.const(n, 0)
    axes = attrs_of(n).get("axes")
    if axes is None and len(n.input) > 1 and n.input[1]:
        axes = b.const(n, 1).astype(np.int64).tolist()
    return np.squeeze(x, axis=None if axes is None else tuple(int(a) for a in axes))


def _fold_concat(b, n):
    return np.concatenate([np.atleast_1d(b.const(n, i)) for i in range(len(n.input))], axis=attrs_of(n)["axis"])


def _fold_gather(b, n):
    return np.take(b.const(n, 0), b.const(n, 1).astype(np.int64), axis=attrs_of(n).get("axis", 0))


def _fold_cast(b, n):
    from onnx import helper

    to = attrs_of(n)["to"]
    return b.const(n, 0).astype(helper.tensor_dtype_to_np_dtype(to))


def _fold_shape(b, n):
    return np.array(b.const(n, 0).shape, dtype=np.int64)


def _fold_slice(b, n):
    x = b.const(n, 0)
    starts, ends = b.const(n, 1).astype(np.int64), b.const(n, 2).astype(np.int64)
    axes = b.const(n, 3).astype(np.int64) if len(n.input) > 3 and n.input[3] else range(len(starts))
    steps = b.const(n, 4).astype(np.int64) if len(n.input) > 4 and n.input[4] else [1] * len(starts)
    sl = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        sl[int(a)] = slice(int(s), int(e), int(st))
    return x[tuple(sl)]


def _fold_flatten(b, n):
    x = b.const(n, 0)
    axis = attrs_of(n).get("axis", 1)
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


CONST_FOLD = {
    "Flatten": _fold_flatten,
    "Identity": _fold_unary(lambda x: x),
    "Cast": _fold_cast,
    "Neg": _fold_unary(np.negative),
    "Log": _fold_unary(np.log),
    "Exp": _fold_unary(np.exp),
    "Abs": _fold_unary(np.abs),
    "Ceil": _fold_unary(np.ceil),
    "Floor": _fold_unary(np.floor),
    "Round": _fold_unary(np.rint),
    "Sign": _fold_unary(np.sign),
    "Max": lambda b, n: np.maximum.reduce([b.const(n, i) for i in range(len(n.input))]),
    "Min": lambda b, n: np.minimum.reduce([b.const(n, i) for i in range(len(n.input))]),
    "Sqrt": _fold_unary(np.sqrt),
    "Reciprocal": _fold_unary(np.reciprocal),
    "Add": _fold_binary(np.add),
    "Sub": _fold_binary(np.subtract),
    "Mul": _fold_binary(np.multiply),
    "Div": _fold_binary(lambda a, b: a // b if a.dtype.kind in "iu" and b.dtype.kind in "iu" else a / b),
    "Pow": _fold_binary(np.power),
    "Reshape": _fold_reshape,
    "Transpose": _fold_transpose,
    "Unsqueeze": _fold_unsqueeze,
    "Squeeze": _fold_squeeze,
    "Concat": _fold_concat,
    "Gather": _fold_gather,
    "Shape": _fold_shape,
    "Slice": _fold_slice,
}
