"""QuantSpec against the QONNX operator documents' own numbers (independent of our code)."""
import numpy as np
import pytest

from bitops.io.errors import FormatError
from bitops.model.quant import QuantSpec, int_range, range_format

# The rounding table of the QONNX IntQuant document (docs/qonnx-custom-ops/intquant_v1.md).
TABLE_X = [5.5, 2.5, 1.6, 1.1, 1.0, -1.0, -1.1, -1.6, -2.5, -5.5]
TABLE = {
    "ROUND": [6, 2, 2, 1, 1, -1, -1, -2, -2, -6],
    "CEIL": [6, 3, 2, 2, 1, -1, -1, -1, -2, -5],
    "FLOOR": [5, 2, 1, 1, 1, -1, -2, -2, -3, -6],
    "UP": [6, 3, 2, 2, 1, -1, -2, -2, -3, -6],
    "DOWN": [5, 2, 1, 1, 1, -1, -1, -1, -2, -5],
    "HALF_UP": [6, 3, 2, 1, 1, -1, -1, -2, -3, -6],
    "HALF_DOWN": [5, 2, 2, 1, 1, -1, -1, -2, -2, -5],
}


@pytest.mark.parametrize("mode", sorted(TABLE))
def test_rounding_modes_follow_the_qonnx_table(mode):
    spec = QuantSpec(1.0, 0.0, -128, 127, rounding=mode)
    for dt in (np.float32, np.float64):
        assert spec.quantize(np.array(TABLE_X, dtype=dt)).tolist() == TABLE[mode]


def test_int_ranges_match_the_documented_examples():
    # docs: 8b signed narrow [-127, 127], regular [-128, 127], unsigned [0, 255], unsigned narrow [0, 254]
    assert int_range(8, True, True) == (-127, 127)
    assert int_range(8, True, False) == (-128, 127)
    assert int_range(8, False, False) == (0, 255)
    assert int_range(8, False, True) == (0, 254)


def test_range_format_is_the_smallest_container():
    assert range_format(-8, 7) == (4, True, False)
    assert range_format(-7, 7) == (4, True, True)
    assert range_format(0, 15) == (4, False, False)
    assert range_format(0, 6) == (3, False, False)
    assert range_format(-1, 0) == (1, True, False)


def test_quantize_clips_then_dequantizes_affinely():
    spec = QuantSpec(0.5, 3.0, 0, 15)
    x = np.array([-100.0, -1.5, 0.0, 0.26, 6.0, 100.0])
    q = spec.quantize(x)
    assert q.tolist() == [0, 0, 3, 4, 15, 15]
    np.testing.assert_allclose(spec.dequantize(q, np.float64), [-1.5, -1.5, 0.0, 0.5, 6.0, 6.0])


def test_bipolar_sign_of_zero_is_plus_one():
    spec = QuantSpec(0.25, 0.0, -1, 1, bipolar=True)
    assert spec.quantize(np.array([-0.1, 0.0, 3.0])).tolist() == [-1, 1, 1]
    np.testing.assert_allclose(spec.dequantize(np.array([-1, 1]), np.float64), [-0.25, 0.25])


@pytest.mark.parametrize("scale", [0.0, np.nan, np.inf])
def test_bad_scales(scale):
    with pytest.raises(FormatError):
        QuantSpec(scale, 0.0, -8, 7)


def test_fractional_zero_point_refused():
    with pytest.raises(FormatError):
        QuantSpec(1.0, 0.5, -8, 7)
