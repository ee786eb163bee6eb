"""Exact packed-bit kernels: bgemm, mbgemm, mbconv2d.

    binary:        sum_k x_k y_k = K - 2 popcount(a XOR b)
    multi-branch:  E_a . E_w = sum_{j<Ma} sum_{i<Mw} 2^(i+j) (K - 2 popcount(A_j XOR W_i))

The results are exact integers: int32 unless K (2^Ma - 1)(2^Mw - 1) (plus the
padding term of a convolution) could exceed 2^31 - 1, then int64.
"""
import numbers
import os

import numpy as np

from bitops import _core
from bitops._checks import check_int, check_pair, check_tail_zero, check_word_count, check_words
from bitops.encoding import Encoded
from bitops.format import accumulator_needs_int64, e_max, integer_row_width
from bitops.transforms import Thresholds, check_transform

__all__ = ["bgemm", "mbgemm", "mbconv2d", "conv_geometry", "ConvGeometry", "explain", "set_integer_path",
           "get_integer_path"]

# Branches cost Ma*Mw xor-popcounts per bit pair; the integer path (csrc/qgemm.c)
# costs about the same per MAC whatever the narrow widths. On the 1024^3 GEMM
# of `bitops bench --only gemm --threads 1 --bits all` (docs/benchmarks.md) W1A2
# on branches took 6.2 ms and W1A3..W2A8 on the integer path 8.8-9.9 ms, so
# branches win up to two branch pairs. On the "amx" path the integer path runs on AMX tiles
# (1024 u8 x s8 MACs per instruction) and beats even one branch pair: with
# `python bench/interleave.py --threads 1 --policies auto,never`, W1A1 1024^3 took 0.97 ms
# there against 1.06 ms on the AVX-512 popcount kernel, and the W1A1 conv 56x56x256 -> 256
# 1.64 ms against 1.84 ms (docs/benchmarks.md).
INTEGER_PATH_MIN_PAIRS = 3
INTEGER_PATH_MIN_PAIRS_AMX = 1
_integer_policy = os.environ.get("BITOPS_INTEGER_PATH", "auto")

# Integer-path kernels (csrc/qgemm.c), by how large a u8 x s8 pair of products can grow.
Q_ACC16, Q_U8, Q_I16, Q_AMX = 0, 1, 2, 3
INTEGER_POLICIES = ("auto", "never", "always", "int16")


def integer_kernel(a_bits, w_bits, force_int16=False, path=None):
    """(kind, period, description) of the integer kernel for Ma-bit activations and Mw-bit weights
    on kernel path `path` (the current one when None).

    Activations enter as codes u in [0, 2^Ma - 1] and weights as s = (E - 1)/2 in
    [-2^(Mw-1), 2^(Mw-1) - 1]. AMX tiles sum u8 x s8 products in int32, exact for every
    width. vpmaddubsw adds two such products into a saturating int16, so the largest
    pair p = (2^Ma - 1) 2^Mw decides how long int16 sums may run.
    """
    if path is None:
        path = _core.path_names()[_core.get_path()]
    if path == "amx" and not force_int16:
        return Q_AMX, 1, "AMX tiles (tdpbusd): u8 codes x s8 weights in 16 x 64 x 16 steps, int32 sums"
    pair = ((1 << a_bits) - 1) << w_bits
    if force_int16 or pair > 32767:
        return Q_I16, 1, "int16 x int16 products (vpmaddwd): a u8 x s8 pair could saturate int16"
    period = 32767 // pair
    if period < 2:
        return Q_U8, 1, f"u8 x s8 products (vpmaddubsw), widened to int32 every step (pairs reach {pair})"
    how = " (the 6-row tile in two halves of 3)" if period == 2 else ""
    return Q_ACC16, period, (f"u8 x s8 products (vpmaddubsw) summed in int16 for {period} steps of 4{how}, "
                             f"then widened (pairs reach {pair})")


def get_integer_path():
    """The integer-path policy in use (see set_integer_path)."""
    return _integer_policy


def set_integer_path(policy):
    """'auto' (choose by bit widths), 'never' (always branches), 'always' (an integer path
    wherever exact) or 'int16' (always the int16 path, for testing)."""
    global _integer_policy
    if policy not in INTEGER_POLICIES:
        raise ValueError(f"policy must be one of {INTEGER_POLICIES}, got {policy!r}")
    _integer_policy = policy


