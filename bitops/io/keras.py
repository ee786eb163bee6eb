"""Keras / Larq models: .h5 (Keras HDF5) and .keras (zip: config.json + model.weights.h5).

Read with h5py and json only (TensorFlow is never imported). The model config
is turned into the bitops graph schema with "layout": "NHWC" (HWIO kernels,
Keras' H, W, C flatten order) and built like any other schema file.

Larq quantizers: SteSign, ApproxSign, SwishSign (forward: sign, sign(0) = +1)
are bipolar with scale 1; MagnitudeAwareSign on a kernel is bipolar with the
per-output-channel scale mean(|w|) over the other axes; DoReFa in
"activations" mode with k_bit = k clips to [0, 1] and rounds to k bits, the
unsigned grid of scale 1/(2^k - 1). Larq pads 'same' convolutions with
`pad_values`: 0 is a real zero; any other value needs an input quantizer and
must lie on its grid (1.0 for the sign quantizers).
"""
import io
import json
import os
import zipfile

import numpy as np

from bitops.io.errors import FormatError
from bitops.io.graph_schema import build_model

SIGNS = ("SteSign", "ApproxSign", "SwishSign", "ste_sign", "approx_sign", "swish_sign")


#: Seconds a damaged HDF5 file may take to read before it is given up on. The HDF5
#: library can loop forever (or crash) on a corrupted file, so it runs in a child process.
HDF5_TIMEOUT_S = 60.0


def load_keras(path):
    path = os.fspath(path)
    cfg, weights = _read_isolated(path)
    return build_model(_to_schema(cfg, weights, path), weights, path, "keras")


def _read(path):
    """(config dict, weights dict) from a .h5 or .keras file; runs in the child process."""
    import h5py

    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            cfg = json.loads(z.read("config.json"))
            wname = next((n for n in z.namelist() if n.endswith(".weights.h5")), None)
            if wname is None:
                raise FormatError(f"{path}: .keras archive without a *.weights.h5 member")
            data = z.read(wname)
        with h5py.File(io.BytesIO(data), "r") as f:
            return cfg, _weights_v3(f, cfg)
    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise FormatError(f"{path}: HDF5 file without a Keras model_config (weights-only files need "
                              "the architecture)")
        cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        return cfg, _weights_h5(f)


def _child(path, conn):
    try:
        conn.send(("ok", _read(path)))
    except FormatError as exc:
        conn.send(("format", str(exc)))
    except BaseException as exc:  # everything the HDF5 / zip / json readers raise on a damaged file
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _read_isolated(path):
    import multiprocessing as mp

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(path, send), daemon=True)
    proc.start()
    send.close()
    try:
        if not recv.poll(HDF5_TIMEOUT_S):
            raise FormatError(f"{path}: reading the HDF5 data did not finish in {HDF5_TIMEOUT_S:g} s "
                              "(a damaged file)")
        try:
            status, payload = recv.recv()
        except (EOFError, OSError) as exc:
            raise FormatError(f"{path}: the HDF5 reader died on this file (exit code {proc.exitcode})") from exc
    finally:
        recv.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
    if status == "ok":
        return payload
    if status == "format":
        raise FormatError(payload)
    raise FormatError(f"{path}: cannot read as Keras ({payload})")


# -- weights -----------------------------------------------------------------------------------
def _weights_h5(f):
    """name -> array, named '<layer>/<kind>' (kind: kernel, bias, gamma, beta, moving_mean, moving_variance)."""
    root = f["model_weights"] if "model_weights" in f else f
    out = {}
    for layer in root:
        g = root[layer]
        names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs.get("weight_names", [])]
        for n in names:
            kind = n.split("/")[-1].split(":")[0]
            out[f"{layer}/{kind}"] = np.asarray(g[n])
    return out


V3_ORDER = {
    "DepthwiseConv2D": ("depthwise_kernel", "bias"), "QuantDepthwiseConv2D": ("depthwise_kernel", "bias"),
    "Conv2D": ("kernel", "bias"), "QuantConv2D": ("kernel", "bias"), "Dense": ("kernel", "bias"),
    "QuantDense": ("kernel", "bias"),
}


def _weights_v3(f, cfg):
    out = {}
    for layer in _layers(cfg):
        name, cls, c = layer["config"]["name"], layer["class_name"], layer["config"]
        key = f"layers/{name}/vars"
        if key not in f:
            continue
        arrays = [np.asarray(f[key][str(i)]) for i in range(len(f[key]))]
        if cls == "BatchNormalization":
            kinds = [k for k, on in (("gamma", c.get("scale", True)), ("beta", c.get("center", True))) if on]
            kinds += ["moving_mean", "moving_variance"]
        else:
            kinds = V3_ORDER.get(cls, ())
        for k, a in zip(kinds, arrays):
            out[f"{name}/{k}"] = a
    return out


