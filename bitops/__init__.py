"""bitops: exact multi-branch binary (xnor-popcount) kernels for quantized networks.

An M-bit x N-bit layer runs as M*N binary layers weighted by powers of two
(DESIGN §2); the native core computes them exactly with xor and popcount.
"""
__version__ = "0.1.0"

from bitops.encoding import Encoded, encode, pack_bits, unpack_bits
from bitops.kernels import bgemm, explain, get_integer_path, mbconv2d, mbgemm, set_integer_path
from bitops.quant import QTensor, qconv2d, qlinear
from bitops.transforms import Affine, Thresholds
from bitops.runtime_config import (
    available_kernel_paths,
    cpu_features,
    get_kernel_path,
    get_num_threads,
    set_kernel_path,
    set_num_threads,
)

from bitops.io.errors import FormatError


def load(path, **kwargs):
    """Load a trainer's quantized export (QONNX, ONNX QDQ/QOperator, Keras/Larq,
    torch state dict, safetensors, npz) into a bitops Model; see docs/loaders.md.
    Raises bitops.FormatError (a ValueError) for a file it cannot read."""
    from bitops.io import load as _load

    return _load(path, **kwargs)


__all__ = [
    "load", "FormatError",
    "Encoded", "encode", "pack_bits", "unpack_bits",
    "bgemm", "mbgemm", "mbconv2d", "explain", "set_integer_path", "get_integer_path",
    "QTensor", "qlinear", "qconv2d", "Affine", "Thresholds",
    "cpu_features", "set_num_threads", "get_num_threads",
    "get_kernel_path", "set_kernel_path", "available_kernel_paths",
]
