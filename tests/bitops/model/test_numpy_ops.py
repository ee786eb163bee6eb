"""The runtime's numpy ops against loop-by-loop definitions."""
import numpy as np
import pytest

from bitops.model import numpy_ops as ops
from tests.bitops.reference import conv2d_nhwc


@pytest.mark.parametrize("stride,pads,dilation,groups", [
    ((1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((2, 1), (0, 1, 2, 0), (1, 1), 1),
    ((1, 2), (2, 2, 2, 2), (2, 1), 2),
    ((1, 1), (0, 0, 0, 0), (1, 1), 4),
])
def test_conv2d(stride, pads, dilation, groups):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, 4))
    w = rng.standard_normal((8, 3, 2, 4 // groups))
    bias = rng.standard_normal(8)
    got = ops.conv2d(x, w, bias, stride, pads, dilation, groups)
    np.testing.assert_allclose(got, conv2d_nhwc(x, w, stride, pads, dilation, groups=groups) + bias, atol=1e-10)


def test_maxpool_ceil_mode_and_padding():
    x = np.arange(2 * 5 * 5 * 1, dtype=np.float64).reshape(2, 5, 5, 1) * np.where(
        np.arange(50).reshape(2, 5, 5, 1) % 3, 1, -1)
    got = ops.maxpool(x, (2, 2), (2, 2), (0, 0, 0, 0), ceil_mode=True)
    assert got.shape == (2, 3, 3, 1)
    for i in range(3):
        for j in range(3):
            assert got[0, i, j, 0] == x[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 0].max()
    got = ops.maxpool(x, (3, 3), (1, 1), (1, 1, 1, 1))
    assert got.shape == (2, 5, 5, 1)
    assert got[1, 0, 0, 0] == x[1, 0:2, 0:2, 0].max()


def test_avgpool_count_include_pad():
    x = np.ones((1, 4, 4, 1))
    excl = ops.avgpool(x, (3, 3), (1, 1), (1, 1, 1, 1), count_include_pad=False)
    incl = ops.avgpool(x, (3, 3), (1, 1), (1, 1, 1, 1), count_include_pad=True)
    np.testing.assert_allclose(excl, 1.0)
    assert incl[0, 0, 0, 0] == pytest.approx(4 / 9) and incl[0, 1, 1, 0] == pytest.approx(1.0)
    assert incl[0, 0, 1, 0] == pytest.approx(6 / 9)


def test_batchnorm():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 3, 5))
    g, b, m, v = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(5), rng.random(5) + 0.1
    ref = (x - m) / np.sqrt(v + 1e-5) * g + b
    np.testing.assert_allclose(ops.batchnorm(x, g, b, m, v, 1e-5), ref, atol=1e-12)