# -- config -> schema --------------------------------------------------------------------------
def _layers(cfg):
    c = cfg.get("config", {})
    layers = c.get("layers") if isinstance(c, dict) else c
    if not isinstance(layers, list):
        raise FormatError("Keras config has no layer list")
    return layers


def _inbound(layer):
    """Names of the layers feeding this one (Keras 2 and Keras 3 config forms)."""
    nodes = layer.get("inbound_nodes") or []
    names = []
    for node in nodes[:1]:
        if isinstance(node, dict):                       # Keras 3
            def walk(a):
                if isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
                    names.append(a["config"]["keras_history"][0])
                elif isinstance(a, (list, tuple)):
                    for b in a:
                        walk(b)
            walk(node.get("args", []))
        else:                                            # Keras 2: [[name, node, tensor, kwargs], ...]
            for entry in node:
                names.append(entry[0])
    return names


def _quantizer(q, where):
    """A Larq quantizer config -> schema quantizer dict (None for no quantizer)."""
    if q is None:
        return None
    name = q if isinstance(q, str) else q.get("class_name")
    conf = {} if isinstance(q, str) else q.get("config", {})
    if name in SIGNS:
        return {"bipolar": True, "scale": 1.0}
    if name in ("MagnitudeAwareSign", "magnitude_aware_sign"):
        return {"bipolar": True, "magnitude_aware": True}
    if name in ("DoReFa", "DoReFaQuantizer", "dorefa_quantizer"):
        if conf.get("mode", "activations") != "activations":
            raise FormatError(f"{where}: DoReFa mode {conf.get('mode')!r} is not supported (only 'activations')")
        k = int(conf.get("k_bit", 2))
        return {"bits": k, "signed": False, "scale": 1.0 / ((1 << k) - 1)}
    raise FormatError(f"{where}: Larq quantizer {name!r} is not supported")


def _to_schema(cfg, weights, path):
    layers = _layers(cfg)
    sequential = cfg.get("class_name") == "Sequential"
    out_layers, inputs, prev = [], [], None
    outputs_cfg = cfg.get("config", {}).get("output_layers") if isinstance(cfg.get("config"), dict) else None
    for i, layer in enumerate(layers):
        cls, c = layer["class_name"], layer["config"]
        name = c["name"]
        where = f"{path}: layer {name!r} ({cls})"
        shape = c.get("batch_input_shape") or c.get("batch_shape")
        if cls == "InputLayer" or (sequential and i == 0 and shape and not inputs):
            if not shape or len(shape) not in (2, 4):
                raise FormatError(f"{where}: input shape {shape} is not (N, features) or (N, H, W, C)")
            iname = name if cls == "InputLayer" else name + "__input"
            inputs.append({"name": iname, "shape": [1] + [int(d) for d in shape[1:]]})
            prev = iname
            if cls == "InputLayer":
                continue
        src = _inbound(layer) if not sequential else [prev]
        if not src or src[0] is None:
            raise FormatError(f"{where}: cannot tell which layer feeds it")
        x = src[0]
        out_layers.extend(_convert(cls, c, name, x, src, weights, where))
        prev = name
    if outputs_cfg and isinstance(outputs_cfg[0], str):      # Keras 3: one output as [name, 0, 0]
        outputs_cfg = [outputs_cfg]
    outputs = [o[0] for o in outputs_cfg] if outputs_cfg else [prev]
    return {"format": "bitops-graph", "version": 1, "layout": "NHWC", "inputs": inputs, "outputs": outputs,
            "layers": out_layers}


def _activation(act, name, x, where):
    if act in (None, "linear"):
        return []
    if act == "relu":
        return [{"op": "relu", "name": name + "/relu", "input": x, "output": name}]
    if act == "softmax":
        return [{"op": "softmax", "name": name + "/softmax", "input": x, "output": name}]
    raise FormatError(f"{where}: activation {act!r} is not supported")


