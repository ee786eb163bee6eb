"""Bit-exact golden values for one layer: planes, accumulators, output codes.

Number format (DESIGN.md section 2): an M-bit code u in [0, 2^M - 1] with bits
c_i is the odd integer E = sum_i 2^i (2 c_i - 1) = 2u - (2^M - 1); branch i is
bit-plane i of u, branch 0 the least significant. A layer's accumulator is the
exact integer E_x . E_w over the reduction axis K:

    acc[r, o] = sum_k E_x[r, k] * E_w[o, k]
              = sum_{i,j} 2^(i+j) * (K - 2 * popcount(W_i[o] XOR X_j[r]))

Convolutions reduce over patches (kh, kw, c) of an NHWC input with OHWI
weights; padded taps carry the activation code ``pad_code`` (so their E is
2*pad_code - (2^N - 1), a real input value, which the RTL's patch stream can
carry). The output unit is a multi-threshold: code = #{t : acc >= T[o, t]}.

The packed kernels of ``bitops`` compute these when they are present; plain
numpy integer math stands in otherwise (and is what the tests check against,
written independently there).
"""
import numpy as np

WORD_BITS = 64

__all__ = [
    "WORD_BITS", "codes_to_unsigned", "plane_bits", "pack_planes", "values",
    "acc_dtype", "acc_max_abs", "conv_output_size", "im2col", "accumulate",
    "default_thresholds", "threshold_codes",
]


def _kernel(name):
    try:
        import bitops
    except ImportError:  # pragma: no cover - bitops is the enclosing package
        return None
    return getattr(bitops, name, None)


def codes_to_unsigned(q, bits, qmin, what):
    """Integer codes q in [qmin, qmin + 2^bits - 1] -> unsigned u = q - qmin (int64)."""
    q = np.asarray(q)
    if not np.issubdtype(q.dtype, np.integer):
        raise ValueError(f"{what}: codes must be an integer array, got dtype {q.dtype}")
    if not 1 <= int(bits) <= 16:
        raise ValueError(f"{what}: bits must be in 1..16, got {bits}")
    u = q.astype(np.int64) - int(qmin)
    if u.size and (u.min() < 0 or u.max() > (1 << bits) - 1):
        raise ValueError(f"{what}: codes must lie in [{qmin}, {qmin + (1 << bits) - 1}] "
                         f"for {bits} bits, got [{q.min()}, {q.max()}]")
    return u


def plane_bits(u, bits):
    """Unsigned codes (*shape) -> 0/1 planes uint8 (bits, *shape), branch 0 first."""
    return np.stack([((u >> i) & 1).astype(np.uint8) for i in range(bits)])


