import numpy as np
import pytest
from hypothesis import given, strategies as st

import bitops
from bitops.format import WORD_BITS
from tests.bitops.reference import e_values, pack_reference


@given(st.integers(1, 300), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_pack_matches_bit_by_bit_layout(k, rows, seed):
    b = np.random.default_rng(seed).integers(0, 2, (rows, k)).astype(np.uint8)
    words = bitops.pack_bits(b)
    np.testing.assert_array_equal(words, pack_reference(b))
    np.testing.assert_array_equal(bitops.unpack_bits(words, k), b)


def test_layout_element_k_is_bit_k_mod_64_of_word_k_div_64():
    b = np.zeros(130, dtype=bool)
    b[[0, 63, 64, 129]] = True
    w = bitops.pack_bits(b)
    assert w.dtype == np.uint64 and w.shape == (3,)
    assert w[0] == (1 | (1 << 63)) and w[1] == 1 and w[2] == 2


def test_pack_along_other_axis():
    b = np.random.default_rng(1).integers(0, 2, (70, 3, 2)).astype(bool)
    w = bitops.pack_bits(b, axis=0)
    assert w.shape == (2, 3, 2)
    np.testing.assert_array_equal(w, np.moveaxis(pack_reference(np.moveaxis(b, 0, -1)), -1, 0))
    np.testing.assert_array_equal(bitops.unpack_bits(w, 70, axis=0), b)


@given(st.integers(1, 8), st.integers(1, 200), st.integers(-5, 5), st.integers(0, 2**32 - 1))
def test_encode_values_and_planes(bits, k, qmin, seed):
    rng = np.random.default_rng(seed)
    q = rng.integers(qmin, qmin + 2**bits, (3, k))
    enc = bitops.encode(q, bits, qmin=qmin)
    assert enc.bits == bits and enc.k == k and enc.shape == (3, k)
    assert enc.planes.shape == (bits, 3, (k + WORD_BITS - 1) // WORD_BITS)
    u = q - qmin
    np.testing.assert_array_equal(enc.values(), e_values(u, bits))
    for i in range(bits):  # plane i is bit i of the code, branch 0 first
        np.testing.assert_array_equal(enc.planes[i], pack_reference((u >> i) & 1))
    np.testing.assert_array_equal(enc.row_sums(), e_values(u, bits).sum(-1))


def test_two_bit_worked_example():
    # codes 0..3 of a 2-bit value are E = -3, -1, +1, +3 (DESIGN §2)
    enc = bitops.encode(np.array([[0, 1, 2, 3]]), 2)
    np.testing.assert_array_equal(enc.values(), [[-3, -1, 1, 3]])


@given(st.integers(2, 8), st.integers(0, 2**32 - 1), st.data())
def test_truncate_keeps_top_branches(bits, seed, data):
    keep = data.draw(st.integers(1, bits))
    q = np.random.default_rng(seed).integers(0, 2**bits, (4, 77))
    full = bitops.encode(q, bits)
    top = full.truncate(keep)
    r = bits - keep
    np.testing.assert_array_equal(top.values(), e_values(q >> r, keep))
    # E = 2^r E' + d with |d| <= 2^r - 1
    assert np.abs(full.values() - (top.values() << r)).max() <= 2**r - 1


@pytest.mark.parametrize("bits", range(1, 9))
def test_plane_decode_on_every_path(bits, kernel_path):
    """The integer path's plane decode (64 codes per step as 8 x 8 bit transposes on the amx path,
    as mask adds on avx512, 32 on avx2, a table below and for the tails) gives back every code,
    with K around the 64-code steps and a padded row width."""
    from bitops import _core

    rng = np.random.default_rng(bits)
    for k in (1, 7, 63, 64, 65, 130, 1000):
        q = rng.integers(0, 2**bits, (19, k))
        kpad = -(-k // 4) * 4 + 4
        got = _core.decode_codes(bitops.encode(q, bits).flat_planes, k, kpad)
        np.testing.assert_array_equal(got[:, :k], q, err_msg=f"k={k}")
        assert not got[:, k:].any()
