"""Shapes that cross the blocked driver's boundaries (csrc/driver.c), on every kernel path and 1 or 2 threads.

The driver cuts K into chunks (AVX2: 31 units of 256 bits; AVX-512: 64 words), rows into blocks
over the threads, multi-branch columns into blocks whose popcount sums it folds
in an epilogue, and W into panels of 4 virtual columns (AVX-512: 16); binary products go
straight into the output. These cases put an edge of each inside the operands:
K past one chunk, odd rows and columns, more columns than one column block,
an odd number of planes, padding on every side."""
import numpy as np
import pytest

import bitops
from tests.bitops.reference import conv2d_nhwc, e_values


@pytest.fixture(params=[1, 2])
def threads(request):
    before = bitops.get_num_threads()
    bitops.set_num_threads(request.param)
    yield request.param
    bitops.set_num_threads(before)


@pytest.fixture
def branches_only():
    bitops.set_integer_path("never")
    yield
    bitops.set_integer_path("auto")


@pytest.mark.parametrize("a_bits,w_bits,rows,cols,k", [
    (1, 1, 131, 301, 8193),   # two K chunks into the output, a W panel with one column
    (1, 1, 257, 66, 64),      # one-word rows, many row blocks
    (2, 2, 67, 333, 333),     # several column blocks of folded sums
    (3, 1, 45, 150, 1000),    # an A row's planes span two A panels
    (1, 3, 9, 130, 7937),     # K one bit past 31 units
    (2, 2, 64, 1200, 7937),   # two K chunks within each of several column blocks
    (8, 8, 5, 7, 40000),      # int64 results: popcount sums and the epilogue, six K chunks
    # AVX-512: 12 x 16 tiles of one-word units, 64 words per K chunk
    (5, 1, 37, 17, 4097),     # 5 planes: row blocks of 12 rows; a W panel with one column; K one bit past a chunk
    (1, 2, 12, 16, 4096),     # exactly one tile and one chunk
    (6, 3, 10, 33, 1000),     # 6 planes: an output row's planes span two A panels; three W panels
])
def test_gemm_across_block_edges(a_bits, w_bits, rows, cols, k, kernel_path, threads, branches_only):
    rng = np.random.default_rng(rows * cols + k)
    qa = rng.integers(0, 2**a_bits, (rows, k))
    qw = rng.integers(0, 2**w_bits, (cols, k))
    out = bitops.mbgemm(bitops.encode(qa, a_bits), bitops.encode(qw, w_bits))
    assert out.dtype == (np.int64 if k * (2**a_bits - 1) * (2**w_bits - 1) > 2**31 - 1 else np.int32)
    # float64 BLAS is exact here (every partial sum is an integer below 2^53) and much faster than int64
    expected = (e_values(qa, a_bits).astype(np.float64) @ e_values(qw, w_bits).T.astype(np.float64)).astype(np.int64)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("a_bits,w_bits,c,o,pad_value", [
    (1, 1, 256, 70, 0),       # binary, straight into the output, then the padded rows corrected
    (1, 1, 1000, 9, 1),       # 9 taps x 1000 channels: two K chunks; taps straddle units
    (2, 2, 64, 150, 0),       # multi-branch, several column blocks
    (1, 1, 3, 5, -1),         # a tap shorter than a word; pad_value = -1 needs no correction
    (1, 1, 256, 6, 1 << 20),  # binary operands, int64 results (the padding value is that large)
    (3, 2, 64, 13, 5),        # an odd number of A planes folded into int32 results
])
def test_conv_across_block_edges(a_bits, w_bits, c, o, pad_value, kernel_path, threads, branches_only):
    rng = np.random.default_rng(c * o)
    qx = rng.integers(0, 2**a_bits, (2, 9, 7, c))
    qw = rng.integers(0, 2**w_bits, (o, 3, 3, c))
    out = bitops.mbconv2d(bitops.encode(qx, a_bits), bitops.encode(qw, w_bits), padding=1, pad_value=pad_value)
    expected = conv2d_nhwc(e_values(qx, a_bits), e_values(qw, w_bits), (1, 1), (1, 1, 1, 1), (1, 1), pad_value)
    assert out.dtype == (np.int64 if pad_value == 1 << 20 else np.int32)
    np.testing.assert_array_equal(out, expected)
