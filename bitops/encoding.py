"""Multi-branch encoding: integer codes <-> bit-planes (DESIGN §2-3).

An M-bit code u = q - qmin with bits c_i is the odd integer

    E = sum_{i<M} 2^i (2 c_i - 1) = 2u - (2^M - 1),

so its M branches are exactly the bit-planes of u, branch 0 (least
significant) first. Keeping only the top M - r planes gives an (M-r)-bit E'
with E = 2^r E' + d, |d| <= 2^r - 1: lowering precision is dropping planes.
"""
import numpy as np

from bitops import _core
from bitops._checks import (
    as_integer_array,
    check_bits,
    check_int,
    check_tail_zero,
    check_word_count,
    check_words,
)
from bitops.format import e_max, integer_row_width, words_for

__all__ = ["Encoded", "encode", "pack_bits", "unpack_bits"]


class Encoded:
    """A tensor of odd integers E stored as bit-planes.

    Attributes
    ----------
    planes : uint64 array, shape (bits, *lead, ceil(k/64))
        Plane i holds bit i of every code, packed along the last axis.
    k : int
        Length of the packed (last) axis.
    bits : int
        Number of branches M, 1..8.
    shape : tuple
        Logical shape (*lead, k).
    """

    __slots__ = ("_planes", "_k", "_bits", "_shape", "_row_sums", "_packed")

    def __init__(self, planes, k, bits):
        bits = check_bits(bits)
        k = check_int(k, "k", minimum=1)
        check_words(planes, "planes")
        if planes.ndim < 2:
            raise ValueError(f"planes must have shape (bits, *lead, words), got {planes.shape}")
        if planes.shape[0] != bits:
            raise ValueError(f"planes has {planes.shape[0]} planes but bits={bits}")
        check_word_count(planes, k, "planes")
        check_tail_zero(planes, k, "planes")
        # Read-only view: the cached row sums and the zero tail bits stay true.
        self._planes = planes.view()
        self._planes.flags.writeable = False
        self._k = k
        self._bits = bits
        self._shape = tuple(planes.shape[1:-1]) + (k,)
        self._row_sums = None
        self._packed = {}

    planes = property(lambda self: self._planes, doc="uint64 (bits, *lead, ceil(k/64)), read-only")
    flat_planes = property(lambda self: self._planes.reshape(self._bits, -1, self._planes.shape[-1]),
                           doc="planes as (bits, prod(lead), ceil(k/64)), the layout the kernels take")
    k = property(lambda self: self._k, doc="length of the packed axis")
    bits = property(lambda self: self._bits, doc="number of branches, 1..8")
    shape = property(lambda self: self._shape, doc="logical shape (*lead, k)")

    def __repr__(self):
        return f"Encoded(shape={self.shape}, bits={self.bits}, words={self.planes.shape[-1]})"

    @property
    def lead(self):
        return self.shape[:-1]

    def codes(self):
        """The unsigned codes u, uint8 array of `shape`."""
        return _core.decode_codes(self.flat_planes, self.k, self.k).reshape(self.shape)

    def values(self):
        """The odd integers E = 2u - (2^bits - 1), int64 array of `shape`."""
        return 2 * self.codes().astype(np.int64) - e_max(self.bits)

    def row_sums(self):
        """sum_k E over the packed axis, int64 array of shape `lead` (cached).

        Uses popcounts of the planes: sum_k E = sum_i 2^i (2 popcount(plane_i) - k).
        """
        if self._row_sums is None:
            ones = np.bitwise_count(self.planes).sum(axis=-1, dtype=np.int64)
            weights = (np.int64(1) << np.arange(self.bits, dtype=np.int64)).reshape((-1,) + (1,) * len(self.lead))
            self._row_sums = (weights * (2 * ones - self.k)).sum(axis=0)
        return self._row_sums

    def integer_weights(self, kind):
        """This tensor as the weights of the integer path's kernel `kind` (csrc/qgemm.c):
        rows (n, *taps) of k values s = u - 2^(bits-1), packed into panels of 16 rows
        of the first axis. Cached: a weight tensor is packed once and reused."""
        if kind not in self._packed:
            n = self.shape[0]
            taps = int(np.prod(self.shape[1:-1], dtype=np.int64))
            self._packed[kind] = _core.q_pack_weights(self.flat_planes, n, taps, self.k, integer_row_width(self.k),
                                                      kind)
        return self._packed[kind]

    def truncate(self, bits):
        """Keep the top `bits` branches: an Encoded whose E' satisfies E ~ 2^(M-bits) E'."""
        bits = check_bits(bits)
        if bits > self.bits:
            raise ValueError(f"cannot truncate a {self.bits}-bit tensor to {bits} bits")
        return Encoded(np.ascontiguousarray(self.planes[self.bits - bits:]), self.k, bits)

    def reshape_lead(self, *lead):
        """The same codes with the leading (non-packed) axes reshaped."""
        return Encoded(self.planes.reshape((self.bits,) + tuple(lead) + (self.planes.shape[-1],)), self.k, self.bits)


