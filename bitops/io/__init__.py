"""Loaders for trainer exports: `load(path)` -> `bitops.model.Model`.

One module per format (qonnx, onnx_qdq, keras, torch_state, safetensors_npz);
`detect` picks one from the file's first bytes. Every failure to read a file
is a `FormatError` (a ValueError) naming the file and the node or field.
"""
import os
import zipfile

from bitops.io.detect import detect_format
from bitops.io.errors import FormatError

__all__ = ["load", "detect_format", "FormatError"]


def load(path, batch=None):
    """Read a quantized model file into a `Model`.

    path: a QONNX / ONNX (QDQ, QOperator) .onnx, Keras/Larq .h5 or .keras,
    PyTorch state dict .pt, .safetensors or .npz file (see docs/loaders.md).
    batch: accepted for symmetry with `Model.inputs`; models are built for
    batch 1 and run on any batch.
    """
    fmt = detect_format(path)
    try:
        if fmt == "onnx":
            return _load_onnx(path)
        if fmt in ("keras-h5", "keras"):
            from bitops.io.keras import load_keras

            return load_keras(path)
        if fmt in ("npz", "safetensors"):
            from bitops.io.safetensors_npz import load_tensor_file

            return load_tensor_file(path, fmt)
        if fmt == "torch":
            from bitops.io.torch_state import load_torch_state

            return load_torch_state(path)
    except (FormatError, FileNotFoundError):
        raise
    except ImportError as exc:
        raise FormatError(f"{path}: reading {fmt} files needs {exc.name!r}, which is not installed") from exc
    except (RecursionError, MemoryError, OverflowError, ValueError, KeyError, IndexError, TypeError,
            AttributeError, OSError, ZeroDivisionError, EOFError, StopIteration, RuntimeError,
            NotImplementedError, zipfile.BadZipFile) as exc:
        raise FormatError(f"{path}: cannot read as {fmt} ({type(exc).__name__}: {exc})") from exc
    raise FormatError(f"{path}: no loader for format {fmt!r}")


def _load_onnx(path):
    from bitops.io.detect import onnx_flavour
    from bitops.io.onnx_common import read_onnx

    model = read_onnx(path)
    return _load_onnx_model(model, os.fspath(path), onnx_flavour(model))


def _load_onnx_model(model, where, fmt):
    from bitops.io import onnx_ops, onnx_qdq, qonnx  # noqa: F401  (register their handlers)
    from bitops.io.onnx_common import GraphBuilder

    return GraphBuilder(model, where, fmt).build()
