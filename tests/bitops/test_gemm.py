import numpy as np
import pytest
from hypothesis import given, strategies as st

import bitops
from tests.bitops.paths import each_kernel_path
from tests.bitops.reference import e_values

K_VALUES = st.one_of(st.integers(1, 300), st.sampled_from([63, 64, 65, 127, 128, 129, 255, 256, 1000, 1024, 2049, 3000, 7937, 8000, 8193]))


@given(st.integers(1, 9), st.integers(1, 9), K_VALUES, st.integers(1, 8), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_mbgemm_matches_numpy_int64_on_every_path_and_method(rows, cols, k, a_bits, w_bits, seed):
    """Every kernel path x every method (branches, 8-bit, int16, automatic) against numpy int64."""
    rng = np.random.default_rng(seed)
    qa = rng.integers(0, 2**a_bits, (rows, k))
    qw = rng.integers(0, 2**w_bits, (cols, k))
    expected = e_values(qa, a_bits) @ e_values(qw, w_bits).T
    a, w = bitops.encode(qa, a_bits), bitops.encode(qw, w_bits)
    try:
        with each_kernel_path() as paths:
            for path in paths:
                dtypes = set()
                for policy in ("never", "always", "int16", "auto"):
                    bitops.set_integer_path(policy)
                    out = bitops.mbgemm(a, w)
                    assert out.shape == (rows, cols)
                    np.testing.assert_array_equal(out, expected, err_msg=f"path {path}, method {policy}")
                    dtypes.add(out.dtype)
                assert len(dtypes) == 1, f"methods disagree on the accumulator type on path {path}"
    finally:
        bitops.set_integer_path("auto")


@pytest.mark.parametrize("a_bits", range(1, 9))
@pytest.mark.parametrize("w_bits", range(1, 9))
def test_every_bit_width_pair(a_bits, w_bits, kernel_path):
    rng = np.random.default_rng(a_bits * 16 + w_bits)
    qa = rng.integers(0, 2**a_bits, (13, 333))
    qw = rng.integers(0, 2**w_bits, (11, 333))
    out = bitops.mbgemm(bitops.encode(qa, a_bits), bitops.encode(qw, w_bits))
    np.testing.assert_array_equal(out, e_values(qa, a_bits) @ e_values(qw, w_bits).T)


def test_lead_dimensions_of_a(kernel_path):
    rng = np.random.default_rng(3)
    qa = rng.integers(0, 4, (2, 3, 100))
    qw = rng.integers(0, 2, (5, 100))
    out = bitops.mbgemm(bitops.encode(qa, 2), bitops.encode(qw, 1))
    assert out.shape == (2, 3, 5)
    np.testing.assert_array_equal(out, np.einsum("abk,nk->abn", e_values(qa, 2), e_values(qw, 1)))


@given(st.integers(1, 20), st.integers(1, 20), st.integers(1, 400), st.integers(0, 2**32 - 1))
def test_bgemm_is_plus_minus_one_dot(m, n, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (m, k))
    y = rng.integers(0, 2, (n, k))
    out = bitops.bgemm(bitops.pack_bits(x), bitops.pack_bits(y), k)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, (2 * x - 1) @ (2 * y - 1).T)


