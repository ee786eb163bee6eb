"""Affine quantized tensors on the multi-branch kernels.

Trainers export real = s (q - z) with q in [qmin, qmax]. With M bits and
u = q - qmin, E = 2u - (2^M - 1), so

    q - z = (E + c) / 2,   c = 2^M - 1 + 2 (qmin - z).

For a dot product of length K this gives, with S = sum_k E,

    4 sum_k (q_a - z_a)(q_w - z_w) = E_a . E_w + c_a S_w + c_w S_a + K c_a c_w,

an exact integer whenever 2z is an integer (every integer zero point, and the
z = 1/2 of a bipolar {-1,+1} tensor stored as {0,1}); the float result is
s_a s_w / 4 times it, one rounding. Otherwise the same terms are combined in
float64 (alpha = s/2, beta = s c / 2, DESIGN §2).

Convolutions pad with real zeros: a padded tap contributes nothing, so the
terms above run over the valid taps of each output pixel only (mbconv2d with
pad_value=0 for E_a . E_w, and per-pixel counts of the valid taps for the rest).
"""
import numbers

import numpy as np

from bitops._checks import as_integer_array, check_bits
from bitops.encoding import encode
from bitops.kernels import _check_encoded, conv_geometry, mbconv2d, mbgemm

__all__ = ["QTensor", "qlinear", "qconv2d"]


def _per_axis(value, name, shape, axis):
    """scale / zero_point -> float64 array broadcastable along `axis` (or a 0-d array)."""
    arr = np.asarray(value, dtype=np.float64) if not isinstance(value, np.ndarray) else value.astype(np.float64)
    if arr.ndim == 0 or arr.size == 1:
        return arr.reshape(())
    if axis is None:
        raise ValueError(f"{name} has {arr.size} values but axis=None (per-tensor); pass axis for per-channel")
    if arr.ndim != 1 or arr.shape[0] != shape[axis]:
        raise ValueError(f"{name} must have {shape[axis]} values for axis {axis} of shape {shape}, got shape {arr.shape}")
    return arr


