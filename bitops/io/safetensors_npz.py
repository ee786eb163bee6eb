"""Tensor files with a bitops graph description: .npz and .safetensors (docs/loaders.md).

.npz: the arrays by name, plus "__bitops_graph__", a 0-d string array holding the
JSON graph; read with allow_pickle=False, so an object array is an error.
.safetensors: the tensors by name; the JSON graph is the header metadata entry
"__bitops_graph__". Read with the safetensors package (numpy backend).
"""
import os

import numpy as np

from bitops.io.errors import FormatError
from bitops.io.graph_schema import SCHEMA_KEY, build_model, parse_graph


def load_tensor_file(path, fmt):
    path = os.fspath(path)
    if fmt == "npz":
        tensors, text = _read_npz(path)
    else:
        tensors, text = _read_safetensors(path)
    if text is None:
        raise FormatError(f"{path}: no {SCHEMA_KEY!r} graph description (see docs/loaders.md)")
    return build_model(parse_graph(text, path), tensors, path, fmt)


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            tensors = {k: z[k] for k in z.files}
    except ValueError as exc:
        raise FormatError(f"{path}: .npz holds something other than plain arrays ({exc})") from exc
    except Exception as exc:
        raise FormatError(f"{path}: not a readable .npz ({type(exc).__name__}: {exc})") from exc
    g = tensors.pop(SCHEMA_KEY, None)
    text = None
    if g is not None:
        if g.dtype.kind == "U":
            text = str(g.reshape(-1)[0]) if g.size == 1 else None
        elif g.dtype == np.uint8:
            text = g.tobytes().decode("utf-8", "replace")
        if text is None:
            raise FormatError(f"{path}: {SCHEMA_KEY!r} must be a string (or UTF-8 bytes as uint8)")
    return tensors, text


def _read_safetensors(path):
    try:
        from safetensors import safe_open
    except ImportError as exc:
        raise FormatError(f"{path}: reading .safetensors needs the 'safetensors' package") from exc
    try:
        tensors = {}
        with safe_open(path, framework="np") as f:
            meta = f.metadata() or {}
            for k in f.keys():
                tensors[k] = f.get_tensor(k)
    except Exception as exc:
        raise FormatError(f"{path}: not a readable .safetensors file ({type(exc).__name__}: {exc})") from exc
    return tensors, meta.get(SCHEMA_KEY)