def _min_pairs(path):
    """Branch pairs from which the integer path is taken (auto policy) on kernel path `path`."""
    return INTEGER_PATH_MIN_PAIRS_AMX if path == "amx" else INTEGER_PATH_MIN_PAIRS


_PATH_NAMES = tuple(_core.path_names())
_plans = {}


def _gemm_plan(a_bits, w_bits, k):
    """How mbgemm computes a (k, a_bits, w_bits) product: a dict that explain() shows (a copy of
    the one kept per arguments, kernel path and policy: a call on a large product follows the
    kernel's sweep through the caches, where every Python operation is slow)."""
    key = (a_bits, w_bits, k, _core.get_path(), _integer_policy)
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = _make_gemm_plan(a_bits, w_bits, k, _PATH_NAMES[key[3]])
    return dict(plan)


def _make_gemm_plan(a_bits, w_bits, k, path):
    out64 = accumulator_needs_int64(k, a_bits, w_bits)
    pairs = a_bits * w_bits
    plan = {"kernel_path": path, "branch_pairs": pairs, "accumulator": "int64" if out64 else "int32"}
    if path == "reference":
        method, reason = "branches", "reference path: plain loops over every branch pair"
    elif out64:
        method, reason = "branches", "int64 accumulator needed; the integer path accumulates in int32"
    elif _integer_policy == "never":
        method, reason = "branches", "integer path disabled (set_integer_path('never'))"
    elif _integer_policy in ("always", "int16") or pairs >= _min_pairs(path):
        kind, period, how = integer_kernel(a_bits, w_bits, _integer_policy == "int16", path)
        method = "int16" if kind == Q_I16 else "int8"
        reason = (f"{pairs} branch pairs >= {_min_pairs(path)}: an integer MAC per element beats "
                  f"{pairs} xor-popcounts" if _integer_policy == "auto" else "integer path forced")
        reason += "; " + how
        plan.update(integer_kernel=kind, period=period)
    else:
        method, reason = "branches", f"{pairs} branch pairs < {_min_pairs(path)}: xor-popcount is cheaper"
    plan.update(method=method, reason=reason)
    return plan


def _conv_plan(a_bits, w_bits, out64):
    """A convolution takes the same branches-or-integer decision as a GEMM."""
    plan = _gemm_plan(a_bits, w_bits, 1)
    if out64 and plan["method"] != "branches":
        plan = {k: v for k, v in plan.items() if k not in ("integer_kernel", "period")}
        plan.update(method="branches", reason="int64 accumulator needed; the integer path accumulates in int32")
    plan["accumulator"] = "int64" if out64 else "int32"
    return plan


def explain(a, w=None, op="mbgemm"):
    """Which kernel a call takes and why, as a dict.

    explain(a_enc, w_enc) for mbgemm, explain(x_enc, w_enc, op='mbconv2d'),
    or explain((a_bits, w_bits, k)) for a shape without operands.
    """
    if isinstance(a, tuple):
        a_bits, w_bits, k = a
    else:
        a_bits, w_bits, k = a.bits, w.bits, a.k
    if op == "mbconv2d":
        taps = 1 if isinstance(a, tuple) else w.shape[1] * w.shape[2]
        plan = _conv_plan(a_bits, w_bits, taps * k * e_max(a_bits) * e_max(w_bits) > 2**31 - 1)
        plan["reason"] += "; implicit GEMM over an indirection list of the taps (no im2col)"
        return plan
    if op != "mbgemm":
        raise ValueError(f"op must be 'mbgemm' or 'mbconv2d', got {op!r}")
    return _gemm_plan(a_bits, w_bits, k)


def bgemm(a_words, b_words, k):
    """Binary GEMM over {-1,+1} vectors packed as bits.

    a_words : uint64 (M, W); b_words : uint64 (N, W), W = ceil(k/64), C-contiguous.
    Returns int32 (M, N) with out[m, n] = sum_k x_k y_k = k - 2 popcount(a[m] ^ b[n]).
    """
    k = check_int(k, "k", minimum=1)
    check_words(a_words, "a_words", ndim=2)
    check_words(b_words, "b_words", ndim=2)
    check_word_count(a_words, k, "a_words")
    check_word_count(b_words, k, "b_words")
    check_tail_zero(a_words, k, "a_words")
    check_tail_zero(b_words, k, "b_words")
    return _core.mbgemm(a_words[None], b_words[None], k, False)


