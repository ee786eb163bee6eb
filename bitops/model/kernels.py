"""The one place the runtime calls the packed kernels.

Quantized conv / fc layers come here with integer codes and their grids; this
module turns them into `bitops.QTensor`s and calls `bitops.qconv2d` /
`bitops.qlinear`, which return float32 equal to the dequantized float math.

Bipolar codes (BipolarQuant, ste_sign: q in {-1, +1}, real = s*q) are handed
to the kernels as the unsigned 1-bit grid u = (q + 1)/2, real = 2s*(u - 1/2),
which is the same real value with the E = 2u - 1 encoding of DESIGN §2.
"""
import numpy as np

from bitops.model.numpy_ops import conv2d as _float_conv2d


def kernels_available():
    try:
        import bitops
    except ImportError:  # pragma: no cover
        return False
    return all(hasattr(bitops, n) for n in ("QTensor", "qconv2d", "qlinear"))


def _qtensor(q, spec, axis):
    import bitops

    if spec.bipolar:
        u = ((q + 1) // 2).astype(np.int64)
        return bitops.QTensor(u, _param(spec.scale * 2.0, axis), _param(np.full_like(spec.scale, 0.5), axis),
                              1, signed=False, narrow=False, axis=axis if spec.per_channel else None)
    return bitops.QTensor(q, _param(spec.scale, axis), _param(spec.zero_point, axis), spec.bits,
                          signed=spec.signed, narrow=spec.narrow, axis=axis if spec.per_channel else None)


def _param(a, axis):
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(-1) if a.size > 1 else a.reshape(())


def _affine_ints(q, spec, dtype=np.int64):
    """q - z as integers (bipolar: q itself); None if z is not an integer."""
    if spec.bipolar:
        return q.astype(dtype)
    return (q - spec.zero_point.astype(np.int64)).astype(dtype)


def conv2d(xq, xspec, wq, wspec, bias, stride, padding, dilation, groups=1):
    """Codes NHWC (N,H,W,C) x codes OHWI (O,kh,kw,C/g) -> float32 (N,Ho,Wo,O).

    padding is (top, left, bottom, right) of real zeros.
    """
    if groups == 1 and xspec.scale.size == 1 and kernels_available():
        return _conv_kernels(xq, xspec, wq, wspec, bias, stride, padding, dilation)
    return _conv_exact_numpy(xq, xspec, wq, wspec, bias, stride, padding, dilation, groups)


def linear(xq, xspec, wq, wspec, bias):
    """Codes (R,K) x codes (N,K) -> float32 (R,N)."""
    if xspec.scale.size == 1 and kernels_available():
        import bitops

        y = bitops.qlinear(_qtensor(xq, xspec, None), _qtensor(wq, wspec, 0),
                           None if bias is None else np.asarray(bias, np.float32))
        return np.asarray(y, dtype=np.float32)
    return _conv_exact_numpy(xq[:, None, None, :], xspec, wq[:, None, None, :], wspec, bias,
                             (1, 1), (0, 0, 0, 0), (1, 1), 1)[:, 0, 0, :]


def _conv_kernels(xq, xspec, wq, wspec, bias, stride, padding, dilation):
    import bitops

    t, l, b, r = padding
    if t == b and l == r:
        pad = (t, l)
    else:
        # Asymmetric: pad the codes with the code of real zero, then no kernel padding.
        zcode = _zero_code(xspec)
        xq = np.pad(xq, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=zcode)
        pad = (0, 0)
    y = bitops.qconv2d(_qtensor(xq, xspec, None), _qtensor(wq, wspec, 0),
                       None if bias is None else np.asarray(bias, np.float32),
                       stride=tuple(stride), padding=pad, dilation=tuple(dilation))
    return np.asarray(y, dtype=np.float32)


def _zero_code(spec):
    z = float(spec.zero_point.reshape(-1)[0])
    if spec.bipolar or not (spec.qmin <= z <= spec.qmax):
        raise ValueError("asymmetric padding needs real zero on the activation grid")
    return int(z)


def _conv_exact_numpy(xq, xspec, wq, wspec, bias, stride, padding, dilation, groups):
    """Exact integer accumulation in int64 (float64 matmul is exact below 2^53), then the affine step.

    Used where the packed kernels do not reach (grouped convolutions,
    per-channel activation grids) and before they are built.
    """
    xi = _affine_ints(xq, xspec).astype(np.float64)
    wi = _affine_ints(wq, wspec).astype(np.float64)
    acc = _float_conv2d(xi, wi, None, stride, padding, dilation, groups)
    sx = xspec.scale.astype(np.float64).reshape(-1)
    sw = wspec.scale.astype(np.float64).reshape(-1)
    if sx.size > 1:
        raise ValueError("per-channel activation scales are not supported by the exact path")
    y = acc * (sx[0] * sw)
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return y.astype(np.float32)


def accumulators(xq, xspec, wq, wspec, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)):
    """Integer accumulators sum (q_x - z_x)(q_w - z_w) of a conv as the packed kernels produce them.

    Runs `bitops.qconv2d` with unit scales (exact in float32 while |acc| < 2^24;
    checked) and returns int64 (N,Ho,Wo,O).
    """
    import bitops
    from bitops.model.quant import QuantSpec

    one_x = QuantSpec(1.0, xspec.zero_point.reshape(-1)[:1], xspec.qmin, xspec.qmax, bipolar=xspec.bipolar)
    one_w = QuantSpec(np.ones(wq.shape[0]) if wspec.per_channel else 1.0, wspec.zero_point, wspec.qmin,
                      wspec.qmax, axis=0 if wspec.per_channel else None, bipolar=wspec.bipolar)
    k = wq[0].size
    bound = k * max(abs(xspec.qmin), abs(xspec.qmax)) * max(abs(wspec.qmin), abs(wspec.qmax)) * 4
    if bound >= 2 ** 24:
        raise ValueError(f"accumulator bound {bound} is too wide for an exact float32 check")
    if not kernels_available():
        raise RuntimeError("bitops.qconv2d is not available")
    y = _conv_kernels(xq, one_x, wq, one_w, None, stride, padding, dilation)
    return np.rint(y).astype(np.int64)
