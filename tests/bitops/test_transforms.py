"""Fused output transforms equal the same transform applied to the exact integers in numpy."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import bitops
from tests.bitops.paths import each_kernel_path
from tests.bitops.reference import conv2d_nhwc, e_values


def _affine_ref(acc, scale, bias, clamp):
    y = (acc.astype(np.float64) * scale + (0.0 if bias is None else bias)).astype(np.float32)
    return y if clamp is None else np.clip(y, np.float32(clamp[0]), np.float32(clamp[1]))


def _threshold_ref(acc, thr):
    # u = number of thresholds <= acc, per output channel (last axis)
    return (acc[..., None] >= thr).sum(-1)


def _random_thresholds(rng, channels, bits, spread):
    return np.sort(rng.integers(-spread, spread + 1, (channels, 2**bits - 1)), axis=1)


@pytest.fixture(params=["never", "always", "int16"])
def policy(request):
    bitops.set_integer_path(request.param)
    yield request.param
    bitops.set_integer_path("auto")


@pytest.mark.parametrize("a_bits,w_bits", [(1, 1), (2, 1), (2, 2), (3, 4), (8, 8)])
def test_gemm_affine_and_thresholds(a_bits, w_bits, kernel_path, policy):
    rng = np.random.default_rng(a_bits * 9 + w_bits)
    qa, qw = rng.integers(0, 2**a_bits, (23, 300)), rng.integers(0, 2**w_bits, (70, 300))
    a, w = bitops.encode(qa, a_bits), bitops.encode(qw, w_bits)
    acc = e_values(qa, a_bits) @ e_values(qw, w_bits).T
    scale, bias = rng.uniform(0.01, 1, 70), rng.normal(size=70)
    y = bitops.mbgemm(a, w, transform=bitops.Affine(scale, bias, clamp=(-3.0, 3.0)))
    assert y.dtype == np.float32 and y.shape == (23, 70)
    np.testing.assert_array_equal(y, _affine_ref(acc, scale, bias, (-3.0, 3.0)))
    spread = int(np.abs(acc).max())
    for out_bits in (1, 2, 3):
        thr = _random_thresholds(rng, 70, out_bits, spread)
        enc = bitops.mbgemm(a, w, transform=bitops.Thresholds(thr, out_bits))
        assert isinstance(enc, bitops.Encoded) and enc.shape == (23, 70) and enc.bits == out_bits
        np.testing.assert_array_equal(enc.codes(), _threshold_ref(acc, thr))


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 130), st.integers(1, 70),
       st.sampled_from([0, 1, "same"]), st.integers(1, 2), st.integers(0, 2**32 - 1))
def test_conv_thresholds_feed_the_next_layer(a_bits, w_bits, c, o, padding, stride, seed):
    rng = np.random.default_rng(seed)
    qx = rng.integers(0, 2**a_bits, (2, 6, 7, c))
    qw = rng.integers(0, 2**w_bits, (o, 3, 3, c))
    x, w = bitops.encode(qx, a_bits), bitops.encode(qw, w_bits)
    acc = bitops.mbconv2d(x, w, stride=stride, padding=padding)
    # the integer result itself is checked in test_conv; here the fused store against it
    pads = {0: (0,) * 4, 1: (1,) * 4}.get(padding)
    if pads is not None:
        np.testing.assert_array_equal(acc, conv2d_nhwc(e_values(qx, a_bits), e_values(qw, w_bits),
                                                       (stride, stride), pads, (1, 1)))
    thr = _random_thresholds(rng, o, 2, int(np.abs(acc).max()) + 1)
    with each_kernel_path() as paths:
        for path in paths:
            nxt = bitops.mbconv2d(x, w, stride=stride, padding=padding, transform=bitops.Thresholds(thr, 2))
            assert nxt.shape == acc.shape and nxt.bits == 2
            np.testing.assert_array_equal(nxt.codes(), _threshold_ref(acc, thr), err_msg=path)
            y = bitops.mbconv2d(x, w, stride=stride, padding=padding, transform=bitops.Affine(0.5, np.arange(o)))
            np.testing.assert_array_equal(y, _affine_ref(acc, 0.5, np.arange(o), None), err_msg=path)
    # the next layer consumes the packed codes directly
    w2 = bitops.encode(rng.integers(0, 2, (4, 1, 1, o)), 1)
    out2 = bitops.mbconv2d(nxt, w2)
    np.testing.assert_array_equal(out2, conv2d_nhwc(e_values(nxt.codes(), 2), e_values(w2.codes(), 1),
                                                    (1, 1), (0,) * 4, (1, 1)))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: bitops.Thresholds(np.zeros((4, 2), dtype=int), 2), r"shape \(channels, 3\)"),
        (lambda: bitops.Thresholds(np.array([[3, 1, 2]]), 2), "sorted"),
        (lambda: bitops.Thresholds(np.zeros((4, 3)), 2), "must be integers"),
        (lambda: bitops.Affine(np.nan), "finite"),
        (lambda: bitops.Affine(1.0, clamp=(2, 1)), "lo <= hi"),
    ],
)
def test_transform_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_transform_channel_mismatch():
    a = bitops.encode(np.zeros((2, 10), dtype=int), 1)
    w = bitops.encode(np.zeros((3, 10), dtype=int), 1)
    with pytest.raises(ValueError, match="2 rows for 3 output channels"):
        bitops.mbgemm(a, w, transform=bitops.Thresholds(np.zeros((2, 1), dtype=int), 1))
    with pytest.raises(ValueError, match="scale has 2 values for 3"):
        bitops.mbgemm(a, w, transform=bitops.Affine([1.0, 2.0]))
    with pytest.raises(ValueError, match="transform must be bitops.Affine"):
        bitops.mbgemm(a, w, transform="relu")
