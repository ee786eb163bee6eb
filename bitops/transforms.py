"""Output transforms fused into the kernels' store step (csrc/output.h).

Affine(scale, bias, clamp): float32 y = clamp(acc * scale[c] + bias[c]) — a
folded BatchNorm, the dequantisation of a layer, a HardTanh.

Thresholds(t, bits): the next layer's code u = #{j : t[c][j] <= acc}, with
2^bits - 1 sorted integer thresholds per output channel (FINN's
MultiThreshold), returned as an Encoded whose planes the next layer consumes
directly, with no float tensor in between.
"""
import numbers

import numpy as np

from bitops._checks import check_bits

__all__ = ["Affine", "Thresholds"]


class Affine:
    """float32 y = clamp(acc * scale + bias); scale scalar or per output channel."""

    def __init__(self, scale, bias=None, clamp=None):
        self.scale = np.atleast_1d(np.asarray(scale, dtype=np.float64))
        if self.scale.ndim != 1 or not np.all(np.isfinite(self.scale)):
            raise ValueError(f"scale must be a finite scalar or 1-D array, got {scale!r}")
        self.bias = None if bias is None else np.atleast_1d(np.asarray(bias, dtype=np.float64))
        if self.bias is not None and (self.bias.ndim != 1 or not np.all(np.isfinite(self.bias))):
            raise ValueError("bias must be a finite 1-D array")
        if clamp is not None:
            if len(clamp) != 2 or not all(isinstance(v, numbers.Real) for v in clamp) or not clamp[0] <= clamp[1]:
                raise ValueError(f"clamp must be a pair (lo, hi) with lo <= hi, got {clamp!r}")
            clamp = (float(clamp[0]), float(clamp[1]))
        self.clamp = clamp

    def spec(self, channels):
        if self.scale.size not in (1, channels):
            raise ValueError(f"Affine scale has {self.scale.size} values for {channels} output channels")
        bias = self.bias
        if bias is not None and bias.size == 1:
            bias = np.full(channels, bias[0])
        if bias is not None and bias.size != channels:
            raise ValueError(f"Affine bias has {bias.size} values for {channels} output channels")
        return ("affine", self.scale, bias, self.clamp)


class Thresholds:
    """Per-channel integer thresholds -> `bits`-bit codes of the next layer.

    thresholds : integer array (channels, 2^bits - 1), each row non-decreasing.
    """

    def __init__(self, thresholds, bits):
        self.bits = check_bits(bits)
        t = np.asarray(thresholds)
        if t.dtype == np.bool_ or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"thresholds must be integers (on the accumulator), got dtype {t.dtype}")
        if t.ndim != 2 or t.shape[1] != (1 << self.bits) - 1:
            raise ValueError(f"thresholds must have shape (channels, {(1 << self.bits) - 1}) for {self.bits}-bit "
                             f"outputs, got {t.shape}")
        if np.any(np.diff(t, axis=1) < 0):
            raise ValueError("each row of thresholds must be sorted (non-decreasing)")
        self.thresholds = t.astype(np.int64)

    def spec(self, channels):
        if self.thresholds.shape[0] != channels:
            raise ValueError(f"thresholds have {self.thresholds.shape[0]} rows for {channels} output channels")
        return ("threshold", self.thresholds, self.bits)


def check_transform(transform, channels):
    """-> the spec the native core takes, or None."""
    if transform is None:
        return None
    if not isinstance(transform, (Affine, Thresholds)):
        raise ValueError(f"transform must be bitops.Affine or bitops.Thresholds, got {type(transform).__name__}")
    return transform.spec(channels)
