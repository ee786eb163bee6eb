"""Integer grids: the quantizer every loader maps its format onto.

A grid is the affine map of DESIGN §2,

    real = scale * (q - zero_point),   q integer in [qmin, qmax],

with a per-tensor or per-channel scale and zero point. Quantizing is

    q = clip(round(x / scale + zero_point), qmin, qmax)

with the rounding mode the format names (ONNX QuantizeLinear: half to even;
QONNX Quant: ROUND = half to even unless told otherwise). Clipping before or
after rounding gives the same q because qmin and qmax are integers.

The arithmetic runs in the dtype of x (float32 for the kernels backend, as the
trainers do, float64 for the reference backend), so a value that lies exactly
on a rounding tie rounds the same way the trainer rounds it.
"""
import math

import numpy as np

from bitops.io.errors import FormatError

#: The widest code the packed kernels take (csrc/bitops.h BO_MAX_BITS).
MAX_PACKED_BITS = 8


def _round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def _round_half_toward(v):
    return np.sign(v) * np.ceil(np.abs(v) - 0.5)


ROUNDING = {
    "ROUND": np.rint,            # half to even
    "HALF_EVEN": np.rint,
    "CEIL": np.ceil,
    "FLOOR": np.floor,
    "UP": lambda v: np.sign(v) * np.ceil(np.abs(v)),
    "DOWN": np.trunc,
    "ROUND_TO_ZERO": np.trunc,
    "HALF_UP": _round_half_away,
    "HALF_DOWN": _round_half_toward,
}


def int_range(bits, signed, narrow):
    """(qmin, qmax) of a `bits`-wide integer, as QONNX and Brevitas define it."""
    if signed:
        lo = -(1 << (bits - 1))
        return (lo + 1 if narrow else lo), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - (2 if narrow else 1)


def range_format(qmin, qmax):
    """Smallest (bits, signed, narrow) whose range contains [qmin, qmax]."""
    if qmin >= 0:
        bits = max(1, math.ceil(math.log2(qmax + 1))) if qmax > 0 else 1
        return bits, False, False
    bits = 1
    while True:
        lo, hi = int_range(bits, True, False)
        if lo <= qmin and qmax <= hi:
            narrow = bits > 1 and qmin > lo
            return bits, True, narrow
        bits += 1


