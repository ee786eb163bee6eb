"""Plain numpy implementations of the graph ops, in the runtime's layout.

These serve the reference backend (float64 on dequantized tensors) and the
float parts of the kernels backend. 4-D tensors are NHWC; weights OHWI.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pad_nhwc(x, padding, value=0):
    t, l, b, r = padding
    if t == l == b == r == 0:
        return x
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def windows(x, kernel, stride, dilation):
    """(N, H, W, C) -> (N, Ho, Wo, C, kh, kw) view of the (already padded) input."""
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if x.shape[1] < ekh or x.shape[2] < ekw:
        raise ValueError(f"input {x.shape[1]}x{x.shape[2]} (padded) is smaller than the kernel's extent {ekh}x{ekw}")
    v = sliding_window_view(x, (ekh, ekw), axis=(1, 2))
    return v[:, ::sh, ::sw, :, ::dh, ::dw]


def conv2d(x, w, bias, stride, padding, dilation, groups=1):
    """x (N,H,W,C) float, w (O,kh,kw,C/groups) float -> (N,Ho,Wo,O) in x's dtype."""
    kh, kw = w.shape[1:3]
    xp = pad_nhwc(x, padding)
    o = w.shape[0]
    cg = w.shape[3]
    og = o // groups
    outs = []
    for g in range(groups):
        v = windows(xp[..., g * cg:(g + 1) * cg], (kh, kw), stride, dilation)
        n, ho, wo = v.shape[:3]
        cols = v.reshape(n * ho * wo, cg * kh * kw)
        wg = w[g * og:(g + 1) * og].transpose(0, 3, 1, 2).reshape(og, -1)
        outs.append((cols @ wg.T).reshape(n, ho, wo, og))
    y = outs[0] if groups == 1 else np.concatenate(outs, axis=-1)
    if bias is not None:
        y = y + bias.astype(y.dtype)
    return y


def pool_padding(h, w, kernel, stride, padding, dilation, ceil_mode):
    """Extra bottom/right padding that ceil_mode needs (ONNX output-size rule)."""
    t, l, b, r = padding
    extra = []
    for size, k, s, p0, p1, d in ((h, kernel[0], stride[0], t, b, dilation[0]),
                                 (w, kernel[1], stride[1], l, r, dilation[1])):
        span = size + p0 + p1 - ((k - 1) * d + 1)
        if ceil_mode:
            out = -(-span // s) + 1
            if (out - 1) * s >= size + p0:   # the last window must start inside the input or left pad
                out -= 1
        else:
            out = span // s + 1
        need = (out - 1) * s + (k - 1) * d + 1 - (size + p0 + p1)
        extra.append(max(0, need))
    return extra


def maxpool(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False, pad_value=None):
    eb, er = pool_padding(x.shape[1], x.shape[2], kernel, stride, padding, dilation, ceil_mode)
    t, l, b, r = padding
    if pad_value is None:
        pad_value = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = pad_nhwc(x, (t, l, b + eb, r + er), pad_value)
    return windows(xp, kernel, stride, dilation).max(axis=(-2, -1))


def avgpool(x, kernel, stride, padding, ceil_mode=False, count_include_pad=False):
    eb, er = pool_padding(x.shape[1], x.shape[2], kernel, stride, padding, (1, 1), ceil_mode)
    t, l, b, r = padding
    xp = pad_nhwc(x, (t, l, b + eb, r + er))
    s = windows(xp, kernel, stride, (1, 1)).sum(axis=(-2, -1))
    ones = np.ones((1, x.shape[1], x.shape[2], 1), dtype=x.dtype)
    if count_include_pad:
        ones = pad_nhwc(ones, (t, l, b, r), 1)
        ones = pad_nhwc(ones, (0, 0, eb, er), 0)
    else:
        ones = pad_nhwc(ones, (t, l, b + eb, r + er), 0)
    cnt = windows(ones, kernel, stride, (1, 1)).sum(axis=(-2, -1))
    return s / cnt


def batchnorm(x, gamma, beta, mean, var, eps):
    dt = x.dtype
    k = (gamma / np.sqrt(var + eps)).astype(dt)
    return (x - mean.astype(dt)) * k + beta.astype(dt)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