def _check_encoded(x, name):
    if not isinstance(x, Encoded):
        raise ValueError(f"{name} must be a bitops.Encoded (from bitops.encode), got {type(x).__name__}")
    return x


def _finish(out, lead, channels, transform):
    """Shape a kernel result: integers or float32 of (*lead, channels), or the Encoded of Thresholds."""
    if isinstance(transform, Thresholds):
        return Encoded(out.reshape((transform.bits,) + tuple(lead) + (out.shape[-1],)), channels, transform.bits)
    return out.reshape(tuple(lead) + (channels,))


def mbgemm(a, w, transform=None):
    """Exact multi-branch GEMM: E_a @ E_w.T.

    a : Encoded of shape (*lead, K) with Ma bits; w : Encoded of shape (N, K) with Mw bits.
    transform : None, bitops.Affine or bitops.Thresholds, fused into the store.
    Returns int32 or int64 of shape (*lead, N); float32 with Affine; an Encoded
    of shape (*lead, N) with Thresholds.
    """
    _check_encoded(a, "a")
    _check_encoded(w, "w")
    if len(w.shape) != 2:
        raise ValueError(f"w must be 2-D (N, K), got shape {w.shape}")
    if a.k != w.k:
        raise ValueError(f"K mismatch: a has K={a.k}, w has K={w.k}")
    spec = check_transform(transform, w.shape[0])
    plan = _gemm_plan(a.bits, w.bits, a.k)
    if plan["method"] != "branches":
        # a GEMM is a 1x1 convolution over the rows of a as images of 1x1 pixel, decoded in the call
        n, kind = w.shape[0], plan["integer_kernel"]
        out = _core.qgemm(a.flat_planes, a.k, integer_row_width(a.k), w.integer_weights(kind), kind, plan["period"],
                          e_max(a.bits), np.ascontiguousarray(w.row_sums(), dtype=np.int64).reshape(n, 1, 1), spec)
    else:
        out = _core.mbgemm(a.flat_planes, w.planes, a.k, plan["accumulator"] == "int64", False, spec)
    return _finish(out, a.lead, w.shape[0], transform)


def _integer_conv(plan, x, w, x_shape, w_shape, tap_sum, stride, dilation, pads, out_hw, pad_value, spec):
    """The integer path (csrc/qgemm.c): activation codes decoded per call, weights packed once."""
    kind, cpad = plan["integer_kernel"], integer_row_width(x.k)
    codes = _core.decode_codes(x.flat_planes, x.k, cpad)
    return _core.qconv(codes, w.integer_weights(kind), kind, plan["period"], e_max(x.bits), x_shape, w_shape,
                       np.ascontiguousarray(tap_sum, dtype=np.int64), stride, dilation, pads, out_hw, pad_value,
                       spec)


class ConvGeometry:
    """Resolved convolution parameters: pads (top, left, bottom, right) and the output size."""

    __slots__ = ("stride", "dilation", "pads", "out_hw", "kernel", "in_hw")

    def __init__(self, stride, dilation, pads, out_hw, kernel, in_hw):
        self.stride, self.dilation, self.pads = stride, dilation, pads
        self.out_hw, self.kernel, self.in_hw = out_hw, kernel, in_hw

    def valid_taps(self):
        """bool (OH, OW, KH, KW): True where a tap falls inside the image."""
        (oh, ow), (kh, kw) = self.out_hw, self.kernel
        iy = (np.arange(oh)[:, None] * self.stride[0] - self.pads[0] + np.arange(kh)[None, :] * self.dilation[0])
        ix = (np.arange(ow)[:, None] * self.stride[1] - self.pads[1] + np.arange(kw)[None, :] * self.dilation[1])
        vy = (iy >= 0) & (iy < self.in_hw[0])
        vx = (ix >= 0) & (ix < self.in_hw[1])
        return vy[:, None, :, None] & vx[None, :, None, :]