class QuantSpec:
    """An integer grid for one tensor.

    scale, zero_point: float arrays broadcastable against the tensor in the
    runtime's layout (NHWC activations, OHWI or (N, K) weights); `axis` is
    the channel axis they vary along, or None for per-tensor.
    qmin, qmax: the integer range (a Clip or a narrow range may make it smaller
    than `bits` allows). bipolar: a BipolarQuant / ste_sign grid, q in {-1, +1},
    real = scale * q.
    """

    def __init__(self, scale, zero_point, qmin, qmax, axis=None, rounding="ROUND",
                 bipolar=False, name="?"):
        self.name = name
        scale = np.asarray(scale, dtype=np.float64)
        zero_point = np.asarray(zero_point, dtype=np.float64)
        if scale.size == 0 or not np.all(np.isfinite(scale)) or np.any(scale == 0):
            raise FormatError(f"tensor {name!r}: scale must be finite and non-zero, got {_brief(scale)}")
        if not np.all(np.isfinite(zero_point)):
            raise FormatError(f"tensor {name!r}: zero point must be finite, got {_brief(zero_point)}")
        if not bipolar and np.any(zero_point != np.round(zero_point)):
            raise FormatError(f"tensor {name!r}: zero point must be an integer, got {_brief(zero_point)}")
        if rounding.upper() not in ROUNDING:
            raise FormatError(f"tensor {name!r}: unknown rounding mode {rounding!r}")
        self.scale = scale
        self.zero_point = zero_point
        self.qmin = int(qmin)
        self.qmax = int(qmax)
        if self.qmin > self.qmax:
            raise FormatError(f"tensor {name!r}: empty integer range [{qmin}, {qmax}]")
        self.axis = axis
        self.rounding = rounding.upper()
        self.bipolar = bool(bipolar)

    # -- the format seen by the kernels -------------------------------------
    @property
    def bits(self):
        if self.bipolar:
            return 1
        return range_format(self.qmin, self.qmax)[0]

    @property
    def signed(self):
        return True if self.bipolar else range_format(self.qmin, self.qmax)[1]

    @property
    def narrow(self):
        return False if self.bipolar else range_format(self.qmin, self.qmax)[2]

    @property
    def per_channel(self):
        return self.scale.size > 1 or self.zero_point.size > 1

    def levels(self):
        """Number of distinct integer values."""
        return 2 if self.bipolar else self.qmax - self.qmin + 1

    # -- arithmetic ------------------------------------------------------------
    def quantize(self, x):
        """Float array -> int64 codes q (bipolar: -1/+1). Runs in x's float dtype."""
        x = np.asarray(x)
        dt = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        x = x.astype(dt, copy=False)
        if self.bipolar:
            return np.where(x >= 0, 1, -1).astype(np.int64)
        v = x / self.scale.astype(dt) + self.zero_point.astype(dt)
        v = np.clip(v, self.qmin, self.qmax)
        return ROUNDING[self.rounding](v).astype(np.int64)

    def dequantize(self, q, dtype=np.float32):
        q = np.asarray(q)
        s = self.scale.astype(dtype)
        if self.bipolar:
            return q.astype(dtype) * s
        return (q.astype(dtype) - self.zero_point.astype(dtype)) * s

    def code_of(self, value):
        """The integer code whose real value is `value` (to np.isclose), or None when
        `value` is off the grid or the grid is per-channel (one code cannot serve every channel)."""
        if self.per_channel:
            return None
        value = np.float64(value)
        code = self.quantize(value).reshape(-1)[0]
        if not np.isclose(self.dequantize(code, np.float64).reshape(-1)[0], value):
            return None
        return int(code)

    def fake_quantize(self, x):
        x = np.asarray(x)
        dt = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        return self.dequantize(self.quantize(x), dt)

    def with_layout(self, perm):
        """The same grid with scale/zero-point axes permuted by `perm` (for NCHW -> NHWC)."""
        s = self.scale
        z = self.zero_point
        axis = self.axis
        if s.ndim == len(perm):
            s = s.transpose(perm)
        if z.ndim == len(perm):
            z = z.transpose(perm)
        if axis is not None:
            axis = list(perm).index(axis)
        return QuantSpec(s, z, self.qmin, self.qmax, axis, self.rounding, self.bipolar, self.name)

    def same_grid(self, other):
        return (other is not None and self.bipolar == other.bipolar and self.qmin == other.qmin
                and self.qmax == other.qmax and self.scale.shape == other.scale.shape
                and np.array_equal(self.scale, other.scale)
                and np.array_equal(self.zero_point, other.zero_point))

    def channel_vector(self, arr, n):
        """scale or zero point as a length-n float64 vector (per-tensor values repeated)."""
        a = np.asarray(arr, dtype=np.float64).reshape(-1)
        if a.size == 1:
            return np.full(n, a[0])
        if a.size != n:
            raise FormatError(f"tensor {self.name!r}: {a.size} per-channel parameters for {n} channels")
        return a

    def describe(self):
        if self.bipolar:
            return "bipolar"
        return f"{'i' if self.signed else 'u'}{self.bits}" + ("n" if self.narrow else "")

    def __repr__(self):
        return (f"QuantSpec({self.describe()}, q=[{self.qmin},{self.qmax}], scale={_brief(self.scale)}, "
                f"zero_point={_brief(self.zero_point)}, axis={self.axis})")


class QValue:
    """A quantized tensor flowing through the runtime: integer codes + their grid."""

    __slots__ = ("q", "spec", "_real")

    def __init__(self, q, spec):
        self.q = q
        self.spec = spec
        self._real = None

    @property
    def shape(self):
        return self.q.shape

    def real(self, dtype=np.float32):
        if self._real is None or self._real.dtype != dtype:
            self._real = self.spec.dequantize(self.q, dtype)
        return self._real


def _brief(a):
    a = np.asarray(a).reshape(-1)
    if a.size <= 4:
        return np.array2string(a, precision=6)
    return f"[{a[0]:.6g} ... {a[-1]:.6g}] ({a.size} values)"
