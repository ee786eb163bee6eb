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


def weight_qtensor(wq, wspec):
    """A layer's weight codes as the QTensor the kernels take (output channels on axis 0)."""
    return _qtensor(wq, wspec, 0)


def _weight(wq, wspec, layer):
    """The weight QTensor: kept on the layer when there is one, so it is prepared once."""
    return weight_qtensor(wq, wspec) if layer is None else layer.kernel_weight(weight_qtensor)


def _qtensor(q, spec, axis):
    import bitops

    per = axis if spec.per_channel else None
    if spec.bipolar:
        return bitops.QTensor.bipolar(q, _param(spec.scale, per), axis=per)
    return bitops.QTensor(q, _param(spec.scale, per), _param(spec.zero_point, per), spec.bits,
                          signed=spec.signed, narrow=spec.narrow, axis=per)


def _kernel_ready(xspec, wspec):
    """The packed kernels take per-tensor activations and positive scales; else the numpy path."""
    return (kernels_available() and not xspec.per_channel and bool(np.all(xspec.scale > 0))
            and bool(np.all(wspec.scale > 0)) and xspec.bits <= 8 and wspec.bits <= 8
            and xspec.levels() > 1 and wspec.levels() > 1)


def _param(a, axis):
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(-1) if a.size > 1 else a.reshape(())


def _affine_ints(q, spec, dtype=np.int64):
    """q - z as integers (bipolar: q itself); QuantSpec has checked that z is an integer."""
    if spec.bipolar:
        return q.astype(dtype)
    return (q - spec.zero_point.astype(np.int64)).astype(dtype)


def conv2d(xq, xspec, wq, wspec, bias, stride, padding, dilation, groups=1, layer=None):
    """Codes NHWC (N,H,W,C) x codes OHWI (O,kh,kw,C/g) -> float32 (N,Ho,Wo,O).

    padding is (top, left, bottom, right) of real zeros; `layer` (whose weight
    wq is) keeps the weight prepared for the kernels between calls.
    """
    if groups == 1 and _kernel_ready(xspec, wspec):
        return _conv_kernels(xq, xspec, wq, wspec, bias, stride, padding, dilation, layer)
    return _conv_numpy(xq, xspec, wq, wspec, bias, stride, padding, dilation, groups)


def linear(xq, xspec, wq, wspec, bias, layer=None):
    """Codes (R,K) x codes (N,K) -> float32 (R,N); `layer` as in conv2d."""
    if _kernel_ready(xspec, wspec):
        import bitops

        y = bitops.qlinear(_qtensor(xq, xspec, None), _weight(wq, wspec, layer),
                           None if bias is None else np.asarray(bias, np.float64))
        return np.asarray(y, dtype=np.float32)
    return _conv_numpy(xq[:, None, None, :], xspec, wq[:, None, None, :], wspec, bias,
                       (1, 1), (0, 0, 0, 0), (1, 1), 1)[:, 0, 0, :]


def _conv_kernels(xq, xspec, wq, wspec, bias, stride, padding, dilation, layer):
    import bitops

    y = bitops.qconv2d(_qtensor(xq, xspec, None), _weight(wq, wspec, layer),
                       None if bias is None else np.asarray(bias, np.float64),
                       stride=tuple(stride), padding=tuple(padding), dilation=tuple(dilation))
    return np.asarray(y, dtype=np.float32)


def _conv_numpy(xq, xspec, wq, wspec, bias, stride, padding, dilation, groups):
    """The numpy path where the packed kernels do not reach (grouped convolutions,
    per-channel activation grids) and before they are built.

    Per-tensor activations: the integer sums of (q_x - z_x)(q_w - z_w) are formed
    in float64, exact while every partial sum stays below 2^53, then scaled.
    Per-channel activations: a float64 convolution of the dequantized values.
    """
    if xspec.per_channel:
        # A per-input-channel grid cannot be factored out of the sum: convolve the real values.
        xr = xspec.dequantize(xq, np.float64)
        wr = wspec.dequantize(wq, np.float64)
        b = None if bias is None else np.asarray(bias, np.float64)
        return _float_conv2d(xr, wr, b, stride, padding, dilation, groups).astype(np.float32)
    xi = _affine_ints(xq, xspec).astype(np.float64)
    wi = _affine_ints(wq, wspec).astype(np.float64)
    acc = _float_conv2d(xi, wi, None, stride, padding, dilation, groups)
    y = acc * (xspec.scale.reshape(-1)[0] * wspec.scale.reshape(-1))
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
    y = _conv_kernels(xq, one_x, wq, one_w, None, stride, padding, dilation, None)
    return np.rint(y).astype(np.int64)