def _resolve_padding(padding, in_hw, kernel, stride, dilation):
    """-> (top, left, bottom, right). 'same' follows ONNX SAME_UPPER (extra at the end)."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0, 0, 0)
        if mode != "same":
            raise ValueError(f"padding must be an int, a pair, a 4-tuple, 'same' or 'valid', got {padding!r}")
        pads = []
        for n, k, s, d in zip(in_hw, kernel, stride, dilation):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
        return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
    if isinstance(padding, (tuple, list, np.ndarray)):
        if len(padding) == 2:
            ph, pw = (check_int(p, "padding", 0) for p in padding)
            return (ph, pw, ph, pw)
        if len(padding) == 4:
            return tuple(check_int(p, "padding", 0) for p in padding)
        raise ValueError(f"padding must have 1, 2 or 4 entries (top, left, bottom, right), got {padding!r}")
    p = check_int(padding, "padding", 0)
    return (p, p, p, p)


def conv_geometry(in_hw, kernel, stride=1, padding=0, dilation=1):
    """Resolve stride/dilation/padding for an (H, W) input and (KH, KW) kernel."""
    stride = check_pair(stride, "stride", 1)
    dilation = check_pair(dilation, "dilation", 1)
    pads = _resolve_padding(padding, in_hw, kernel, stride, dilation)
    out = []
    for axis, (n, k, s, d, p0, p1) in enumerate(zip(in_hw, kernel, stride, dilation, pads[:2], pads[2:])):
        span = (k - 1) * d + 1
        if span > n + p0 + p1:
            raise ValueError(
                f"kernel extent {span} (kernel {k}, dilation {d}) is larger than the padded input "
                f"{n + p0 + p1} along {'HW'[axis]}"
            )
        out.append((n + p0 + p1 - span) // s + 1)
    return ConvGeometry(stride, dilation, pads, tuple(out), tuple(kernel), tuple(in_hw))


def mbconv2d(x, w, stride=1, padding=0, dilation=1, pad_value=0, transform=None):
    """Exact multi-branch 2-D convolution (cross-correlation).

    x : Encoded NHWC, shape (B, H, W, C); w : Encoded OHWI, shape (O, KH, KW, C).
    padding : int, (pad_h, pad_w), (top, left, bottom, right), 'same' or 'valid'.
    pad_value : the E-domain integer that padded taps read (0 = true zero).
    transform : None, bitops.Affine or bitops.Thresholds, fused into the store.
    Returns int32 or int64 of shape (B, OH, OW, O); float32 with Affine; an
    Encoded NHWC of shape (B, OH, OW, O) with Thresholds.
    """
    _check_encoded(x, "x")
    _check_encoded(w, "w")
    if len(x.shape) != 4:
        raise ValueError(f"x must be NHWC (4-D), got shape {x.shape}")
    if len(w.shape) != 4:
        raise ValueError(f"w must be OHWI (4-D), got shape {w.shape}")
    if x.k != w.k:
        raise ValueError(f"channel mismatch: x has C={x.k}, w has C={w.k}")
    if isinstance(pad_value, (bool, np.bool_)) or not isinstance(pad_value, numbers.Integral):
        raise ValueError(f"pad_value must be an integer (an E-domain value), got {pad_value!r}")
    pad_value = int(pad_value)
    if abs(pad_value) > 1 << 20:
        raise ValueError(f"pad_value {pad_value} is out of range (|pad_value| <= 2^20)")
    o, kh, kw, c = w.shape
    geo = conv_geometry(x.shape[1:3], (kh, kw), stride, padding, dilation)
    taps = kh * kw
    bound_e = max(e_max(x.bits), abs(pad_value))
    out64 = taps * c * bound_e * e_max(w.bits) > 2**31 - 1
    spec = check_transform(transform, o)
    tap_sum = np.ascontiguousarray(w.row_sums(), dtype=np.int64)
    plan = _conv_plan(x.bits, w.bits, out64)
    if plan["method"] != "branches":
        out = _integer_conv(plan, x, w, x.shape, w.shape, tap_sum, geo.stride, geo.dilation, geo.pads[:2],
                            geo.out_hw, pad_value, spec)
    else:
        out = _core.mbconv2d(x.planes, w.planes, c, tap_sum, geo.stride, geo.dilation, geo.pads[:2], geo.out_hw,
                             pad_value, out64, False, spec)
    return _finish(out, (x.shape[0],) + geo.out_hw, o, transform)
