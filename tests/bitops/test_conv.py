import numpy as np
import pytest
from hypothesis import given, strategies as st

import bitops
from tests.bitops.paths import each_kernel_path
from tests.bitops.reference import conv2d_nhwc, e_values, same_pads


def _pads_for(padding, in_hw, kernel, stride, dilation):
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        return same_pads(in_hw, kernel, stride, dilation)
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[1], padding[0], padding[1])
    return tuple(padding)


paddings = st.one_of(
    st.integers(0, 3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    st.sampled_from(["same", "valid"]),
)


@st.composite
def conv_cases(draw):
    kh = draw(st.sampled_from([1, 3, 5]))
    kw = draw(st.sampled_from([1, 3, 5, kh]))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(paddings)
    h = draw(st.integers(1, 9))
    w = draw(st.integers(1, 9))
    pads = _pads_for(padding, (h, w), (kh, kw), stride, dilation)
    if (kh - 1) * dilation[0] + 1 > h + pads[0] + pads[2] or (kw - 1) * dilation[1] + 1 > w + pads[1] + pads[3]:
        h += (kh - 1) * dilation[0]
        w += (kw - 1) * dilation[1]
        pads = _pads_for(padding, (h, w), (kh, kw), stride, dilation)
    return dict(
        batch=draw(st.integers(1, 3)), h=h, w=w,
        c=draw(st.one_of(st.integers(1, 140), st.sampled_from([64, 128, 256]))),
        o=draw(st.integers(1, 9)), kh=kh, kw=kw, stride=stride, dilation=dilation,
        padding=padding, pads=pads,
        a_bits=draw(st.integers(1, 8)), w_bits=draw(st.integers(1, 8)),
        pad_value=draw(st.sampled_from([0, 0, 1, -1, 3, -255])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@given(conv_cases())
def test_mbconv2d_matches_direct_convolution(case):
    rng = np.random.default_rng(case["seed"])
    qx = rng.integers(0, 2 ** case["a_bits"], (case["batch"], case["h"], case["w"], case["c"]))
    qw = rng.integers(0, 2 ** case["w_bits"], (case["o"], case["kh"], case["kw"], case["c"]))
    expected = conv2d_nhwc(e_values(qx, case["a_bits"]), e_values(qw, case["w_bits"]),
                           case["stride"], case["pads"], case["dilation"], case["pad_value"])
    x, w = bitops.encode(qx, case["a_bits"]), bitops.encode(qw, case["w_bits"])
    with each_kernel_path() as paths:
        for path in paths:
            out = bitops.mbconv2d(x, w, stride=case["stride"], padding=case["padding"],
                                  dilation=case["dilation"], pad_value=case["pad_value"])
            assert out.shape == expected.shape
            np.testing.assert_array_equal(out, expected, err_msg=f"path {path}")


@pytest.mark.parametrize("a_bits,w_bits", [(1, 1), (1, 2), (2, 2), (3, 2), (4, 4), (8, 8), (2, 7)])
@pytest.mark.parametrize("padding", [0, 1, "same", "valid", (0, 2, 1, 0)])
def test_non_square_batched(a_bits, w_bits, padding, kernel_path):
    rng = np.random.default_rng(a_bits * 10 + w_bits)
    qx = rng.integers(0, 2**a_bits, (2, 7, 11, 70))
    qw = rng.integers(0, 2**w_bits, (5, 3, 3, 70))
    out = bitops.mbconv2d(bitops.encode(qx, a_bits), bitops.encode(qw, w_bits), stride=(1, 2), padding=padding)
    pads = _pads_for(padding, (7, 11), (3, 3), (1, 2), (1, 1))
    np.testing.assert_array_equal(out, conv2d_nhwc(e_values(qx, a_bits), e_values(qw, w_bits), (1, 2), pads, (1, 1)))


def test_conv_accumulator_switches_to_int64(kernel_path):
    # 5x5 taps x 2000 channels x 255 x 255 > 2^31 - 1
    qx = np.full((1, 5, 5, 2000), 255)
    qw = np.full((2, 5, 5, 2000), 255)
    qw[1] = 0
    out = bitops.mbconv2d(bitops.encode(qx, 8), bitops.encode(qw, 8))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out[0, 0, 0], [25 * 2000 * 255 * 255, -25 * 2000 * 255 * 255])


@pytest.mark.parametrize("policy", ["never", "always", "int16"])
@pytest.mark.parametrize("a_bits,w_bits", [(1, 1), (2, 3), (4, 4), (8, 8), (8, 1), (8, 7), (6, 8)])
@pytest.mark.parametrize("pad_value", [0, 5])
def test_integer_and_branch_convolutions_agree(policy, a_bits, w_bits, pad_value, kernel_path):
    rng = np.random.default_rng(a_bits * 31 + w_bits)
    qx = rng.integers(0, 2**a_bits, (2, 6, 8, 45))
    qw = rng.integers(0, 2**w_bits, (7, 3, 3, 45))
    expected = conv2d_nhwc(e_values(qx, a_bits), e_values(qw, w_bits), (1, 2), (1, 2, 1, 0), (2, 1), pad_value)
    try:
        bitops.set_integer_path(policy)
        out = bitops.mbconv2d(bitops.encode(qx, a_bits), bitops.encode(qw, w_bits), stride=(1, 2),
                              padding=(1, 2, 1, 0), dilation=(2, 1), pad_value=pad_value)
        thr = np.sort(rng.integers(-500, 500, (7, 3)), axis=1)
        nxt = bitops.mbconv2d(bitops.encode(qx, a_bits), bitops.encode(qw, w_bits), stride=(1, 2),
                              padding=(1, 2, 1, 0), dilation=(2, 1), pad_value=pad_value,
                              transform=bitops.Thresholds(thr, 2))
    finally:
        bitops.set_integer_path("auto")
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(nxt.codes(), (expected[..., None] >= thr).sum(-1))


@pytest.mark.parametrize("policy", ["always", "int16"])
def test_integer_convolution_every_width_pair(policy, kernel_path):
    """Every Ma x Mw in 1..8 through the integer kernels (int16-summed u8 x s8 with its widening
    period, u8 x s8 widened every step, int16), with sizes that leave partial register tiles
    (pixels not a multiple of 6, channels not a multiple of 16, C not a multiple of 4)."""
    rng = np.random.default_rng(5)
    try:
        bitops.set_integer_path(policy)
        for a_bits in range(1, 9):
            for w_bits in range(1, 9):
                c, o = int(rng.integers(1, 70)), int(rng.integers(1, 40))
                qx = rng.integers(0, 2**a_bits, (2, 5, 7, c))
                qw = rng.integers(0, 2**w_bits, (o, 3, 2, c))
                pad_value = int(rng.integers(-9, 10))
                expected = conv2d_nhwc(e_values(qx, a_bits), e_values(qw, w_bits), (2, 1), (1, 0, 2, 1), (1, 1),
                                       pad_value)
                out = bitops.mbconv2d(bitops.encode(qx, a_bits), bitops.encode(qw, w_bits), stride=(2, 1),
                                      padding=(1, 0, 2, 1), pad_value=pad_value)
                np.testing.assert_array_equal(out, expected, err_msg=f"W{w_bits}A{a_bits} {policy}")
    finally:
        bitops.set_integer_path("auto")


@pytest.mark.parametrize("out_c", [64, 48, 40])
def test_integer_convolution_over_whole_and_ragged_blocks(out_c, kernel_path):
    """Sizes around the integer path's blocks: 100 output pixels are three whole groups of 32
    rows and a ragged one; 64 channels are whole 32-channel blocks (on AMX stored straight into
    the output and finished in place), 48 and 40 leave a half or ragged block; padding with a
    non-zero pad value puts corrections on the border rows; a transform takes the other store."""
    rng = np.random.default_rng(out_c)
    qx = rng.integers(0, 2**3, (1, 10, 10, 70))
    qw = rng.integers(0, 2**5, (out_c, 3, 3, 70))
    expected = conv2d_nhwc(e_values(qx, 3), e_values(qw, 5), (1, 1), (1, 1, 1, 1), (1, 1), 3)
    x, w = bitops.encode(qx, 3), bitops.encode(qw, 5)
    try:
        bitops.set_integer_path("always")
        out = bitops.mbconv2d(x, w, padding=1, pad_value=3)
        thr = np.sort(rng.integers(-2000, 2000, (out_c, 3)), axis=1)
        nxt = bitops.mbconv2d(x, w, padding=1, pad_value=3, transform=bitops.Thresholds(thr, 2))
    finally:
        bitops.set_integer_path("auto")
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(nxt.codes(), (expected[..., None] >= thr).sum(-1))
