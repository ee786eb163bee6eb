"""Which format a file is, from its first bytes (and, for zips, its member names)."""
import os
import zipfile

from bitops.io.errors import FormatError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"


def detect_format(path):
    """One of "onnx", "keras-h5", "keras", "npz", "torch", "safetensors"; FormatError otherwise."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    size = os.path.getsize(path)
    if size == 0:
        raise FormatError(f"{path}: empty file")
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(HDF5_MAGIC):
        return "keras-h5"
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, RuntimeError) as exc:
            raise FormatError(f"{path}: damaged zip archive ({exc})") from exc
        if "config.json" in names and any(n.endswith(".weights.h5") for n in names):
            return "keras"
        if any(n.endswith("data.pkl") for n in names):
            return "torch"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        raise FormatError(f"{path}: a zip archive that is neither .keras, .npz nor a torch checkpoint")
    if len(head) >= 9 and head[8:9] == b"{":
        n = int.from_bytes(head[:8], "little")
        if 0 < n <= size - 8:
            return "safetensors"
    if head[:1] == b"\x80" and path.endswith((".pt", ".pth", ".bin")):
        return "torch"
    ext = os.path.splitext(path)[1].lower()
    if ext == ".onnx" or head[:1] in (b"\x08", b"\x0a", b"\x12", b"\x1a", b"\x22", b"\x3a", b"\x42"):
        return "onnx"
    raise FormatError(f"{path}: unrecognized model format (first bytes {head[:8].hex()})")


def onnx_flavour(model):
    """"qonnx" if the graph uses QONNX custom ops, else "onnx-qdq"."""
    from bitops.io.onnx_common import QONNX_DOMAINS

    qonnx_ops = {"Quant", "IntQuant", "BipolarQuant", "Trunc"}
    for n in model.graph.node:
        if n.domain in QONNX_DOMAINS or n.op_type in qonnx_ops:
            return "qonnx"
    return "onnx-qdq"
