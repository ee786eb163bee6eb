import numpy as np
import pytest
from hypothesis import given, strategies as st

import bitops
from tests.bitops.reference import conv2d_nhwc, same_pads


def _qrange(bits, signed, narrow):
    if signed:
        return -(2 ** (bits - 1)) + narrow, 2 ** (bits - 1) - 1
    return 0, 2**bits - 1 - narrow


@st.composite
def qtensors(draw, shape, per_channel_axis=None):
    bits = draw(st.integers(1, 8))
    signed = draw(st.booleans())
    narrow = draw(st.booleans()) if bits > 1 else False
    lo, hi = _qrange(bits, signed, narrow)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    q = rng.integers(lo, hi + 1, shape)
    per_channel = per_channel_axis is not None and draw(st.booleans())
    n = shape[per_channel_axis] if per_channel else 1
    scale = rng.uniform(1e-3, 2.0, n)
    zp_kind = draw(st.sampled_from(["zero", "int", "half", "float"]))
    zp = {"zero": np.zeros(n), "int": rng.integers(lo, hi + 1, n).astype(float),
          "half": rng.integers(lo, hi + 1, n) + 0.5, "float": rng.uniform(lo, hi, n)}[zp_kind]
    if not per_channel:
        scale, zp = float(scale[0]), float(zp[0])
    return bitops.QTensor(q, scale, zp, bits, signed=signed, narrow=narrow,
                          axis=per_channel_axis if per_channel else None)


def _assert_close(out, ref):
    assert out.dtype == np.float32
    # float32 rounding of the result; scale by the magnitude of the terms summed
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(ref).max()))


@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 300), st.data())
def test_qlinear_equals_dequantized_float64(rows, n, k, data):
    x = data.draw(qtensors((rows, k), per_channel_axis=0))
    w = data.draw(qtensors((n, k), per_channel_axis=0))
    bias = np.random.default_rng(k).normal(size=n)
    out = bitops.qlinear(x, w, bias)
    _assert_close(out, x.dequantize() @ w.dequantize().T + bias)


def test_qlinear_is_exact_for_integer_zero_points(kernel_path):
    rng = np.random.default_rng(0)
    x = bitops.QTensor(rng.integers(0, 256, (4, 999)), 1.0, 128, 8, signed=False)
    w = bitops.QTensor(rng.integers(-8, 8, (3, 999)), 1.0, 0, 4)
    ref = (x.q.astype(np.int64) - 128) @ w.q.astype(np.int64).T
    np.testing.assert_array_equal(bitops.qlinear(x, w).astype(np.int64), ref)


def test_bipolar_tensor_is_scale_times_sign():
    s = np.where(np.random.default_rng(1).random((3, 70)) < 0.5, -1, 1)
    t = bitops.QTensor.bipolar(s, 0.25)
    np.testing.assert_array_equal(t.dequantize(), 0.25 * s)
    np.testing.assert_array_equal(t.encoded.values(), s)


@st.composite
def qconv_cases(draw):
    kh = draw(st.sampled_from([1, 3, 5]))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    h = draw(st.integers(1, 8)) + (kh - 1) * dilation
    w = draw(st.integers(1, 8)) + (kh - 1) * dilation
    c = draw(st.integers(1, 80))
    o = draw(st.integers(1, 6))
    padding = draw(st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"])))
    x = draw(qtensors((draw(st.integers(1, 2)), h, w, c)))
    wt = draw(qtensors((o, kh, kh, c), per_channel_axis=0))
    return x, wt, stride, dilation, padding


@given(qconv_cases())
def test_qconv2d_equals_dequantized_float64_with_real_zero_padding(case):
    x, w, stride, dilation, padding = case
    bias = np.linspace(-1, 1, w.shape[0])
    out = bitops.qconv2d(x, w, bias, stride=stride, padding=padding, dilation=dilation)
    if padding == "same":
        pads = same_pads(x.shape[1:3], w.shape[1:3], (stride, stride), (dilation, dilation))
    elif padding == "valid":
        pads = (0, 0, 0, 0)
    else:
        pads = (padding,) * 4
    ref = conv2d_nhwc(x.dequantize(), w.dequantize(), (stride, stride), pads, (dilation, dilation), 0.0) + bias
    _assert_close(out, ref)


def test_per_channel_along_k_is_rejected():
    q = np.zeros((2, 4), dtype=np.int64)
    x = bitops.QTensor(q, [1.0, 1.0, 1.0, 1.0], 0, 4, axis=1)
    w = bitops.QTensor(q, 1.0, 0, 4)
    with pytest.raises(ValueError, match="per-channel along axis 1"):
        bitops.qlinear(x, w)
