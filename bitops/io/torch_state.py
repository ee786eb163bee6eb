"""PyTorch state dicts (.pt) with a bitops graph description (docs/loaders.md).

Read only with torch.load(weights_only=True): plain tensors, numbers, strings
and containers; any other pickled object is refused by torch and reported as
a FormatError. torch.ao quantized tensors (quantize_per_tensor /
quantize_per_channel, qint8 / quint8) become their integer codes with their
own scale, zero point and axis. torch is imported only here.
"""
import os

import numpy as np

from bitops.io.errors import FormatError
from bitops.io.graph_schema import SCHEMA_KEY, build_model, parse_graph


def load_torch_state(path):
    path = os.fspath(path)
    try:
        import torch
    except ImportError as exc:
        raise FormatError(f"{path}: reading PyTorch files needs torch (pip install torch)") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:   # UnpicklingError for disallowed globals, RuntimeError for damaged zips
        raise FormatError(f"{path}: not a plain-tensor PyTorch file ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        graph = obj.get(SCHEMA_KEY)
        obj = dict(obj["state_dict"])
        if graph is not None:
            obj[SCHEMA_KEY] = graph
    if not isinstance(obj, dict):
        raise FormatError(f"{path}: expected a state dict (a dict of tensors), got {type(obj).__name__}")
    text = obj.pop(SCHEMA_KEY, None)
    if not isinstance(text, str):
        raise FormatError(f"{path}: state dict has no {SCHEMA_KEY!r} string describing the graph "
                          "(see docs/loaders.md)")
    tensors, qparams = {}, {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            continue
        if v.is_quantized:
            tensors[k], qparams[k] = _quantized(v, k, path, torch)
        else:
            v = v.detach()
            if v.is_floating_point() and v.dtype not in (torch.float16, torch.float32, torch.float64):
                v = v.float()   # bfloat16, float8: numpy has no such dtype; float32 holds them exactly
            tensors[k] = v.numpy()
    return build_model(parse_graph(text, path), tensors, path, "torch", quant_params=qparams)


def _quantized(t, name, path, torch):
    if t.dtype not in (torch.qint8, torch.quint8):
        raise FormatError(f"{path}: quantized tensor {name!r} has dtype {t.dtype}; qint8 and quint8 are supported")
    q = t.int_repr().numpy().astype(np.int64)
    signed = t.dtype == torch.qint8
    if t.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        return q, (float(t.q_scale()), float(t.q_zero_point()), None, signed)
    if t.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        return q, (t.q_per_channel_scales().numpy().astype(np.float64),
                   t.q_per_channel_zero_points().numpy().astype(np.float64), int(t.q_per_channel_axis()), signed)
    raise FormatError(f"{path}: quantized tensor {name!r} uses unsupported scheme {t.qscheme()}")
