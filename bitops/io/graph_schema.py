"""The bitops graph schema: a JSON layer list over named tensors (docs/loaders.md).

Custom trainers (and the Keras loader) describe their network as

    {"format": "bitops-graph", "version": 1, "layout": "NCHW" or "NHWC",
     "inputs": [{"name": "x", "shape": [1, 1, 8, 8]}], "outputs": ["y"],
     "layers": [{"name": ..., "op": ..., "input": ..., "output": ..., ...}, ...]}

with weights stored by name beside it (.npz, .safetensors, a torch state
dict). This module turns that description into an in-memory ONNX graph with
QONNX Quant / BipolarQuant nodes, and the ONNX builder does the rest, so every
format meets the same checks and the same runtime.
"""
import json

import numpy as np

from bitops.io.errors import FormatError

SCHEMA_KEY = "__bitops_graph__"
QONNX = "qonnx.custom_op.general"
OPS = ("quant", "conv", "fc", "batchnorm", "relu", "clip", "maxpool", "avgpool", "gap", "add", "flatten",
       "reshape", "identity", "softmax", "pad")


def parse_graph(text, where):
    try:
        g = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"{where}: graph description is not valid JSON ({exc})") from exc
    if not isinstance(g, dict) or g.get("format") != "bitops-graph":
        raise FormatError(f"{where}: graph description must be an object with \"format\": \"bitops-graph\"")
    if g.get("version") != 1:
        raise FormatError(f"{where}: unsupported graph schema version {g.get('version')!r}")
    for key in ("inputs", "outputs", "layers"):
        if not isinstance(g.get(key), list) or not g[key]:
            raise FormatError(f"{where}: graph field {key!r} must be a non-empty list")
    if g.get("layout", "NCHW") not in ("NCHW", "NHWC"):
        raise FormatError(f"{where}: layout must be \"NCHW\" or \"NHWC\"")
    return g