def pack_planes(u, bits):
    """Unsigned codes (*lead, K) -> planes uint64 (bits, *lead, ceil(K/64)).

    Element k is bit k % 64 of word k // 64; bits past K are 0.
    """
    u = np.asarray(u, dtype=np.int64)
    encode = _kernel("encode")
    if encode is not None:
        return np.asarray(encode(u, bits, qmin=0).planes, dtype=np.uint64)
    b = plane_bits(u, bits)
    k = u.shape[-1]
    words = -(-k // WORD_BITS)
    pad = [(0, 0)] * (b.ndim - 1) + [(0, words * WORD_BITS - k)]
    by = np.packbits(np.pad(b, pad), axis=-1, bitorder="little")
    return np.ascontiguousarray(by).view("<u8").astype(np.uint64).reshape(b.shape[:-1] + (words,))


def values(u, bits):
    """Unsigned codes -> odd integers E = 2u - (2^bits - 1), int64."""
    return 2 * np.asarray(u, dtype=np.int64) - ((1 << bits) - 1)


def acc_max_abs(k, w_bits, a_bits):
    """Largest |acc| a layer can reach: K (2^M - 1)(2^N - 1)."""
    return int(k) * ((1 << w_bits) - 1) * ((1 << a_bits) - 1)


def acc_dtype(k, w_bits, a_bits):
    """int32 unless K (2^M-1)(2^N-1) exceeds 2^31 - 1 (DESIGN.md section 2)."""
    return np.dtype(np.int32) if acc_max_abs(k, w_bits, a_bits) <= 2**31 - 1 else np.dtype(np.int64)


def _pair(v, what):
    if np.ndim(v) == 0:
        return int(v), int(v)
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise ValueError(f"{what} must be an int or a pair, got {v}")
    return v


def conv_output_size(h, w, kh, kw, stride, padding, dilation):
    """(OH, OW) of a convolution with symmetric padding."""
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1 or min(sh, sw, dh, dw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"convolution of {h}x{w} with kernel {kh}x{kw}, stride {stride}, "
                         f"padding {padding}, dilation {dilation} has no output")
    return oh, ow


def im2col(x_u, kh, kw, stride, padding, dilation, pad_code):
    """NHWC codes -> patches (N, OH, OW, KH*KW*C), taps in (kh, kw, c) order.

    Taps that fall in the padding take ``pad_code``.
    """
    n, h, w, c = x_u.shape
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    oh, ow = conv_output_size(h, w, kh, kw, stride, padding, dilation)
    xp = np.full((n, h + 2 * ph, w + 2 * pw, c), pad_code, dtype=np.int64)
    xp[:, ph:ph + h, pw:pw + w, :] = x_u
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                                        j * dw:j * dw + sw * (ow - 1) + 1:sw, :]
    return cols.reshape(n, oh, ow, kh * kw * c)


def accumulate(x_rows_u, a_bits, w_rows_u, w_bits):
    """Exact acc = E_x @ E_w.T: x (R, K), w (O, K) unsigned codes -> int64 (R, O)."""
    mbgemm, encode = _kernel("mbgemm"), _kernel("encode")
    if mbgemm is not None and encode is not None:
        return np.asarray(mbgemm(encode(x_rows_u, a_bits, qmin=0),
                                 encode(w_rows_u, w_bits, qmin=0)), dtype=np.int64)
    return values(x_rows_u, a_bits) @ values(w_rows_u, w_bits).T


def default_thresholds(n_out, k, w_bits, a_bits, out_bits):
    """Evenly spaced thresholds over [-max, max] of the accumulator, (n_out, 2^out_bits - 1) int64."""
    m = acc_max_abs(k, w_bits, a_bits)
    levels = 1 << out_bits
    t = np.array([-m + (2 * m * (i + 1)) // levels for i in range(levels - 1)], dtype=np.int64)
    return np.broadcast_to(t, (n_out, levels - 1)).copy()


def threshold_codes(acc, thresholds):
    """acc (..., O) int, thresholds (O, T) -> codes (..., O) uint8: #{t : acc >= T[o, t]}."""
    acc = np.asarray(acc, dtype=np.int64)
    return (acc[..., None] >= thresholds).sum(axis=-1).astype(np.uint8)


def accumulate_conv(x_u, a_bits, w_u, w_bits, stride, padding, dilation, pad_code):
    """Exact conv accumulators: x NHWC, w OHWI unsigned codes -> int64 (N, OH, OW, O)."""
    o, kh, kw, _ = w_u.shape
    mbconv2d, encode = _kernel("mbconv2d"), _kernel("encode")
    if mbconv2d is not None and encode is not None:
        pad_e = 2 * int(pad_code) - ((1 << a_bits) - 1)
        return np.asarray(mbconv2d(encode(x_u, a_bits, qmin=0), encode(w_u, w_bits, qmin=0),
                                   stride=stride, padding=padding, dilation=dilation,
                                   pad_value=pad_e), dtype=np.int64)
    cols = im2col(x_u, kh, kw, stride, padding, dilation, pad_code)
    acc = accumulate(cols.reshape(-1, cols.shape[-1]), a_bits, w_u.reshape(o, -1), w_bits)
    return acc.reshape(cols.shape[:-1] + (o,))