def _convert(cls, c, name, x, src, weights, where):
    act = c.get("activation")
    act_name = name + "/pre_act" if act not in (None, "linear") else name
    if cls in ("DepthwiseConv2D", "QuantDepthwiseConv2D"):
        # (kh, kw, C, m) depthwise kernel = a grouped conv with C groups, output channel c*m + j.
        dk = weights.get(f"{name}/depthwise_kernel", weights.get(f"{name}/kernel"))   # Keras 2 / Keras 3 h5
        if dk is None:
            raise FormatError(f"{where}: depthwise kernel weights are missing")
        dk = np.asarray(dk)
        if dk.ndim != 4:
            raise FormatError(f"{where}: depthwise kernel must be 4-D (kh, kw, C, multiplier), got {dk.shape}")
        kh, kw, ch, mult = dk.shape
        weights[f"{name}/kernel"] = np.ascontiguousarray(dk.reshape(kh, kw, 1, ch * mult))
        c = dict(c, groups=1, _depthwise_groups=ch, kernel_quantizer=c.get("depthwise_quantizer"))
        cls = "QuantConv2D"
    if cls == "ZeroPadding2D":
        p = c.get("padding", 1)
        p = [[p, p], [p, p]] if isinstance(p, int) else [[v, v] if isinstance(v, int) else v for v in p]
        return [{"op": "pad", "name": name, "input": x, "output": name,
                 "padding": [p[0][0], p[1][0], p[0][1], p[1][1]]}]
    if cls in ("Conv2D", "QuantConv2D", "Dense", "QuantDense"):
        res = []
        iq = _quantizer(c.get("input_quantizer"), where)
        if iq is not None:
            res.append(dict(op="quant", name=name + "/input_quant", input=x, output=name + "/xq", **iq))
            x = name + "/xq"
        kname = f"{name}/kernel"
        if kname not in weights:
            raise FormatError(f"{where}: kernel weights are missing")
        wq = _quantizer(c.get("kernel_quantizer"), where)
        conv = cls.endswith("Conv2D")
        if wq is not None and wq.pop("magnitude_aware", False):
            k = np.asarray(weights[kname], dtype=np.float64)
            wq["scale"] = np.abs(k).mean(axis=tuple(range(k.ndim - 1))).tolist()
            wq["axis"] = k.ndim - 1          # output channels: last axis of HWIO and of Dense's (in, out)
        entry = {"op": "conv" if conv else "fc", "name": name, "input": x, "output": act_name}
        bias = f"{name}/bias" if c.get("use_bias", True) and f"{name}/bias" in weights else None
        if bias:
            entry["bias"] = bias
        if conv:
            if c.get("data_format", "channels_last") != "channels_last":
                raise FormatError(f"{where}: only channels_last is supported")
            if float(c.get("pad_values", 0.0)) != 0.0:
                if iq is None:
                    raise FormatError(f"{where}: pad_values={c['pad_values']} needs an input quantizer")
                entry["pad_value"] = float(c["pad_values"])
            if int(c.get("groups", 1)) != 1:
                raise FormatError(f"{where}: grouped convolutions are not supported")
            if c.get("_depthwise_groups"):
                entry["groups"] = int(c["_depthwise_groups"])
            entry.update(weight=kname, stride=list(c.get("strides", [1, 1])),
                         dilation=list(c.get("dilation_rate", [1, 1])), padding=c.get("padding", "valid"))
        else:
            entry.update(weight=kname, weight_layout="in_out")     # Dense kernel is (in, out)
        if wq is not None:
            entry["weight_quant"] = wq
        res.append(entry)
        return res + _activation(act, name, act_name, where)
    if cls == "BatchNormalization":
        axis = c.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if not isinstance(axis, int) or axis not in (-1, 1, 3):
            raise FormatError(f"{where}: BatchNormalization over axis {axis} is not supported (channels last only)")
        n = np.asarray(weights[f"{name}/moving_mean"]).shape[0]
        for kind, default in (("gamma", 1.0), ("beta", 0.0)):
            if f"{name}/{kind}" not in weights:
                weights[f"{name}/{kind}"] = np.full(n, default, np.float32)
        return [{"op": "batchnorm", "name": name, "input": x, "output": name, "gamma": f"{name}/gamma",
                 "beta": f"{name}/beta", "mean": f"{name}/moving_mean", "var": f"{name}/moving_variance",
                 "eps": float(c.get("epsilon", 1e-3))}]
    if cls in ("MaxPooling2D", "AveragePooling2D"):
        pool = list(c.get("pool_size", [2, 2]))
        return [{"op": "maxpool" if cls == "MaxPooling2D" else "avgpool", "name": name, "input": x, "output": name,
                 "kernel": pool, "stride": list(c.get("strides") or pool), "padding": c.get("padding", "valid")}]
    if cls == "GlobalAveragePooling2D":
        return [{"op": "gap", "name": name + "/gap", "input": x, "output": name + "/gap4"},
                {"op": "flatten", "name": name, "input": name + "/gap4", "output": name}]
    if cls == "Flatten":
        return [{"op": "flatten", "name": name, "input": x, "output": name}]
    if cls in ("Dropout", "Activation", "ReLU"):
        if cls == "Activation":
            return _activation(c.get("activation"), name, x, where) or \
                [{"op": "identity", "name": name, "input": x, "output": name}]
        if cls == "ReLU":
            if c.get("max_value") not in (None,) or float(c.get("negative_slope", 0)) or float(c.get("threshold", 0)):
                raise FormatError(f"{where}: ReLU with max_value/negative_slope/threshold is not supported")
            return [{"op": "relu", "name": name, "input": x, "output": name}]
        return [{"op": "identity", "name": name, "input": x, "output": name}]
    if cls == "Add":
        if len(src) != 2:
            raise FormatError(f"{where}: Add of {len(src)} inputs is not supported")
        return [{"op": "add", "name": name, "inputs": src, "output": name}]
    raise FormatError(f"{where}: unsupported Keras layer class {cls!r}")