class QTensor:
    """An affine quantized tensor: real = scale * (q - zero_point).

    q : integer array; bits : 1..8; signed, narrow : the integer range
    (signed: [-2^(b-1) + narrow, 2^(b-1) - 1]; unsigned: [0, 2^b - 1 - narrow]).
    scale, zero_point : scalars, or 1-D arrays along `axis` (per-channel).
    """

    def __init__(self, q, scale, zero_point, bits, signed=True, narrow=False, axis=None):
        self.bits = check_bits(bits)
        self.signed, self.narrow = bool(signed), bool(narrow)
        self.q = as_integer_array(q, "q")
        if axis is not None:
            if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -self.q.ndim <= axis < self.q.ndim:
                raise ValueError(f"axis must be None or an axis of q (ndim {self.q.ndim}), got {axis!r}")
            axis = int(axis) % self.q.ndim
        self.axis = axis
        if self.signed:
            self.qmin, self.qmax = -(1 << (self.bits - 1)) + self.narrow, (1 << (self.bits - 1)) - 1
        else:
            self.qmin, self.qmax = 0, (1 << self.bits) - 1 - self.narrow
        if self.qmax <= self.qmin:
            raise ValueError(f"a {self.bits}-bit {'signed' if signed else 'unsigned'} narrow range holds one value; use more bits")
        lo, hi = int(self.q.min()), int(self.q.max())
        if lo < self.qmin or hi > self.qmax:
            raise ValueError(f"q has values in [{lo}, {hi}] outside the {self.bits}-bit range [{self.qmin}, {self.qmax}]")
        self.scale = _per_axis(scale, "scale", self.q.shape, axis)
        self.zero_point = _per_axis(zero_point, "zero_point", self.q.shape, axis)
        if not np.all(np.isfinite(self.scale)) or np.any(self.scale <= 0):
            raise ValueError(f"scale must be finite and positive, got {self.scale}")
        if not np.all(np.isfinite(self.zero_point)):
            raise ValueError(f"zero_point must be finite, got {self.zero_point}")
        self._encoded = None

    @classmethod
    def bipolar(cls, signs, scale=1.0, axis=None):
        """A binary tensor real = scale * sign, from an array of -1/+1 (BipolarQuant, ste_sign)."""
        s = as_integer_array(signs, "signs")
        if not np.all((s == 1) | (s == -1)):
            raise ValueError("signs must hold only -1 and +1")
        # q in {0, 1}: real = 2 scale (q - 1/2) = scale * E.
        return cls((s > 0).astype(np.int8), 2 * np.asarray(scale, dtype=np.float64), 0.5, 1, signed=False, axis=axis)

    @property
    def shape(self):
        return self.q.shape

    @property
    def encoded(self):
        """The codes as bit-planes, packed along the last axis (cached)."""
        if self._encoded is None:
            self._encoded = encode(self.q, self.bits, self.qmin)
        return self._encoded

    def offset_c(self):
        """c = 2^M - 1 + 2 (qmin - z): q - z = (E + c) / 2 (scalar or per-channel array)."""
        return (1 << self.bits) - 1 + 2 * (self.qmin - self.zero_point)

    def dequantize(self):
        """float64 real values scale * (q - zero_point)."""
        return self._broadcast(self.scale) * (self.q.astype(np.float64) - self._broadcast(self.zero_point))

    def _broadcast(self, v):
        if v.ndim == 0:
            return v
        shape = [1] * self.q.ndim
        shape[self.axis] = v.size
        return v.reshape(shape)

    def __repr__(self):
        kind = "per-tensor" if self.scale.ndim == 0 else f"per-channel(axis={self.axis})"
        return f"QTensor(shape={self.shape}, bits={self.bits}, {'signed' if self.signed else 'unsigned'}, {kind})"


def _check_qtensor(t, name):
    if not isinstance(t, QTensor):
        raise ValueError(f"{name} must be a bitops.QTensor, got {type(t).__name__}")
    return t


def _along(t, name, allowed_axis, what):
    """c, scale as arrays broadcast over `allowed_axis`; per-channel elsewhere is an error."""
    if t.scale.ndim and t.axis != allowed_axis:
        raise ValueError(
            f"{name} is per-channel along axis {t.axis}; only per-tensor or per-{what} (axis {allowed_axis}) "
            "scales can be factored out of the dot product"
        )
    return np.atleast_1d(t.offset_c()), np.atleast_1d(t.scale)


def _combine(dot, s_row, s_col, k_count, c_a, c_w, s_a, s_w):
    """s_a s_w / 4 * (dot + c_a S_w + c_w S_a + K c_a c_w), exact in int64 when the c are integers.

    dot, s_row (S_a per output element), s_col (S_w), k_count broadcast together;
    c_a, s_a broadcast with the rows and c_w, s_w with the columns.
    """
    integral = np.all(c_a == np.round(c_a)) and np.all(c_w == np.round(c_w))
    bound = float(np.max(np.abs(dot))) + np.max(np.abs(c_a)) * np.max(np.abs(s_col)) \
        + np.max(np.abs(c_w)) * np.max(np.abs(s_row)) + np.max(k_count) * np.max(np.abs(c_a)) * np.max(np.abs(c_w))
    if integral and bound < 2.0**62:
        ca, cw = c_a.astype(np.int64), c_w.astype(np.int64)
        total = dot.astype(np.int64) + ca * s_col + cw * s_row + k_count * ca * cw
        return (s_a * s_w / 4.0) * total.astype(np.float64)
    total = dot.astype(np.float64) + c_a * s_col + c_w * s_row + k_count * c_a * c_w
    return (s_a * s_w / 4.0) * total