def build_model(graph, tensors, where, fmt, quant_params=None):
    """graph: parsed schema dict; tensors: name -> numpy array; quant_params: name -> (scale, zp, axis, signed)
    for integer tensors that carry their own grid (torch.ao quantized tensors)."""
    from onnx import TensorProto, helper, numpy_helper

    from bitops.io import _load_onnx_model

    nhwc = graph.get("layout", "NCHW") == "NHWC"
    quant_params = quant_params or {}
    nodes, inits, counter = [], {}, [0]

    def const(value, hint):
        counter[0] += 1
        name = f"{hint}__c{counter[0]}"
        inits[name] = np.asarray(value, dtype=np.float32) if np.asarray(value).dtype.kind == "f" or \
            not isinstance(value, np.ndarray) else np.asarray(value)
        return name

    def tensor(name, layer):
        if not isinstance(name, str) or name not in tensors:
            raise FormatError(f"{where}: layer {layer.get('name')!r}: tensor {name!r} is not in the file")
        return np.asarray(tensors[name])

    def param(v, layer, what):
        if isinstance(v, str):
            return tensor(v, layer).astype(np.float64)
        try:
            return np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise FormatError(f"{where}: layer {layer.get('name')!r}: {what} must be a number, list or tensor name") \
                from None

    def quant_node(src, dst, spec, layer, rank, axis_default):
        """A QONNX Quant / BipolarQuant node for a `spec` dict ({bits, signed, narrow, scale, zero_point, axis})."""
        if not isinstance(spec, dict):
            raise FormatError(f"{where}: layer {layer.get('name')!r}: quantizer must be an object")
        scale = param(spec.get("scale", 1.0), layer, "scale")
        axis = spec.get("axis", axis_default if scale.size > 1 else None)
        if scale.size > 1:
            if axis is None or not isinstance(axis, int) or not 0 <= axis < rank:
                raise FormatError(f"{where}: layer {layer.get('name')!r}: per-channel scale needs a valid axis")
            shape = [1] * rank
            shape[axis] = scale.size
            scale = scale.reshape(shape)
        if spec.get("bipolar"):
            nodes.append(helper.make_node("BipolarQuant", [src, const(scale, dst + "_s")], [dst], domain=QONNX,
                                          name=layer.get("name", dst) + "/quant"))
            return
        zp = param(spec.get("zero_point", 0.0), layer, "zero_point")
        if zp.size > 1:
            shape = [1] * rank
            shape[axis] = zp.size
            zp = zp.reshape(shape)
        bits = spec.get("bits")
        if not isinstance(bits, (int, float)) or isinstance(bits, bool):
            raise FormatError(f"{where}: layer {layer.get('name')!r}: quantizer needs integer \"bits\"")
        nodes.append(helper.make_node(
            "Quant", [src, const(scale, dst + "_s"), const(zp, dst + "_z"), const(float(bits), dst + "_b")], [dst],
            domain=QONNX, name=layer.get("name", dst) + "/quant", signed=int(bool(spec.get("signed", True))),
            narrow=int(bool(spec.get("narrow", False))), rounding_mode=str(spec.get("rounding", "ROUND"))))

    def weight(layer, key, rank, to_onnx_perm):
        wname = layer.get(key)
        w = tensor(wname, layer)
        if w.ndim != rank:
            raise FormatError(f"{where}: layer {layer.get('name')!r}: weight {wname!r} must be {rank}-D, got {w.shape}")
        spec = layer.get("weight_quant")
        if wname in quant_params and spec is None:
            s, z, axis, signed = quant_params[wname]
            spec = {"bits": 8, "signed": signed, "scale": s, "zero_point": z, "axis": axis}
        if spec is not None and w.dtype.kind in "iu":
            # Integer codes: dequantize here; the Quant node below re-quantizes them exactly.
            sp = dict(spec)
            s = param(sp.get("scale", 1.0), layer, "scale")
            z = param(sp.get("zero_point", 0.0), layer, "zero_point")
            ax = sp.get("axis", 0 if s.size > 1 or z.size > 1 else None)
            shape = [1] * rank
            if ax is not None:
                shape[ax] = -1
            s = s.reshape(shape) if s.size > 1 else s
            z = z.reshape(shape) if z.size > 1 else z
            w = (w.astype(np.float64) - (0 if sp.get("bipolar") else z)) * s
        w = np.asarray(w, dtype=np.float32)
        if to_onnx_perm is not None:
            w = np.ascontiguousarray(w.transpose(to_onnx_perm))
        name = const(w, layer.get("name", "w") + "_w")
        if spec is None:
            return name
        spec = dict(spec)
        if "axis" in spec and spec["axis"] is not None and to_onnx_perm is not None:
            spec["axis"] = list(to_onnx_perm).index(spec["axis"])
        qname = name + "_q"
        quant_node(name, qname, spec, layer, rank, 0)
        return qname

    def pad_attrs(p):
        """{'auto_pad': ...} for Keras-style 'same' / 'valid', else explicit {'pads': [...]}."""
        if isinstance(p, str):
            if p.lower() not in ("same", "valid"):
                raise FormatError(f"{where}: padding {p!r} must be 'same', 'valid' or numbers")
            return {"auto_pad": "SAME_UPPER" if p.lower() == "same" else "VALID"}
        return {"pads": pads(p)}

    def pads(p):
        if isinstance(p, int):
            return [p, p, p, p]
        p = list(p)
        if len(p) == 2:
            return [p[0], p[1], p[0], p[1]]
        if len(p) == 4:
            return p
        raise FormatError(f"{where}: padding must be an int, a pair or (top, left, bottom, right)")

    def pair(v, default):
        v = default if v is None else v
        return [int(v), int(v)] if isinstance(v, (int, float)) else [int(a) for a in v]

    for layer in graph["layers"]:
        if not isinstance(layer, dict):
            raise FormatError(f"{where}: each layer must be an object")
        op = layer.get("op")
        name = str(layer.get("name", f"layer{len(nodes)}"))
        if op not in OPS:
            raise FormatError(f"{where}: layer {name!r}: unsupported op {op!r} (one of {', '.join(OPS)})")
        ins = layer.get("inputs") or [layer.get("input")]
        out = layer.get("output")
        if not all(isinstance(i, str) for i in ins) or not isinstance(out, str):
            raise FormatError(f"{where}: layer {name!r}: \"input\"/\"inputs\" and \"output\" must be tensor names")
        x = ins[0]
        if op == "quant":
            quant_node(x, out, layer, layer, 4, 1)
        elif op == "conv":
            w = weight(layer, "weight", 4, (3, 2, 0, 1) if nhwc else None)        # HWIO -> OIHW
            args = [x, w] + ([const(tensor(layer["bias"], layer).astype(np.float32), name + "_b")]
                             if layer.get("bias") else [])
            k = tensors[layer["weight"]].shape
            ks = list(k[:2]) if nhwc else list(k[2:])
            nodes.append(helper.make_node("Conv", args, [out], name=name, kernel_shape=ks,
                                          strides=pair(layer.get("stride"), 1),
                                          **pad_attrs(layer.get("padding", 0)),
                                          dilations=pair(layer.get("dilation"), 1),
                                          group=int(layer.get("groups", 1))))
        elif op == "fc":
            w = weight(layer, "weight", 2, (1, 0) if nhwc and layer.get("weight_layout") == "in_out" else None)
            args = [x, w] + ([const(tensor(layer["bias"], layer).astype(np.float32), name + "_b")]
                             if layer.get("bias") else [])
            nodes.append(helper.make_node("Gemm", args, [out], name=name, transB=1))
        elif op == "batchnorm":
            args = [x] + [const(tensor(layer[k], layer).astype(np.float32), name + "_" + k)
                          for k in ("gamma", "beta", "mean", "var")]
            nodes.append(helper.make_node("BatchNormalization", args, [out], name=name,
                                          epsilon=float(layer.get("eps", 1e-5))))
        elif op == "relu":
            nodes.append(helper.make_node("Relu", [x], [out], name=name))
        elif op == "clip":
            args = [x, const(np.float32(layer.get("min", -np.inf)), name + "_lo"),
                    const(np.float32(layer.get("max", np.inf)), name + "_hi")]
            nodes.append(helper.make_node("Clip", args, [out], name=name))
        elif op in ("maxpool", "avgpool"):
            nodes.append(helper.make_node("MaxPool" if op == "maxpool" else "AveragePool", [x], [out], name=name,
                                          kernel_shape=pair(layer.get("kernel"), 2),
                                          strides=pair(layer.get("stride"), layer.get("kernel", 2)),
                                          **pad_attrs(layer.get("padding", 0))))
        elif op == "pad":
            t, l, bo, r = pads(layer.get("padding", 0))
            nodes.append(helper.make_node("Pad", [x, const(np.asarray([0, 0, t, l, 0, 0, bo, r], np.int64), name + "_p"),
                                                  const(np.float32(layer.get("value", 0.0)), name + "_v")],
                                          [out], name=name, mode="constant"))
        elif op == "gap":
            nodes.append(helper.make_node("GlobalAveragePool", [x], [out], name=name))
        elif op == "add":
            if len(ins) != 2:
                raise FormatError(f"{where}: layer {name!r}: add takes two inputs")
            nodes.append(helper.make_node("Add", ins, [out], name=name))
        elif op == "flatten":
            if nhwc:   # Keras flattens NHWC in H, W, C order: transpose to NHWC first
                nodes.append(helper.make_node("Transpose", [x], [out + "__nhwc"], name=name + "/nhwc",
                                              perm=[0, 2, 3, 1]))
                x = out + "__nhwc"
            nodes.append(helper.make_node("Flatten", [x], [out], name=name, axis=1))
        elif op == "reshape":
            nodes.append(helper.make_node("Reshape", [x, const(np.asarray(layer["shape"], np.int64), name + "_s")],
                                          [out], name=name))
        elif op == "identity":
            nodes.append(helper.make_node("Identity", [x], [out], name=name))
        elif op == "softmax":
            nodes.append(helper.make_node("Softmax", [x], [out], name=name, axis=-1))
    inputs = []
    for spec in graph["inputs"]:
        shape = list(spec.get("shape", []))
        if nhwc and len(shape) == 4:
            shape = [shape[0], shape[3], shape[1], shape[2]]
        inputs.append(helper.make_tensor_value_info(spec["name"], TensorProto.FLOAT, shape))
    outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in graph["outputs"]]
    g = helper.make_graph(nodes, "bitops-graph", inputs, outputs,
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)])
    model = _load_onnx_model(m, where, fmt)
    if nhwc:
        model.source_layout = "NHWC"
        _fuse_nhwc_flatten(model)
    pad_values = {str(layer.get("name")): float(layer["pad_value"]) for layer in graph["layers"]
                  if isinstance(layer, dict) and layer.get("op") == "conv" and layer.get("pad_value")}
    for layer in model.layers:
        if layer.op == "conv" and layer.name in pad_values:
            _check_pad_value(layer, pad_values[layer.name], where)
            layer.attrs["pad_value"] = pad_values[layer.name]
    return model


def _check_pad_value(layer, value, where):
    spec = layer.act_spec
    if spec is None:
        return
    if not np.allclose(spec.fake_quantize(np.array([value])), value):
        raise FormatError(f"{where}: layer {layer.name!r}: pad value {value} is not on its input's grid")


def _fuse_nhwc_flatten(model):
    """Transpose-to-NHWC + Flatten (how an NHWC flatten is spelled in ONNX) is one plain NHWC flatten."""
    layers = []
    for layer in model.layers:
        prev = layers[-1] if layers else None
        if (layer.op == "flatten" and prev is not None and prev.op == "transpose"
                and prev.attrs.get("perm") == [0, 2, 3, 1] and prev.outputs[0] == layer.inputs[0]
                and prev.outputs[0].endswith("__nhwc")):
            layer.inputs = list(prev.inputs)
            layer.in_shape = prev.in_shape
            layer.attrs = dict(layer.attrs, source_layout="NHWC")
            layers[-1] = layer
            continue
        layers.append(layer)
    model.layers = layers
