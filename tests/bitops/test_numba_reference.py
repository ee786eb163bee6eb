"""Differential tests: every C path against the independently written numba kernel."""
import numpy as np
from hypothesis import given, settings, strategies as st

import bitops
from bitops import numba_reference
from bitops.kernels import conv_geometry
from tests.bitops.paths import each_kernel_path
from tests.bitops.reference import e_values


def test_numba_reference_is_itself_right():
    rng = np.random.default_rng(0)
    qa, qw = rng.integers(0, 8, (5, 150)), rng.integers(0, 4, (4, 150))
    out = numba_reference.mbgemm(bitops.encode(qa, 3), bitops.encode(qw, 2))
    np.testing.assert_array_equal(out, e_values(qa, 3) @ e_values(qw, 2).T)


@settings(max_examples=40)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 400), st.integers(0, 2**32 - 1))
def test_gemm_paths_agree_with_numba(a_bits, w_bits, k, seed):
    rng = np.random.default_rng(seed)
    a = bitops.encode(rng.integers(0, 2**a_bits, (7, k)), a_bits)
    w = bitops.encode(rng.integers(0, 2**w_bits, (6, k)), w_bits)
    expected = numba_reference.mbgemm(a, w)
    with each_kernel_path() as paths:
        for path in paths:
            np.testing.assert_array_equal(bitops.mbgemm(a, w), expected, err_msg=path)


@settings(max_examples=30)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 100), st.sampled_from([1, 3, 5]),
       st.integers(1, 3), st.integers(1, 2), st.sampled_from([0, 1, 2, "same"]), st.sampled_from([0, -1, 3]),
       st.integers(0, 2**32 - 1))
def test_conv_paths_agree_with_numba(a_bits, w_bits, c, kh, stride, dilation, padding, pad_value, seed):
    rng = np.random.default_rng(seed)
    h = w_ = 4 + (kh - 1) * dilation
    x = bitops.encode(rng.integers(0, 2**a_bits, (2, h, w_ + 1, c)), a_bits)
    w = bitops.encode(rng.integers(0, 2**w_bits, (3, kh, kh, c)), w_bits)
    geo = conv_geometry((h, w_ + 1), (kh, kh), stride, padding, dilation)
    expected = numba_reference.mbconv2d(x, w, geo.stride, geo.pads, geo.dilation, geo.out_hw, pad_value)
    with each_kernel_path() as paths:
        for path in paths:
            out = bitops.mbconv2d(x, w, stride=stride, padding=padding, dilation=dilation, pad_value=pad_value)
            np.testing.assert_array_equal(out, expected, err_msg=path)