def _check_bias(bias, n):
    if bias is None:
        return 0.0
    b = np.asarray(bias, dtype=np.float64)
    if b.shape not in ((), (n,)):
        raise ValueError(f"bias must be a scalar or have shape ({n},), got {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError("bias must be finite")
    return b


def qlinear(x, w, bias=None):
    """Quantized linear layer: x (R, K) QTensor, w (N, K) QTensor -> float32 (R, N).

    Equals (x.dequantize() @ w.dequantize().T + bias). Scales may be per-tensor,
    or per-row for x (axis 0) and per-output-channel for w (axis 0).
    """
    _check_qtensor(x, "x")
    _check_qtensor(w, "w")
    if x.q.ndim != 2 or w.q.ndim != 2:
        raise ValueError(f"x and w must be 2-D (R, K) and (N, K), got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"K mismatch: x has K={x.shape[1]}, w has K={w.shape[1]}")
    c_a, s_a = _along(x, "x", 0, "row")
    c_w, s_w = _along(w, "w", 0, "output-channel")
    ea, ew = x.encoded, w.encoded
    dot = mbgemm(ea, ew)
    out = _combine(dot, ea.row_sums()[:, None], ew.row_sums()[None, :], x.shape[1],
                   c_a[:, None], c_w[None, :], s_a[:, None], s_w[None, :])
    return (out + _check_bias(bias, w.shape[0])).astype(np.float32)


def _window_sums(pix_sums, geo):
    """Sum over the valid taps of each output pixel: pix_sums (B, H, W) -> (B, OH, OW)."""
    (oh, ow), (kh, kw) = geo.out_hw, geo.kernel
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    pt, pl, pb, pr = geo.pads
    padded = np.pad(pix_sums, ((0, 0), (pt, pb), (pl, pr)))
    out = np.zeros((pix_sums.shape[0], oh, ow), dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            out += padded[:, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw]
    return out


def qconv2d(x, w, bias=None, stride=1, padding=0, dilation=1):
    """Quantized 2-D convolution with real zero padding.

    x : QTensor NHWC (B, H, W, C), per-tensor; w : QTensor OHWI (O, KH, KW, C),
    per-tensor or per-output-channel (axis 0). Returns float32 (B, OH, OW, O)
    equal to a float64 convolution of the dequantized tensors (+ bias).
    """
    _check_qtensor(x, "x")
    _check_qtensor(w, "w")
    if x.q.ndim != 4 or w.q.ndim != 4:
        raise ValueError(f"x must be NHWC and w OHWI (4-D), got {x.shape} and {w.shape}")
    if x.shape[3] != w.shape[3]:
        raise ValueError(f"channel mismatch: x has C={x.shape[3]}, w has C={w.shape[3]}")
    if x.scale.ndim:
        raise ValueError("x must have per-tensor scale and zero_point for a convolution")
    c_a, s_a = _along(x, "x", None, "tensor")
    c_w, s_w = _along(w, "w", 0, "output-channel")
    ex, ew = x.encoded, w.encoded
    geo = conv_geometry(x.shape[1:3], w.shape[1:3], stride, padding, dilation)
    dot = mbconv2d(ex, ew, geo.stride, geo.pads, geo.dilation, pad_value=0)
    valid = geo.valid_taps()                                      # (OH, OW, KH, KW)
    n_valid = valid.reshape(valid.shape[0], valid.shape[1], -1).sum(-1)
    tap_sum = ew.row_sums().reshape(w.shape[0], -1)               # (O, KH*KW)
    s_w_valid = valid.reshape(n_valid.shape + (-1,)).astype(np.int64) @ tap_sum.T  # (OH, OW, O)
    s_a_valid = _window_sums(ex.row_sums(), geo)                  # (B, OH, OW)
    out = _combine(dot, s_a_valid[..., None], s_w_valid[None], (n_valid * x.shape[3])[None, :, :, None],
                   c_a, c_w, s_a, s_w)
    return (out + _check_bias(bias, w.shape[0])).astype(np.float32)
