"""Golden vectors for every quantized layer of a loaded model.

Data flows one way: the model (``bitops.load``) runs the input once with the
reference backend, keeping every tensor; each quantized conv/fc layer's input
is re-quantized on its own activation grid to integer codes, and the layer is
handed to ``write_layer_vectors`` with its weight codes. The vector set
therefore holds exactly the integers the layer computes on, whatever the
float parts of the model do between layers.

Codes go to the unsigned form u = q - qmin (bipolar grids: u = 1 for +1,
0 for -1). Zero padding of a convolution is the activation code of real zero,
u = zero_point - qmin, which must exist on the grid (bipolar grids pad with
+1, their sign(0)). Output codes use the default thresholds at the next
quantized layer's a_bits (or ``out_bits``): they exercise the RTL's threshold
unit; the model's own requantization is a float step the RTL does not model.
"""
import re
from pathlib import Path

import numpy as np

from .vectors import write_layer_vectors

__all__ = ["write_model_vectors"]


def _unsigned(q, spec, what):
    q = np.asarray(q, dtype=np.int64)
    if getattr(spec, "bipolar", False):
        return (q > 0).astype(np.int64)
    u = q - int(spec.qmin)
    if u.size and (u.min() < 0 or u.max() > (1 << spec.bits) - 1):
        raise ValueError(f"{what}: codes outside [{spec.qmin}, {spec.qmax}]")
    return u


def _safe_name(name, used):
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)).strip(".") or "layer"
    out, n = base, 1
    while out in used:
        n += 1
        out = f"{base}_{n}"
    used.add(out)
    return out


def _pad_code(spec, layer_name):
    if getattr(spec, "bipolar", False):
        return 1
    zp = np.asarray(spec.zero_point, dtype=np.float64).reshape(-1)
    if zp.size != 1 and not np.all(zp == zp[0]):
        raise ValueError(f"layer {layer_name!r}: per-channel activation zero points cannot pad "
                         f"with one code")
    u = int(zp[0]) - int(spec.qmin)
    if not 0 <= u <= (1 << spec.bits) - 1:
        raise ValueError(f"layer {layer_name!r}: real zero (zero point {int(zp[0])}) is not on "
                         f"the activation grid [{spec.qmin}, {spec.qmax}]; cannot pad")
    return u


def write_model_vectors(model, x, out_dir, pe=4, simd=32, out_bits=None):
    """Write vectors for each quantized conv/fc layer of ``model`` run on ``x``.

    model: a path (read with ``bitops.load``) or a loaded model (``layers``,
    ``trace``, ``source_layout``). x: an array or a ``.npy`` path, in the
    model's source layout. Returns the list of manifest entries.
    """
    if isinstance(model, (str, Path)):
        from bitops import load

        if not Path(model).is_file():
            raise ValueError(f"{model}: no such model file")
        model = load(str(model))
    if isinstance(x, (str, Path)):
        if not Path(x).is_file():
            raise ValueError(f"{x}: no such input file")
        x = np.load(x, allow_pickle=False)
    layers = [l for l in model.layers if getattr(l, "quantized", False)]
    if not layers:
        raise ValueError("the model has no quantized conv or fc layer (nothing for the RTL)")
    tensors = model.trace(x, backend="reference")
    nchw = getattr(model, "source_layout", "NHWC") == "NCHW"
    used = set()
    entries = []
    for idx, layer in enumerate(layers):
        name = layer.name
        real = np.asarray(tensors[layer.inputs[0]], dtype=np.float64)
        if real.ndim == 4 and nchw:
            real = real.transpose(0, 2, 3, 1)
        x_u = _unsigned(layer.act_spec.quantize(real), layer.act_spec, f"layer {name!r} input")
        w_u = _unsigned(layer.weight, layer.weight_spec, f"layer {name!r} weights")
        nxt = layers[idx + 1].a_bits if idx + 1 < len(layers) else None
        ob = int(out_bits or nxt or 2)
        common = dict(w_bits=int(layer.w_bits), a_bits=int(layer.a_bits), out_bits=min(ob, 8),
                      pe=pe, simd=simd, meta={"source_layer": str(name)})
        fname = _safe_name(name, used)
        if layer.op == "fc":
            x_rows = x_u.reshape(-1, x_u.shape[-1])
            e = write_layer_vectors(out_dir, fname, x_rows, w_u, op="fc", **common)
        elif layer.op == "conv":
            if getattr(layer, "groups", 1) != 1:
                raise ValueError(f"layer {name!r}: grouped convolution is not supported by the RTL")
            top, left, bottom, right = layer.padding or (0, 0, 0, 0)
            if (top, left) != (bottom, right):
                raise ValueError(f"layer {name!r}: asymmetric padding {layer.padding} is not "
                                 f"supported by the vector writer")
            pad_code = _pad_code(layer.act_spec, name) if (top or left) else 0
            e = write_layer_vectors(out_dir, fname, x_u, w_u, op="conv",
                                    stride=tuple(layer.stride or (1, 1)), padding=(top, left),
                                    dilation=tuple(layer.dilation or (1, 1)), pad_code=pad_code,
                                    **common)
        else:   # pragma: no cover - quantized implies conv or fc
            continue
        entries.append(e)
    return entries