def test_accumulator_switches_to_int64_where_int32_would_overflow(kernel_path):
    # 8x8 bits: |E| <= 255, so K = 40000 gives |dot| up to 2.6e9 > 2^31 - 1.
    k = 40000
    qa = np.full((2, k), 255)
    qa[1, : k // 2] = 0
    qw = np.full((3, k), 255)
    qw[2] = 0
    out = bitops.mbgemm(bitops.encode(qa, 8), bitops.encode(qw, 8))
    assert out.dtype == np.int64
    expected = e_values(qa, 8) @ e_values(qw, 8).T
    assert np.abs(expected).max() > 2**31 - 1
    np.testing.assert_array_equal(out, expected)


def test_int32_kept_when_it_cannot_overflow():
    a = bitops.encode(np.ones((2, 1000), dtype=np.int64), 8, qmin=0)
    w = bitops.encode(np.ones((2, 1000), dtype=np.int64), 8, qmin=0)
    assert bitops.mbgemm(a, w).dtype == np.int32


def test_paths_agree_bit_for_bit_on_a_large_case():
    rng = np.random.default_rng(7)
    qa = rng.integers(0, 8, (67, 1500))
    qw = rng.integers(0, 4, (45, 1500))
    a, w = bitops.encode(qa, 3), bitops.encode(qw, 2)
    with each_kernel_path() as paths:
        results = {path: bitops.mbgemm(a, w) for path in paths}
    expected = e_values(qa, 3) @ e_values(qw, 2).T
    for path, out in results.items():
        np.testing.assert_array_equal(out, expected, err_msg=path)


@pytest.fixture(params=["never", "always", "int16"])
def integer_policy(request):
    bitops.set_integer_path(request.param)
    yield request.param
    bitops.set_integer_path("auto")


def test_explain_shows_the_choice(kernel_path):
    low = bitops.explain((1, 1, 1024))
    high = bitops.explain((8, 8, 1024))
    assert low["branch_pairs"] == 1 and high["branch_pairs"] == 64
    if kernel_path == "reference":
        assert low["method"] == high["method"] == "branches"
    else:
        # AMX tiles multiply u8 x s8 into int32, so 8-bit pairs need no int16 products there,
        # and they beat even a single branch pair.
        amx = kernel_path == "amx"
        assert low["method"] == ("int8" if amx else "branches") and high["method"] == ("int8" if amx else "int16")
        assert bitops.explain((4, 4, 1024))["method"] == "int8"
        assert bitops.explain((8, 3, 1024))["method"] == "int8"
    assert bitops.explain((8, 8, 40000))["accumulator"] == "int64"
    assert bitops.explain((8, 8, 40000))["method"] == "branches"


def test_integer_path_every_width_on_every_kernel_path(kernel_path, integer_policy):
    rng = np.random.default_rng(11)
    for a_bits in range(1, 9):
        for w_bits in (1, 3, 8):
            qa = rng.integers(0, 2**a_bits, (6, 77))
            qw = rng.integers(0, 2**w_bits, (5, 77))
            out = bitops.mbgemm(bitops.encode(qa, a_bits), bitops.encode(qw, w_bits))
            np.testing.assert_array_equal(out, e_values(qa, a_bits) @ e_values(qw, w_bits).T)


@pytest.mark.parametrize("k", [44, 332])
def test_integer_kernels_at_the_extreme_codes(k, kernel_path, integer_policy):
    """Every width pair where the int16 sums come closest to saturating: all codes at their ends
    (u_a = 2^Ma - 1 against s_w = -2^(Mw-1) or 2^(Mw-1) - 1), plus random codes. 37 channels give
    two full 16-channel panels (finished in the tile) and a partial one; 13 rows leave a partial
    6-row tile; k = 44 gives an odd number of 4-wide steps."""
    rng = np.random.default_rng(k)
    for a_bits in range(1, 9):
        for w_bits in range(1, 9):
            top_a, top_w = 2**a_bits - 1, 2**w_bits - 1
            qa = rng.integers(0, top_a + 1, (13, k))
            qa[:7] = top_a
            qw = rng.integers(0, top_w + 1, (37, k))
            qw[:17], qw[17:20] = 0, top_w
            out = bitops.mbgemm(bitops.encode(qa, a_bits), bitops.encode(qw, w_bits))
            np.testing.assert_array_equal(out, e_values(qa, a_bits) @ e_values(qw, w_bits).T,
                                          err_msg=f"W{w_bits}A{a_bits}")


@pytest.mark.parametrize("m,n,k", [(96, 64, 256), (70, 96, 200), (33, 48, 64), (64, 40, 1000), (1, 32, 5)])
def test_integer_gemm_over_whole_and_ragged_blocks(m, n, k, kernel_path, integer_policy):
    """Whole and ragged 32 x 32 blocks of the AMX integer path (and 6 x 16 tiles of the AVX2 one),
    K not a multiple of the 64-byte tile row, at W8A8, W7A8 and W2A6."""
    rng = np.random.default_rng(m * n + k)
    for a_bits, w_bits in ((8, 8), (8, 7), (6, 2)):
        qa = rng.integers(0, 2**a_bits, (m, k))
        qw = rng.integers(0, 2**w_bits, (n, k))
        out = bitops.mbgemm(bitops.encode(qa, a_bits), bitops.encode(qw, w_bits))
        np.testing.assert_array_equal(out, e_values(qa, a_bits) @ e_values(qw, w_bits).T)