def encode(q, bits, qmin=0):
    """Encode integers q in [qmin, qmin + 2^bits) as `bits` branches.

    q : integer array, shape (*lead, K), K >= 1. The last axis is packed.
    bits : 1..8.
    qmin : the integer that maps to code 0 (E = -(2^bits - 1)).
    Returns an Encoded with planes of shape (bits, *lead, ceil(K/64)).
    """
    bits = check_bits(bits)
    q = as_integer_array(q, "q")
    qmin = check_int(qmin, "qmin")
    lo, hi = int(q.min()), int(q.max())
    if lo < qmin or hi - qmin >= (1 << bits):
        raise ValueError(
            f"q has values in [{lo}, {hi}] but a {bits}-bit code with qmin={qmin} "
            f"holds only [{qmin}, {qmin + (1 << bits) - 1}]"
        )
    k = q.shape[-1]
    codes = np.ascontiguousarray((q.astype(np.int64) - qmin).astype(np.uint8).reshape(-1, k))
    planes = _core.encode_rows(codes, bits)
    return Encoded(planes.reshape((bits,) + q.shape[:-1] + (words_for(k),)), k, bits)


def _bits_to_rows(b, axis, name):
    arr = np.asarray(b)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension")
    if arr.size == 0:
        raise ValueError(f"{name} has a zero-size dimension: shape {arr.shape}")
    if arr.dtype != np.bool_:
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must be a bool or {{0,1}} integer array, got dtype {arr.dtype}")
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"{name} must hold only 0 and 1, found values in [{arr.min()}, {arr.max()}]")
    axis = _check_axis(axis, arr.ndim)
    return np.moveaxis(arr, axis, -1), axis


def _check_axis(axis, ndim):
    axis = check_int(axis, "axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for {ndim} dimensions")
    return axis % ndim


def pack_bits(b, axis=-1):
    """Pack a {0,1}/bool array along `axis` into uint64 words (DESIGN §3).

    Element k of the axis becomes bit k % 64 of word k // 64; the axis of
    length K becomes one of length ceil(K/64); bits past K are 0.
    """
    moved, axis = _bits_to_rows(b, axis, "b")
    k = moved.shape[-1]
    rows = np.ascontiguousarray(moved.reshape(-1, k), dtype=np.uint8)
    words = _core.pack_rows(rows).reshape(moved.shape[:-1] + (words_for(k),))
    return np.ascontiguousarray(np.moveaxis(words, -1, axis))


def unpack_bits(words, k, axis=-1):
    """Inverse of pack_bits: uint64 words along `axis` -> uint8 {0,1} of length k."""
    if not isinstance(words, np.ndarray) or words.dtype != np.uint64:
        raise ValueError(f"words must be a uint64 numpy array, got {getattr(words, 'dtype', type(words).__name__)}")
    if words.ndim == 0 or words.size == 0:
        raise ValueError(f"words must be a non-empty array, got shape {words.shape}")
    k = check_int(k, "k", minimum=1)
    axis = _check_axis(axis, words.ndim)
    moved = np.moveaxis(words, axis, -1)
    check_word_count(moved, k, "words")
    rows = np.ascontiguousarray(moved.reshape(-1, moved.shape[-1]))
    bits = _core.unpack_rows(rows, k).reshape(moved.shape[:-1] + (k,))
    return np.ascontiguousarray(np.moveaxis(bits, -1, axis))
